"""Exact Ideal-QMIX projection: the best monotone fit of a payoff under visitation weights.

``ideal_qmix(y, weights, top=None, solver=...)`` returns a :class:`ProjectionResult`.
Solvers are looked up by name in :data:`SOLVERS`:

* ``"cvxpy"``: the literal reference method of MRVF Appendix B.2, one QP per
  combination of total orders of every agent's actions (``reference.py``);
* ``"bnb"``: branch and bound over partial orders with exact isotonic
  regression at each node (``bnb.py``), orders of magnitude faster.

``top`` forces a greedy joint action: its components are placed above every
other action of their agent (MRVF Table 5(c), "the best fit constrained to ubar").

Both solvers divide ``y`` by its power-of-two scale first and report fits,
losses and bounds in ``y``'s units (the unit range of
:mod:`stablepoint.tolerances`): tolerances are in unit-range units and the
answer is the same for any finite float64 payoff at any scale.
"""

from __future__ import annotations

import importlib

from stablepoint.errors import SettingsError
from stablepoint.projection.result import STATUS_MESSAGES, MonotoneFit, ProjectionResult, greedy_of

__all__ = ["ideal_qmix", "greedy_losses", "SOLVERS", "MonotoneFit", "ProjectionResult", "STATUS_MESSAGES", "greedy_of"]

#: solver name -> "module:function" implementing ``fn(y, weights, top=None, **options)``.
SOLVERS = {
    "cvxpy": "stablepoint.projection.reference:solve",
    "bnb": "stablepoint.projection.bnb:solve",
}
DEFAULT_SOLVER = "bnb"  # exact, and orders of magnitude faster (benchmarks/bench_projection.py)


def get_solver(name: str):
    """The solve function registered as ``name`` ("auto" picks the fastest exact one)."""
    if name == "auto":
        name = DEFAULT_SOLVER
    try:
        target = SOLVERS[name]
    except KeyError:
        raise SettingsError(f"unknown solver {name!r}; choose one of: auto, {', '.join(SOLVERS)}") from None
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def ideal_qmix(y, weights, *, top=None, solver: str = "auto", **options) -> ProjectionResult:
    """Best monotone fit of ``y`` under ``weights`` (MRVF Eq. 12), optionally with greedy ``top``.

    Parameters
    ----------
    y : ndarray, shape (A_1, ..., A_n)
        Target Q_jt.
    weights : ndarray, same shape
        Non-negative visitation weights (zeros allowed).
    top : tuple of int, optional
        Joint action forced to be greedy.
    solver : str
        A key of :data:`SOLVERS` or ``"auto"``.
    **options
        Passed to the solver (tolerances, limits, ``progress`` callback).
    """
    return get_solver(solver)(y, weights, top=top, **options)


def greedy_losses(y, weights, **options):
    """Best loss with each joint action forced greedy, in one batch (branch-and-bound engine).

    Shares work across the |U| ``top``-constrained solves that an exact greedy
    set needs; ``cutoff="optimum"`` only decides which actions tie the optimum
    (fastest).  See :func:`stablepoint.projection.bnb.greedy_losses`.
    """
    from stablepoint.projection.bnb import greedy_losses as batch

    return batch(y, weights, **options)

