"""Monotonicity classes (MRVF Definitions 2-3) and the graded measure."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from stablepoint.catalog import get_game
from stablepoint.errors import SettingsError
from stablepoint.monotonicity import is_monotonic, monotonicity, order_relation
from strategies import payoffs


def test_table4_classes():
    kinds = {k: monotonicity(get_game(f"table4{k}")).kind for k in "abcd"}
    assert kinds == {"a": "monotonic", "b": "non-monotonic", "c": "non-monotonic", "d": "highly non-monotonic"}
    assert monotonicity(get_game("table4c")).incomparable_fraction == pytest.approx(1 / 3)
    assert monotonicity(get_game("table4d")).incomparable_fraction == pytest.approx(2 / 3)


@given(st.lists(st.integers(-5, 5), min_size=3, max_size=3), st.lists(st.integers(-5, 5), min_size=4, max_size=4),
       st.sampled_from([np.add, np.maximum, lambda a, b: np.tanh(a + 2 * b)]))
def test_monotone_function_of_utilities_is_monotonic(q1, q2, f):
    """f(Q_1, Q_2) with f non-decreasing in each argument is monotonic (Definition 3)."""
    y = f(np.array(q1, float)[:, None], np.array(q2, float)[None, :])
    m = monotonicity(y)
    assert m.monotonic and m.incomparable_fraction == 0 and m.severity == 0


@given(payoffs(max_cells=27), st.data())
def test_measure_is_invariant_under_relabelling(payoff, data):
    y = payoff.values
    perms = [data.draw(st.permutations(range(s))) for s in y.shape]
    z = y[np.ix_(*perms)]
    a, b = monotonicity(y), monotonicity(z)
    assert a.incomparable_fraction == pytest.approx(b.incomparable_fraction)
    assert a.severity == pytest.approx(b.severity)
    assert 0 <= a.severity <= 1
    assert a.monotonic == (a.incomparable_fraction == 0) == is_monotonic(y)


def test_order_relation_checks_its_input():
    with pytest.raises(SettingsError):
        order_relation(np.eye(2), 2, 0, 1)
    with pytest.raises(SettingsError):
        order_relation(np.eye(2), 0, 1, 1)
    assert order_relation(np.eye(2), 0, 0, 1).relation == "incomparable"
    assert order_relation([[1, 1], [1, 1]], 1, 0, 1).relation == "=="
