"""MRVF Table 2: the target of Q_tot in each round of MRVF on the Table 5 payoff.

Regenerated with ``MRVF.rounds`` (Ideal QMIX in every round, reconstructed
Eq. 5 target, uniform visitation as in Table 5, early termination).  Round 3's
target is constant, so "any u can be ubar^3" and the process keeps (1, 1).
"""

from __future__ import annotations

from stablepoint.paper.core import Section, TableResult, action_set, exact_cell, fmt_matrix, load_published, matrix_cells, status_of
from stablepoint.payoff import Payoff


def regenerate(name: str = "table2", progress=None) -> TableResult:
    from stablepoint.methods import get_method

    pub = load_published("table2")
    from stablepoint.catalog import get_game

    payoff = get_game(pub["payoff"])
    mrvf = get_method("mrvf", visitation="uniform", epsilon=1.0)
    trace = mrvf.rounds(payoff)
    by_k = {}
    for r in trace.rounds:
        by_k.setdefault(r.k, []).append(r)
    cells, rows = [], []
    for p in pub["rounds"]:
        k = p["k"]
        got = by_k.get(k, [])
        if len(got) != 1:
            cells.append(exact_cell(f"k={k} number of branches", 1, len(got)))
            continue
        r = got[0]
        cells.extend(matrix_cells(f"k={k} target", p["target"], r.target, 0))
        if p["greedy"] is not None:
            cells.append(exact_cell(f"k={k} greedy (stable points of the round)",
                                    action_set([tuple(a - 1 for a in p["greedy"])]), action_set(r.stable)))
        else:
            # the trace skips the fit on a constant target; fit it to show that any u can be ubar^k
            qmix = get_method("qmix", visitation="uniform", epsilon=1.0)
            target = Payoff(r.target, name=f"target k={k}")
            anywhere = qmix.fit(target, (0,) * payoff.n_agents).greedy_set
            cells.append(exact_cell(f"k={k} every u is a possible ubar^{k} (QMIX on the round's target)", True,
                                    anywhere == frozenset(payoff.joint_actions())))
            cells.append(exact_cell(f"k={k} early termination", True, bool(r.terminates)))
        rows.append((str(k), fmt_matrix(p["target"]), fmt_matrix(r.target),
                     "-" if p["greedy"] is None else action_set([tuple(a - 1 for a in p["greedy"])]),
                     action_set(r.stable) if len(r.stable) < payoff.n_joint else "every u",
                     "yes" if r.terminates else "no", r.reason))
    cells.append(exact_cell("final action", action_set([tuple(a - 1 for a in pub["final"])]), action_set(trace.finals)))
    cells.append(exact_cell("number of rounds", len(pub["rounds"]), max(by_k) if by_k else 0))
    section = Section("MRVF rounds on Table 5(a), Ideal QMIX, uniform visitation",
                      ("k", "published target", "regenerated target", "published ubar^k", "stable points of round k",
                       "terminates", "why"), tuple(rows))
    notes = ("Eq. 5 is reconstructed (papers/README.md): Y^k = max(Q_jt - Q_jt(ubar^{k-1}), 0).",)
    return TableResult(name, "", pub["source"], status_of(cells), tuple(cells), (section,), notes)
