"""Computable quantities behind MRVF Lemma 1 and Theorem 2 (Appendix C.1).

The paper proves existence ("there is an E") without a number.  Here are
explicit, sufficient ones, checked against the exact solvers in
``tests/test_theorems_mrvf.py``.

Theorem 2 threshold
-------------------
Let m be an arg-min of Y, ``d_u = Y(u) - Y(m) >= 0``, ``D = max d_u > 0``
(non-constant Y), ``S1 = sum_u d_u``, and the centralized weights of Eq. 8
``p0 = 1 - eps + eps/|U|`` at m, ``q = eps/|U|`` elsewhere.

* Any monotone fit X with m greedy has ``X(u) <= X(m) =: x`` everywhere, so
  ``L >= p0 (x - Y(m))^2 + q sum_u (d_u - (x - Y(m)))+^2``.  With
  ``(a - t)+^2 >= a^2 - 2 a t`` for ``a >= 0`` and minimising over
  ``t = x - Y(m)``: ``L >= q (S2 - S1^2 q / p0)`` with ``S2 = sum d_u^2``.
* The fit equal to Y(m) everywhere except Y(u+) at u+ = argmax Y is monotone,
  has greedy action u+ != m only, and loss ``q (S2 - D^2)``.

So m is not stable (every fit with m greedy is strictly worse) as soon as
``S1^2 q / p0 < D^2``, i.e. ``eps (S1^2/D^2 - 1) < |U| (1 - eps)``:

    E = |U| / (|U| - 1 + (S1 / D)^2)  in (0, 1].

Lemma 1 bound
-------------
For any visitation pi and any optimal Ideal-QMIX fit X* at u~, comparing with
the constant fit ``X = Y(u~)`` gives
``pi(u~) (X*(u~) - Y(u~))^2 <= L* <= sum_{u != u~} pi(u) (Y(u) - Y(u~))^2``, so

    |X*(u~) - Y(u~)| <= sqrt(sum_{u != u~} pi(u) (Y(u) - Y(u~))^2 / pi(u~)),

which tends to 0 as epsilon -> 0 for both epsilon-greedy visitations.

>>> from stablepoint.catalog import get_game
>>> round(theorem2_threshold(get_game("table5")), 6)
0.40107
"""

from __future__ import annotations

import numpy as np

from stablepoint.errors import SettingsError
from stablepoint.payoff import Payoff
from stablepoint.tolerances import VALUE_ATOL

__all__ = ["theorem2_threshold", "lemma1_bound"]


def _values(payoff) -> np.ndarray:
    return payoff.values if isinstance(payoff, Payoff) else np.asarray(payoff, dtype=float)


def theorem2_threshold(payoff, atol: float = VALUE_ATOL) -> float:
    """A sufficient E of MRVF Theorem 2 (centralized epsilon-greedy, Ideal QMIX).

    For every ``0 < eps < E`` no arg-min joint action of ``payoff`` is a stable
    point.  Derivation in the module docstring.

    Raises
    ------
    SettingsError
        For a constant payoff (Theorem 2 assumes a non-constant one).
    """
    y = _values(payoff)
    d = y - y.min()
    big = float(d.max())
    if big <= atol:
        raise SettingsError("Theorem 2 needs a non-constant payoff")
    ratio = float(d.sum()) / big
    return y.size / (y.size - 1 + ratio * ratio)


def lemma1_bound(payoff, weights, u_tilde) -> float:
    """Upper bound on |Q_tot*(u~) - Q_jt(u~)| for every optimal Ideal-QMIX fit (MRVF Lemma 1).

    >>> from stablepoint.visitation import centralized
    >>> y = np.array([[8., -12], [-12, 3]])
    >>> round(lemma1_bound(y, centralized((2, 2), (1, 1), 0.01), (1, 1)), 4)
    1.0938
    """
    y = _values(payoff)
    w = np.asarray(weights, dtype=float)
    u = tuple(int(a) for a in u_tilde)
    if w[u] <= 0:
        raise SettingsError("Lemma 1's bound needs positive weight at u~")
    gap = (y - y[u]) ** 2
    return float(np.sqrt(np.sum(w * gap) / w[u]))
