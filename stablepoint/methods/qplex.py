"""QPLEX under the stable-point model (MRVF Appendix D, Eq. 27-29).

QPLEX writes (Eq. 27)

    Q_tot(u) = sum_i max_a Q_i(a) + sum_i w_i(u) (Q_i(u_i) - max_a Q_i(a)),   w_i(u) >= 0.

In the stable-point model the arg-max inside Eq. 27 is the gradient-free part:
it is held at u~ while (Q, w) are fitted, so with ``d_i(a) = Q_i(a) - Q_i(u~_i)``

    Q_tot(u) = C + sum_{i: u_i != u~_i} w_i(u) d_i(u_i),    C = sum_i Q_i(u~_i),

and the greedy action read off the fitted utilities, ``ubar_i = argmax_a Q_i(a)``,
may differ from u~ once some ``d_i(a) > 0``.  The loss is the visitation-weighted
square error ``L = sum_u pi(u) (Q_tot(u) - Y(u))^2``.  MRVF's Eq. 29 is its
gradient for unit weights and without the factor 2 (the paper gives no
visitation for Tables 7-8; we default to uniform, epsilon = 1).

Three readings of "u~ is a stable point of QPLEX" are computed here, because
the paper's own criterion (Eq. 28, a KKT point with ubar = u~) is weaker than
the tables it illustrates:

1. **global** (:meth:`QPLEX.fit`, exact): some GLOBAL minimiser of L with u~
   fixed has ubar = u~, as for Ideal QMIX.  Exact by enumeration: only the SIGN
   of each ``d_i(a)`` (a != u~_i) matters, because the weights ``w >= 0`` are
   free per cell and scale the magnitudes away.  For a sign pattern, a cell
   u != u~ whose differing agents carry both signs is free, only ``+``: any value
   ``>= C``, only ``-``: ``<= C``, only ``0``: ``= C``; cell u~ is ``C``.  The loss is
   then a convex piecewise quadratic in the single number C, minimised exactly.
   The greedy set of a pattern is, per agent, its ``+`` actions (any of them can
   be made the largest) or, when it has none, u~_i and its ``0`` actions.
2. **KKT** (:func:`cap_kkt_point`): Eq. 28 alone.  For EVERY u~ the point with
   all ``d_i(a) < 0``, cells above the optimal level C capped at C (w = 0) and
   the rest fitted exactly, satisfies Eq. 28 with ubar = u~; so under Eq. 28
   alone every joint action is a stable point.
3. **multi-start** (:func:`multistart`, torch): projected gradient descent from
   random starts with w >= 0 and u~ fixed, each end point checked against Eq. 28
   (:func:`kkt_check`); reports how many starts end at a KKT point with ubar = u~.

The paper (Tables 7, 8) reports three stable points per payoff, (1,1), (2,2),
(3,3).  Reading 1 reproduces Table 7 exactly but gives only (1,1) and (3,3) on
Table 8 (its (2,2) point is a KKT point, not a global minimum).  See
``stablepoint tables --only table7`` / ``table8``.

>>> from stablepoint.catalog import get_game
>>> q = QPLEX()
>>> sorted(u for u in get_game("table5").joint_actions() if q.fit(get_game("table5"), u).stable)
[(0, 0), (1, 1), (2, 2)]
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from stablepoint.errors import ProblemTooLargeError, SettingsError
from stablepoint.methods.base import Fit, FitResult
from stablepoint.methods.common import unit_range_fit
from stablepoint.payoff import Payoff
from stablepoint.tolerances import LOSS_ATOL, LOSS_RTOL, VALUE_ATOL, loss_close
from stablepoint.visitation import VISITATIONS, check_epsilon, visitation

__all__ = [
    "QPLEX",
    "qplex_q_tot",
    "qplex_gradients",
    "kkt_check",
    "KKTCheck",
    "cap_kkt_point",
    "multistart",
    "MultistartRun",
    "MultistartResult",
]

_FREE, _GE, _LE, _EQ = 0, 1, 2, 3
#: |d_i(a)| of the witness utilities, in unit range (:func:`stablepoint.methods.common.unit_range_fit`):
#: a quarter of the payoff's scale, so that ``C / n + d`` stays finite up to the float64 limit.
_WITNESS_D = 0.25


def _min_level(weights: np.ndarray, ys: np.ndarray, kinds: np.ndarray) -> tuple[float, float]:
    """Exact minimiser C and value of ``sum w * res(C)^2`` for cells of the given kinds.

    ``_EQ``: res = C - y; ``_LE`` (cell <= C): res = (y - C)+; ``_GE``: res = (C - y)+.
    The function is convex and piecewise quadratic with breakpoints at the y's;
    on each piece the stationary point has a closed form, and the minimiser is
    the one that falls inside its own piece.
    """
    active = kinds != _FREE
    w, y, k = weights[active], ys[active], kinds[active]

    def value(c: float) -> float:
        res = np.where(k == _EQ, c - y, np.where(k == _LE, np.maximum(y - c, 0.0), np.maximum(c - y, 0.0)))
        return float(np.sum(w * res * res))

    points = np.unique(y)
    edges = np.concatenate(([-np.inf], points, [np.inf]))
    best_c, best_v = None, np.inf
    for lo, hi in zip(edges[:-1], edges[1:]):
        mid = (lo + hi) / 2 if np.isfinite(lo) and np.isfinite(hi) else (hi - 1.0 if np.isfinite(hi) else lo + 1.0)
        on = (k == _EQ) | ((k == _LE) & (y > mid)) | ((k == _GE) & (y < mid))
        den = float(np.sum(w[on]))
        candidates = [c for c in (lo, hi) if np.isfinite(c)]
        if den > 0:
            c = float(np.sum(w[on] * y[on]) / den)
            if lo <= c <= hi:
                candidates.append(c)
        for c in candidates:
            v = value(c)
            if v < best_v:
                best_c, best_v = c, v
    if best_c is None:  # no active cell with weight: any level is optimal
        best_c, best_v = float(ys[0]), 0.0
    return float(best_c), best_v


def qplex_q_tot(q: Sequence[np.ndarray], w: np.ndarray, u_bar: Sequence[int]) -> np.ndarray:
    """Q_tot of Eq. 27 with the arg-max held at ``u_bar``.

    Parameters
    ----------
    q : sequence of 1-D arrays
        Utilities Q_i, one array of length A_i per agent.
    w : ndarray, shape (n, A_1, ..., A_n)
        Non-negative weights w_i(u).
    u_bar : tuple of int
        The greedy action inside Eq. 27 (u~ in the stable-point model).

    Examples
    --------
    MRVF Table 7(b), rounded as published: cell (1, 2) is fitted to -12.

    >>> q = [np.array([5.23, 0.49, 0.33]), np.array([2.77, 0.31, 0.37])]
    >>> w = np.zeros((2, 3, 3)); w[1, 0, 1] = 8.13
    >>> round(float(qplex_q_tot(q, w, (0, 0))[0, 1]), 2)
    -12.0
    """
    q = [np.asarray(qi, dtype=float) for qi in q]
    n = len(q)
    shape = tuple(len(qi) for qi in q)
    out = np.full(shape, float(sum(qi[a] for qi, a in zip(q, u_bar))))
    for i, qi in enumerate(q):
        d = qi - qi[u_bar[i]]
        out = out + np.asarray(w[i]) * d.reshape([-1 if j == i else 1 for j in range(n)])
    return out


def qplex_gradients(y, q, w, u_bar, weights=None, q_tot=None):
    """Gradients of the QPLEX loss in (Q, w) with u_bar fixed (MRVF Eq. 28-29).

    With ``weights=None`` this is Eq. 29 literally: unit weights and no factor 2,
    ``dL/dQ_i(a) = sum_{u_i = a} r w_i + [a = ubar_i] sum_u r (1 - w_i)`` and
    ``dL/dw_i(u) = r (Q_i(u_i) - Q_i(ubar_i))`` with ``r = Q_tot - Y``.  With
    weights pi it is the exact gradient of ``sum pi r^2`` (each ``r`` becomes
    ``2 pi r``).  ``q_tot`` replaces Eq. 27 in the residual ``r`` (to check
    published, rounded values against their own published Q_tot).

    Returns
    -------
    grad_q : list of ndarray
        One array per agent.
    grad_w : ndarray, shape (n, A_1, ..., A_n)
    """
    y = np.asarray(y, dtype=float)
    q = [np.asarray(qi, dtype=float) for qi in q]
    w = np.asarray(w, dtype=float)
    n = y.ndim
    r = (qplex_q_tot(q, w, u_bar) if q_tot is None else np.asarray(q_tot, dtype=float)) - y
    if weights is not None:
        r = 2.0 * np.asarray(weights, dtype=float) * r
    grad_q, grad_w = [], np.empty_like(w)
    for i, qi in enumerate(q):
        d = (qi - qi[u_bar[i]]).reshape([-1 if j == i else 1 for j in range(n)])
        grad_w[i] = r * d
        axes = tuple(j for j in range(n) if j != i)
        g = np.sum(r * w[i], axis=axes)
        g[u_bar[i]] += float(np.sum(r * (1.0 - w[i])))
        grad_q.append(g)
    return grad_q, grad_w


@dataclass(frozen=True)
class KKTCheck:
    """Eq. 28 at one point (Q, w): stationarity in Q, sign and slackness in w.

    Attributes
    ----------
    grad_q_max : float
        max |dL/dQ_i(a)|.
    grad_w_min : float
        min dL/dw_i(u) (Eq. 28 needs it >= 0).
    slackness_max : float
        max |w_i(u) dL/dw_i(u)| (Eq. 28: dL/dw > 0 only where w = 0).
    w_min : float
        Smallest weight (must be >= 0).
    loss : float
        The loss at the point (unit weights when checked literally).
    greedy : frozenset
        Greedy joint actions of the utilities (ties within ``value_atol``).
    ok : bool
        All residuals within ``tol``.
    tol : float
    """

    grad_q_max: float
    grad_w_min: float
    slackness_max: float
    w_min: float
    loss: float
    greedy: frozenset
    ok: bool
    tol: float


def _greedy_of_utilities(q, atol) -> frozenset:
    per = [[a for a in range(len(qi)) if qi[a] >= np.max(qi) - atol] for qi in q]
    return frozenset(itertools.product(*per))


def kkt_check(y, q, w, u_bar, weights=None, *, tol: float = 1e-6, value_atol: float = VALUE_ATOL) -> KKTCheck:
    """Check Eq. 28 at (q, w) with the arg-max held at ``u_bar``.

    Examples
    --------
    The constructive point of :func:`cap_kkt_point` passes for any u~:

    >>> y = np.array([[8., -12, -12], [-12, 3, 0], [-12, 0, 5]])
    >>> q, w = cap_kkt_point(y, (0, 1))
    >>> c = kkt_check(y, q, w, (0, 1)); c.ok, sorted(c.greedy)
    (True, [(0, 1)])
    """
    y = np.asarray(y, dtype=float)
    gq, gw = qplex_gradients(y, q, w, u_bar, weights)
    w = np.asarray(w, dtype=float)
    r = qplex_q_tot(q, w, u_bar) - y
    pi = np.ones_like(y) if weights is None else np.asarray(weights, dtype=float)
    gq_max = max(float(np.max(np.abs(g))) for g in gq)
    gw_min = float(np.min(gw))
    slack = float(np.max(np.abs(w * gw)))
    w_min = float(np.min(w))
    ok = gq_max <= tol and gw_min >= -tol and slack <= tol and w_min >= -tol
    return KKTCheck(gq_max, gw_min, slack, w_min, float(np.sum(pi * r * r)),
                    _greedy_of_utilities(q, value_atol), ok, tol)


def cap_kkt_point(y, u_tilde, weights=None):
    """The constructive Eq. 28 point with ubar = u~ that exists for every u~.

    All ``d_i(a) = -1``; the level C minimises ``pi(u~)(C - Y(u~))^2 + sum pi (Y - C)+^2``;
    cells with ``Y <= C`` are fitted exactly through the first differing agent's
    weight, cells above C get ``w = 0`` and sit at C.

    Returns
    -------
    q : list of ndarray
    w : ndarray, shape (n, A_1, ..., A_n)
    """
    y = np.asarray(y, dtype=float)
    u_tilde = tuple(int(a) for a in u_tilde)
    pi = np.ones_like(y) if weights is None else np.asarray(weights, dtype=float)
    kinds = np.full(y.shape, _LE)
    kinds[u_tilde] = _EQ
    c, _ = _min_level(pi.ravel(), y.ravel(), kinds.ravel())
    n = y.ndim
    q = []
    for i, s in enumerate(y.shape):
        qi = np.full(s, c / n - 1.0)
        qi[u_tilde[i]] = c / n
        q.append(qi)
    w = np.zeros((n,) + y.shape)
    for u in itertools.product(*(range(s) for s in y.shape)):
        if u == u_tilde or y[u] > c:
            continue
        i = next(j for j in range(n) if u[j] != u_tilde[j])
        w[(i,) + u] = c - y[u]  # d_i = -1
    return q, w


class QPLEX:
    """QPLEX (MRVF Eq. 27) under the stable-point model: exact global fits given u~.

    Parameters
    ----------
    visitation : {"uniform", "centralized", "decentralized"}
        Loss weights around u~.  Default uniform (epsilon = 1), as Eq. 29.
    epsilon : float
        Exploration rate in [0, 1] for the epsilon-greedy visitations.
    max_patterns : int
        Refuse (``ProblemTooLargeError``) when ``3 ** sum(A_i - 1)`` sign patterns exceed it.
    loss_atol, loss_rtol, value_atol : float
        Tie tolerances, in unit-range units (see ``stablepoint.tolerances``).

    Examples
    --------
    MRVF Table 7(c): with u~ = (2, 2) (1-based) the best fit caps cells (1,1) and
    (2,2) at 5.5 and keeps ubar = u~; loss 12.5 with unit weights, 12.5/9 uniform.

    >>> from stablepoint.catalog import get_game
    >>> r = QPLEX().fit(get_game("table5"), (1, 1))
    >>> r.stable, round(r.loss * 9, 6), float(r.fits[0].q_tot[0, 0])
    (True, 12.5, 5.5)
    """

    name = "qplex"

    def __init__(self, *, visitation: str = "uniform", epsilon: float = 1.0, max_patterns: int = 2_000_000,
                 loss_atol: float = LOSS_ATOL, loss_rtol: float = LOSS_RTOL, value_atol: float = VALUE_ATOL):
        if visitation not in VISITATIONS:
            raise SettingsError(f"unknown visitation {visitation!r}; choose one of: {', '.join(VISITATIONS)}")
        self.visitation = visitation
        self.epsilon = check_epsilon(epsilon)
        if int(max_patterns) < 1:
            raise SettingsError(f"max_patterns must be positive, got {max_patterns!r}")
        self.max_patterns = int(max_patterns)
        self.loss_atol, self.loss_rtol, self.value_atol = float(loss_atol), float(loss_rtol), float(value_atol)

    def settings(self) -> dict:
        return {"visitation": self.visitation, "epsilon": self.epsilon, "max_patterns": self.max_patterns}

    def weights(self, shape, u_tilde) -> np.ndarray:
        return visitation(self.visitation, shape, u_tilde, self.epsilon)

    @unit_range_fit(value_keys=("level", "q"))
    def fit(self, payoff: Payoff, u_tilde) -> FitResult:
        """Every global minimiser of the QPLEX loss with the arg-max held at u~ (exact).

        Solved in unit range (:func:`stablepoint.methods.common.unit_range_fit`): the
        tolerances are in those units, and the witness utilities ``q`` (|d| = 1/4 there)
        scale with the payoff while the weights ``w`` are unit-free.
        """
        u_tilde = payoff.check_action(u_tilde)
        y = payoff.values
        n, shape = payoff.n_agents, payoff.shape
        free_slots = [(i, a) for i in range(n) for a in range(shape[i]) if a != u_tilde[i]]
        n_patterns = 3 ** len(free_slots)
        if n_patterns > self.max_patterns:
            raise ProblemTooLargeError(
                f"QPLEX enumeration needs 3^{len(free_slots)} = {n_patterns} sign patterns for shape {shape}, "
                f"above max_patterns={self.max_patterns}; raise max_patterns explicitly to run it"
            )
        pi = self.weights(shape, u_tilde)
        cells = [u for u in payoff.joint_actions() if u != u_tilde]
        pi_flat = np.array([pi[u_tilde]] + [pi[u] for u in cells])
        y_flat = np.array([y[u_tilde]] + [y[u] for u in cells])
        # For each cell, which free slots (agent, action) it touches.
        slot_index = {s: k for k, s in enumerate(free_slots)}
        touches = [[slot_index[(i, u[i])] for i in range(n) if u[i] != u_tilde[i]] for u in cells]
        results = []
        for signs in itertools.product((-1, 0, 1), repeat=len(free_slots)):
            kinds = [_EQ]
            for t in touches:
                s = {signs[k] for k in t}
                kinds.append(_FREE if (1 in s and -1 in s) else _GE if 1 in s else _LE if -1 in s else _EQ)
            c, loss = _min_level(pi_flat, y_flat, np.array(kinds))
            results.append((loss, c, signs, kinds))
        best = min(r[0] for r in results)
        optimal = [r for r in results if loss_close(r[0], best, self.loss_atol, self.loss_rtol)]
        greedy: set = set()
        fits = []
        for loss, c, signs, kinds in optimal:
            per_agent = []
            for i in range(n):
                acts = {a: signs[slot_index[(i, a)]] for a in range(shape[i]) if a != u_tilde[i]}
                pos = [a for a, s in acts.items() if s > 0]
                per_agent.append(pos if pos else sorted([u_tilde[i]] + [a for a, s in acts.items() if s == 0]))
            g = frozenset(itertools.product(*per_agent))
            greedy |= g
            q_tot = np.full(shape, c)
            for u, kind, yy in zip(cells, kinds[1:], y_flat[1:]):
                q_tot[u] = yy if kind == _FREE else max(yy, c) if kind == _GE else min(yy, c) if kind == _LE else c
            q, w = self._witness(q_tot, c, signs, free_slots, u_tilde)
            fits.append(Fit(q_tot=q_tot, greedy=g, info={"level": c, "signs": dict(zip(free_slots, signs)),
                                                         "q": q, "w": w}))
        return FitResult(
            method=self.name, u_tilde=u_tilde, loss=float(best), greedy_set=frozenset(greedy),
            fits=tuple(fits), certified=True,
            message=f"exact: {len(optimal)} optimal sign pattern(s) of {n_patterns}",
        )

    @staticmethod
    def _witness(q_tot, c, signs, free_slots, u_tilde):
        """Utilities and weights that realise ``q_tot`` (|d| = ``_WITNESS_D``, signs as in the pattern)."""
        n = q_tot.ndim
        q = [np.full(s, c / n) for s in q_tot.shape]
        sign_of = dict(zip(free_slots, signs))
        for (i, a), s in sign_of.items():
            q[i][a] = c / n + s * _WITNESS_D
        w = np.zeros((n,) + q_tot.shape)
        for u in itertools.product(*(range(s) for s in q_tot.shape)):
            gap = q_tot[u] - c
            if u == u_tilde or gap == 0:
                continue
            want = 1 if gap > 0 else -1
            i = next(j for j in range(n) if u[j] != u_tilde[j] and sign_of[(j, u[j])] == want)
            w[(i,) + u] = abs(gap) / _WITNESS_D
        return q, w


# ----------------------------------------------------------------------------- multi-start search


@dataclass(frozen=True)
class MultistartRun:
    """One projected-gradient run: its end point's loss, greedy set and Eq. 28 check."""

    loss: float
    greedy: frozenset
    kkt: KKTCheck


