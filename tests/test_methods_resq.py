"""ResQ: the closed form of resq.py against a brute-force QP, and MRVF Theorem 3."""

from __future__ import annotations

import itertools

import cvxpy as cp
import numpy as np
import pytest
from test_reference import _constraints  # cell-by-cell order constraints, independent of the package

from stablepoint.catalog import get_game
from stablepoint.methods import get_method
from stablepoint.methods.resq import resq_greedy_loss
from stablepoint.visitation import visitation


def _brute_resq_loss(y, w, u_tilde, u):
    """min over orders with u on top of sum w (X + w_r r - Y)^2, X monotone, r <= 0 (one cvxpy QP per order combination)."""
    shape = y.shape
    n_joint = y.size
    w_r = np.ones(n_joint)
    w_r[np.ravel_multi_index(u_tilde, shape)] = 0.0
    x, r = cp.Variable(n_joint), cp.Variable(n_joint)
    best = np.inf
    per_agent = [
        [p for p in itertools.permutations(range(a)) if p[-1] == u[i]] for i, a in enumerate(shape)
    ]
    for orders in itertools.product(*per_agent):
        d = _constraints(shape, orders)
        prob = cp.Problem(
            cp.Minimize(cp.sum_squares(cp.multiply(np.sqrt(w.ravel()), x + cp.multiply(w_r, r) - y.ravel()))),
            [d @ x <= 0, r <= 0],
        )
        prob.solve(solver=cp.CLARABEL)
        best = min(best, prob.value)
    return best


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("shape", [(3, 3), (2, 2, 2)])
def test_closed_form_matches_brute_force_qp(shape, seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(-3, 4, size=shape).astype(float)
    vis = ("centralized", "decentralized", "uniform")[seed]
    u_tildes = list(itertools.product(*(range(s) for s in shape)))
    # Every u~ for 2x2x2; three u~ (including an optimum) for 3x3 to keep the QP count small.
    if len(u_tildes) > 8:
        opt = tuple(int(i) for i in np.unravel_index(np.argmax(y), shape))
        u_tildes = [opt] + [u_tildes[k] for k in rng.choice(len(u_tildes), 2, replace=False)]
    for u_tilde in u_tildes:
        w = visitation(vis, shape, u_tilde, 0.4)
        res = get_method("resq", visitation=vis, epsilon=0.4).fit(y, u_tilde)
        for u in itertools.product(*(range(s) for s in shape)):
            brute = _brute_resq_loss(y, w, u_tilde, u)
            assert res.greedy_losses[u] == pytest.approx(brute, abs=1e-6)
            assert (u in res.greedy_set) == (brute <= 1e-7)


def test_table5_loss_is_zero_and_witness_reproduces_qjt():
    y = get_game("table5")
    res = get_method("resq").fit(y, (0, 0))
    assert res.loss == 0.0
    for fit in res.fits:
        q_mon, q_r = fit.info["q_mon"], fit.info["q_r"]
        assert np.all(q_r <= 0) and q_r[0, 0] == 0.0
        np.testing.assert_allclose(fit.q_tot, y.values)  # weights are all positive: exact fit
        assert fit.info["top"] in fit.greedy
        for axis in range(2):  # Q_mon monotone: its slices are pairwise comparable
            slices = np.moveaxis(q_mon, axis, 0)
            for a, b in itertools.combinations(range(3), 2):
                assert np.all(slices[a] <= slices[b]) or np.all(slices[a] >= slices[b])


CATALOG = ["table4a", "table4b", "table4c", "table4d", "table5", "table8", "table10a", "table10b",
           "table11", "qtran", "game-a", "game-b", "predator-prey:actions=3",
           "risk-reward:agents=3,actions=3,seed=0"]


@pytest.mark.parametrize("game", CATALOG)
def test_theorem3_on_catalog_games(game):
    payoff = get_game(game)
    optimal = set(payoff.optimal_actions())
    for settings in ({"epsilon": 1.0}, {"epsilon": 0.2}, {"visitation": "decentralized", "epsilon": 0.2}):
        method = get_method("resq", **settings)
        for u in payoff.joint_actions():
            res = method.fit(payoff, u)
            if u in optimal:
                assert res.stable and not res.strongly_stable, (game, settings, u)
            else:
                assert not res.stable, (game, settings, u)


@pytest.mark.parametrize("seed", range(10))
def test_theorem3_on_random_payoffs(seed):
    rng = np.random.default_rng(seed)
    shape = [(3, 3), (2, 3, 2), (4, 2)][seed % 3]
    y = rng.normal(size=shape) if seed % 2 else rng.integers(-2, 3, size=shape).astype(float)
    optimal = {tuple(int(i) for i in ix) for ix in np.argwhere(y == y.max())}
    method = get_method("resq", visitation="decentralized", epsilon=0.5)
    stable = {u for u in itertools.product(*(range(s) for s in shape)) if method.fit(y, u).stable}
    strong = {u for u in stable if method.fit(y, u).strongly_stable}
    assert stable == optimal and not strong


def test_epsilon_zero_makes_every_action_weakly_stable():
    # Only u~ is weighted: no constraint from other cells, so every u is admitted from every u~.
    y = get_game("table5")
    method = get_method("resq", epsilon=0.0)
    for u in y.joint_actions():
        res = method.fit(y, u)
        assert res.greedy_set == frozenset(y.joint_actions())


def test_greedy_loss_with_zero_weight_at_u_tilde():
    y = np.array([[1.0, 5.0], [2.0, 0.0]])
    w = np.array([[0.0, 0.5], [0.5, 0.0]])
    assert resq_greedy_loss(y, w, (0, 0), (0, 0)) == (0.0, 5.0)
