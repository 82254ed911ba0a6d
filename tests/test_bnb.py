"""The branch-and-bound Ideal-QMIX engine: exact against the cvxpy reference and a brute force."""

import itertools
import math

import numpy as np
import pytest

from stablepoint.catalog import get_game, risk_reward
from stablepoint.errors import PayoffError, SettingsError
from stablepoint.projection import ideal_qmix
from stablepoint.projection import reference
from stablepoint.projection.bnb import BnbProgress, greedy_losses, solve
from stablepoint.projection.isotonic import isotonic_product
from stablepoint.projection.result import greedy_of
from stablepoint.tolerances import LOSS_ATOL, LOSS_RTOL, VALUE_ATOL
from stablepoint.visitation import centralized, decentralized, uniform


def chain(order, size):
    rel = np.zeros((size, size), bool)
    for k, a in enumerate(order):
        for b in order[k + 1 :]:
            rel[a, b] = True
    return rel


def brute_force(y, w, top=None):
    """Every combination of total orders, each fitted by the exact isotonic solver: (loss, greedy set)."""
    per_agent = []
    for i, s in enumerate(y.shape):
        perms = list(itertools.permutations(range(s)))
        if top is not None:
            perms = [p for p in perms if p[-1] == top[i]]
        per_agent.append(perms)
    fits = []
    for orders in itertools.product(*per_agent):
        x = isotonic_product(y, w, [chain(o, s) for o, s in zip(orders, y.shape)])
        fits.append((float(np.sum(w * (x - y) ** 2)), x))
    best = min(f[0] for f in fits)
    tol = LOSS_ATOL + LOSS_RTOL * best
    greedy = frozenset().union(*(greedy_of(x, VALUE_ATOL) for loss, x in fits if loss <= best + tol))
    return best, greedy


def payoff_sample(rng, shape, kind):
    if kind == "int":
        return rng.integers(-5, 6, size=shape).astype(float)
    if kind == "float":
        return rng.normal(size=shape) * 3
    if kind == "ties":
        return rng.integers(0, 3, size=shape).astype(float)
    seed = int(rng.integers(0, 10_000))
    y = risk_reward(len(shape), shape[0], seed).values
    return y


def weight_sample(rng, shape, k):
    u = tuple(int(rng.integers(0, s)) for s in shape)
    return [uniform(shape), centralized(shape, u, 0.3), decentralized(shape, u, 0.2)][k % 3], u


@pytest.mark.parametrize("shape", [(3, 3), (2, 2, 2)])
def test_matches_cvxpy_reference(shape):
    rng = np.random.default_rng(sum(shape))
    for k in range(8):
        kind = ["int", "float", "ties", "rr"][k % 4]
        y = payoff_sample(rng, shape, kind)
        w, u = weight_sample(rng, shape, k)
        top = u if k % 2 else None
        ours = solve(y, w, top=top)
        ref = reference.solve(y, w, top=top)
        assert abs(ours.loss - ref.loss) <= 1e-6, (kind, k)
        assert ours.greedy == ref.greedy, (kind, k)
        assert ours.certified and ours.bound == ours.loss


@pytest.mark.parametrize("shape", [(4, 4), (3, 3, 3), (2, 5), (3, 2, 2, 2)])
def test_matches_brute_force(shape):
    rng = np.random.default_rng(len(shape) * 10 + shape[0])
    for k in range(6):
        kind = ["int", "float", "ties", "rr"][k % 4]
        if kind == "rr" and len(set(shape)) > 1:
            kind = "float"
        y = payoff_sample(rng, shape, kind)
        w, u = weight_sample(rng, shape, k)
        top = u if k % 3 == 2 else None
        loss, greedy = brute_force(y, w, top)
        ours = solve(y, w, top=top)
        assert abs(ours.loss - loss) <= 1e-9 * max(1.0, loss), (kind, k)
        assert ours.greedy == greedy, (kind, k)
        for fit in ours.fits:  # every returned fit is feasible for its orders and optimal
            assert math.isclose(fit.loss, float(np.sum(w * (fit.q_tot - y) ** 2)), rel_tol=1e-12, abs_tol=1e-15)
            for i, order in enumerate(fit.orders):
                sl = np.moveaxis(fit.q_tot, i, 0)
                assert all(np.all(sl[a] <= sl[b] + VALUE_ATOL) for a, b in zip(order[:-1], order[1:]))


