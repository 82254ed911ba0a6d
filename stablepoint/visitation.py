"""Visitation weights pi(u | u~): the policy that weights the loss in MRVF Eq. 10.

Each function returns a float64 array of the payoff's shape that sums to 1.

* ``uniform``: every joint action equally (epsilon = 1 of both epsilon-greedy forms);
* ``centralized``: MRVF Eq. 8, the joint action u~ with ``1 - eps + eps/|U|``,
  every other joint action with ``eps/|U|``;
* ``decentralized``: MRVF Eq. 2, each agent independently keeps u~_i with
  ``1 - eps + eps/|U_i|`` and picks any action with ``eps/|U_i|``, so a joint
  action that differs from u~ in k agents has weight of order eps^k.

>>> centralized((2, 2), (0, 0), 0.4).round(2).tolist()
[[0.7, 0.1], [0.1, 0.1]]
>>> decentralized((2, 2), (0, 0), 0.4).round(2).tolist()
[[0.64, 0.16], [0.16, 0.04]]
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from stablepoint.errors import SettingsError

__all__ = ["uniform", "centralized", "decentralized", "VISITATIONS", "visitation", "check_epsilon"]


def check_epsilon(epsilon: float) -> float:
    """Validate an exploration rate: a finite number in [0, 1]."""
    try:
        eps = float(epsilon)
    except (TypeError, ValueError):
        raise SettingsError(f"epsilon must be a number in [0, 1], got {epsilon!r}") from None
    if not 0.0 <= eps <= 1.0:  # also rejects NaN
        raise SettingsError(f"epsilon must be in [0, 1], got {epsilon!r}")
    return eps


def _check_u(shape, u_tilde) -> tuple[int, ...]:
    u = tuple(int(x) for x in u_tilde)
    if len(u) != len(shape) or any(not 0 <= a < s for a, s in zip(u, shape)):
        raise SettingsError(f"u~ = {u_tilde} is out of range for shape {tuple(shape)}")
    return u


def uniform(shape: Sequence[int], u_tilde=None, epsilon: float = 1.0) -> np.ndarray:
    """Uniform weights 1/|U| (u~ and epsilon are ignored)."""
    return np.full(tuple(shape), 1.0 / float(np.prod(shape)))


def centralized(shape: Sequence[int], u_tilde, epsilon: float) -> np.ndarray:
    """Centralized epsilon-greedy around u~ (MRVF Eq. 8)."""
    eps = check_epsilon(epsilon)
    u = _check_u(shape, u_tilde)
    w = np.full(tuple(shape), eps / float(np.prod(shape)))
    w[u] += 1.0 - eps
    return w


def decentralized(shape: Sequence[int], u_tilde, epsilon: float) -> np.ndarray:
    """Decentralized epsilon-greedy around u~ (MRVF Eq. 2), agents explore independently."""
    eps = check_epsilon(epsilon)
    u = _check_u(shape, u_tilde)
    w = np.ones(())
    for a, s in zip(u, shape):
        p = np.full(s, eps / s)
        p[a] += 1.0 - eps
        w = np.multiply.outer(w, p)
    return w


VISITATIONS: dict[str, Callable[..., np.ndarray]] = {
    "uniform": uniform,
    "centralized": centralized,
    "decentralized": decentralized,
}


def visitation(name: str, shape: Sequence[int], u_tilde, epsilon: float) -> np.ndarray:
    """Weights of the named visitation; unknown names list the valid ones."""
    try:
        fn = VISITATIONS[name]
    except KeyError:
        raise SettingsError(
            f"unknown visitation {name!r}; choose one of: {', '.join(VISITATIONS)}"
        ) from None
    return fn(shape, u_tilde, epsilon)
