"""Methods: registry, settings validation, QMIX / WQMIX / VDN against independent computations.

ResQ and MRVF have their own files (test_methods_resq.py, test_methods_mrvf.py).
"""

from __future__ import annotations

import inspect
import itertools

import numpy as np
import pytest
from test_reference import _brute_force  # independent NNLS brute force over orders

from stablepoint.catalog import get_game
from stablepoint.errors import PayoffError, SettingsError
from stablepoint.methods import METHODS, get_method, method_settings
from stablepoint.methods.base import Method
from stablepoint.methods.vdn import VDN
from stablepoint.methods.wqmix import eq3_weights
from stablepoint.visitation import centralized, decentralized

TABLE5 = get_game("table5")
ALL9 = frozenset(itertools.product(range(3), range(3)))


# ------------------------------------------------------------------ registry and settings


def test_registry_and_protocol():
    mine = ("vdn", "qmix", "wqmix", "resq", "mrvf")  # other methods are tested in their own files
    assert set(METHODS) >= set(mine)
    for name in mine:
        cls = METHODS[name]
        method = get_method(name)
        assert isinstance(method, Method) and method.name == name
        keyword_only = tuple(
            p.name for p in inspect.signature(cls).parameters.values() if p.kind is p.KEYWORD_ONLY
        )
        assert set(method_settings(name)) == set(keyword_only)
        assert set(method.settings()) == set(keyword_only)


def test_unknown_method_lists_valid_names():
    with pytest.raises(SettingsError, match="unknown method 'qplexx'.*qmix.*wqmix"):
        get_method("qplexx")


def test_setting_a_method_does_not_take():
    with pytest.raises(SettingsError, match="'vdn' does not take alpha"):
        get_method("vdn", alpha=0.5)


@pytest.mark.parametrize("alpha", [0, -0.1, 1.5, float("nan"), "abc", None])
def test_alpha_outside_unit_interval(alpha):
    with pytest.raises(SettingsError, match="alpha"):
        get_method("wqmix", alpha=alpha)


@pytest.mark.parametrize("name", ["vdn", "qmix", "wqmix", "resq", "mrvf"])
@pytest.mark.parametrize("epsilon", [-0.01, 1.01, float("nan"), "x"])
def test_epsilon_outside_unit_interval(name, epsilon):
    with pytest.raises(SettingsError, match="epsilon"):
        get_method(name, epsilon=epsilon)


@pytest.mark.parametrize(
    "name, settings, match",
    [
        ("qmix", {"visitation": "boltzmann"}, "unknown visitation 'boltzmann'; choose one of: uniform"),
        ("resq", {"visitation": "boltzmann"}, "visitation"),
        ("wqmix", {"tie_rule": "loose"}, "tie_rule.*strict, inclusive"),
        ("qmix", {"solver": "gurobi"}, "unknown solver 'gurobi'.*auto"),
        ("mrvf", {"solver_options": [1, 2]}, "solver_options"),
    ],
)
def test_other_bad_settings(name, settings, match):
    with pytest.raises(SettingsError, match=match):
        get_method(name, **settings)


def test_boundary_settings_are_accepted():
    assert get_method("wqmix", alpha=1.0).alpha == 1.0
    assert get_method("qmix", epsilon=0).epsilon == 0.0
    assert get_method("qmix", epsilon=1).settings()["epsilon"] == 1.0


def test_bad_u_tilde_is_a_payoff_error():
    with pytest.raises(PayoffError, match="out of range"):
        get_method("qmix").fit(TABLE5, (3, 0))


# ------------------------------------------------------------------ QMIX


