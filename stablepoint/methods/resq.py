"""ResQ (MRVF Eq. 24-25) under the Ideal-QMIX assumption, solved exactly in closed form.

Q_tot = Q_mon + w_r Q_r with Q_mon monotone (any monotone table, as Ideal QMIX
assumes), Q_r <= 0 and w_r = 0 at u~, 1 elsewhere.  The greedy action is the
greedy action of Q_mon (its individual utilities).  Loss: sum_u pi(u | u~)
(Q_tot(u) - Qjt(u))^2.

Derivation (checked against a brute-force QP over orderings in the tests)
------------------------------------------------------------------------
*Optimal loss is 0 for every u~* (MRVF Lemma 2).  A residual Q_r <= 0 can
pull Q_tot down to Qjt wherever Q_mon >= Qjt, except at u~ where w_r = 0.

*Best loss with u forced greedy.*  Let X = Q_mon be monotone with u greedy,
i.e. each agent's order has u_i on top, and let t = X(u~).  Monotonicity
forces X <= t on the lower set of u~ under those orders; everywhere else X can
be made huge.  The cost is then pi(u~) (t - Y(u~))^2 + sum over v != u~ in the
lower set of pi(v) max(Y(v) - t, 0)^2, which only grows with the lower set.
The smallest lower set allowed by "u_i on top" puts u~_i at the bottom of
agent i's order when u_i != u~_i (agents D) and, when u_i == u~_i, u~_i is on
top so nothing is excluded:

    S(u) = {v : v_i = u~_i for every i in D}.

So ``greedy_loss(u) = min_t pi(u~)(t - Y(u~))^2 + sum_{v in S(u), v != u~}
pi(v) max(Y(v) - t, 0)^2``, a convex piecewise quadratic in t minimised exactly
over its finitely many stationary candidates.

*Greedy set.*  u is admitted iff that loss is 0, i.e. (with pi(u~) > 0) iff
Y(v) <= Y(u~) for every v in S(u) with pi(v) > 0 (compared within
``VALUE_ATOL`` in unit range; the greedy set is decided by this value test, and
``greedy_losses`` report the exact constrained minima).  Consequences, with
full-support visitation (epsilon > 0): u~ = u* (an optimum) admits every joint
action, so every optimum is weakly and never strongly stable; a non-optimal u~
never admits itself (S(u~) is everything), so nothing else is stable
(MRVF Theorem 3).  At epsilon = 0 (centralized or decentralized) only u~ is
weighted, S(u) imposes nothing, and every joint action is weakly stable.

Examples
--------
>>> from stablepoint.catalog import get_game
>>> res = ResQ().fit(get_game("table5"), (0, 0))
>>> res.loss, len(res.greedy_set), res.stable, res.strongly_stable
(0.0, 9, True, False)
>>> res = ResQ().fit(get_game("table5"), (2, 2))
>>> len(res.greedy_set), res.stable
(8, False)
"""

from __future__ import annotations

import itertools

import numpy as np

from stablepoint.methods.base import Fit, FitResult
from stablepoint.methods.common import VisitationMethod, as_payoff, unit_range_fit
from stablepoint.payoff import Payoff
from stablepoint.projection.result import greedy_of
from stablepoint.tolerances import VALUE_ATOL

__all__ = ["ResQ", "lower_set", "resq_greedy_loss", "resq_witness"]


def lower_set(shape, u_tilde, u) -> np.ndarray:
    """Boolean mask of S(u) = {v : v_i = u~_i for every agent with u_i != u~_i}.

    >>> lower_set((2, 3), (0, 0), (1, 0)).astype(int).tolist()
    [[1, 1, 1], [0, 0, 0]]
    """
    mask = np.ones(tuple(shape), dtype=bool)
    for i, (a, b) in enumerate(zip(u_tilde, u)):
        if a != b:
            sel = np.zeros(shape[i], dtype=bool)
            sel[a] = True
            mask &= sel.reshape([-1 if j == i else 1 for j in range(len(shape))])
    return mask


