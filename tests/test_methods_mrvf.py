"""MRVF: Table 2, the round map, and strict improvement along every branch."""

from __future__ import annotations

import numpy as np
import pytest

from test_reference import _brute_force

from stablepoint.catalog import get_game
from stablepoint.methods import get_method
from stablepoint.methods.mrvf import increment_target
from stablepoint.visitation import centralized

TABLE5 = get_game("table5")


def test_table2_trace():
    trace = get_method("mrvf", solver="cvxpy").rounds(TABLE5)
    r1, r2, r3 = trace.rounds
    # Round 1: QMIX on Qjt itself stops at (3, 3) (1-based), value 5.
    assert r1.k == 1 and r1.previous is None and r1.outcome == frozenset({(2, 2)})
    np.testing.assert_array_equal(r1.target, TABLE5.values)
    assert TABLE5[(2, 2)] == 5.0
    # Round 2: target 3 at (1, 1), 0 elsewhere; reaches (1, 1).
    expected = np.zeros((3, 3))
    expected[0, 0] = 3.0
    np.testing.assert_array_equal(r2.target, expected)
    assert r2.previous == (2, 2) and r2.stable == r2.improving == r2.outcome == frozenset({(0, 0)})
    assert not r2.terminates
    # Round 3: all-zero target, terminate with (1, 1).
    np.testing.assert_array_equal(r3.target, np.zeros((3, 3)))
    assert r3.previous == (0, 0) and r3.terminates and r3.outcome == frozenset({(0, 0)})
    assert trace.finals == frozenset({(0, 0)}) and trace.complete


def test_round_map_as_method():
    method = get_method("mrvf", solver="cvxpy")
    step = method.fit(TABLE5, (2, 2))
    assert step.greedy_set == frozenset({(0, 0)}) and not step.stable
    assert step.loss == pytest.approx(0.0, abs=1e-9)  # the round-2 target is monotone
    end = method.fit(TABLE5, (0, 0))
    assert end.strongly_stable and end.loss == 0.0
    np.testing.assert_array_equal(end.fits[0].q_tot, np.zeros((3, 3)))


def test_start_follows_one_branch():
    trace = get_method("mrvf", solver="cvxpy").rounds(TABLE5, start=(1, 2))
    assert trace.rounds[0].k == 2 and trace.rounds[0].previous == (1, 2)
    assert trace.finals == frozenset({(0, 0)}) and trace.complete


def test_max_rounds_cuts_the_trace():
    trace = get_method("mrvf", solver="cvxpy").rounds(TABLE5, max_rounds=2)
    assert len(trace.rounds) == 2 and not trace.complete and not trace.finals


def test_increment_target_clips_at_zero():
    y = TABLE5.values
    t = increment_target(y, (1, 1))
    np.testing.assert_array_equal(t, np.maximum(y - 3.0, 0.0))
    assert t.min() == 0.0 and t[0, 0] == 5.0 and t[2, 2] == 2.0


@pytest.mark.parametrize("seed", range(3))
def test_branches_strictly_improve_and_end_where_no_stable_point_improves(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(-5, 6, size=(3, 3)).astype(float)
    method = get_method("mrvf", solver="cvxpy")
    trace = method.rounds(y)
    assert trace.complete and trace.finals
    for rnd in trace.rounds[1:]:
        assert all(y[v] > y[rnd.previous] for v in rnd.improving)
        assert rnd.reached >= rnd.stable and rnd.reached >= rnd.improving
        assert rnd.terminates == (rnd.improving != rnd.reached or not rnd.reached)
        assert rnd.outcome == rnd.improving | ({rnd.previous} if rnd.terminates else frozenset())
    # The optimum always terminates immediately (its target is all zeros).
    opt = tuple(int(i) for i in np.unravel_index(np.argmax(y), y.shape))
    assert method.fit(y, opt).greedy_set == frozenset({opt})


def test_small_epsilon_centralized_table2_start():
    # Theorem 2 regime: with small epsilon, round 2 from (3, 3) must not stay at a zero-target action.
    method = get_method("mrvf", epsilon=0.1, solver="cvxpy")
    step = method.fit(TABLE5, (2, 2))
    assert step.greedy_set == frozenset({(0, 0)})


def test_round_that_reaches_only_a_non_improving_stable_point_stops():
    # Uniform visitation: QMIX on the target from (1, 3) (1-based, value -3) stays at (1, 3),
    # whose target value is 0, so the process stops there although it is not optimal.
    y = np.array([[3.0, 5.0, -3.0], [-3.0, 3.0, 4.0], [0.0, -4.0, 4.0]])
    res = get_method("mrvf", solver="cvxpy").fit(y, (0, 2))
    assert res.greedy_set == frozenset({(0, 2)}) and res.stable
    assert "early termination" in res.message


def test_round_with_improving_and_non_improving_stable_points_may_continue_or_stop():
    y = np.array([[0.0, 0.0, 3.0], [5.0, -5.0, -4.0], [4.0, 5.0, -3.0]])
    method = get_method("mrvf", solver="cvxpy")
    rnd, _ = method._round(get_game("table5").with_values(y), 2, (2, 0))
    qmix_stable = get_method("qmix", solver="cvxpy").stable_points(increment_target(y, (2, 0)))
    assert rnd.stable == qmix_stable and not rnd.cycles
    assert rnd.improving == frozenset(v for v in qmix_stable if y[v] > y[2, 0])
    assert rnd.improving and rnd.improving != rnd.stable
    assert rnd.terminates and rnd.outcome == rnd.improving | {(2, 0)}


def test_round_whose_qmix_dynamics_cycle_counts_cycle_members():
    # At epsilon = 0.3 QMIX on the target from (1, 3) has no stable point; its greedy
    # action cycles, and the cycle members are what the round can reach.
    y = np.array([[3.0, 5.0, -3.0], [-3.0, 3.0, 4.0], [0.0, -4.0, 4.0]])
    method = get_method("mrvf", epsilon=0.3, solver="cvxpy")
    rnd, _ = method._round(get_game("table5").with_values(y), 2, (0, 2))
    qmix = get_method("qmix", epsilon=0.3, solver="cvxpy")
    target = increment_target(y, (0, 2))
    transitions = {v: qmix.fit(target, v).greedy_set for v in np.ndindex(3, 3)}
    assert not rnd.stable and rnd.cycles
    for cycle in rnd.cycles:  # closed: every member's greedy set stays inside the cycle
        assert all(transitions[v] <= cycle for v in cycle)
    assert rnd.outcome == rnd.improving | ({(0, 2)} if rnd.terminates else frozenset())
    # The cycle (1, 3) <-> (2, 2) (1-based), confirmed by the independent NNLS brute force:
    # the round's greedy action passes through (1, 3), a minimum of the target (value 0).
    assert rnd.cycles == frozenset({frozenset({(0, 2), (1, 1)})})
    for v, w in (((0, 2), (1, 1)), ((1, 1), (0, 2))):
        weights = centralized((3, 3), v, 0.3)
        best, _, _ = _brute_force(target, weights)
        admitted = {u for u in np.ndindex(3, 3) if _brute_force(target, weights, top=u)[0] <= best + 1e-7}
        assert admitted == {w}
