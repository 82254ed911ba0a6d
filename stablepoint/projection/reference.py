"""Reference Ideal-QMIX projection: one QP per combination of agents' total orders.

This is the literal method of MRVF Appendix B.2 ("given the order of rows and
columns ... solve the constraint optimization problem ... compare L_tot for all
possible orders"), generalised to n agents:

1. for every agent i pick a total order of its actions (lowest to highest); with
   ``top`` only orders whose highest element is ``top[i]``;
2. for each combination of orders solve the weighted monotone least-squares QP

       minimize   sum_u w(u) (X(u) - Y(u))^2
       subject to X[.., order_i[k], ..] <= X[.., order_i[k+1], ..]   (pointwise, every i, k)

   with cvxpy and the Clarabel interior-point solver at tight tolerances
   (``CLARABEL_SETTINGS``);
3. keep every combination whose loss ties the best one (``loss_close``), dedupe
   equal fits, and report the greedy actions of each (:func:`greedy_of`).

Every X that is monotone in the sense of MRVF Eq. 11 admits, per agent, a total
order of its slices, so the union of these cones is exactly the feasible set of
Eq. 12 and the minimum over combinations is the Ideal-QMIX optimum.

Implementation notes (why it looks the way it does):

* One cvxpy problem is compiled per call, with the constraints of the *natural*
  order (``D @ x <= 0``, ``D`` fixed).  A combination of orders is solved by
  relabelling instead: Y and w are permuted so that each agent's order becomes
  0 < 1 < ... < A_i - 1, and only the parameters ``sqrt(w)`` and ``sqrt(w) * Y``
  change between QPs, which skips cvxpy's canonicalisation and costs cvxpy far
  less per solve than a parameter matrix ``D`` (about 6x on 4x4x4).  The fit is
  mapped back through the inverse relabelling.
* The QPs are solved in normalised units (Y affinely mapped onto [-1, 1],
  weights scaled to sum 1; monotonicity and the argmin are invariant), so the
  solver tolerances mean the same at any payoff scale.  Losses, ties and fits
  are then reported in the caller's units.
* Each QP solution is *polished* to the exact structure of isotonic regression:
  on an optimum every level set of X (entries with equal value) carries the
  weighted mean of Y over it, otherwise shifting the level set would lower the
  loss.  Entries within ``max(value_atol, 1e-8 * half-range of Y)`` are grouped
  into level sets and replaced by that mean; the polished X is kept only if it
  stays feasible and its loss is no worse, so polishing sharpens ties
  (1 vs 1 + 1e-9) but never changes the answer beyond the solver's accuracy.
* Y is first divided by its power-of-two scale ``2**k`` (the unit range of
  :mod:`stablepoint.tolerances`, exact in binary): losses are computed and
  compared there, so nothing overflows for any finite float64 payoff, and
  fits and losses are reported times ``2**k`` and ``4**k``.
* Tolerances are absolute plus relative (:mod:`stablepoint.tolerances`), in
  unit-range units: payoffs whose differences are far below
  ``sqrt(LOSS_ATOL)`` times ``max|Y|`` have every fit tied; pass smaller
  tolerances for those.
* Zero weights (epsilon = 0 visitation, or the ``top`` solves of a method) make
  the QP convex but not strictly convex: the entries with zero weight are free
  between their neighbours, and the solver returns ONE optimum among many.  The
  ``greedy`` set of such a result is then only the greedy actions of the fits
  found, which can miss greedy actions of other optima.  Exact greedy sets come
  from ``top``-constrained solves: ``u`` is admitted iff the best loss with
  ``top=u`` ties the global optimum (see :mod:`stablepoint.methods.qmix`).

Examples
--------
MRVF Table 5 under uniform visitation: the optimum 326/9 makes (3, 3) greedy.

>>> import numpy as np
>>> y = np.array([[8., -12, -12], [-12, 3, 0], [-12, 0, 5]])
>>> res = solve(y, np.full((3, 3), 1 / 9))
>>> round(res.loss * 9, 6), sorted(res.greedy)
(326.0, [(2, 2)])
>>> res.q_tot.round(6).tolist()
[[-8.0, -8.0, -8.0], [-8.0, 1.0, 1.0], [-8.0, 1.0, 5.0]]
"""