def test_paper_table5():
    """MRVF Table 5: L_tot = 36.22 (326/9) unconstrained, 45.56 (410/9) with ubar = u* = (1, 1)."""
    y = get_game("table5").values
    w = uniform(y.shape)
    res = solve(y, w)
    assert math.isclose(res.loss * 9, 326.0, abs_tol=1e-9)
    assert res.greedy == {(2, 2)}
    np.testing.assert_allclose(res.q_tot, [[-8, -8, -8], [-8, 1, 1], [-8, 1, 5]], atol=1e-12)
    top = solve(y, w, top=(0, 0))
    assert math.isclose(top.loss * 9, 410.0, abs_tol=1e-9)
    np.testing.assert_allclose(top.q_tot, [[8, -5, -5], [-5, -5, -5], [-5, -5, -5]], atol=1e-12)


def test_registered_as_solver_and_options_flow():
    y = get_game("table5").values
    res = ideal_qmix(y, uniform(y.shape), solver="bnb", time_limit=10.0)
    assert res.stats["solver"] == "bnb" and res.certified


# ---- degenerate inputs (documented tolerance behaviour) ----


def test_constant_payoff_closes_at_root():
    y = np.full((3, 4), 2.5)
    res = solve(y, uniform(y.shape))
    assert res.loss == 0.0 and res.stats["n_nodes"] == 1
    assert res.greedy == frozenset(itertools.product(range(3), range(4)))


def test_all_orders_tie():
    """A permutation-symmetric payoff: every optimal fit is kept, the greedy set is everything."""
    y = 1.0 - np.eye(3)
    res = solve(y, uniform(y.shape))
    loss, greedy = brute_force(y, uniform(y.shape))
    assert math.isclose(res.loss, loss, abs_tol=1e-12)
    assert res.greedy == greedy
    assert len(res.fits) > 1


def test_zero_weights_epsilon_zero():
    """Centralized epsilon = 0: only u~ is weighted, loss 0, and every action can be made greedy."""
    y = get_game("table5").values
    w = centralized(y.shape, (1, 2), 0.0)
    res = solve(y, w)
    assert res.loss == 0.0
    assert res.q_tot[1, 2] == y[1, 2]  # the weighted cell is fitted exactly
    g = greedy_losses(y, w)
    assert all(v == 0.0 for v in g.losses.values())
    assert g.greedy_set == frozenset(itertools.product(range(3), range(3)))
    for u in [(0, 0), (2, 1)]:
        assert solve(y, w, top=u).loss == 0.0


def test_tiny_differences_are_ties():
    """Differences at the 1e-12 scale are below value_atol: the root closes with X = Y, all greedy."""
    rng = np.random.default_rng(7)
    y = 1.0 + 1e-12 * rng.normal(size=(4, 4))
    res = solve(y, uniform(y.shape))
    assert res.stats["n_nodes"] == 1
    assert res.loss <= 1e-22
    assert len(res.greedy) == 16
    # Scaled up by 1e12 the same pattern is a real problem, solved exactly.
    big = (y - 1.0) * 1e12
    loss, greedy = brute_force(big, uniform(big.shape))
    res_big = solve(big, uniform(big.shape))
    assert math.isclose(res_big.loss, loss, rel_tol=1e-9) and res_big.greedy == greedy


# ---- budgets, progress, batch API ----


def test_time_limit_returns_honest_uncertified_result():
    y = np.random.default_rng(0).normal(size=(5, 5, 5))  # needs seconds, not milliseconds
    w = uniform(y.shape)
    res = solve(y, w, time_limit=0.05)
    assert res.status == 1 and not res.certified
    assert "time limit" in res.message
    assert res.fits and res.bound <= res.loss  # incumbent above the proven bound
    assert res.loss == pytest.approx(float(np.sum(w * (res.q_tot - y) ** 2)))


def test_node_limit():
    y = risk_reward(3, 4, 1).values
    res = solve(y, uniform(y.shape), node_limit=5)
    assert res.status == 2 and not res.certified and res.bound <= res.loss


def test_progress_reports_nodes_and_gap():
    seen = []
    y = risk_reward(3, 4, 2).values
    res = solve(y, uniform(y.shape), progress=seen.append)
    assert seen and all(isinstance(p, BnbProgress) for p in seen)
    assert seen[-1].nodes == res.stats["n_nodes"] and seen[-1].gap == 0.0