def resq_greedy_loss(y, weights, u_tilde, u) -> tuple[float, float]:
    """Exact best ResQ loss with u forced greedy, and the optimal t = Q_mon(u~).

    Minimises f(t) = a (t - Y(u~))^2 + sum_v p_v max(Y(v) - t, 0)^2 over v in
    S(u) \\ {u~}.  f is convex; at its minimiser the active terms are those with
    Y(v) > t, always the k largest for some k, so the minimiser is among the
    stationary points of the k-th piece, k = 0..m.  With a = 0, t -> infinity
    gives 0.

    >>> import numpy as np
    >>> y = np.array([[8., -12, -12], [-12, 3, 0], [-12, 0, 5]])
    >>> loss, t = resq_greedy_loss(y, np.full((3, 3), 1 / 9), (2, 2), (2, 2))
    >>> round(loss * 9, 6), round(t, 6)
    (4.5, 6.5)
    """
    y = np.asarray(y, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    u_tilde = tuple(u_tilde)
    mask = lower_set(y.shape, u_tilde, tuple(u)) & (w > 0)
    mask[u_tilde] = False
    y0, a = float(y[u_tilde]), float(w[u_tilde])
    vals, ps = y[mask], w[mask]
    if a == 0.0:
        return 0.0, float(max(y0, vals.max(initial=y0)))
    above = vals > y0
    vals, ps = vals[above], ps[above]
    order = np.argsort(-vals)
    vals, ps = vals[order], ps[order]

    def f(t):
        return a * (t - y0) ** 2 + float(np.sum(ps * np.maximum(vals - t, 0.0) ** 2))

    candidates = [y0]
    for k in range(1, vals.size + 1):
        candidates.append((a * y0 + float(np.dot(ps[:k], vals[:k]))) / (a + float(ps[:k].sum())))
    t = min(candidates, key=f)
    return f(t), float(t)


def resq_witness(y, u_tilde, u, t, high=None) -> tuple[np.ndarray, np.ndarray]:
    """(Q_mon, Q_r) of an optimal ResQ fit with u greedy: Q_mon = t on S(u), ``high`` elsewhere.

    ``high`` defaults to ``max(Y.max(), t) + 1``.  Q_r = min(Y - Q_mon, 0) off u~
    and 0 at u~ (where w_r = 0); it is -inf where ``Y - high`` is beyond float64
    (a payoff whose spread is near the float64 limit).
    """
    y = np.asarray(y, dtype=np.float64)
    if high is None:
        high = max(float(y.max()), t) + 1.0
    q_mon = np.where(lower_set(y.shape, tuple(u_tilde), tuple(u)), t, high)
    q_r = np.minimum(y - q_mon, 0.0)
    q_r[tuple(u_tilde)] = 0.0
    return q_mon, q_r


class ResQ(VisitationMethod):
    """ResQ with an ideal monotone Q_mon and a non-positive residual masked at u~.

    Parameters
    ----------
    visitation : {"centralized", "decentralized", "uniform"}
        Policy that weights the loss.
    epsilon : float in [0, 1]
        Exploration rate (1.0, the default, is uniform).
    """

    name = "resq"

    @unit_range_fit(value_keys=("q_mon", "q_r"))
    def fit(self, payoff: Payoff, u_tilde) -> FitResult:
        """Loss 0, the exact greedy set, and one witness (Q_mon, Q_r) per distinct fit.

        Solved in unit range (:func:`stablepoint.methods.common.unit_range_fit`).
        """
        payoff = as_payoff(payoff)
        u_tilde = payoff.check_action(u_tilde)
        y = payoff.values
        w = self.weights(payoff, u_tilde)
        y0 = float(y[u_tilde])
        greedy_losses, greedy, fits, seen = {}, set(), [], []
        for u in itertools.product(*(range(s) for s in payoff.shape)):
            loss, t = resq_greedy_loss(y, w, u_tilde, u)
            greedy_losses[u] = loss
            constrained = lower_set(payoff.shape, u_tilde, u) & (w > 0)
            if w[u_tilde] > 0 and np.any(y[constrained] > y0 + VALUE_ATOL):
                continue
            greedy.add(u)
            level = y0 if w[u_tilde] > 0 else t
            # A quarter of the unit range above max(Y, t): in payoff units s/4 above it, so the
            # witness scales with the payoff; inf only where max(Y, t) + s/4 is beyond float64.
            q_mon, q_r = resq_witness(y, u_tilde, u, level, max(float(y.max()), level) + 0.25)
            if any(np.array_equal(q_mon, s) for s in seen):
                continue
            seen.append(q_mon)
            w_r = np.ones(payoff.shape)
            w_r[u_tilde] = 0.0
            fits.append(
                Fit(
                    q_tot=q_mon + w_r * q_r,
                    greedy=greedy_of(q_mon, VALUE_ATOL),
                    info={"q_mon": q_mon, "q_r": q_r, "weights": w, "top": u},
                )
            )
        return FitResult(
            method=self.name,
            u_tilde=u_tilde,
            loss=0.0,
            greedy_set=frozenset(greedy),
            fits=tuple(fits),
            greedy_losses=greedy_losses,
            certified=True,
            message="optimal: exact (closed form, MRVF Lemma 2 / Theorem 3)",
        )

    def __repr__(self) -> str:
        return f"ResQ(visitation={self.visitation!r}, epsilon={self.epsilon!r})"
