"""MRVF Table 6: ResQ with L_tot = 0 at u~ = u* and a greedy action other than u* (Theorem 3).

Checks the printed decomposition (Q_mon monotone, Q_r <= 0, w_r = 0 at u~,
Q_tot = Q_mon + w_r Q_r against Q_jt) and regenerates the stability of every
joint action with the ``resq`` method.
"""

from __future__ import annotations

import numpy as np

from stablepoint.monotonicity import monotonicity
from stablepoint.paper.core import (
    Section, TableResult, action_set, exact_cell, fmt, fmt_matrix, load_published, matrix_cells, number_cell,
    one_based, status_of,
)
from stablepoint.payoff import Payoff
from stablepoint.projection.result import greedy_of


def regenerate(name: str = "table6", progress=None) -> TableResult:
    from stablepoint.methods import get_method

    pub = load_published("table6")
    y = np.array(pub["payoff"], dtype=float)
    payoff = Payoff(y, name="table5")
    u_tilde = tuple(a - 1 for a in pub["u_tilde"])
    q_mon = np.array(pub["q_mon"], dtype=float)
    wr_qr = np.array(pub["wr_qr"], dtype=float)
    q_tot = q_mon + wr_qr
    printed_loss = float(np.mean((q_tot - y) ** 2))
    printed_greedy = greedy_of(q_mon, 1e-9)
    cells = [
        exact_cell("printed Q_mon is monotone (Definition 3)", True, monotonicity(q_mon).monotonic),
        exact_cell("printed w_r Q_r <= 0", True, bool(np.all(wr_qr <= 0))),
        exact_cell("printed w_r Q_r = 0 at u~", True, bool(wr_qr[u_tilde] == 0)),
        number_cell("printed L_tot (uniform)", pub["loss"], printed_loss, 2),
        *matrix_cells("printed Q_mon + w_r Q_r vs Q_jt", pub["payoff"], q_tot, 2),
        exact_cell("greedy action of the printed Q_mon differs from u*", True, u_tilde not in printed_greedy),
    ]
    resq = get_method("resq")  # centralized epsilon-greedy, epsilon = 1 (uniform) by default
    fits = {u: resq.fit(payoff, u) for u in payoff.joint_actions()}
    star = fits[u_tilde]
    stable = {u for u, f in fits.items() if f.stable}
    cells += [
        number_cell("regenerated optimal L_tot at u~ = u*", pub["loss"], star.loss, 2),
        exact_cell("u* is stable", True, star.stable),
        exact_cell("u* is strongly stable", False, star.strongly_stable),
        exact_cell("printed ubar is in the regenerated greedy set", True, printed_greedy <= star.greedy_set),
        exact_cell("stable points (Theorem 3: u* only)", action_set(payoff.optimal_actions()), action_set(stable)),
    ]
    # a witness with the printed greedy action: Q_mon, Q_r from the method's fit with top = printed ubar
    from stablepoint.methods.resq import resq_witness

    w_mon, w_r = resq_witness(y, u_tilde, next(iter(printed_greedy)), float(y[u_tilde]))
    w_loss = float(np.mean((w_mon + w_r - y) ** 2))
    cells.append(number_cell("regenerated witness with the printed ubar greedy: L_tot", pub["loss"], w_loss, 2))
    cells.append(exact_cell("regenerated witness: Q_mon monotone, printed ubar among its greedy actions, Q_r <= 0", True,
                            monotonicity(w_mon).monotonic and printed_greedy <= greedy_of(w_mon, 1e-9)
                            and bool(np.all(w_r <= 0))))
    rows = [(one_based(u), fmt(f.loss), action_set(f.greedy_set) if len(f.greedy_set) < 9 else "every u",
             "strong" if f.strongly_stable else "weak" if f.stable else "-") for u, f in fits.items()]
    sections = (
        Section("Printed decomposition (u~ = (1, 1))", ("quantity", "values"),
                (("Q_mon", fmt_matrix(q_mon)), ("w_r Q_r", fmt_matrix(wr_qr)), ("Q_mon + w_r Q_r", fmt_matrix(q_tot)),
                 ("Q_jt", fmt_matrix(y)), ("greedy of Q_mon", action_set(printed_greedy)))
                + (("regenerated Q_mon (printed ubar greedy)", fmt_matrix(w_mon)),
                   ("regenerated w_r Q_r", fmt_matrix(w_r)))),
        Section("ResQ on Table 5(a), centralized epsilon-greedy with epsilon = 1", ("u~", "loss", "greedy set", "stable"),
                tuple(rows)),
    )
    notes = []
    bad = [one_based(ix) for ix in np.ndindex(y.shape) if abs(q_tot[ix] - y[ix]) > 1e-9]
    if bad:
        notes.append(
            f"Table 6 as printed does not reach L_tot = 0: Q_mon + w_r Q_r differs from Q_jt at {', '.join(bad)} "
            f"(L_tot = {fmt(printed_loss, 4)} with uniform weights). At (3, 3), 8 + (-4) = 4 but Q_jt = 5; "
            "w_r Q_r(3, 3) = -3 would make it exact. The claim itself (u* only weakly stable) holds: see the "
            "regenerated rows."
        )
    return TableResult(name, "", pub["source"], status_of(cells), tuple(cells), sections, tuple(notes))
