"""Payoff loading and validation, catalog, visitation weights."""

import numpy as np
import pytest

from stablepoint.catalog import get_game, list_games, predator_prey, risk_reward
from stablepoint.errors import PayoffError, SettingsError
from stablepoint.payoff import Payoff, load_payoff, parse_long_csv, parse_matrix_csv
from stablepoint.visitation import centralized, decentralized, uniform, visitation


def test_matrix_csv_with_and_without_labels(tmp_path):
    f = tmp_path / "t5.csv"
    f.write_text(",a,b,c\nx,8,-12,-12\ny,-12,3,0\nz,-12,0,5\n")
    p = load_payoff(f)
    assert p.name == "t5" and p.shape == (3, 3)
    assert p.labels == (("x", "y", "z"), ("a", "b", "c"))
    np.testing.assert_array_equal(p.values, get_game("table5").values)
    plain = parse_matrix_csv("8,-12,-12\n-12,3,0\n-12,0,5\n")
    np.testing.assert_array_equal(plain.values, p.values)
    assert plain.labels == (("1", "2", "3"),) * 2


def test_long_csv_round_trip_three_agents(tmp_path):
    y = np.arange(12, dtype=float).reshape(2, 3, 2) - 5
    lines = ["a1,a2,a3,value"] + [
        f"{i},{j},{k},{y[i, j, k]}" for i in range(2) for j in range(3) for k in range(2)
    ]
    f = tmp_path / "g.csv"
    f.write_text("\n".join([lines[0]] + lines[1:][::-1]))  # row order must not matter
    p = load_payoff(f)
    np.testing.assert_array_equal(p.values, y)


def test_npy(tmp_path):
    y = np.random.default_rng(0).normal(size=(2, 2, 3))
    np.save(tmp_path / "y.npy", y)
    np.testing.assert_array_equal(load_payoff(tmp_path / "y.npy").values, y)


@pytest.mark.parametrize(
    "text, match",
    [
        ("1,2\n3\n", "ragged"),
        ("1,x\n3,4\n", "non-numeric"),
        ("1,nan\n3,4\n", "NaN"),
        ("1,inf\n3,4\n", "NaN or infinity"),
        ("1,2\n", "at least 2 actions"),
        ("", "empty"),
    ],
)
def test_bad_matrix_csv(text, match):
    with pytest.raises(PayoffError, match=match):
        parse_matrix_csv(text)


def test_bad_long_csv():
    with pytest.raises(PayoffError, match="duplicate joint action"):
        parse_long_csv("a1,a2,value\n0,0,1\n0,0,2\n0,1,1\n1,0,1\n1,1,1\n")
    with pytest.raises(PayoffError, match="missing"):
        parse_long_csv("a1,a2,value\n0,0,1\n0,1,1\n1,0,1\n")
    with pytest.raises(PayoffError, match="at least 2 agent"):
        parse_long_csv("a1,value\n0,1\n1,2\n")


def test_payoff_validation():
    with pytest.raises(PayoffError, match="at least 2 agents"):
        Payoff([1.0, 2.0])
    with pytest.raises(PayoffError, match="labels"):
        Payoff([[1, 2], [3, 4]], (("a", "b"),))
    p = Payoff([[1, 2], [3, 4]])
    with pytest.raises(ValueError):
        p.values[0, 0] = 5  # immutable
    with pytest.raises(PayoffError, match="out of range"):
        p.check_action((2, 0))


def test_catalog():
    names = [n for n, _, _ in list_games()]
    assert {"table5", "qtran", "game-a", "game-b", "table11", "predator-prey", "risk-reward"} <= set(names)
    assert get_game("table5").optimal_actions() == [(0, 0)]
    pp = predator_prey(-2)
    assert pp.shape == (6, 6) and pp[0, 0] == 10 and pp[0, 3] == -2 and pp[2, 0] == -2 and pp[4, 5] == 0
    with pytest.raises(SettingsError, match="unknown game"):
        get_game("nope")
    with pytest.raises(SettingsError, match="bad parameter"):
        get_game("risk-reward:colour=3")


@pytest.mark.parametrize("n, m, seed", [(2, 3, 0), (3, 5, 1), (4, 3, 2)])
def test_risk_reward_structure(n, m, seed):
    p = risk_reward(n, m, seed)
    y = p.values
    assert p.shape == (m,) * n
    assert np.all(np.abs(y) <= 10) and np.all(y != 0)
    positive = np.argwhere(y > 0)
    # exactly one consensus cell per mapped action, and they form a permutation per agent
    assert len(positive) == m
    for i in range(n):
        assert sorted(positive[:, i]) == list(range(m))
    # the negative entries are minus the sum of the same per-agent rewards: recover r from positives
    assert np.isclose(y.max(), y[tuple(positive[np.argmax(y[tuple(positive.T)])])])
    np.testing.assert_array_equal(risk_reward(n, m, seed).values, y)  # deterministic


def test_visitations_sum_to_one_and_shapes():
    for fn in (uniform, centralized, decentralized):
        w = fn((3, 2, 4), (1, 0, 3), 0.3)
        assert w.shape == (3, 2, 4) and np.isclose(w.sum(), 1.0) and np.all(w >= 0)
    w = centralized((3, 3), (2, 2), 0.0)
    assert w[2, 2] == 1.0 and w.sum() == 1.0
    d = decentralized((3, 3), (0, 0), 0.3)
    # weight of a cell differing in both agents is (eps/3)^2, MRVF Eq. 2
    assert np.isclose(d[1, 2], (0.3 / 3) ** 2)
    assert np.isclose(d[0, 2], (1 - 0.3 + 0.1) * 0.1)
    np.testing.assert_allclose(centralized((3, 3), (0, 0), 1.0), uniform((3, 3)))
    np.testing.assert_allclose(decentralized((3, 3), (0, 0), 1.0), uniform((3, 3)))
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(SettingsError, match="epsilon"):
            centralized((2, 2), (0, 0), bad)
    with pytest.raises(SettingsError, match="unknown visitation"):
        visitation("boltzmann", (2, 2), (0, 0), 0.1)
