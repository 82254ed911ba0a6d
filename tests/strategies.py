"""Hypothesis strategies for payoffs: small shapes, integers and floats, ties, risk-reward games."""

import numpy as np
from hypothesis import strategies as st

from stablepoint.catalog import risk_reward
from stablepoint.payoff import Payoff


def shapes(max_agents=3, max_actions=4, max_cells=16):
    """Shapes with 2..max_agents agents, 2..max_actions actions each, at most ``max_cells`` joint actions."""
    return (
        st.integers(2, max_agents)
        .flatmap(lambda n: st.lists(st.integers(2, max_actions), min_size=n, max_size=n))
        .map(tuple)
        .filter(lambda s: int(np.prod(s)) <= max_cells)
    )


def _table(shape, elements):
    return st.lists(elements, min_size=int(np.prod(shape)), max_size=int(np.prod(shape))).map(
        lambda v: Payoff(np.array(v, dtype=float).reshape(shape))
    )


def payoffs(max_agents=3, max_actions=4, max_cells=16, non_constant=False):
    """Random payoffs: small integers (many ties), floats, or a risk-reward game."""
    ints = shapes(max_agents, max_actions, max_cells).flatmap(lambda s: _table(s, st.integers(-12, 12)))
    floats = shapes(max_agents, max_actions, max_cells).flatmap(
        lambda s: _table(s, st.floats(-10, 10, allow_nan=False, allow_infinity=False).map(lambda x: round(x, 3)))
    )
    rr = st.tuples(st.integers(2, max_agents), st.integers(2, max_actions), st.integers(0, 10_000)).filter(
        lambda t: t[1] ** t[0] <= max_cells
    ).map(lambda t: risk_reward(*t))
    out = st.one_of(ints, floats, rr)
    if non_constant:
        out = out.filter(lambda p: not p.is_constant())
    return out
