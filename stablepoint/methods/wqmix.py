"""Centrally-weighted QMIX (MRVF Eq. 3): Ideal QMIX with weights w(u) * pi(u | u~).

    w(u) = 1      if Qjt(u) > Qjt(u~)  or  u == u~
           alpha  otherwise                                   (Eq. 3, ``tie_rule="strict"``)

``tie_rule="inclusive"`` uses ">=" instead of ">" (so joint actions whose value
ties u~'s get weight 1); the two rules differ only where Qjt(u) == Qjt(u~)
(within ``VALUE_ATOL`` in unit range, see :mod:`stablepoint.tolerances`).
The idealised model takes Q^_jt = Qjt.  The loss is
sum_u pi(u | u~) w(u) (Q_tot(u) - Qjt(u))^2, not renormalised: scaling the
weights does not move the optimum, and this keeps losses comparable with Eq. 3.

Examples
--------
>>> import numpy as np
>>> y = np.array([[8., -12, -12], [-12, 3, 0], [-12, 0, 5]])
>>> eq3_weights(y, (1, 2), alpha=0.1).tolist()
[[1.0, 0.1, 0.1], [0.1, 1.0, 1.0], [0.1, 0.1, 1.0]]
>>> eq3_weights(y, (1, 2), alpha=0.1, tie_rule="inclusive").tolist()
[[1.0, 0.1, 0.1], [0.1, 1.0, 1.0], [0.1, 1.0, 1.0]]
"""

from __future__ import annotations

import numpy as np

from stablepoint.errors import SettingsError
from stablepoint.methods.common import MonotoneMethod, as_payoff, check_choice
from stablepoint.payoff import Payoff
from stablepoint.tolerances import VALUE_ATOL, scale_exponent, to_unit
from stablepoint.visitation import visitation

__all__ = ["WQMIX", "eq3_weights", "TIE_RULES", "check_alpha"]

TIE_RULES = ("strict", "inclusive")


def check_alpha(alpha) -> float:
    """Validate the WQMIX down-weight: a number in (0, 1]."""
    try:
        a = float(alpha)
    except (TypeError, ValueError):
        raise SettingsError(f"alpha must be a number in (0, 1], got {alpha!r}") from None
    if not 0.0 < a <= 1.0:  # also rejects NaN
        raise SettingsError(f"alpha must be in (0, 1], got {alpha!r}")
    return a


def eq3_weights(y, u_tilde, alpha: float, tie_rule: str = "strict", atol: float = VALUE_ATOL) -> np.ndarray:
    """The WQMIX weight w(u) of MRVF Eq. 3 for every joint action.

    Parameters
    ----------
    y : ndarray
        Qjt.
    u_tilde : tuple of int
        The current greedy action.
    alpha : float in (0, 1]
        Weight of the joint actions that are not better than u~.
    tie_rule : {"strict", "inclusive"}
        ">" (Eq. 3 as printed) or ">=" for Qjt(u) versus Qjt(u~); values within
        ``atol`` are ties, in unit-range units (``atol`` times the power of two
        of :func:`stablepoint.tolerances.scale_exponent` in Qjt's units).
    """
    y = np.asarray(y, dtype=np.float64)
    y = to_unit(y, scale_exponent(y))  # exact; only the tie test depends on the scale
    alpha = check_alpha(alpha)
    check_choice("tie_rule", tie_rule, TIE_RULES)
    ref = y[tuple(u_tilde)]
    better = y > ref + atol if tie_rule == "strict" else y >= ref - atol
    w = np.where(better, 1.0, alpha)
    w[tuple(u_tilde)] = 1.0
    return w


class WQMIX(MonotoneMethod):
    """Centrally-weighted QMIX: Ideal QMIX under weights pi(u | u~) * w(u) of Eq. 3.

    Parameters
    ----------
    alpha : float in (0, 1]
        Down-weight of joint actions not better than u~ (default 0.1).
    tie_rule : {"strict", "inclusive"}
        ">" (default, Eq. 3) or ">=" when comparing Qjt(u) with Qjt(u~).
    visitation, epsilon, solver, solver_options, losses
        As for :class:`stablepoint.methods.qmix.QMIX`.

    Examples
    --------
    >>> from stablepoint.catalog import get_game
    >>> res = WQMIX(solver="cvxpy").fit(get_game("table5"), (0, 0))
    >>> sorted(res.greedy_set), res.strongly_stable
    ([(0, 0)], True)
    """

    name = "wqmix"
    #: keyword settings of ``__init__`` (the CLI checks options against these).
    setting_names = ("alpha", "tie_rule", "visitation", "epsilon", "solver", "solver_options", "losses")

    def __init__(
        self,
        *,
        alpha=0.1,
        tie_rule="strict",
        visitation="centralized",
        epsilon=1.0,
        solver="auto",
        solver_options=None,
        losses="all",
    ):
        self.alpha = check_alpha(alpha)
        self.tie_rule = check_choice("tie_rule", tie_rule, TIE_RULES)
        super().__init__(
            visitation=visitation, epsilon=epsilon, solver=solver, solver_options=solver_options, losses=losses
        )

    def settings(self) -> dict:
        """JSON-able settings."""
        return {"alpha": self.alpha, "tie_rule": self.tie_rule, **super().settings()}

    def weights(self, payoff: Payoff, u_tilde) -> np.ndarray:
        """Loss weights pi(u | u~) * w(u)."""
        payoff = as_payoff(payoff)
        u = payoff.check_action(u_tilde)
        value_atol = float(self.solver_options.get("value_atol", VALUE_ATOL))
        pi = visitation(self.visitation, payoff.shape, u, self.epsilon)
        return pi * eq3_weights(payoff.values, u, self.alpha, self.tie_rule, value_atol)

    def __repr__(self) -> str:
        return f"WQMIX({', '.join(f'{k}={v!r}' for k, v in self.settings().items())})"
