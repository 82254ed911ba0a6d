"""Monotonicity of a payoff (MRVF Appendix B.1, Definitions 2-3) and a graded measure of it.

MRVF Definition 2 orders two actions ``a, b`` of agent ``i`` by the payoff:
``a >= b`` when ``Y(a, u_-i) >= Y(b, u_-i)`` for EVERY ``u_-i``, i.e. when agent
``i``'s slice at ``a`` dominates its slice at ``b`` pointwise.  Definition 3
calls the payoff monotonic when every pair of actions of every agent is
ordered one way or the other.  Equal slices are ordered both ways.

The paper grades payoffs in words only (Table 4: "monotonic",
"non-monotonic", "highly non-monotonic": the relation between rows or columns
is "partially ordered" versus "largely unordered").  This module makes that
grading explicit with two numbers:

``incomparable_fraction``
    The fraction of action pairs, pooled over agents, that Definition 2 leaves
    unordered (``sum_i C(A_i, 2)`` pairs in all).  0 exactly for monotonic payoffs.
``severity``
    For a pair ``(a, b)`` the violation is ``min(max(Y_b - Y_a)+, max(Y_a - Y_b)+)``:
    how far the less-violated direction is from holding (0 iff the pair is
    ordered).  ``severity`` is the mean violation over all pairs divided by the
    payoff's range ``max Y - min Y``, so it is scale free and lies in [0, 1].

The class follows from the fraction: ``"monotonic"`` at 0, ``"non-monotonic"``
up to one half, ``"highly non-monotonic"`` when MORE than half of the pairs are
unordered ("largely unordered").  The one-half cut is our reading of the
paper's words, not a number it gives.

>>> from stablepoint.catalog import get_game
>>> [monotonicity(get_game(f"table4{k}")).kind for k in "acd"]
['monotonic', 'non-monotonic', 'highly non-monotonic']

Table 4(b) as printed is NOT monotonic, although the paper says it is (a
rearrangement of 4(a)): its columns 1 and 2 cross in row 2 (3 > 2 while
8 < 9 and 5 < 6).  With row 2 read as (2, 3, 1) it would be 4(a) permuted.

>>> order_relation(get_game("table4b"), 1, 0, 1).relation
'incomparable'
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from stablepoint.errors import SettingsError
from stablepoint.payoff import Payoff
from stablepoint.tolerances import VALUE_ATOL

__all__ = [
    "PairOrder",
    "Monotonicity",
    "monotonicity",
    "order_relation",
    "is_monotonic",
    "KINDS",
]

#: The three classes of MRVF Table 4, in increasing non-monotonicity.
KINDS = ("monotonic", "non-monotonic", "highly non-monotonic")


@dataclass(frozen=True)
class PairOrder:
    """Definition 2 for one pair of actions ``a < b`` (0-based) of one agent.

    Attributes
    ----------
    agent, a, b : int
        0-based agent and actions, ``a < b``.
    relation : str
        ``">="`` (a dominates b), ``"<="`` (b dominates a), ``"=="`` (equal slices)
        or ``"incomparable"``.
    violation : float
        ``min(max(Y_b - Y_a)+, max(Y_a - Y_b)+)``; 0 when ordered.
    """

    agent: int
    a: int
    b: int
    relation: str
    violation: float

    @property
    def ordered(self) -> bool:
        return self.relation != "incomparable"


@dataclass(frozen=True)
class Monotonicity:
    """Monotonicity class and graded measure of one payoff (see the module docstring).

    Attributes
    ----------
    kind : str
        One of :data:`KINDS`.
    monotonic : bool
        Definition 3.
    incomparable_fraction : float
        Unordered pairs / all pairs, pooled over agents.
    severity : float
        Mean pair violation divided by the payoff range (0 for a constant payoff).
    per_agent : tuple of float
        ``incomparable_fraction`` of each agent alone.
    pairs : tuple of PairOrder
        Every pair, agent by agent.
    """

    kind: str
    monotonic: bool
    incomparable_fraction: float
    severity: float
    per_agent: tuple[float, ...]
    pairs: tuple[PairOrder, ...]


def _values(payoff) -> np.ndarray:
    return payoff.values if isinstance(payoff, Payoff) else Payoff(payoff).values


def order_relation(payoff, agent: int, a: int, b: int, atol: float = VALUE_ATOL) -> PairOrder:
    """Definition 2 between actions ``a`` and ``b`` of ``agent`` (all 0-based).

    Examples
    --------
    Rows 1 and 2 of MRVF Table 4(c) cross: neither dominates the other.

    >>> order_relation([[9, 0, 0], [0, 5, 0], [0, 0, 0]], 0, 0, 1).relation
    'incomparable'
    >>> order_relation([[9, 0, 0], [0, 5, 0], [0, 0, 0]], 0, 0, 2).relation
    '>='
    """
    y = _values(payoff)
    if not 0 <= agent < y.ndim:
        raise SettingsError(f"agent {agent} out of range for {y.ndim} agents")
    if not (0 <= a < y.shape[agent] and 0 <= b < y.shape[agent]) or a == b:
        raise SettingsError(f"actions {a}, {b} must be distinct and below {y.shape[agent]}")
    a, b = min(a, b), max(a, b)
    ya = np.take(y, a, axis=agent)
    yb = np.take(y, b, axis=agent)
    up = float(np.max(ya - yb))  # how far a rises above b somewhere
    down = float(np.max(yb - ya))
    a_ge_b = down <= atol
    b_ge_a = up <= atol
    if a_ge_b and b_ge_a:
        relation = "=="
    elif a_ge_b:
        relation = ">="
    elif b_ge_a:
        relation = "<="
    else:
        relation = "incomparable"
    violation = 0.0 if relation != "incomparable" else min(up, down)
    return PairOrder(agent, a, b, relation, violation)


def monotonicity(payoff, atol: float = VALUE_ATOL) -> Monotonicity:
    """Classify a payoff by MRVF Definitions 2-3 and grade its non-monotonicity.

    Parameters
    ----------
    payoff : Payoff or array_like
        The payoff Y, shape (A_1, ..., A_n).
    atol : float
        Slice differences within ``atol`` count as ties.

    Returns
    -------
    Monotonicity

    Examples
    --------
    MRVF Table 4(d): two of the three row pairs (and column pairs) are unordered.

    >>> m = monotonicity([[9, -9, -9], [-9, 5, 0], [-9, 0, 0]])
    >>> m.kind, round(m.incomparable_fraction, 4)
    ('highly non-monotonic', 0.6667)
    """
    y = _values(payoff)
    pairs = []
    per_agent = []
    for i, n_i in enumerate(y.shape):
        agent_pairs = [order_relation(y, i, a, b, atol) for a, b in itertools.combinations(range(n_i), 2)]
        per_agent.append(sum(not p.ordered for p in agent_pairs) / len(agent_pairs))
        pairs.extend(agent_pairs)
    n_bad = sum(not p.ordered for p in pairs)
    fraction = n_bad / len(pairs)
    span = float(y.max() - y.min())
    severity = 0.0 if span <= atol else float(np.mean([p.violation for p in pairs])) / span
    if n_bad == 0:
        kind = KINDS[0]
    elif fraction <= 0.5:
        kind = KINDS[1]
    else:
        kind = KINDS[2]
    return Monotonicity(kind, n_bad == 0, fraction, severity, tuple(per_agent), tuple(pairs))


def is_monotonic(payoff, atol: float = VALUE_ATOL) -> bool:
    """MRVF Definition 3: every pair of actions of every agent is ordered.

    >>> is_monotonic([[8, 9, 7], [2, 3, 1], [5, 6, 4]])
    True
    """
    return monotonicity(payoff, atol).monotonic
