"""Numeric range (issue 16, item 1): every method and exact solver answers the same at any payoff scale.

The methods and solvers work on the payoff divided by its power-of-two scale
(the unit range of :mod:`stablepoint.tolerances`) and report in the payoff's
units.  So for a payoff ``c * Y`` the greedy sets, stable kinds and certified
flags are those of ``Y``; Q_tot is ``c`` times and losses ``c**2`` times
Y's, overflowing to inf exactly where that true value is beyond float64 and
underflowing to 0 where it is below.  Before the fix, squared losses overflowed
at |Y| ~ 1e154 and absolute tolerances made everything a tie at 1e-300.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from stablepoint.catalog import get_game
from stablepoint.methods import get_method
from stablepoint.methods.qplex import qplex_q_tot
from stablepoint.payoff import Payoff
from stablepoint.projection import bnb, ideal_qmix
from stablepoint.projection.isotonic import isotonic_regression
from stablepoint.stability import analyze

GAMES = {
    "table5": get_game("table5").values,
    "random3x3": np.round(np.random.default_rng(16).normal(size=(3, 3)) * 4.0, 3),
    "pm1": np.array([[1.0, -1.0], [-1.0, 1.0]]),
}
SCALES = [1e-300, 1e-150, 1e150, 1e300]
METHODS = {
    "vdn": {},
    "vdn-eps": {"epsilon": 0.5},
    "qmix": {},
    "qmix-eps": {"epsilon": 0.5},
    "qmix-greedy": {"epsilon": 0.5, "losses": "greedy"},
    "wqmix": {},
    "resq": {},
    "resq-eps": {"epsilon": 0.5},
    "mrvf": {},
    "mrvf-eps": {"epsilon": 0.5},
    "qplex": {},
}

_UNIT: dict = {}


def _method(key):
    return get_method(key.split("-")[0], **METHODS[key])


def _unit(game, key):
    if (game, key) not in _UNIT:
        _UNIT[game, key] = analyze(GAMES[game], _method(key))
    return _UNIT[game, key]


def _ldexp(x, n):
    """``x * 2**n`` exactly, inf / 0 where that is beyond float64."""
    with np.errstate(over="ignore", under="ignore"):
        return np.ldexp(x, n)


def _spread(y):
    return float(np.max(y) - np.min(y))


def _check_loss(actual, unit, s, spread):
    """``actual`` is ``unit * s**2`` (relative), inf / 0 exactly where that product over/underflows."""
    noise = 1e-12 * spread**2  # unit losses this small are rounding noise of an exact 0
    if unit <= noise:
        assert 0.0 <= actual <= noise * s * s
        return
    expected = unit * s * s
    if math.isinf(expected):
        assert actual == math.inf
    else:
        assert math.isfinite(actual)
        assert actual == pytest.approx(expected, rel=1e-9, abs=1e-322)


def _check_same_analysis(res, unit, s, spread):
    assert dict(res.kinds) == dict(unit.kinds)
    assert res.optimal == unit.optimal
    assert res.attractors == unit.attractors
    assert res.certified == unit.certified
    for u, fit in unit.transitions.items():
        got = res.transitions[u]
        assert got.greedy_set == fit.greedy_set, u
        assert got.certified == fit.certified
        _check_loss(got.loss, fit.loss, s, spread)
        if fit.greedy_losses is None:
            assert got.greedy_losses is None
        else:
            for v, loss in fit.greedy_losses.items():
                _check_loss(got.greedy_losses[v], loss, s, spread)
        assert len(got.fits) == len(fit.fits)
        for f_unit in fit.fits:
            expected = f_unit.q_tot * s
            assert any(
                np.allclose(f.q_tot, expected, rtol=1e-9, atol=1e-9 * spread * s) and f.greedy == f_unit.greedy
                for f in got.fits
            ), u


@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("game", sorted(GAMES))
@pytest.mark.parametrize("key", sorted(METHODS))
def test_analysis_is_scale_free(key, game, scale):
    y = GAMES[game]
    res = analyze(Payoff(y * scale), _method(key))
    _check_same_analysis(res, _unit(game, key), scale, _spread(y))


@pytest.mark.parametrize("key", ["vdn", "qmix-eps", "wqmix", "resq", "mrvf-eps", "qplex"])
@pytest.mark.parametrize("j", [-1060, -500, 500])
def test_power_of_two_scaling_is_exact(key, j):
    """Scaling by 2**j (down to subnormal payoffs) is exact: same sets, losses exactly times 4**j."""
    y = GAMES["table5"]
    unit = _unit("table5", key)
    res = analyze(Payoff(np.ldexp(y, j)), _method(key))
    assert dict(res.kinds) == dict(unit.kinds) and res.optimal == unit.optimal
    for u, fit in unit.transitions.items():
        got = res.transitions[u]
        assert got.greedy_set == fit.greedy_set
        assert got.loss == _ldexp(fit.loss, 2 * j)
        assert all(np.array_equal(a.q_tot, _ldexp(b.q_tot, j)) for a, b in zip(got.fits, fit.fits))


@pytest.mark.parametrize("key", sorted(METHODS))
def test_pm_1e308_matches_unit_game(key):
    """The issue's case: on a +-1e308 2x2 the -1e308 cells are not stable and losses are inf, not 0."""
    unit_y = np.array([[1.0, -1.0], [-1.0, -1.0]])
    unit = analyze(unit_y, _method(key))
    res = analyze(unit_y * 1e308, _method(key))
    assert dict(res.kinds) == dict(unit.kinds)
    if key.startswith(("qmix", "wqmix", "vdn", "qplex")):
        assert dict(res.kinds) == {(0, 0): "strong"}
    for u, fit in unit.transitions.items():
        got = res.transitions[u]
        assert got.greedy_set == fit.greedy_set
        # 1e308**2 overflows: a positive loss is inf (its true value is ~1e616), an exact 0 stays 0.
        if fit.loss == 0.0:
            assert got.loss == 0.0
        else:
            _check_loss(got.loss, fit.loss, 1e308, 2.0)
        for a, b in zip(got.fits, fit.fits):
            # Finite where the true value is: only MRVF's round target (2e308 above -1e308) overflows.
            with np.errstate(over="ignore"):
                expected = b.q_tot * 1e308
            assert np.all(np.isfinite(expected)) or key.startswith("mrvf")
            np.testing.assert_allclose(a.q_tot, expected, rtol=1e-12)