@dataclass(frozen=True)
class MultistartResult:
    """Multi-start search for stationary points of the QPLEX loss at one u~.

    Attributes
    ----------
    u_tilde : tuple of int
    runs : tuple of MultistartRun
    n_kkt : int
        Runs whose end point passes Eq. 28 within the tolerance.
    n_stable : int
        KKT runs whose greedy set is exactly {u~}.
    best_loss : float
        Smallest loss over KKT runs (nan if none).
    """

    u_tilde: tuple
    runs: tuple
    n_kkt: int
    n_stable: int
    best_loss: float

    @property
    def stable(self) -> bool:
        return self.n_stable > 0


def multistart(payoff: Payoff, u_tilde, *, weights=None, n_starts: int = 32, steps: int = 3000, lr: float = 0.05,
               seed: int = 0, tol: float = 1e-4, dtype=None, device: str = "cpu",
               progress: Callable[[int, int], None] | None = None) -> MultistartResult:
    """Projected Adam on (Q, w >= 0) from random starts, u~ fixed; each end point checked by Eq. 28.

    ``weights`` defaults to uniform.  The KKT check uses the exact weighted
    gradient with tolerance ``tol`` scaled by ``max(1, max|Y|)``.  Deterministic
    for a given seed.
    """
    import torch

    u_tilde = payoff.check_action(u_tilde)
    if n_starts < 1 or steps < 1:
        raise SettingsError("n_starts and steps must be positive")
    dtype = torch.float64 if dtype is None else dtype
    y_np = payoff.values
    pi_np = np.full(y_np.shape, 1.0 / y_np.size) if weights is None else np.asarray(weights, dtype=float)
    gen = torch.Generator(device="cpu").manual_seed(int(seed))
    n, shape = payoff.n_agents, payoff.shape
    scale = float(max(1.0, np.std(y_np)))
    y = torch.as_tensor(np.array(y_np), dtype=dtype, device=device)
    pi = torch.as_tensor(pi_np, dtype=dtype, device=device)
    qs = [(torch.randn(n_starts, s, generator=gen, dtype=dtype) * scale).to(device).requires_grad_() for s in shape]
    w = (torch.rand((n_starts, n) + shape, generator=gen, dtype=dtype) * 2.0).to(device).requires_grad_()
    opt = torch.optim.Adam(qs + [w], lr=lr)

    def loss_fn():
        q_tot = sum(q[:, a] for q, a in zip(qs, u_tilde)).reshape((n_starts,) + (1,) * n)
        for i, q in enumerate(qs):
            d = (q - q[:, u_tilde[i]:u_tilde[i] + 1]).reshape((n_starts,) + tuple(-1 if j == i else 1 for j in range(n)))
            q_tot = q_tot + w[:, i] * d
        return ((q_tot - y) ** 2 * pi).reshape(n_starts, -1).sum(1)

    for step in range(steps):
        opt.zero_grad()
        loss_fn().sum().backward()
        opt.step()
        with torch.no_grad():
            w.clamp_(min=0.0)
        if progress is not None and (step + 1) % max(1, steps // 20) == 0:
            progress(step + 1, steps)
    runs = []
    ktol = tol * max(1.0, float(np.max(np.abs(y_np))))
    with torch.no_grad():
        q_np = [q.detach().cpu().numpy() for q in qs]
        w_np = w.detach().cpu().numpy()
    for s in range(n_starts):
        check = kkt_check(y_np, [q[s] for q in q_np], w_np[s], u_tilde, pi_np, tol=ktol)
        runs.append(MultistartRun(check.loss, check.greedy, check))
    kkt_runs = [r for r in runs if r.kkt.ok]
    n_stable = sum(r.greedy == frozenset({u_tilde}) for r in kkt_runs)
    best = min((r.loss for r in kkt_runs), default=float("nan"))
    return MultistartResult(u_tilde, tuple(runs), len(kkt_runs), n_stable, best)