from __future__ import annotations

import itertools
import math
import time
from typing import Callable, Sequence

import numpy as np

from stablepoint.errors import ProblemTooLargeError, SettingsError
from stablepoint.projection.inputs import check_inputs as _check_inputs
from stablepoint.projection.result import MonotoneFit, ProjectionResult, greedy_of, rescaled
from stablepoint.tolerances import LOSS_ATOL, LOSS_RTOL, VALUE_ATOL, loss_close, scale_exponent, to_unit

__all__ = ["solve", "count_orderings", "order_constraints", "natural_order_qp", "solve_qp", "CLARABEL_SETTINGS", "DEFAULT_MAX_ORDERINGS"]

#: Refuse problems with more order combinations than this unless the caller raises it.
DEFAULT_MAX_ORDERINGS = 50_000

#: Clarabel tolerances: far below ``LOSS_ATOL`` / ``VALUE_ATOL`` so ties are decided by
#: the tolerances of :mod:`stablepoint.tolerances`, not by solver noise.
CLARABEL_SETTINGS = {
    "tol_gap_abs": 1e-11,
    "tol_gap_rel": 1e-11,
    "tol_feas": 1e-11,
    "tol_ktratio": 1e-9,
    "max_iter": 500,
}


def count_orderings(shape: Sequence[int], top=None) -> int:
    """Number of order combinations the reference enumerates.

    ``prod_i A_i!`` without ``top``; ``prod_i (A_i - 1)!`` with it.

    >>> count_orderings((3, 3)), count_orderings((3, 3), top=(0, 0)), count_orderings((4, 4, 4))
    (36, 4, 13824)
    """
    if top is None:
        return math.prod(math.factorial(a) for a in shape)
    return math.prod(math.factorial(a - 1) for a in shape)


def _agent_orders(shape, top):
    """Per agent, every total order (lowest first) allowed by ``top``."""
    per_agent = []
    for i, a in enumerate(shape):
        if top is None:
            per_agent.append(list(itertools.permutations(range(a))))
        else:
            rest = [b for b in range(a) if b != top[i]]
            per_agent.append([p + (top[i],) for p in itertools.permutations(rest)])
    return per_agent


def order_constraints(shape: Sequence[int], orders) -> np.ndarray:
    """The matrix D with ``D @ X.ravel() <= 0`` iff X is monotone under ``orders``.

    One row per agent i, consecutive pair (order_i[k], order_i[k+1]) and index of
    the other agents: ``X[.., order_i[k], ..] - X[.., order_i[k+1], ..] <= 0``.

    >>> order_constraints((2, 2), ((0, 1), (1, 0))).astype(int).tolist()
    [[1, 0, -1, 0], [0, 1, 0, -1], [-1, 1, 0, 0], [0, 0, -1, 1]]
    """
    shape = tuple(shape)
    n_joint = math.prod(shape)
    idx = np.arange(n_joint).reshape(shape)
    rows = []
    for i, order in enumerate(orders):
        for lo, hi in zip(order[:-1], order[1:]):
            lower = np.take(idx, lo, axis=i).ravel()
            upper = np.take(idx, hi, axis=i).ravel()
            block = np.zeros((lower.size, n_joint))
            block[np.arange(lower.size), lower] = 1.0
            block[np.arange(lower.size), upper] = -1.0
            rows.append(block)
    return np.vstack(rows)




def _normalise(y, w):
    """Centre and scale Y into [-1, 1] and weights to sum 1: monotonicity and the argmin are invariant."""
    lo, hi = float(y.min()), float(y.max())
    centre = 0.5 * (lo + hi)
    scale = 0.5 * (hi - lo) if hi > lo else 1.0
    total = float(w.sum())
    return (y - centre) / scale, (w / total if total > 0 else w), centre, scale