def test_qmix_table5_uniform_matches_paper_and_brute_force():
    method = get_method("qmix", visitation="uniform", solver="cvxpy")
    w = np.full((3, 3), 1 / 9)
    best, _, _ = _brute_force(TABLE5.values, w)
    for u_tilde in ALL9:
        res = method.fit(TABLE5, u_tilde)
        assert res.greedy_set == frozenset({(2, 2)})
        assert res.loss == pytest.approx(326 / 9, abs=1e-9) and res.loss == pytest.approx(best, abs=1e-9)
    assert res.greedy_losses[(0, 0)] == pytest.approx(410 / 9, abs=1e-9)
    for u in ALL9:
        top_best, _, _ = _brute_force(TABLE5.values, w, top=u)
        assert res.greedy_losses[u] == pytest.approx(top_best, abs=1e-8)
    np.testing.assert_allclose(res.fits[0].q_tot, [[-8, -8, -8], [-8, 1, 1], [-8, 1, 5]], atol=1e-9)
    assert get_method("qmix", solver="cvxpy").fit(TABLE5, (2, 2)).strongly_stable  # epsilon=1 default


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("shape", [(3, 3), (2, 2, 2)])
def test_qmix_greedy_set_matches_brute_force(shape, seed):
    rng = np.random.default_rng(100 + seed)
    y = rng.integers(-4, 5, size=shape).astype(float)
    u_tilde = tuple(int(rng.integers(s)) for s in shape)
    vis = "centralized" if seed % 2 else "decentralized"
    res = get_method("qmix", visitation=vis, epsilon=0.5, solver="cvxpy").fit(y, u_tilde)
    w = (centralized if seed % 2 else decentralized)(shape, u_tilde, 0.5)
    best, _, _ = _brute_force(y, w)
    per_u = {u: _brute_force(y, w, top=u)[0] for u in itertools.product(*(range(s) for s in shape))}
    assert res.loss == pytest.approx(best, abs=1e-8)
    assert res.greedy_set == frozenset(u for u, loss in per_u.items() if abs(loss - best) <= 1e-7)
    for u, loss in per_u.items():
        assert res.greedy_losses[u] == pytest.approx(loss, abs=1e-8)
    for fit in res.fits:
        assert float(np.sum(w * (fit.q_tot - y) ** 2)) == pytest.approx(best, abs=1e-8)
        assert fit.greedy <= res.greedy_set


def test_qmix_epsilon_zero_admits_every_action():
    # Only u~ is weighted: the constant fit Y(u~) has loss 0 and makes every action greedy.
    res = get_method("qmix", epsilon=0.0, solver="cvxpy").fit(TABLE5, (1, 1))
    assert res.loss == pytest.approx(0.0, abs=1e-12)
    assert res.greedy_set == ALL9 and res.stable and not res.strongly_stable
    assert all(loss == pytest.approx(0.0, abs=1e-10) for loss in res.greedy_losses.values())


def test_qmix_ties_are_kept():
    res = get_method("qmix", solver="cvxpy").fit(np.eye(2), (0, 0))
    assert res.greedy_set == frozenset(itertools.product(range(2), range(2)))
    assert res.loss == pytest.approx(1 / 6, abs=1e-10)
    assert len(res.fits) == 4


def test_qmix_stable_points_uniform_shortcut_matches_per_action_fits():
    method = get_method("qmix", epsilon=1.0, solver="cvxpy")
    y = get_game("table4c")
    direct = frozenset(u for u in ALL9 if method.fit(y, u).stable)
    assert method.stable_points(y) == direct


# ------------------------------------------------------------------ WQMIX


def test_eq3_weights_both_tie_rules():
    y = TABLE5.values
    # u~ = (2, 3) (1-based) has value 0; (3, 2) ties it, (2, 2), (3, 3), (1, 1) beat it.
    strict = eq3_weights(y, (1, 2), alpha=0.25)
    inclusive = eq3_weights(y, (1, 2), alpha=0.25, tie_rule="inclusive")
    expected_strict = np.where(y > 0, 1.0, 0.25)
    expected_strict[1, 2] = 1.0
    np.testing.assert_array_equal(strict, expected_strict)
    expected_inclusive = expected_strict.copy()
    expected_inclusive[2, 1] = 1.0
    np.testing.assert_array_equal(inclusive, expected_inclusive)
    # u~ itself always weighs 1, even when it is the minimum or the maximum.
    assert eq3_weights(y, (0, 1), 0.1)[0, 1] == 1.0
    np.testing.assert_array_equal(eq3_weights(y, (0, 0), 0.1), np.where(y == 8, 1.0, 0.1))


def test_wqmix_loss_weights_are_visitation_times_eq3():
    method = get_method("wqmix", alpha=0.3, visitation="centralized", epsilon=0.4, tie_rule="inclusive")
    np.testing.assert_allclose(
        method.weights(TABLE5, (2, 1)),
        centralized((3, 3), (2, 1), 0.4) * eq3_weights(TABLE5.values, (2, 1), 0.3, "inclusive"),
    )


def test_wqmix_table5_from_3_3_matches_brute_force():
    # From u~ = (3, 3) (1-based) the two mirror fits put the greedy action at (1, 3) or (3, 1).
    res = get_method("wqmix", solver="cvxpy").fit(TABLE5, (2, 2))
    w = np.full((3, 3), 1 / 9) * eq3_weights(TABLE5.values, (2, 2), 0.1)
    best, greedy, _ = _brute_force(TABLE5.values, w)
    assert res.loss == pytest.approx(best, abs=1e-9)
    assert res.greedy_set == greedy == frozenset({(0, 2), (2, 0)})


def test_wqmix_with_alpha_one_is_qmix():
    qmix = get_method("qmix", solver="cvxpy").fit(TABLE5, (1, 2))
    wqmix = get_method("wqmix", alpha=1.0, solver="cvxpy").fit(TABLE5, (1, 2))
    assert wqmix.greedy_set == qmix.greedy_set and wqmix.loss == pytest.approx(qmix.loss)


