"""Default numerical tolerances, in one place, and the unit-range scaling they refer to.

Every solver takes its tolerances as explicit arguments; these are only the
defaults.  Losses are compared with ``loss_close`` (absolute plus relative),
values of Q_tot (to decide ties between greedy actions) with ``VALUE_ATOL``.

Unit range
----------
Tolerances are not in the payoff's units but in those of its *unit range*:
every method and exact solver divides the payoff by ``s = 2**k``, the power of
two with ``1 <= (max Y - min Y) / s < 2``, but at least ``max|Y| / 2**13``
(:func:`scale_exponent`; ``s = 1`` for an all-zero payoff), works and
compares there, and reports values (Q_tot, levels, utilities) multiplied by ``s`` and losses by
``s**2``.  Division by a power of two is exact in binary floating point
(barring underflow of entries far below any tolerance), so every rounding step
of a solve is the same at any scale: the answer for ``Y`` and for
``2**j * Y`` is bit for bit the same up to the factor, and for any finite
float64 payoff it is the answer for the payoff scaled to unit range.  In
particular:

* a payoff whose entries are at the 1e-300 scale is analysed as if they were
  at scale 1 (absolute tolerances would make every action a tie);
* a payoff at the 1e308 scale never squares a difference above ~4 (nor holds
  a value above 2**13) internally; reported losses and Q_tot overflow to ``inf`` only where the true value
  overflows float64 (e.g. a loss when ``s**2`` is above ~1.8e308), and
  underflow to 0 (or a subnormal) where the true value is below the float64
  range;
* for payoffs whose spread ``max Y - min Y`` is in [1, 2) (and max|Y| below
  2**13) ``k = 0`` and nothing changes; elsewhere a tolerance ``atol`` means
  ``atol * s`` in payoff units (``loss_atol * s**2`` for losses): relative to
  the payoff's spread, so also unchanged by adding a constant to the payoff
  as long as the spread stays above ``max|Y| / 2**12``; below that, relative to
  max|Y| (entries of 1 + 1e-12 noise stay ties, as float64 cannot resolve much
  finer anyway).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["LOSS_ATOL", "LOSS_RTOL", "VALUE_ATOL", "SPREAD_FLOOR_BITS", "loss_close", "scale_exponent", "to_unit",
           "from_unit"]

#: Two optimal losses closer than this (plus the relative part) are a tie (unit-range units).
LOSS_ATOL = 1e-7
#: Relative part of the loss tie test, scaled by the larger loss.
LOSS_RTOL = 1e-7
#: Two Q_tot entries closer than this are treated as equal when reading greedy sets (unit-range units).
VALUE_ATOL = 1e-7


def loss_close(a: float, b: float, atol: float = LOSS_ATOL, rtol: float = LOSS_RTOL) -> bool:
    """Whether two losses are equal up to ``atol + rtol * max(|a|, |b|)``."""
    return abs(a - b) <= atol + rtol * max(abs(a), abs(b))


#: The unit range never magnifies Y by more than this: its scale is at least max|Y| / 2**(bits + 1),
#: so tolerances stay far above float64 rounding of the values (2**-52 max|Y|) however small the spread.
SPREAD_FLOOR_BITS = 12


def scale_exponent(values) -> int:
    """The exponent k of the payoff's power-of-two scale ``s = 2**k`` (the unit range).

    ``k = max(k_spread, k_max - SPREAD_FLOOR_BITS)`` where ``1 <= (max Y - min Y) / 2**k_spread < 2``
    and ``1 <= max|Y| / 2**k_max < 2``: the spread, so that tolerances mean the
    same under ``Y -> Y + b`` as under ``Y -> 2**j * Y``, but never a scale so
    fine that float64 rounding of the values (relative to max|Y|) would exceed
    the tolerances.  For a constant payoff ``k = k_max``; 0 when every value is 0
    (or there are none).  Non-finite entries are ignored (the solvers reject
    them before scaling).  ``scale_exponent(2**j * Y) == scale_exponent(Y) + j``
    exactly, and ``|Y| / 2**k < 2**(SPREAD_FLOOR_BITS + 1)``, so nothing in unit
    range can overflow.

    >>> scale_exponent([[8., -12.], [3., 5.]]), scale_exponent([1.0, 2.5]), scale_exponent([0.0, 0.0])
    (4, 0, 0)
    >>> scale_exponent([1e-300, -1e-300]), scale_exponent([1e308, -1e308]), scale_exponent([5e-324, 0.0])
    (-996, 1024, -1074)
    >>> scale_exponent([1e4 + 1, 1e4 - 1]), scale_exponent([3.0, 3.0]), scale_exponent([1.0, 1.0 + 1e-12])
    (1, 1, -12)
    """
    arr = np.asarray(values, dtype=np.float64).ravel()
    arr = arr[np.isfinite(arr)]
    if not arr.size:
        return 0
    hi, lo = float(arr.max()), float(arr.min())
    top = max(abs(hi), abs(lo))
    if top == 0.0:
        return 0
    e = math.frexp(top)[1]  # max|Y| < 2**e: both ends into (-1, 1) first, so hi - lo cannot overflow
    spread = float(np.ldexp(hi, -e)) - float(np.ldexp(lo, -e))
    k_max = e - 1
    if spread == 0.0:
        return k_max
    return max(math.frexp(spread)[1] - 1 + e, k_max - SPREAD_FLOOR_BITS)


def _ldexp(x, n: int):
    if isinstance(x, (list, tuple)):
        return type(x)(_ldexp(v, n) for v in x)
    with np.errstate(over="ignore", under="ignore"):
        out = np.ldexp(x, int(n))
    if np.ndim(out) == 0 and not isinstance(x, np.ndarray):
        return float(out)
    return out


def to_unit(x, k: int, power: int = 1):
    """``x / 2**(k * power)`` exactly: a value (power 1) or a loss (power 2) into unit-range units.

    Arrays stay arrays (new ones), Python and NumPy scalars become floats, lists
    and tuples are mapped element-wise.

    >>> to_unit(12.0, 3), to_unit(64.0, 3, power=2)
    (1.5, 1.0)
    """
    return x if k == 0 else _ldexp(x, -int(k) * int(power))


def from_unit(x, k: int, power: int = 1):
    """``x * 2**(k * power)`` exactly, back into payoff units; overflow gives ``inf`` without a warning.

    >>> from_unit(1.5, 3), from_unit(1.0, 1023, power=2)
    (12.0, inf)
    """
    return x if k == 0 else _ldexp(x, int(k) * int(power))