def _polish(x, y, w, d, group_tol):
    """Snap normalised X to level sets carrying the weighted mean of Y; None when not an improvement."""
    order = np.argsort(x, kind="stable")
    breaks = np.flatnonzero(np.diff(x[order]) > group_tol) + 1
    snapped = x.copy()
    for group in np.split(order, breaks):
        total = w[group].sum()
        if total > 0:
            snapped[group] = np.dot(w[group], y[group]) / total
        else:
            # Unweighted level set: any common value between its neighbours is optimal.
            snapped[group] = x[group].mean()
    if np.max(d @ snapped, initial=0.0) > 1e-12:
        return None
    loss_raw = float(np.dot(w, (x - y) ** 2))
    loss_new = float(np.dot(w, (snapped - y) ** 2))
    if loss_new > loss_raw + 1e-10:
        return None
    return snapped


def natural_order_qp(shape: Sequence[int]):
    """The reference's parameterised QP for one relabelled combination of orders.

    Returns ``(problem, x, sqrt_w, target, d)``: minimise
    ``||sqrt_w * x - target||^2`` subject to ``d @ x <= 0`` (X monotone in the
    natural order of every agent); set ``sqrt_w`` and ``target`` (= sqrt_w * Y)
    and call :func:`solve_qp`.
    """
    import cvxpy as cp

    shape = tuple(shape)
    n_joint = math.prod(shape)
    d = order_constraints(shape, tuple(tuple(range(a)) for a in shape))
    x = cp.Variable(n_joint)
    sqrt_w = cp.Parameter(n_joint, nonneg=True)
    target = cp.Parameter(n_joint)
    problem = cp.Problem(cp.Minimize(cp.sum_squares(cp.multiply(sqrt_w, x) - target)), [d @ x <= 0])
    return problem, x, sqrt_w, target, d


def solve_qp(problem, x, orders=None) -> np.ndarray:
    """Solve with the tight settings; fall back to Clarabel's defaults if those stall."""
    import cvxpy as cp

    for settings in (CLARABEL_SETTINGS, {}):
        try:
            problem.solve(solver=cp.CLARABEL, warm_start=False, **settings)
        except cp.error.SolverError:
            continue
        if problem.status in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE) and x.value is not None:
            return np.array(x.value, dtype=np.float64)
    # The QP is always feasible (constants are monotone), so this is a solver bug, not bad input.
    raise RuntimeError(f"Clarabel failed on orders {orders}: status {problem.status}")