def test_diagonal_1e308_loss_is_inf_and_sets_unchanged():
    y = np.array([[1.0, -1.0], [-1.0, 1.0]])
    for name in ("qmix", "vdn", "wqmix"):
        unit = get_method(name).fit(y, (0, 0))
        big = get_method(name).fit(y * 1e308, (0, 0))
        assert big.greedy_set == unit.greedy_set and unit.loss > 0 and big.loss == math.inf


@pytest.mark.parametrize("scale", [1e-300, 1e300, 1e308])
def test_witness_info_is_in_payoff_units(scale):
    """Info entries in payoff units are scaled with Q_tot: the witnesses still reproduce it."""
    y = GAMES["table5"] / 12.0 * scale
    u = (1, 1)
    for f in get_method("qplex").fit(y, u).fits:
        np.testing.assert_allclose(qplex_q_tot(f.info["q"], f.info["w"], u), f.q_tot, rtol=1e-9,
                                   atol=1e-9 * scale)
        assert math.isclose(f.info["level"], float(f.q_tot[u]), rel_tol=1e-12)
    for f in get_method("resq").fit(y, u).fits:
        w_r = np.ones(y.shape)
        w_r[u] = 0.0
        assert np.all(np.isfinite(f.info["q_mon"])) and np.all(np.isfinite(f.q_tot)) and np.all(f.info["q_r"] <= 0)
        if scale < 1e308:  # at 1e308, Q_r = Y - Q_mon itself is beyond float64 (-1e308 - 1e308): -inf
            np.testing.assert_allclose(f.info["q_mon"] + w_r * f.info["q_r"], f.q_tot, rtol=1e-9,
                                       atol=1e-9 * scale)
    for f in get_method("vdn").fit(y, u).fits:
        q1, q2 = f.info["utilities"]
        np.testing.assert_allclose(q1[:, None] + q2[None, :], f.q_tot, rtol=1e-9, atol=1e-9 * scale)
    trace = get_method("mrvf").rounds(Payoff(y))
    unit = get_method("mrvf").rounds(get_game("table5"))
    assert [(r.k, r.previous, r.outcome) for r in trace.rounds] == [(r.k, r.previous, r.outcome) for r in unit.rounds]
    for a, b in zip(trace.rounds, unit.rounds):
        np.testing.assert_allclose(a.target, b.target / 12.0 * scale, rtol=1e-9, atol=1e-12 * scale)


