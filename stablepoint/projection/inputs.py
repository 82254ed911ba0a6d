"""Input checks shared by the Ideal-QMIX solvers, so both refuse bad input with the same message."""

from __future__ import annotations

import numpy as np

from stablepoint.errors import PayoffError, SettingsError

__all__ = ["check_inputs"]


def check_inputs(y, weights, top=None):
    """Validated ``(y, weights, top)`` for a projection solver: float arrays of one shape, top a joint action."""
    if hasattr(y, "values") and not isinstance(y, np.ndarray):
        y = y.values  # a Payoff
    y = np.asarray(y, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    if y.ndim < 2 or any(s < 2 for s in y.shape):
        raise PayoffError(f"payoff must have >= 2 agents with >= 2 actions each, got shape {y.shape}")
    if not np.all(np.isfinite(y)):
        raise PayoffError("payoff contains NaN or infinity")
    if w.shape != y.shape:
        raise SettingsError(f"weights have shape {w.shape}, payoff has shape {y.shape}")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise SettingsError("weights must be finite and non-negative")
    if top is not None:
        try:
            top = tuple(int(a) for a in top)
        except (TypeError, ValueError):
            raise SettingsError(f"top must be a joint action (tuple of ints), got {top!r}") from None
        if len(top) != y.ndim or any(not 0 <= a < s for a, s in zip(top, y.shape)):
            raise SettingsError(f"top = {top} is out of range for shape {y.shape}")
    return y, w, top
