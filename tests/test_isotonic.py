"""Exact isotonic regression on DAGs: against cvxpy, a textbook PAVA, and its own warm start."""

import itertools

import numpy as np
import pytest

from stablepoint.errors import SettingsError
from stablepoint.projection.isotonic import (
    _irp_kernel,
    _irp_warm,
    isotonic_product,
    isotonic_regression,
    product_order_edges,
)


def random_dag(rng, n, p):
    perm = rng.permutation(n)
    return [(int(perm[a]), int(perm[b])) for a in range(n) for b in range(a + 1, n) if rng.random() < p]


def cvxpy_isotonic(y, w, edges):
    import cvxpy as cp

    x = cp.Variable(len(y))
    cons = [x[a] <= x[b] for a, b in edges]
    prob = cp.Problem(cp.Minimize(cp.sum(cp.multiply(w, cp.square(x - y)))), cons)
    prob.solve(solver=cp.CLARABEL, tol_gap_abs=1e-11, tol_gap_rel=1e-11, tol_feas=1e-11)
    return prob.value


def pava(y, w):
    """Textbook pool-adjacent-violators for a chain (independent of the partitioning code)."""
    blocks = []  # [value, weight, count]
    for yi, wi in zip(y, w):
        blocks.append([yi, wi, 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            v2, w2, c2 = blocks.pop()
            v1, w1, c1 = blocks.pop()
            blocks.append([(v1 * w1 + v2 * w2) / (w1 + w2), w1 + w2, c1 + c2])
    return np.concatenate([[v] * c for v, _, c in blocks])


def loss(x, y, w):
    return float(np.dot(w, (x - y) ** 2))


def test_random_dags_match_cvxpy():
    rng = np.random.default_rng(1)
    for trial in range(30):
        n = int(rng.integers(2, 20))
        edges = random_dag(rng, n, rng.uniform(0.05, 0.4))
        y = rng.normal(size=n) if trial % 2 else rng.integers(-3, 4, size=n).astype(float)
        w = rng.uniform(0.1, 1.0, size=n)
        if trial % 3 == 0:
            w[rng.random(n) < 0.3] = 0.0  # zero weights: only their order constraints count
        x = isotonic_regression(y, w, edges)
        ref = cvxpy_isotonic(y, w, edges)
        assert max([x[a] - x[b] for a, b in edges], default=0.0) <= 1e-12
        # Ours is exact: never worse than the interior-point answer, and equal up to its accuracy.
        assert loss(x, y, w) <= ref + 1e-9
        assert abs(loss(x, y, w) - ref) <= 1e-7 * max(1.0, ref)


def test_chain_matches_pava_exactly():
    rng = np.random.default_rng(2)
    for _ in range(50):
        n = int(rng.integers(2, 30))
        y = rng.normal(size=n)
        w = rng.uniform(0.1, 2.0, size=n)
        x = isotonic_regression(y, w, [(k, k + 1) for k in range(n - 1)])
        np.testing.assert_allclose(x, pava(y, w), rtol=0, atol=1e-12)


def test_level_sets_carry_weighted_means():
    # Two cells pooled with weights 1 and 3: (4*1 + 0*3) / 4 = 1 exactly.
    x = isotonic_regression([4.0, 0.0], [1.0, 3.0], [(0, 1)])
    assert x.tolist() == [1.0, 1.0]


def test_zero_weights_are_free_but_feasible():
    # Cell 1 has zero weight and sits between 0 and 2; the loss only sees 0 and 2.
    y = np.array([3.0, 100.0, 1.0])
    w = np.array([1.0, 0.0, 1.0])
    x = isotonic_regression(y, w, [(0, 1), (1, 2)])
    assert x[0] == x[2] == 2.0
    assert x[0] <= x[1] <= x[2]


def test_all_zero_weights_give_unweighted_fit():
    x = isotonic_regression([2.0, 0.0], [0.0, 0.0], [(0, 1)])
    assert x.tolist() == [1.0, 1.0]


def test_cycle_forces_equal_values():
    x = isotonic_regression([0.0, 2.0], None, [(0, 1), (1, 0)])
    assert x.tolist() == [1.0, 1.0]


def test_bad_input():
    with pytest.raises(SettingsError, match="outside"):
        isotonic_regression([1.0, 2.0], edges=[(0, 5)])
    with pytest.raises(SettingsError, match="non-negative"):
        isotonic_regression([1.0, 2.0], [1.0, -1.0])
    with pytest.raises(SettingsError, match="shape"):
        isotonic_regression([1.0, 2.0], [1.0])


def random_relation(rng, s, p):
    """A random strict partial order on range(s) (transitively closed)."""
    order = rng.permutation(s)
    rel = np.zeros((s, s), bool)
    for i, j in itertools.combinations(range(s), 2):
        if rng.random() < p:
            rel[order[i], order[j]] = True
    for k in range(s):  # Warshall closure
        rel |= np.outer(rel[:, k], rel[k, :])
    return rel


def test_product_order_matches_cvxpy_and_edges_are_covering():
    rng = np.random.default_rng(3)
    for shape in [(3, 3), (2, 3, 2), (4, 3)]:
        for _ in range(4):
            rels = [random_relation(rng, s, 0.5) for s in shape]
            y = rng.normal(size=shape)
            w = rng.uniform(0.1, 1.0, size=shape)
            x = isotonic_product(y, w, rels)
            edges = product_order_edges(shape, rels)
            ref = cvxpy_isotonic(y.ravel(), w.ravel(), edges.tolist())
            assert abs(loss(x.ravel(), y.ravel(), w.ravel()) - ref) <= 1e-7 * max(1.0, ref)
            # Covering edges imply every relation of the product order.
            for i, rel in enumerate(rels):
                for a, b in zip(*np.nonzero(rel)):
                    assert np.all(np.take(x, a, axis=i) <= np.take(x, b, axis=i) + 1e-12)


def test_warm_start_equals_cold_fit():
    rng = np.random.default_rng(4)
    shape = (4, 3, 3)
    for trial in range(25):
        coarse = [random_relation(rng, s, 0.3) for s in shape]
        fine = [c | random_relation(rng, s, 0.3) for c, s in zip(coarse, shape)]
        for k in range(len(shape)):  # close the union again
            for m in range(shape[k]):
                fine[k] |= np.outer(fine[k][:, m], fine[k][m, :])
        if any((f & f.T).any() for f in fine):
            continue  # the union created a cycle; not a partial order
        y = rng.integers(-4, 5, size=shape).astype(float) if trial % 2 else rng.normal(size=shape)
        w = rng.uniform(0.0, 1.0, size=shape)
        e0 = product_order_edges(shape, coarse)
        e1 = product_order_edges(shape, fine)
        x0, lab0 = _irp_kernel(y.ravel(), w.ravel(), e0[:, 0].copy(), e0[:, 1].copy(), 1e-12)
        cold, _ = _irp_kernel(y.ravel(), w.ravel(), e1[:, 0].copy(), e1[:, 1].copy(), 1e-12)
        warm, _, ok = _irp_warm(y.ravel(), w.ravel(), e1[:, 0].copy(), e1[:, 1].copy(), 1e-12, x0, lab0, 50)
        assert ok
        assert abs(loss(warm, y.ravel(), w.ravel()) - loss(cold, y.ravel(), w.ravel())) <= 1e-12
        positive = w.ravel() > 0
        np.testing.assert_allclose(warm[positive], cold[positive], atol=1e-10)


def test_plain_python_fallback_agrees():
    """The kernels also run uncompiled (no numba): same answer on a small case."""
    rng = np.random.default_rng(5)
    y = rng.normal(size=6)
    edges = np.array([(0, 1), (1, 2), (0, 3), (3, 4), (4, 5), (2, 5)])
    w = rng.uniform(0.1, 1, size=6)
    fast, _ = _irp_kernel(y, w, edges[:, 0].copy(), edges[:, 1].copy(), 1e-12)
    kernel = getattr(_irp_kernel, "py_func", _irp_kernel)
    slow, _ = kernel(y, w, edges[:, 0].copy(), edges[:, 1].copy(), 1e-12)
    np.testing.assert_allclose(fast, slow, atol=1e-14)