@pytest.mark.parametrize("solver", ["bnb", "cvxpy"])
@pytest.mark.parametrize("scale", [1e-300, 1e300])
def test_projection_solvers_are_scale_free(solver, scale):
    y = GAMES["table5"]
    w = np.full(y.shape, 1 / 9)
    for top in (None, (0, 0)):
        unit = ideal_qmix(y, w, top=top, solver=solver)
        res = ideal_qmix(y * scale, w, top=top, solver=solver)
        assert res.greedy == unit.greedy and res.certified and len(res.fits) == len(unit.fits)
        expected = unit.loss * scale * scale
        if math.isinf(expected):
            assert res.loss == math.inf and res.bound == math.inf
        else:
            assert res.loss == pytest.approx(expected, rel=1e-9)
        np.testing.assert_allclose(res.q_tot, unit.q_tot * scale, rtol=1e-9, atol=1e-9 * scale)


def test_cvxpy_qmix_on_tiny_and_huge_2x2():
    y = np.array([[1.0, -1.0], [-1.0, -1.0]])
    unit = analyze(y, get_method("qmix", solver="cvxpy", epsilon=0.5))
    for scale in (1e-300, 1e308):
        res = analyze(y * scale, get_method("qmix", solver="cvxpy", epsilon=0.5))
        assert dict(res.kinds) == dict(unit.kinds) == {(0, 0): "strong"}
        assert all(res.greedy_set(u) == unit.greedy_set(u) for u in unit.transitions)


def test_batch_greedy_losses_and_cutoff_in_payoff_units():
    y = GAMES["random3x3"]
    w = np.full(y.shape, 1 / 9)
    unit = bnb.greedy_losses(y, w)
    for scale in (1e-150, 1e150):
        res = bnb.greedy_losses(y * scale, w)
        assert res.greedy_set == unit.greedy_set
        for u, loss in unit.losses.items():
            assert res.losses[u] == pytest.approx(loss * scale**2, rel=1e-9)
        cut = bnb.greedy_losses(y * scale, w, cutoff=unit.loss * scale**2 * (1 + 1e-6))
        assert cut.greedy_set == unit.greedy_set
        assert all(cut.exact[u] for u in unit.greedy_set)


def test_scale_exponent_and_payoff_ties_are_relative():
    from stablepoint.tolerances import scale_exponent

    y = GAMES["table5"]
    assert scale_exponent(y * 2.0**-1000) == scale_exponent(y) - 1000
    assert scale_exponent(y + 1e4) == scale_exponent(y)  # the spread, not max|Y|
    tiny = Payoff(y * 1e-300)
    assert tiny.optimal_actions() == [(0, 0)] and tiny.worst_actions() == Payoff(y).worst_actions()
    assert not tiny.is_constant()
    np.testing.assert_allclose(isotonic_regression([1e308, -1e308, 5e307], edges=[(0, 1), (1, 2)]),
                               [0.0, 0.0, 5e307])


def test_progress_reports_are_in_payoff_units():
    y = GAMES["table5"]
    w = np.full(y.shape, 1 / 9)
    for scale in (1e-100, 1e100):
        seen = []
        res = get_method("qmix", solver_options={"progress": seen.append}).fit(y * scale, (0, 0))
        final = [p for p in seen if p.gap == 0.0]
        assert final and all(math.isclose(p.incumbent, p.bound) for p in final)
        assert min(p.incumbent for p in final) == pytest.approx(res.loss, rel=1e-9)
        assert res.loss == pytest.approx(bnb.solve(y, w).loss * scale**2, rel=1e-9)