# ------------------------------------------------------------------ VDN


def _one_hot_design(shape):
    """Design matrix built from identity blocks, independently of vdn.design_matrix."""
    cols = []
    for i, s in enumerate(shape):
        block = np.eye(s)
        for j, t in enumerate(shape):
            if j != i:
                block = np.expand_dims(block, axis=j)
        cols.append(np.broadcast_to(block, tuple(shape) + (s,)).reshape(-1, s))
    return np.hstack(cols)


def test_vdn_uniform_closed_form_two_and_three_agents():
    for y in (TABLE5.values, np.random.default_rng(3).normal(size=(2, 3, 2))):
        res = VDN(visitation="uniform").fit(y, (0,) * y.ndim)
        n = y.ndim
        marginals = sum(
            y.mean(axis=tuple(j for j in range(n) if j != i)).reshape([-1 if j == i else 1 for j in range(n)])
            for i in range(n)
        )
        closed = marginals - (n - 1) * y.mean()
        np.testing.assert_allclose(res.fits[0].q_tot, closed, atol=1e-10)
        assert res.loss == pytest.approx(float(np.mean((closed - y) ** 2)), abs=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_vdn_weighted_matches_normal_equations(seed):
    rng = np.random.default_rng(seed)
    shape = (3, 4) if seed < 2 else (2, 2, 3)
    y = rng.normal(size=shape)
    u_tilde = tuple(int(rng.integers(s)) for s in shape)
    method = VDN(visitation="decentralized", epsilon=0.3)
    res = method.fit(y, u_tilde)
    w = decentralized(shape, u_tilde, 0.3).ravel()
    phi = _one_hot_design(shape)
    q = np.linalg.pinv(phi.T @ (w[:, None] * phi)) @ (phi.T @ (w * y.ravel()))
    np.testing.assert_allclose(res.fits[0].q_tot.ravel(), phi @ q, atol=1e-9)
    # Argmax of an additive Q_tot is the product of the per-agent argmaxes.
    x = (phi @ q).reshape(shape)
    assert res.greedy_set == frozenset({tuple(int(i) for i in np.unravel_index(np.argmax(x), shape))})


def test_vdn_zero_weights_admit_what_some_optimum_admits():
    # epsilon = 0: only u~ is fitted, every utility table matching Y(u~) there is optimal.
    res = VDN(epsilon=0.0).fit(TABLE5, (1, 1))
    assert res.loss == pytest.approx(0.0, abs=1e-20)
    assert res.greedy_set == ALL9
    for fit in res.fits:
        assert fit.q_tot[1, 1] == pytest.approx(3.0, abs=1e-9)
        assert fit.info["top"] in fit.greedy


def test_problem_too_large_flows_through_methods():
    from stablepoint.errors import ProblemTooLargeError

    small_limit = get_method("qmix", solver="cvxpy", solver_options={"max_orderings": 35})
    with pytest.raises(ProblemTooLargeError, match="36 QPs"):
        small_limit.fit(TABLE5, (0, 0))
    with pytest.raises(ProblemTooLargeError, match="331,776"):
        get_method("wqmix", solver="cvxpy").fit(np.zeros((4, 4, 4, 4)), (0, 0, 0, 0))
    assert get_method("qmix", solver="cvxpy", solver_options={"max_orderings": 36}).fit(TABLE5, (0, 0)).loss > 0


@pytest.mark.parametrize("seed", range(6))
def test_greedy_only_losses_give_the_same_greedy_sets(seed):
    """losses="greedy" (cut-off searches) must decide exactly the greedy sets of losses="all"."""
    from stablepoint.methods import get_method

    rng = np.random.default_rng(seed)
    shape = [(3, 3), (2, 3, 2), (3, 4)][seed % 3]
    y = rng.integers(-6, 7, size=shape).astype(float) if seed % 2 else rng.normal(size=shape) * 4
    name, extra = [("qmix", {}), ("wqmix", {"alpha": 0.3})][seed % 2]
    eps = [1.0, 0.2, 0.0][seed % 3]
    full = get_method(name, epsilon=eps, solver="bnb", **extra)
    fast = get_method(name, epsilon=eps, solver="bnb", losses="greedy", **extra)
    for u in itertools.product(*(range(s) for s in shape)):
        a, b = full.fit(y, u), fast.fit(y, u)
        assert b.greedy_set == a.greedy_set, (u, a.greedy_set, b.greedy_set)
        assert b.loss == pytest.approx(a.loss, abs=1e-9)
        assert b.greedy_losses is None and a.greedy_losses is not None
        # every admitted action has a witness fit that makes it greedy
        assert set().union(*(f.greedy for f in b.fits)) >= b.greedy_set
