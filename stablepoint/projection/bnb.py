"""Exact Ideal-QMIX projection by branch and bound over partial orders of the agents' actions.

The feasible set of MRVF Eq. 12 is the union, over one total order of actions
per agent, of the cones "slice X[i=a] <= slice X[i=b] pointwise for a before b".
A fit X belongs to that union iff, for every agent, its slices are pairwise
comparable pointwise.  The search works on *partial* orders instead of total ones:

* a node holds one strict partial order per agent (transitively closed);
* its bound is the exact isotonic fit under those partial orders
  (:mod:`stablepoint.projection.isotonic`): a relaxation of every total order
  that extends them, so a valid lower bound on their best loss;
* a node is *closed* when the fit's slices are pairwise comparable for every
  agent (within ``value_atol``): the fit is then feasible, hence optimal for
  every completion of the node, and no branching below it can do better;
* otherwise it branches on an incomparable pair (a, b) of some agent into
  "a below b" and "b below a" (the pair whose cheaper resolution looks most
  expensive is picked first);
* best-first order, with an initial incumbent from sorting the slices of the
  root fit; a node is pruned only when its bound exceeds the incumbent by more
  than the loss tolerance, so ties survive and every optimal fit is found;
* children are fitted lazily: a child enters the queue with the bound
  "parent loss + pooling cost of its new relation" (valid by the projection
  inequality, see ``_node_kernel``) and is fitted only when it reaches the top
  of the queue, so children that the incumbent prunes never cost a fit (about
  40% fewer fits on 4x4x4 payoffs);
* a child's fit is warm-started from its parent's level sets (only the level
  sets joined by newly violated constraints are re-partitioned; the result
  meets the optimality conditions, so it equals a cold fit).

``top`` puts ``top[i]`` above every other action of agent i at the root.

Tolerance behaviour (documented, tested in ``tests/test_bnb.py`` and
``tests/test_numeric_range.py``):

* The search runs on Y divided by its power-of-two scale ``2**k``
  (:mod:`stablepoint.tolerances`, unit range): the tolerances below are in
  those units, and fits, losses, bounds and progress reports are scaled back
  (values by ``2**k``, losses by ``4**k``, ``inf`` where that overflows), so
  any finite float64 payoff gets the answer of its unit-range copy.
* Slices whose entries differ by at most ``value_atol`` (in unit range) count
  as comparable, so payoffs whose entries differ only at the 1e-12 scale
  relative to max|Y| close at the root with X = Y (loss 0) and every joint
  action greedy; the loss error this admits is below ``value_atol**2`` times
  the total weight (times ``4**k`` in payoff units).
* Losses within ``loss_atol + loss_rtol * |loss|`` of the best are ties; their
  fits are all returned (deduplicated by X within ``value_atol``).
* Zero weights: the bound and loss ignore zero-weight cells; the fit gives them
  the value described in :mod:`stablepoint.projection.isotonic`.  The greedy
  set of such a fit is one representative; exact greedy sets come from
  :func:`greedy_losses` (or ``top``-constrained solves).

Examples
--------
MRVF Table 5 under uniform visitation (loss 326/9, greedy (3, 3) in 1-based terms):

>>> import numpy as np
>>> y = np.array([[8., -12, -12], [-12, 3, 0], [-12, 0, 5]])
>>> res = solve(y, np.full((3, 3), 1 / 9))
>>> round(res.loss * 9, 6), sorted(res.greedy), res.certified
(326.0, [(2, 2)], True)

Forcing the optimal action (1, 1) to be greedy costs 410/9:

>>> round(solve(y, np.full((3, 3), 1 / 9), top=(0, 0)).loss * 9, 6)
410.0
"""

from __future__ import annotations

import heapq
import itertools
import math
import os
import time
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import numpy as np

