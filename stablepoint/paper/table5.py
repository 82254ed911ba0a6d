"""MRVF Table 5: Ideal QMIX on the Table 5 payoff under uniform visitation (epsilon = 1).

(b) the best monotone fit overall and its L_tot; (c) the best monotone fit with
the greedy action forced to u* = (1, 1) and its L_tot.  Since (b) < (c), Ideal
QMIX converges to (b) whose greedy action is (3, 3), not the optimum.  The
fits come from ``stablepoint.methods`` (``qmix``) and the projection's
``top``-constrained solve.
"""

from __future__ import annotations

import numpy as np

from stablepoint.paper.core import (
    Section, TableResult, action_set, exact_cell, fmt, fmt_matrix, load_published, matrix_cells, number_cell,
    status_of,
)
from stablepoint.payoff import Payoff


def regenerate(name: str = "table5", progress=None) -> TableResult:
    from stablepoint.methods import get_method
    from stablepoint.projection import ideal_qmix

    pub = load_published("table5")
    d = pub["loss_decimals"]
    payoff = Payoff(np.array(pub["payoff"], dtype=float), name="table5")
    qmix = get_method("qmix", visitation="uniform", epsilon=1.0)
    fit = qmix.fit(payoff, (0, 0))  # uniform weights: the same fit for every u~
    weights = qmix.weights(payoff, (0, 0))
    top_star = tuple(a - 1 for a in pub["c"]["greedy"])
    forced = ideal_qmix(payoff.values, weights, top=top_star)

    cells = [
        number_cell("(b) L_tot", pub["b"]["loss"], fit.loss, d),
        exact_cell("(b) greedy set", action_set([tuple(a - 1 for a in pub["b"]["greedy"])]), action_set(fit.greedy_set)),
        *matrix_cells("(b) Q_tot*", pub["b"]["q_tot"], fit.fits[0].q_tot, 2),
        number_cell("(c) L_tot", pub["c"]["loss"], forced.loss, d),
        *matrix_cells("(c) Q_tot* with ubar = u*", pub["c"]["q_tot"], forced.q_tot, 2),
        exact_cell("(b) beats (c), so u* is not stable under uniform visitation", True,
                   bool(fit.loss < forced.loss) and top_star not in fit.greedy_set),
        exact_cell("stable points of Ideal QMIX (uniform)", action_set([(2, 2)]),
                   action_set(u for u in payoff.joint_actions() if u in fit.greedy_set)),
    ]
    if fit.greedy_losses is not None:
        cells.append(number_cell("(c) L_tot from the method's greedy_losses[(1, 1)]", pub["c"]["loss"],
                                 fit.greedy_losses[top_star], d))
    rows = (
        ("(b) Q_tot*", fmt_matrix(pub["b"]["q_tot"]), fmt_matrix(fit.fits[0].q_tot), fmt(pub["b"]["loss"]),
         f"{fmt(fit.loss, 6)} (= {fmt(fit.loss * 9, 6)}/9)"),
        ("(c) Q_tot*, ubar = (1, 1)", fmt_matrix(pub["c"]["q_tot"]), fmt_matrix(forced.q_tot), fmt(pub["c"]["loss"]),
         f"{fmt(forced.loss, 6)} (= {fmt(forced.loss * 9, 6)}/9)"),
    )
    section = Section("Ideal QMIX on Table 5(a), uniform visitation",
                      ("fit", "published", "regenerated", "published L_tot", "regenerated L_tot"), rows)
    notes = (f"Solver: {forced.stats.get('solver', 'default')}; L_tot uses weights 1/9 (uniform), as the paper's "
             "36.22 = 326/9 and 45.56 = 410/9 imply.",)
    return TableResult(name, "", pub["source"], status_of(cells), tuple(cells), (section,), notes)
