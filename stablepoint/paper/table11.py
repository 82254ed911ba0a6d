"""MRVF Table 11: the SMAC focus-fire payoff; stable points of Ideal QMIX.

The paper says the payoff is non-monotonic, that choosing A is best on
average, and that monotonic factorization reaches the optimum (A, A).  We
check the first two directly and the third as: (A, A) is the only stable
point of Ideal QMIX, under uniform visitation and under centralized and
decentralized epsilon-greedy visitation (epsilon = 0.1).
"""

from __future__ import annotations

import numpy as np

from stablepoint.catalog import get_game
from stablepoint.monotonicity import monotonicity
from stablepoint.paper.core import Section, TableResult, action_set, exact_cell, fmt, load_published, status_of

EPSILON = 0.1


def regenerate(name: str = "table11", progress=None) -> TableResult:
    from stablepoint.methods import get_method
    from stablepoint.stability import analyze

    pub = load_published("table11")
    payoff = get_game("table11")
    labels = pub["labels"]
    means = payoff.values.mean(axis=1)
    best = labels[int(np.argmax(means))]
    m = monotonicity(payoff)
    star = tuple(labels.index(a) for a in pub["claims"]["optimum"])
    cells = [
        exact_cell("published payoff equals the catalog's table11", True,
                   bool(np.array_equal(np.array(pub["payoff"], dtype=float), payoff.values))),
        exact_cell("optimum", action_set([star]), action_set(payoff.optimal_actions())),
        exact_cell("best action on average (row means)", pub["claims"]["best_average_action"], best,
                   "row means " + ", ".join(f"{l}: {fmt(v)}" for l, v in zip(labels, means))),
        exact_cell("non-monotonic (Definition 3)", True, not m.monotonic,
                   f"unordered pair fraction {fmt(m.incomparable_fraction)}"),
    ]
    rows = []
    settings = [("uniform", 1.0), ("centralized", EPSILON), ("decentralized", EPSILON)]
    for vis, eps in settings:
        res = analyze(payoff, get_method("qmix", visitation=vis, epsilon=eps))
        only_opt = set(res.kinds) == {star}
        cells.append(exact_cell(f"QMIX {vis} eps={fmt(eps)}: stable points", action_set([star]), action_set(res.kinds)))
        cells.append(exact_cell(f"QMIX {vis} eps={fmt(eps)}: every u~ ends at the optimum", True,
                                res.optimum_guaranteed_from == frozenset(payoff.joint_actions())))
        rows.append((vis, fmt(eps), action_set(res.kinds), "yes" if only_opt else "no",
                     str(len(res.optimum_guaranteed_from))))
        if progress is not None:
            progress(vis)
    section = Section("Ideal QMIX on the focus-fire payoff (actions A, B, C, none = 1..4)",
                      ("visitation", "epsilon", "stable points", "only the optimum", "u~ guaranteed to reach it"),
                      tuple(rows))
    return TableResult(name, "", pub["source"], status_of(cells), tuple(cells), (section,), ())