from stablepoint.errors import SettingsError
from stablepoint.projection.inputs import check_inputs as _check_inputs
from stablepoint.projection.isotonic import CUT_RTOL, _node_kernel, _with_relation, slice_index
from stablepoint.projection.result import MonotoneFit, ProjectionResult, greedy_of, rescaled
from stablepoint.tolerances import LOSS_ATOL, LOSS_RTOL, VALUE_ATOL, from_unit, scale_exponent, to_unit

__all__ = ["solve", "greedy_losses", "BnbProgress", "GreedyLosses"]

#: Seconds between two progress reports.
PROGRESS_INTERVAL = 0.25
#: Merge-and-repartition rounds of a warm-started fit before falling back to a cold one.
WARM_ROUNDS = 8


@dataclass(frozen=True)
class BnbProgress:
    """What a progress callback receives.

    Attributes
    ----------
    nodes : int
        Nodes evaluated so far (one exact isotonic fit each).
    open_nodes : int
        Nodes waiting in the queue.
    bound : float
        Proven lower bound on the optimal loss.
    incumbent : float
        Best loss of a feasible fit found so far.
    gap : float
        ``incumbent - bound`` (0 when certified).
    seconds : float
        Time since the search started.
    """

    nodes: int
    open_nodes: int
    bound: float
    incumbent: float
    gap: float
    seconds: float




def _check_limit(name, value, kind):
    if value is None:
        return None
    try:
        value = kind(value)
    except (TypeError, ValueError):
        raise SettingsError(f"{name} must be a number, got {value!r}") from None
    if not value > 0:
        raise SettingsError(f"{name} must be positive, got {value!r}")
    return value


class _Problem:
    """Data shared by every node of one search (and by searches with other ``top``)."""

    def __init__(self, y, w, value_atol):
        self.y = y
        self.w = w
        self.shape = y.shape
        self.y_flat = np.ascontiguousarray(y.ravel())
        self.w_flat = np.ascontiguousarray(w.ravel())
        self.value_atol = float(value_atol)
        self.sl_idx, self.sizes, self.n_slice = slice_index(self.shape)
        self._no_labels = np.zeros(self.y_flat.shape[0], np.int64)

    def fit(self, rel, parent=None):
        """Exact isotonic fit under ``rel`` -> (x, labels, loss, branch or None if closed).

        ``branch`` is ``(i, a, b, cost_ab, cost_ba)``: the pair to branch on and
        the least loss increase of each child (see ``_node_kernel``).
        ``parent`` = (x, labels) of a node whose relations are a subset of ``rel``
        warm-starts the fit (same exact answer, less work).
        """
        if parent is None:
            x0, label0, warm = self.y_flat, self._no_labels, False
        else:
            x0, label0, warm = parent[0], parent[1], True
        x, label, loss, branch, costs = _node_kernel(self.y_flat, self.w_flat, rel, self.sl_idx, self.sizes,
                                                     self.n_slice, self.value_atol, CUT_RTOL, x0, label0,
                                                     warm, WARM_ROUNDS)
        if branch[0] < 0:
            return x, label, float(loss), None
        return x, label, float(loss), (int(branch[0]), int(branch[1]), int(branch[2]), float(costs[0]),
                                       float(costs[1]))


def _root_relations(shape, top):
    """Per-agent strict orders stacked as ``rel[i, a, b]`` (a below b); ``top`` above the rest."""
    rel = np.zeros((len(shape), max(shape), max(shape)), dtype=np.bool_)
    if top is not None:
        for i, t in enumerate(top):
            rel[i, : shape[i], t] = True
            rel[i, t, t] = False
    return rel


def _orders_of(x, top, value_atol):
    """One total order per agent consistent with a feasible X (ties: index order, ``top`` last)."""
    orders = []
    for i, s in enumerate(x.shape):
        sl = np.moveaxis(x, i, 0).reshape(s, -1)
        # Count of slices each slice is pointwise above: consistent with the pointwise order.
        rank = [(int(np.sum(np.all(sl[a] >= sl - value_atol, axis=1))), a) for a in range(s)]
        if top is not None:
            rank = [(r + (s if a == top[i] else 0), a) for r, a in rank]
        orders.append(tuple(a for _, a in sorted(rank)))
    return tuple(orders)


