"""Ideal QMIX (MRVF Definition 4, Eq. 10-12) under a visitation around u~.

Given u~, the loss weights are the visitation pi(. | u~) (centralized
epsilon-greedy, Eq. 8, by default); Q_tot is every best monotone fit of the
payoff under those weights, and the greedy set is every joint action that some
best fit makes greedy (exact, ties kept; see
:func:`stablepoint.methods.common.monotone_fit_result`).

The default ``epsilon=1.0`` makes every visitation uniform, the setting of
MRVF Table 5 and Figure 2; the small-epsilon regime of Theorem 2 needs an
explicit ``epsilon``.

Examples
--------
Under uniform visitation, Table 5 goes to (3, 3) from every u~ (1-based):

>>> from stablepoint.catalog import get_game
>>> res = QMIX(epsilon=1.0, solver="cvxpy").fit(get_game("table5"), (0, 0))
>>> sorted(res.greedy_set), round(res.loss, 4), res.stable
([(2, 2)], 36.2222, False)
"""

from __future__ import annotations

import itertools

import numpy as np

from stablepoint.methods.common import as_payoff, MonotoneMethod
from stablepoint.payoff import Payoff
from stablepoint.visitation import visitation

__all__ = ["QMIX"]


class QMIX(MonotoneMethod):
    """Ideal QMIX: the best monotone fit under the visitation around u~.

    Parameters
    ----------
    visitation : {"centralized", "decentralized", "uniform"}
        Policy pi(. | u~) that weights the loss (MRVF Eq. 8, Eq. 2, or uniform).
    epsilon : float in [0, 1]
        Exploration rate; 1.0 (default) is uniform visitation.  At 0 only u~ is
        weighted and every joint action is admitted (loss 0 for all).  Losses
        shrink with epsilon while ties are decided with the absolute
        ``loss_atol`` (default 1e-7, in unit-range units, see
        :mod:`stablepoint.tolerances`): below epsilon ~ 1e-6 pass a smaller one,
        e.g. ``solver_options={"loss_atol": 1e-13}``, or distinct losses tie.
    solver : str
        Projection solver name (``"auto"``, ``"cvxpy"``, ...), see
        :data:`stablepoint.projection.SOLVERS`.
    solver_options : mapping, optional
        Passed to the solver, e.g. ``{"max_orderings": 10**6}`` for ``"cvxpy"``
        or tolerances ``loss_atol`` / ``loss_rtol`` / ``value_atol`` (also used
        here to decide ties; in unit-range units: the payoff is divided by its
        power-of-two scale before fitting and the result scaled back).
    losses : {"all", "greedy"}
        ``"all"`` (default) also reports the exact best loss with each joint
        action forced greedy (``FitResult.greedy_losses``); ``"greedy"`` only
        decides the greedy set, much faster with the ``bnb`` solver.
    """

    name = "qmix"
    #: keyword settings of ``__init__`` (the CLI checks options against these).
    setting_names = ("visitation", "epsilon", "solver", "solver_options", "losses")

    def weights(self, payoff: Payoff, u_tilde) -> np.ndarray:
        """Loss weights pi(. | u~)."""
        payoff = as_payoff(payoff)
        return visitation(self.visitation, payoff.shape, payoff.check_action(u_tilde), self.epsilon)

    def visitation_ignores_u_tilde(self) -> bool:
        """Whether the weights are the same for every u~ (uniform, or epsilon = 1)."""
        return self.visitation == "uniform" or self.epsilon == 1.0

    def fit_ignores_u_tilde(self) -> bool:
        """Whether the fit is the same for every u~ (:func:`stablepoint.stability.fit_ignores_u_tilde`)."""
        return self.visitation_ignores_u_tilde()

    def stable_points(self, payoff: Payoff) -> frozenset:
        """Every u~ that is in its own greedy set (weakly or strongly stable).

        When the visitation does not depend on u~ one fit answers for all.

        >>> import numpy as np
        >>> sorted(QMIX(solver="cvxpy").stable_points(np.eye(2)))
        [(0, 0), (0, 1), (1, 0), (1, 1)]
        """
        payoff = as_payoff(payoff)
        actions = list(itertools.product(*(range(s) for s in payoff.shape)))
        if self.visitation_ignores_u_tilde():
            return self.fit(payoff, actions[0]).greedy_set
        return frozenset(u for u in actions if self.fit(payoff, u).stable)

    def __repr__(self) -> str:
        return f"QMIX({', '.join(f'{k}={v!r}' for k, v in self.settings().items())})"
