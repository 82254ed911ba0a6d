"""Result types of the exact Ideal-QMIX projection (MRVF Definition 4, Eq. 10-12)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from stablepoint.tolerances import from_unit

__all__ = ["MonotoneFit", "ProjectionResult", "STATUS_MESSAGES", "greedy_of", "rescaled"]

#: status code -> meaning, in the style of scipy's result objects.
STATUS_MESSAGES = {
    0: "optimal: certified within tolerance",
    1: "stopped by the time limit: best incumbent and lower bound reported, not certified",
    2: "stopped by the node limit: best incumbent and lower bound reported, not certified",
}


@dataclass(frozen=True)
class MonotoneFit:
    """One monotone fit X of the payoff Y.

    Attributes
    ----------
    q_tot : ndarray
        X, monotone in every agent's action under ``orders``.
    orders : tuple of tuples
        Per agent, its actions from lowest to highest slice (one total order
        consistent with X; ties between equal slices are broken arbitrarily here,
        which is why the greedy set is read from the slices, not from the order).
    loss : float
        Weighted loss sum_u w(u) (X(u) - Y(u))^2.
    """

    q_tot: np.ndarray
    orders: tuple[tuple[int, ...], ...]
    loss: float


@dataclass(frozen=True)
class ProjectionResult:
    """The best monotone fit(s) of Y under weights w, optionally with a forced greedy action.

    Attributes
    ----------
    loss : float
        Optimal (or, when not certified, best found) loss.
    fits : tuple of MonotoneFit
        Every distinct optimal fit found within the loss tolerance (ties kept).
    greedy : frozenset of joint actions
        Greedy actions admitted by ``fits`` (product of each agent's maximal
        slices).  With zero weights the optimum is not unique and this can miss
        greedy actions of other optima; the exact set comes from ``top``-
        constrained solves (see ``stablepoint.methods.qmix``).
    certified : bool
        Whether optimality was proven.
    bound : float
        Proven lower bound on the optimal loss (equals ``loss`` when certified).
    status : int
        Key of :data:`STATUS_MESSAGES`.
    stats : mapping
        Solver counters: ``n_qp`` / ``n_nodes``, ``seconds``, ``solver``.
    """

    loss: float
    fits: tuple[MonotoneFit, ...]
    greedy: frozenset
    certified: bool = True
    bound: float = float("nan")
    status: int = 0
    stats: Mapping[str, Any] = field(default_factory=dict)

    @property
    def message(self) -> str:
        return STATUS_MESSAGES[self.status]

    @property
    def q_tot(self) -> np.ndarray:
        """The first optimal fit's X."""
        return self.fits[0].q_tot


def greedy_of(x: np.ndarray, atol: float) -> frozenset:
    """Greedy joint actions of a monotone X: per agent, every slice equal to the top slice.

    For agent i the top slice is the pointwise maximum over its actions' slices
    (it is one of them when X is monotone); an action is greedy for agent i when
    its slice is within ``atol`` of that maximum everywhere.
    """
    import itertools

    per_agent = []
    for i in range(x.ndim):
        slices = np.moveaxis(x, i, 0).reshape(x.shape[i], -1)
        top = slices.max(axis=0)
        per_agent.append([a for a in range(x.shape[i]) if np.all(slices[a] >= top - atol)])
    return frozenset(itertools.product(*per_agent))


def readonly(x: np.ndarray) -> np.ndarray:
    """``x`` as a read-only float array."""
    x = np.array(x, dtype=np.float64)
    x.setflags(write=False)
    return x


def rescaled(result: ProjectionResult, k: int) -> ProjectionResult:
    """A result computed on ``Y / 2**k`` in the units of ``Y``: fits times ``2**k``, losses times ``4**k``.

    See :mod:`stablepoint.tolerances` (unit range); greedy sets and status do not change.
    """
    if k == 0:
        return result
    fits = tuple(
        MonotoneFit(q_tot=readonly(from_unit(f.q_tot, k)), orders=f.orders, loss=from_unit(f.loss, k, 2))
        for f in result.fits
    )
    return dataclasses.replace(
        result,
        loss=from_unit(result.loss, k, 2),
        fits=fits,
        bound=from_unit(result.bound, k, 2),
    )
