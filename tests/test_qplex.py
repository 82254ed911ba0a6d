"""QPLEX under the stable-point model: exact enumeration, Eq. 28-29, constructive KKT points, multi-start."""

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from stablepoint.catalog import get_game
from stablepoint.errors import ProblemTooLargeError, SettingsError
from stablepoint.methods import get_method
from stablepoint.methods.qplex import QPLEX, cap_kkt_point, kkt_check, multistart, qplex_gradients, qplex_q_tot
from stablepoint.visitation import visitation
from strategies import payoffs


def test_registered_and_stable_sets_of_tables_7_and_8():
    q = get_method("qplex")
    t7, t8 = get_game("table5"), get_game("table8")
    assert {u for u in t7.joint_actions() if q.fit(t7, u).stable} == {(0, 0), (1, 1), (2, 2)}
    assert {u for u in t8.joint_actions() if q.fit(t8, u).stable} == {(0, 0), (2, 2)}
    # Table 8, u~ = (2, 2): keeping ubar costs 12.5 (unit weights), moving it only 6
    r = q.fit(t8, (1, 1))
    assert r.loss * 9 == pytest.approx(6.0)
    q_cap, w_cap = cap_kkt_point(t8.values, (1, 1))
    assert kkt_check(t8.values, q_cap, w_cap, (1, 1)).loss == pytest.approx(12.5)


def test_gradients_match_autograd():
    """Eq. 29 (closed form, weighted) against torch autograd at a random point."""
    rng = np.random.default_rng(3)
    y = rng.normal(size=(3, 2))
    q = [rng.normal(size=3), rng.normal(size=2)]
    w = rng.uniform(0, 2, size=(2, 3, 2))
    pi = visitation("decentralized", y.shape, (1, 0), 0.3)
    gq, gw = qplex_gradients(y, q, w, (1, 0), pi)
    tq = [torch.tensor(x, requires_grad=True) for x in q]
    tw = torch.tensor(w, requires_grad=True)
    d0 = (tq[0] - tq[0][1]).reshape(3, 1)
    d1 = (tq[1] - tq[1][0]).reshape(1, 2)
    q_tot = tq[0][1] + tq[1][0] + tw[0] * d0 + tw[1] * d1
    loss = (torch.tensor(pi) * (q_tot - torch.tensor(y)) ** 2).sum()
    loss.backward()
    np.testing.assert_allclose(gq[0], tq[0].grad.numpy(), atol=1e-12)
    np.testing.assert_allclose(gq[1], tq[1].grad.numpy(), atol=1e-12)
    np.testing.assert_allclose(gw, tw.grad.numpy(), atol=1e-12)
    np.testing.assert_allclose(qplex_q_tot(q, w, (1, 0)), q_tot.detach().numpy(), atol=1e-12)


@given(payoffs(max_cells=12), st.data(), st.sampled_from(["uniform", "centralized", "decentralized"]))
def test_witness_fits_are_kkt_points_and_cap_points_exist(payoff, data, vis):
    """Every reported optimum is realised by (Q, w >= 0) satisfying Eq. 28; the cap point is KKT with ubar = u~."""
    u = data.draw(st.sampled_from(list(payoff.joint_actions())))
    method = QPLEX(visitation=vis, epsilon=0.3)
    res = method.fit(payoff, u)
    pi = method.weights(payoff.shape, u)
    scale = max(1.0, float(np.abs(payoff.values).max()))
    for f in res.fits:
        q, w = f.info["q"], f.info["w"]
        np.testing.assert_allclose(qplex_q_tot(q, w, u), f.q_tot, atol=1e-9)
        assert float(np.sum(pi * (f.q_tot - payoff.values) ** 2)) == pytest.approx(res.loss, abs=2e-7)
        assert kkt_check(payoff.values, q, w, u, pi, tol=1e-8 * scale).ok
    q, w = cap_kkt_point(payoff.values, u, pi)
    c = kkt_check(payoff.values, q, w, u, pi, tol=1e-8 * scale)
    assert c.ok and c.greedy == {u}
    assert c.loss >= res.loss - 1e-9  # keeping ubar = u~ is never better than the global optimum


def test_multistart_never_beats_the_exact_minimum_and_finds_it():
    """The search is non-convex: it may miss the optimum from some seeds, but never goes below it."""
    p = get_game("table5")
    for u in [(1, 1), (1, 2), (2, 2)]:
        exact = QPLEX().fit(p, u).loss
        ms = multistart(p, u, n_starts=16, steps=1500, seed=1)
        assert ms.n_kkt >= 1
        assert all(r.loss >= exact - 1e-7 for r in ms.runs)  # every end point is feasible
        assert ms.best_loss == pytest.approx(exact, abs=1e-4)


def test_settings_and_size_limits():
    with pytest.raises(SettingsError, match="visitation"):
        QPLEX(visitation="nope")
    with pytest.raises(SettingsError, match="epsilon"):
        QPLEX(epsilon=2)
    with pytest.raises(ProblemTooLargeError, match="sign patterns"):
        QPLEX(max_patterns=10).fit(get_game("table5"), (0, 0))