def solve(
    y,
    weights,
    top=None,
    *,
    max_orderings: int = DEFAULT_MAX_ORDERINGS,
    progress: Callable[[int, int], None] | None = None,
    loss_atol: float = LOSS_ATOL,
    loss_rtol: float = LOSS_RTOL,
    value_atol: float = VALUE_ATOL,
) -> ProjectionResult:
    """Best monotone fit(s) of ``y`` under ``weights`` by enumerating every agent's total order.

    Parameters
    ----------
    y : ndarray, shape (A_1, ..., A_n)
        Target Q_jt.
    weights : ndarray, same shape
        Non-negative loss weights (a visitation, usually summing to 1; zeros allowed,
        see the module notes on what zeros mean for ``greedy``).
    top : tuple of int, optional
        Force this joint action to be greedy: only orders with ``top[i]`` highest.
    max_orderings : int
        Refuse (``ProblemTooLargeError``) when more order combinations than this
        would be solved; raise it explicitly to run a big problem anyway.
    progress : callable, optional
        ``progress(done, total)`` after each QP.
    loss_atol, loss_rtol : float
        Two losses are a tie when :func:`stablepoint.tolerances.loss_close` says so.
    value_atol : float
        Entries of X within this are equal (greedy ties, dedupe of fits, polishing).

    Returns
    -------
    ProjectionResult
        ``loss``, every distinct optimal fit (``fits``, one total order each),
        ``greedy`` = union of the fits' greedy actions, ``certified=True``,
        ``stats`` with ``n_qp``, ``seconds``, ``solver``, ``n_polished``.

    Raises
    ------
    ProblemTooLargeError
        More than ``max_orderings`` order combinations.
    PayoffError, SettingsError
        Bad ``y``, ``weights`` or ``top``.

    Examples
    --------
    Forcing (1, 1) to be greedy in MRVF Table 5 costs 410/9 instead of 326/9:

    >>> import numpy as np
    >>> y = np.array([[8., -12, -12], [-12, 3, 0], [-12, 0, 5]])
    >>> res = solve(y, np.full((3, 3), 1 / 9), top=(0, 0))
    >>> round(res.loss * 9, 6), res.q_tot.round(6).tolist()
    (410.0, [[8.0, -5.0, -5.0], [-5.0, -5.0, -5.0], [-5.0, -5.0, -5.0]])
    """
    y, w, top = _check_inputs(y, weights, top)
    if isinstance(max_orderings, bool) or not isinstance(max_orderings, (int, np.integer)) or max_orderings < 1:
        raise SettingsError(f"max_orderings must be a positive integer, got {max_orderings!r}")
    shape = y.shape
    total = count_orderings(shape, top)
    if total > max_orderings:
        raise ProblemTooLargeError(
            f"the cvxpy reference would solve {total:,} QPs (one per combination of agent orders, "
            f"shape {shape}), above max_orderings={max_orderings:,}; pass max_orderings={total} "
            f"to run it anyway, or use solver='bnb'"
        )
    start = time.perf_counter()
    k = scale_exponent(y)
    y = to_unit(y, k)  # unit range: see the module notes; the result is scaled back at the end
    y_flat, w_flat = y.ravel(), w.ravel()
    # Solve in normalised units so that Clarabel's tolerances mean the same at any payoff scale.
    y_n, w_n, centre, scale = _normalise(y_flat, w_flat)
    group_tol = max(value_atol / scale, 1e-8)

    y_n, w_n = y_n.reshape(shape), w_n.reshape(shape)
    problem, x, sqrt_w, target, d = natural_order_qp(shape)

    candidates = []  # (loss, x, orders)
    n_polished = 0
    for done, orders in enumerate(itertools.product(*_agent_orders(shape, top)), start=1):
        # Relabel so that every agent's order is the natural one: entry k of axis i is action orders[i][k].
        relabel = np.ix_(*orders)
        y_p, w_p = y_n[relabel].ravel(), w_n[relabel].ravel()
        sqrt_w.value = np.sqrt(w_p)
        target.value = np.sqrt(w_p) * y_p
        x_p = solve_qp(problem, x, orders)
        polished = _polish(x_p, y_p, w_p, d, group_tol)
        if polished is not None:
            x_p = polished
            n_polished += 1
        x_n = np.empty(shape)
        x_n[relabel] = x_p.reshape(shape)
        x_val = centre + scale * x_n.ravel()
        loss = float(np.dot(w_flat, (x_val - y_flat) ** 2))
        candidates.append((loss, x_val, tuple(tuple(int(a) for a in o) for o in orders)))
        if progress is not None:
            progress(done, total)

    best = min(c[0] for c in candidates)
    fits: list[MonotoneFit] = []
    for loss, x_val, orders in candidates:
        if not loss_close(loss, best, loss_atol, loss_rtol):
            continue
        q_tot = x_val.reshape(shape)
        if any(np.allclose(q_tot, f.q_tot, rtol=0.0, atol=value_atol) for f in fits):
            continue
        q_tot.setflags(write=False)
        fits.append(MonotoneFit(q_tot=q_tot, orders=orders, loss=loss))
    greedy = frozenset().union(*(greedy_of(f.q_tot, value_atol) for f in fits))
    return rescaled(ProjectionResult(
        loss=best,
        fits=tuple(fits),
        greedy=greedy,
        certified=True,
        bound=best,
        status=0,
        stats={
            "n_qp": total,
            "seconds": time.perf_counter() - start,
            "solver": "cvxpy/CLARABEL",
            "n_polished": n_polished,
        },
    ), k)