def _heuristic_relations(problem, x, base):
    """Total orders extending ``base``: slices sorted by their weighted mean in ``x``."""
    rel = base.copy()
    for i, s in enumerate(problem.shape):
        idx = problem.sl_idx[i, :s, : problem.n_slice[i]]
        wi = problem.w_flat[idx]
        tot = wi.sum(axis=1)
        key = np.where(tot > 0, (x[idx] * wi).sum(axis=1) / np.where(tot > 0, tot, 1), x[idx].mean(axis=1))
        remaining = sorted(range(s), key=lambda c: key[c])
        order = []
        while remaining:
            # The lowest-key action with nothing left below it in ``base``.
            a = next(a for a in remaining if not any(base[i, b, a] for b in remaining))
            order.append(a)
            remaining.remove(a)
        for p, lo in enumerate(order):
            rel[i, lo, order[p + 1:]] = True
    return rel


@dataclass
class _Search:
    """Raw outcome of one branch-and-bound search."""

    best: float
    fits: list  # (x, loss) of closed nodes within tolerance of best at the time
    bound: float
    certified: bool
    status: int
    nodes: int
    seconds: float


def _tol(loss, loss_atol, loss_rtol):
    return loss_atol + loss_rtol * abs(loss)


def _search(problem: _Problem, top, *, cutoff=math.inf, time_limit=None, node_limit=None,
            progress=None, loss_atol=LOSS_ATOL, loss_rtol=LOSS_RTOL) -> _Search:
    """Best-first branch and bound; collects every fit within tolerance of the optimum.

    With a finite ``cutoff`` nodes whose bound exceeds it are dropped: the search
    then proves either the optimum (when it is <= cutoff, up to tolerance) or a
    lower bound above the cutoff.
    """
    start = time.perf_counter()
    value_atol = problem.value_atol
    best = math.inf
    found: list = []

    def record(x, loss):
        nonlocal best, found
        if loss < best:
            best = loss
            found = [(xx, ll) for xx, ll in found if ll <= best + _tol(best, loss_atol, loss_rtol)]
        if loss <= best + _tol(best, loss_atol, loss_rtol):
            if not any(np.max(np.abs(xx - x)) <= value_atol for xx, _ in found):
                found.append((x, loss))

    nodes = 0
    status = 0
    dropped = math.inf  # smallest bound of a node dropped by the cutoff
    root_rel = _root_relations(problem.shape, top)
    x, label, loss, branch = problem.fit(root_rel)
    nodes += 1
    # Heap entries (bound, tie-break, relations, fit, branch).  A fitted node has
    # its loss as bound and ``branch`` set.  A child is pushed unfitted, bounded by
    # its parent's loss plus its pooling cost, with the parent's fit to warm-start
    # from; it is fitted only if it reaches the top of the heap, so children the
    # incumbent prunes never cost a fit.
    heap: list = []
    counter = itertools.count()
    if branch is None:
        record(x, loss)
    elif loss > cutoff:
        dropped = loss
    else:
        heap.append((loss, next(counter), root_rel, (x, label), branch))
    if heap and not math.isfinite(cutoff):
        # An early incumbent only matters for limits and memory, not with a cutoff.
        heuristic = _heuristic_relations(problem, x, root_rel)
        hx, _, hloss, hbranch = problem.fit(heuristic, (x, label))
        nodes += 1
        if hbranch is None:  # total orders always close; guard against tolerance corner cases
            record(hx, hloss)
    last_report = start
    while heap:
        limit = min(cutoff, best + _tol(best, loss_atol, loss_rtol)) if best < math.inf else cutoff
        if heap[0][0] > limit:
            break
        now = time.perf_counter()
        if time_limit is not None and now - start > time_limit:
            status = 1
            break
        if node_limit is not None and nodes >= node_limit:
            status = 2
            break
        if progress is not None and now - last_report >= PROGRESS_INTERVAL:
            last_report = now
            lb = min(heap[0][0], best)
            progress(BnbProgress(nodes, len(heap), lb, best, best - lb, now - start))
        loss, _, rel, fit, branch = heapq.heappop(heap)
        if branch is None:
            x, label, loss, branch = problem.fit(rel, fit)
            nodes += 1
            if branch is None:
                record(x, loss)
                continue
            if loss > limit:
                if loss > cutoff:
                    dropped = min(dropped, loss)
                continue
            if heap and loss > heap[0][0]:
                heapq.heappush(heap, (loss, next(counter), rel, (x, label), branch))
                continue
            fit = (x, label)
        i, a, b, cost_ab, cost_ba = branch
        for lo, hi, cost in ((a, b, cost_ab), (b, a, cost_ba)):
            bound = loss + cost
            if bound <= limit:
                heapq.heappush(heap, (bound, next(counter), _with_relation(rel, i, lo, hi), fit, None))
            elif bound > cutoff:
                dropped = min(dropped, bound)

    seconds = time.perf_counter() - start
    open_bound = heap[0][0] if heap else math.inf
    if status == 0 and best <= cutoff:
        bound = best
    else:
        # Not certified, or nothing within the cutoff: the optimum is at least the
        # smallest bound left open or dropped (or the incumbent itself).
        bound = min(open_bound, dropped, best)
    if progress is not None:
        progress(BnbProgress(nodes, len(heap), bound, best, best - bound if best < math.inf else math.inf, seconds))
    fits = [(xx, ll) for xx, ll in found if ll <= best + _tol(best, loss_atol, loss_rtol)]
    return _Search(best=best, fits=fits, bound=bound, certified=status == 0, status=status, nodes=nodes,
                   seconds=seconds)


