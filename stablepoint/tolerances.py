"""Default numerical tolerances, in one place.

Every solver takes its tolerances as explicit arguments; these are only the
defaults.  Losses are compared with ``loss_close`` (absolute plus relative),
values of Q_tot (to decide ties between greedy actions) with ``VALUE_ATOL``.
"""

from __future__ import annotations

__all__ = ["LOSS_ATOL", "LOSS_RTOL", "VALUE_ATOL", "loss_close"]

#: Two optimal losses closer than this (plus the relative part) are a tie.
LOSS_ATOL = 1e-7
#: Relative part of the loss tie test, scaled by the larger loss.
LOSS_RTOL = 1e-7
#: Two Q_tot entries closer than this are treated as equal when reading greedy sets.
VALUE_ATOL = 1e-7


def loss_close(a: float, b: float, atol: float = LOSS_ATOL, rtol: float = LOSS_RTOL) -> bool:
    """Whether two losses are equal up to ``atol + rtol * max(|a|, |b|)``."""
    return abs(a - b) <= atol + rtol * max(abs(a), abs(b))
