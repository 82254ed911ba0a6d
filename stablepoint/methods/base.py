"""What every method returns: all optimal fits given u~, and the greedy set they admit.

A *method* maps ``(payoff, u_tilde)`` to a :class:`FitResult`.  Ties are
first-class: ``greedy_set`` is every joint action that SOME optimal fit makes
greedy, never an arbitrary pick, because weak versus strong stability depends
on it (MRVF Definition 1).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Protocol, runtime_checkable

import numpy as np

from stablepoint.payoff import JointAction, Payoff

__all__ = ["Fit", "FitResult", "Method"]


@dataclass(frozen=True)
class Fit:
    """One optimal solution of a method's loss given u~.

    Attributes
    ----------
    q_tot : ndarray, shape = payoff shape
        The fitted Q_tot.
    greedy : frozenset of joint actions
        Greedy joint actions ubar this solution admits (ties in the per-agent
        utilities give more than one).
    info : mapping
        Method-specific pieces (agent orders, Q_mon and Q_r, utilities, weights).
    """

    q_tot: np.ndarray
    greedy: frozenset
    info: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FitResult:
    """The optimum of one method's loss for one u~.

    Attributes
    ----------
    method : str
        Method name.
    u_tilde : tuple of int
        The greedy action that drives the gradient-free parts (0-based).
    loss : float
        Optimal value of the method's loss L_tot (visitation weights sum to 1).
    greedy_set : frozenset of joint actions
        Every ubar that some optimal fit admits.
    fits : tuple of Fit
        Representative optimal fits (at least one; typically one per greedy action).
    greedy_losses : mapping or None
        For methods that compute it: the best loss with the greedy action
        constrained to each joint action u (``greedy_set`` is where it ties ``loss``).
    certified : bool
        False when a budget stopped the search before optimality was proven.
    message : str
        Human-readable status.
    """

    method: str
    u_tilde: JointAction
    loss: float
    greedy_set: frozenset
    fits: tuple[Fit, ...]
    greedy_losses: Mapping[JointAction, float] | None = None
    certified: bool = True
    message: str = "optimal"

    @property
    def stable(self) -> bool:
        """u~ is in the greedy set (weakly or strongly stable)."""
        return tuple(self.u_tilde) in self.greedy_set

    @property
    def strongly_stable(self) -> bool:
        """Every optimal fit has ubar = u~ and nothing else."""
        return self.greedy_set == frozenset({tuple(self.u_tilde)})


@runtime_checkable
class Method(Protocol):
    """A value-factorization method under the stable-point model.

    ``settings()`` returns a JSON-able dict of the method's configuration.
    """

    name: str

    def fit(self, payoff: Payoff, u_tilde) -> FitResult: ...

    def settings(self) -> dict: ...