def _result(problem, search: _Search, top, value_atol) -> ProjectionResult:
    fits = []
    for x, loss in sorted(search.fits, key=lambda f: f[1]):
        x = np.array(x).reshape(problem.shape)
        x.setflags(write=False)
        fits.append(MonotoneFit(q_tot=x, orders=_orders_of(x, top, value_atol), loss=float(loss)))
    greedy = frozenset().union(*(greedy_of(f.q_tot, value_atol) for f in fits))
    return ProjectionResult(
        loss=float(search.best),
        fits=tuple(fits),
        greedy=greedy,
        certified=search.certified,
        bound=float(search.best if search.certified else search.bound),
        status=search.status,
        stats={"n_nodes": search.nodes, "seconds": search.seconds, "solver": "bnb"},
    )


def solve(
    y,
    weights,
    top=None,
    *,
    time_limit: float | None = None,
    node_limit: int | None = None,
    progress: Callable[[BnbProgress], None] | None = None,
    loss_atol: float = LOSS_ATOL,
    loss_rtol: float = LOSS_RTOL,
    value_atol: float = VALUE_ATOL,
) -> ProjectionResult:
    """Best monotone fit(s) of ``y`` under ``weights`` by branch and bound (exact).

    Same semantics as the cvxpy reference (:func:`stablepoint.projection.reference.solve`).

    Parameters
    ----------
    y : ndarray, shape (A_1, ..., A_n)
        Target Q_jt (a :class:`~stablepoint.payoff.Payoff` is accepted too).
    weights : ndarray, same shape
        Non-negative loss weights (zeros allowed).
    top : tuple of int, optional
        Force this joint action to be greedy: ``top[i]`` above every other action of agent i.
    time_limit : float, optional
        Seconds; when reached the search stops with ``status=1``, ``certified=False``,
        the best incumbent as ``loss``/``fits`` and the proven lower ``bound``.
    node_limit : int, optional
        Same with a budget of evaluated nodes (``status=2``).
    progress : callable, optional
        Called with a :class:`BnbProgress` (nodes explored, bound gap, ...) about
        every 0.25 s and once at the end.
    loss_atol, loss_rtol, value_atol : float
        Tie tolerances (see the module notes).

    Returns
    -------
    ProjectionResult
        ``stats`` holds ``n_nodes``, ``seconds``, ``solver``.

    Examples
    --------
    A 2x2 anti-diagonal payoff has four optimal fits (one cell sinks to 0, the
    other three pool at 2/3), so every joint action is greedy in one of them:

    >>> import numpy as np
    >>> res = solve(np.array([[0., 1.], [1., 0.]]), np.full((2, 2), 0.25))
    >>> round(res.loss, 6), len(res.fits), len(res.greedy)
    (0.166667, 4, 4)
    """
    y, w, top = _check_inputs(y, weights, top)
    time_limit = _check_limit("time_limit", time_limit, float)
    node_limit = _check_limit("node_limit", node_limit, int)
    k = scale_exponent(y)
    problem = _Problem(to_unit(y, k), w, float(value_atol))
    search = _search(problem, top, time_limit=time_limit, node_limit=node_limit,
                     progress=scaled_progress(progress, k), loss_atol=loss_atol, loss_rtol=loss_rtol)
    return rescaled(_result(problem, search, top, value_atol), k)