def test_bad_input():
    with pytest.raises(SettingsError, match="shape"):
        solve(np.zeros((2, 2)), np.zeros((2, 3)))
    with pytest.raises(SettingsError, match="out of range"):
        solve(np.zeros((2, 2)), np.ones((2, 2)), top=(0, 2))
    with pytest.raises(PayoffError):
        solve(np.array([[np.nan, 0.0], [0.0, 0.0]]), np.ones((2, 2)))
    with pytest.raises(SettingsError, match="time_limit"):
        solve(np.zeros((2, 2)), np.ones((2, 2)), time_limit=-1)


def test_greedy_losses_match_top_solves():
    rng = np.random.default_rng(11)
    y = rng.integers(-4, 5, size=(3, 3)).astype(float)
    w = centralized(y.shape, (0, 1), 0.4)
    g = greedy_losses(y, w)
    for u in itertools.product(range(3), range(3)):
        assert g.exact[u]
        assert g.losses[u] == pytest.approx(reference.solve(y, w, top=u).loss, abs=1e-6)
    cut = greedy_losses(y, w, cutoff="optimum")
    assert cut.greedy_set == g.greedy_set
    for u in g.losses:
        if cut.exact[u]:
            assert cut.losses[u] == pytest.approx(g.losses[u], abs=1e-12)
        else:  # a proven lower bound above the cutoff
            assert cut.losses[u] > cut.loss and cut.losses[u] <= g.losses[u] + 1e-12


def _kernel(y, w, rel):
    from stablepoint.projection.bnb import WARM_ROUNDS
    from stablepoint.projection.isotonic import CUT_RTOL, _node_kernel, slice_index

    sl_idx, sizes, n_slice = slice_index(y.shape)
    y_flat, w_flat = y.ravel().copy(), w.ravel().copy()
    return _node_kernel(y_flat, w_flat, rel, sl_idx, sizes, n_slice, VALUE_ATOL, CUT_RTOL, y_flat,
                        np.zeros(y.size, np.int64), False, WARM_ROUNDS)


def test_pooling_cost_is_exact_on_one_pair():
    """2x2 anti-diagonal, no relations: "row 0 below row 1" pools one cell pair, at cost w/2 * d^2."""
    y, w = np.array([[0.0, 1.0], [1.0, 0.0]]), np.full((2, 2), 0.25)
    x, _, loss, branch, costs = _kernel(y, w, np.zeros((2, 2, 2), bool))
    assert loss == 0.0 and branch[0] in (0, 1) and costs.tolist() == [0.125, 0.125]
    child = isotonic_product(y, w, [chain((0, 1), 2), np.zeros((2, 2), bool)])
    assert float(np.sum(w * (child - y) ** 2)) == pytest.approx(0.125, abs=1e-15)


@pytest.mark.parametrize("shape", [(4, 4), (3, 3, 3)])
def test_pooling_cost_bounds_every_child(shape):
    """The lazy bound the search pushes children with: child loss >= parent loss + pooling cost."""
    rng = np.random.default_rng(sum(shape))
    checked = 0
    for k in range(30):
        y = payoff_sample(rng, shape, ["int", "float", "ties", "rr"][k % 4])
        w, _ = weight_sample(rng, shape, k)
        # A random node: a few random relations per agent (transitively closed chains of a subset).
        rels = []
        for s in shape:
            sub = [int(a) for a in rng.permutation(s)[: int(rng.integers(0, s))]]
            rel = np.zeros((s, s), bool)
            for p, a in enumerate(sub):
                rel[a, sub[p + 1:]] = True
            rels.append(rel)
        stacked = np.zeros((len(shape), max(shape), max(shape)), bool)
        for i, rel in enumerate(rels):
            stacked[i, : shape[i], : shape[i]] = rel
        x, _, loss, branch, costs = _kernel(y, w, stacked)
        if branch[0] < 0:
            continue
        i, a, b = (int(v) for v in branch)
        for (lo, hi), cost in (((a, b), costs[0]), ((b, a), costs[1])):
            child = [r.copy() for r in rels]
            child[i][lo, hi] = True
            child[i] = np.linalg.matrix_power(child[i].astype(int) + np.eye(shape[i], dtype=int),
                                              shape[i]).astype(bool) & ~np.eye(shape[i], dtype=bool)
            cx = isotonic_product(y, w, child)
            child_loss = float(np.sum(w * (cx - y) ** 2))
            assert child_loss >= loss + cost - 1e-12 * max(1.0, child_loss), (k, lo, hi)
            checked += 1
    assert checked >= 20
