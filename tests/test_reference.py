"""The cvxpy reference projection against an independent active-set computation.

The second computation solves each fixed-order QP through its dual, a
non-negative least-squares problem (Moreau decomposition: the projection onto
the cone {z : G z <= 0} is c - G^T lam with lam = argmin_{lam >= 0} |G^T lam - c|),
with scipy's Lawson-Hanson NNLS and its own constraint matrix, so it shares no
code with ``reference.py``.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy.optimize import nnls

from stablepoint.catalog import get_game
from stablepoint.errors import ProblemTooLargeError, SettingsError
from stablepoint.projection import ideal_qmix
from stablepoint.projection.reference import count_orderings, solve
from stablepoint.projection.result import greedy_of
from stablepoint.visitation import centralized

TABLE5 = np.array([[8.0, -12, -12], [-12, 3, 0], [-12, 0, 5]])
UNIFORM9 = np.full((3, 3), 1 / 9)


def _constraints(shape, orders):
    """Rows x[lo] - x[hi] for consecutive pairs, built cell by cell."""
    n_joint = math.prod(shape)
    rows = []
    for i, order in enumerate(orders):
        for lo, hi in zip(order[:-1], order[1:]):
            for u in itertools.product(*(range(s) for s in shape)):
                if u[i] != lo:
                    continue
                v = list(u)
                v[i] = hi
                row = np.zeros(n_joint)
                row[np.ravel_multi_index(u, shape)] = 1.0
                row[np.ravel_multi_index(tuple(v), shape)] = -1.0
                rows.append(row)
    return np.array(rows)


def _nnls_fit(y, w, orders):
    sw = np.sqrt(w.ravel())
    g = _constraints(y.shape, orders) / sw[None, :]
    c = sw * y.ravel()
    lam, _ = nnls(g.T, c, maxiter=50 * g.shape[0])
    x = (c - g.T @ lam) / sw
    return x.reshape(y.shape), float(np.dot(w.ravel(), (x - y.ravel()) ** 2))


def _brute_force(y, w, top=None, atol=1e-7):
    """(best loss, greedy set of all optimal fits) over every order combination, via NNLS."""
    per_agent = []
    for i, a in enumerate(y.shape):
        perms = list(itertools.permutations(range(a)))
        per_agent.append([p for p in perms if top is None or p[-1] == top[i]])
    results = [_nnls_fit(y, w, orders) for orders in itertools.product(*per_agent)]
    best = min(loss for _, loss in results)
    greedy = frozenset().union(
        *(greedy_of(x, atol) for x, loss in results if abs(loss - best) <= 1e-7 * max(1.0, best))
    )
    return best, greedy, results


def test_table5_uniform_optimum_matches_paper_and_nnls():
    res = solve(TABLE5, UNIFORM9)
    best, greedy, results = _brute_force(TABLE5, UNIFORM9)
    assert res.loss == pytest.approx(326 / 9, abs=1e-9)
    assert best == pytest.approx(326 / 9, abs=1e-9)
    assert res.greedy == greedy == frozenset({(2, 2)})
    expected = np.array([[-8, -8, -8], [-8, 1, 1], [-8, 1, 5]], dtype=float)
    np.testing.assert_allclose(res.q_tot, expected, atol=1e-9)
    nnls_x = min(results, key=lambda r: r[1])[0]
    np.testing.assert_allclose(nnls_x, expected, atol=1e-9)
    assert len(res.fits) == 1 and res.certified and res.stats["n_qp"] == 36


def test_table5_constrained_to_u_star_matches_paper_and_nnls():
    res = solve(TABLE5, UNIFORM9, top=(0, 0))
    best, greedy, results = _brute_force(TABLE5, UNIFORM9, top=(0, 0))
    assert res.loss == pytest.approx(410 / 9, abs=1e-9)
    assert best == pytest.approx(410 / 9, abs=1e-9)
    expected = np.array([[8, -5, -5], [-5, -5, -5], [-5, -5, -5]], dtype=float)
    np.testing.assert_allclose(res.q_tot, expected, atol=1e-9)
    np.testing.assert_allclose(min(results, key=lambda r: r[1])[0], expected, atol=1e-9)
    assert res.greedy == greedy == frozenset({(0, 0)})
    assert res.stats["n_qp"] == 4


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("shape", [(3, 3), (2, 2, 2), (2, 3)])
def test_random_payoffs_match_nnls(shape, seed):
    rng = np.random.default_rng(seed)
    # Small integers make ties between orders common; floats exercise the generic case.
    y = rng.integers(-3, 4, size=shape).astype(float) if seed % 2 else rng.normal(size=shape)
    w = rng.uniform(0.2, 1.0, size=shape)
    w /= w.sum()
    res = solve(y, w)
    best, greedy, _ = _brute_force(y, w)
    assert res.loss == pytest.approx(best, abs=1e-8)
    assert res.greedy == greedy
    top = tuple(int(rng.integers(s)) for s in shape)
    res_top = solve(y, w, top=top)
    best_top, greedy_top, _ = _brute_force(y, w, top=top)
    assert res_top.loss == pytest.approx(best_top, abs=1e-8)
    assert res_top.greedy == greedy_top and top in res_top.greedy
    assert res_top.loss >= res.loss - 1e-9


def test_every_fit_is_monotone_under_its_orders_and_has_the_reported_loss():
    rng = np.random.default_rng(7)
    y = rng.integers(-2, 3, size=(3, 3)).astype(float)
    w = centralized((3, 3), (1, 2), 0.3)
    res = solve(y, w)
    for fit in res.fits:
        d = _constraints(y.shape, fit.orders)
        assert np.max(d @ fit.q_tot.ravel()) <= 1e-9
        assert fit.loss == pytest.approx(float(np.sum(w * (fit.q_tot - y) ** 2)), abs=1e-12)
        assert fit.loss == pytest.approx(res.loss, abs=1e-7)


def test_ties_between_orders_are_kept_as_separate_optima():
    # Symmetric payoff: the four order combinations all reach loss 1/6.
    res = solve(np.eye(2), np.full((2, 2), 0.25))
    assert res.loss == pytest.approx(1 / 6, abs=1e-10)
    assert len(res.fits) == 4
    assert res.greedy == frozenset(itertools.product(range(2), range(2)))


def test_zero_weights_optimum_is_one_of_many():
    # epsilon = 0: only u~ is weighted, so loss 0 and every order combination is optimal.
    w = centralized((3, 3), (0, 0), 0.0)
    res = solve(TABLE5, w)
    assert res.loss == pytest.approx(0.0, abs=1e-12)
    assert len(res.fits) == 36
    for fit in res.fits:
        assert fit.q_tot[0, 0] == pytest.approx(8.0, abs=1e-7)
    assert solve(TABLE5, w, top=(1, 1)).loss == pytest.approx(0.0, abs=1e-12)


def test_ideal_qmix_dispatches_to_the_reference():
    res = ideal_qmix(TABLE5, UNIFORM9, solver="cvxpy", top=(2, 2))
    assert res.loss == pytest.approx(326 / 9, abs=1e-9)
    assert res.stats["solver"] == "cvxpy/CLARABEL"


def test_progress_callback_counts_every_qp():
    calls = []
    solve(TABLE5, UNIFORM9, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(k, 36) for k in range(1, 37)]


def test_too_many_orderings_is_refused_with_count_and_advice():
    assert count_orderings((4, 4, 4, 4)) == 24**4
    with pytest.raises(ProblemTooLargeError, match="331,776.*max_orderings"):
        solve(np.zeros((4, 4, 4, 4)), np.ones((4, 4, 4, 4)))
    with pytest.raises(ProblemTooLargeError, match="36 QPs.*bnb"):
        solve(TABLE5, UNIFORM9, max_orderings=35)
    assert solve(TABLE5, UNIFORM9, top=(0, 0), max_orderings=4).loss == pytest.approx(410 / 9)
    with pytest.raises(SettingsError, match="max_orderings"):
        solve(TABLE5, UNIFORM9, max_orderings=0)


@pytest.mark.parametrize(
    "weights, top, match",
    [
        (np.ones((3, 2)), None, "shape"),
        (-UNIFORM9, None, "non-negative"),
        (UNIFORM9, (3, 0), "out of range"),
        (UNIFORM9, (0,), "out of range"),
    ],
)
def test_bad_inputs_raise_settings_error(weights, top, match):
    with pytest.raises(SettingsError, match=match):
        solve(TABLE5, weights, top=top)


def test_catalog_qtran_game_uniform():
    y = get_game("qtran").values
    res = solve(y, UNIFORM9)
    best, greedy, _ = _brute_force(y, UNIFORM9)
    assert res.loss == pytest.approx(best, abs=1e-9)
    assert res.greedy == greedy
    # 8 at (1,1) and -6 elsewhere (loss 288/9) beats pooling row and column 1 at -8 (320/9).
    assert res.loss == pytest.approx(32.0, abs=1e-9) and res.greedy == frozenset({(0, 0)})


@pytest.mark.parametrize("scale, shift", [(1e-2, 0.0), (1e6, 0.0), (1e9, 5e9), (1.0, -1e4)])
def test_scale_and_shift_do_not_change_the_answer(scale, shift):
    # Monotonicity and the argmin are invariant under Y -> a Y + b (a > 0); losses scale by a^2.
    res = solve(scale * TABLE5 + shift, UNIFORM9)
    assert res.loss / scale**2 == pytest.approx(326 / 9, rel=1e-9)
    assert res.greedy == frozenset({(2, 2)}) and len(res.fits) == 1
    np.testing.assert_allclose((res.q_tot - shift) / scale, [[-8, -8, -8], [-8, 1, 1], [-8, 1, 5]], atol=1e-9)


@pytest.mark.slow
@pytest.mark.parametrize("shape", [(4, 4), (3, 3, 3), (2, 2, 2, 2)])
@pytest.mark.parametrize("seed", range(3))
def test_larger_shapes_match_nnls(shape, seed):
    rng = np.random.default_rng(1000 + seed)
    y = rng.integers(-3, 4, size=shape).astype(float) if seed % 2 else rng.normal(size=shape)
    w = rng.uniform(0.1, 1.0, size=shape)
    w /= w.sum()
    res = solve(y, w)
    best, greedy, _ = _brute_force(y, w)
    assert res.loss == pytest.approx(best, abs=1e-8)
    assert res.greedy == greedy