def scaled_progress(progress, k):
    """A progress callback fed unit-range reports that passes them on in payoff units (losses times ``4**k``).

    Reports that are not :class:`BnbProgress` (the cvxpy reference's ``(done, total)``) pass unchanged.
    """
    if progress is None or k == 0:
        return progress

    def report(*args):
        if len(args) == 1 and isinstance(args[0], BnbProgress):
            p = args[0]
            progress(BnbProgress(p.nodes, p.open_nodes, from_unit(p.bound, k, 2), from_unit(p.incumbent, k, 2),
                                 from_unit(p.gap, k, 2), p.seconds))
        else:
            progress(*args)

    return report


@dataclass(frozen=True)
class GreedyLosses:
    """Best loss with each joint action forced greedy (one ``top``-constrained solve per action).

    Attributes
    ----------
    loss : float
        Unconstrained optimum (the minimum over all actions).
    losses : mapping joint action -> float
        Exact constrained optimum where ``exact[u]``; otherwise a proven lower
        bound that exceeds the cutoff (or the best bound at a time limit).
    exact : mapping joint action -> bool
    greedy_set : frozenset
        Actions whose constrained optimum ties ``loss`` (the exact greedy set,
        correct with zero weights too).
    optimum : ProjectionResult
        The unconstrained solve.
    certified : bool
        False when a time limit stopped any of the searches.
    """

    loss: float
    losses: Mapping
    exact: Mapping
    greedy_set: frozenset
    optimum: ProjectionResult
    certified: bool = True


def _solve_tops(args):
    y, w, tops, cutoff, value_atol, loss_atol, loss_rtol, time_limit = args
    problem = _Problem(y, w, value_atol)
    out = {}
    for u in tops:
        search = _search(problem, u, cutoff=cutoff, time_limit=time_limit, loss_atol=loss_atol,
                         loss_rtol=loss_rtol)
        out[u] = (search.best, search.bound, search.certified)
    return out


