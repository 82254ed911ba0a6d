"""MRVF Figure 2: the WQMIX transition of the greedy action (alpha = 0.1, uniform visitation) from (1, 3).

The figure's payoff is not in the text; we run the Table 5 payoff under both
tie rules of Eq. 3 ("strict" >, as printed; "inclusive" >=) and follow every
path of the transition graph from (1, 3).  Whether the process "stabilises at
(1, 1)" is read off the attractors reachable from (1, 3).  The transition
graphs are kept in ``data["graphs"]`` for drawing (``stablepoint tables``
writes them next to the report).
"""

from __future__ import annotations

import networkx as nx
import numpy as np

from stablepoint.catalog import get_game
from stablepoint.paper.core import Section, TableResult, action_set, exact_cell, fmt_matrix, load_published, one_based, status_of


def regenerate(name: str = "figure2", progress=None) -> TableResult:
    from stablepoint.methods import get_method
    from stablepoint.methods.wqmix import eq3_weights
    from stablepoint.stability import analyze

    pub = load_published("figure2")
    payoff = get_game("table5")
    start = tuple(a - 1 for a in pub["start"])
    target = tuple(a - 1 for a in pub["stabilises_at"])
    first = tuple(a - 1 for a in pub["first_step"])
    cells, rows, notes, graphs = [], [], [], {}
    for rule in ("strict", "inclusive"):
        method = get_method("wqmix", alpha=pub["alpha"], epsilon=pub["epsilon"], visitation="uniform", tie_rule=rule)
        res = analyze(payoff, method)
        graphs[rule] = res
        reach = nx.descendants(res.graph, start) | {start}
        ends = [a for a in res.attractors if a & reach]
        always = all(a == frozenset({target}) for a in ends)
        sometimes = any(a == frozenset({target}) for a in ends)
        w = eq3_weights(payoff.values, start, pub["alpha"], rule)
        cells += [
            exact_cell(f"{rule}: u~ = (1, 3) gives an all-ones weight matrix", True, bool(np.all(w == 1.0)),
                       f"weights {fmt_matrix(w)}"),
            exact_cell(f"{rule}: first step (1, 3) -> (3, 3)", True, first in res.greedy_set(start),
                       f"greedy set of (1, 3): {action_set(res.greedy_set(start))}"),
            exact_cell(f"{rule}: every path from (1, 3) stabilises at (1, 1)", True, always),
            exact_cell(f"{rule}: (1, 1) is stable", True, target in res.kinds),
        ]
        path_rows = []
        for u in sorted(reach):
            path_rows.append(f"{one_based(u)}->{action_set(res.greedy_set(u))}")
        rows.append((rule, fmt_matrix(w), action_set(res.kinds), " | ".join(action_set(a) for a in ends),
                     "; ".join(path_rows), "always" if always else "sometimes" if sometimes else "never"))
        if not sometimes:
            notes.append(f"With the {rule} tie rule, WQMIX on the Table 5 payoff does NOT stabilise at (1, 1) from (1, 3): "
                         f"the reachable attractors are {', '.join(action_set(a) for a in ends)}.")
        elif not always:
            notes.append(f"With the {rule} tie rule, some paths from (1, 3) stabilise at (1, 1), others end in "
                         f"{', '.join(action_set(a) for a in ends if a != frozenset({target}))}.")
        else:
            notes.append(f"With the {rule} tie rule, every path from (1, 3) stabilises at (1, 1).")
        if progress is not None:
            progress(rule)
    notes.append("The figure's own payoff is not in the text; this is the Table 5 payoff, so a mismatch says the "
                 "narrative does not carry over to it, not that the figure is wrong.")
    section = Section("WQMIX alpha = 0.1, uniform visitation (epsilon = 1), Table 5 payoff",
                      ("tie rule", "weights at u~ = (1, 3)", "stable points", "attractors reachable from (1, 3)",
                       "transitions reachable from (1, 3)", "stabilises at (1, 1)"), tuple(rows))
    return TableResult(name, "", pub["source"], status_of(cells), tuple(cells), (section,), tuple(notes),
                       data={"graphs": graphs})