def greedy_losses(
    y,
    weights,
    *,
    actions: Sequence | None = None,
    cutoff: float | str | None = None,
    n_jobs: int = 1,
    time_limit: float | None = None,
    loss_atol: float = LOSS_ATOL,
    loss_rtol: float = LOSS_RTOL,
    value_atol: float = VALUE_ATOL,
) -> GreedyLosses:
    """The best loss with each joint action forced greedy, sharing work across actions.

    One unconstrained solve first; every action it already makes greedy gets
    the optimum without another search (its fit is feasible for that ``top``).
    The other actions are solved with ``top=u`` (in ``n_jobs`` processes); with
    a ``cutoff`` each of them stops as soon as its bound passes the cutoff.

    Parameters
    ----------
    y, weights : ndarray
        As for :func:`solve`.
    actions : sequence of joint actions, optional
        Which actions to report (default: all).
    cutoff : float or "optimum", optional
        Only decide whether each loss is at most ``cutoff``: searches drop nodes
        above it, so actions far from optimal cost one node.  ``"optimum"``
        uses the unconstrained optimum plus the loss tolerance: the fastest way
        to get the exact ``greedy_set``.  Above the cutoff ``losses[u]`` is a
        proven lower bound and ``exact[u]`` is False.  A number is in the
        payoff's loss units (like the losses reported).
    n_jobs : int
        Worker processes for the constrained solves (``-1``: all cores).
    time_limit : float, optional
        Per constrained search, seconds.

    Examples
    --------
    MRVF Table 5, uniform visitation: (1, 1) forced greedy costs 410/9, (3, 3) is optimal.

    >>> import numpy as np
    >>> y = np.array([[8., -12, -12], [-12, 3, 0], [-12, 0, 5]])
    >>> g = greedy_losses(y, np.full((3, 3), 1 / 9))
    >>> round(g.losses[(0, 0)] * 9, 6), round(g.loss * 9, 6), sorted(g.greedy_set)
    (410.0, 326.0, [(2, 2)])
    >>> h = greedy_losses(y, np.full((3, 3), 1 / 9), cutoff="optimum")
    >>> h.greedy_set == g.greedy_set, h.exact[(2, 2)], h.losses[(0, 0)] > h.loss
    (True, True, True)
    """
    y, w, _ = _check_inputs(y, weights, None)
    all_actions = list(itertools.product(*(range(s) for s in y.shape)))
    if actions is None:
        actions = all_actions
    else:
        actions = [_check_inputs(y, w, u)[2] for u in actions]
    time_limit = _check_limit("time_limit", time_limit, float)
    k = scale_exponent(y)
    y = to_unit(y, k)  # unit range (module notes); every loss below is scaled back by 4**k
    problem = _Problem(y, w, float(value_atol))
    base_search = _search(problem, None, time_limit=time_limit, loss_atol=loss_atol, loss_rtol=loss_rtol)
    base = _result(problem, base_search, None, value_atol)
    tol = _tol(base.loss, loss_atol, loss_rtol)
    if cutoff is None:
        cut = math.inf
    elif cutoff == "optimum":
        cut = base.loss + tol
    else:
        try:
            cut = to_unit(float(cutoff), k, 2)
        except (TypeError, ValueError):
            raise SettingsError(f"cutoff must be a number or 'optimum', got {cutoff!r}") from None

    losses, exact, certified = {}, {}, base.certified
    todo = []
    for u in actions:
        if u in base.greedy:
            losses[u], exact[u] = base.loss, base.certified
        else:
            todo.append(u)
    if n_jobs == -1:
        n_jobs = os.cpu_count() or 1
    n_jobs = max(1, min(int(n_jobs), len(todo)))
    chunks = [todo[k::n_jobs] for k in range(n_jobs)] if todo else []
    jobs = [(y, w, c, cut, float(value_atol), loss_atol, loss_rtol, time_limit) for c in chunks]
    if n_jobs > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(n_jobs) as pool:
            parts = list(pool.map(_solve_tops, jobs))
    else:
        parts = [_solve_tops(job) for job in jobs]
    for part in parts:
        for u, (best, bound, cert) in part.items():
            certified &= cert
            if cert and best <= cut:
                losses[u], exact[u] = best, True
            else:
                losses[u], exact[u] = bound, False
    best_loss = min([base.loss, *(losses[u] for u in actions if exact[u])])
    greedy_set = frozenset(
        u for u in actions if exact[u] and losses[u] <= best_loss + _tol(best_loss, loss_atol, loss_rtol)
    )
    return GreedyLosses(loss=float(from_unit(best_loss, k, 2)),
                        losses={u: from_unit(v, k, 2) for u, v in losses.items()}, exact=exact,
                        greedy_set=greedy_set, optimum=rescaled(base, k), certified=certified)
