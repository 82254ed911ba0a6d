"""Stability analysis: graph logic against test-double methods and an independent reachability computation."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stablepoint.errors import SettingsError
from stablepoint.methods.base import FitResult
from stablepoint.payoff import Payoff
from stablepoint.stability import (
    analyze,
    attractors,
    basin_all,
    basin_some,
    is_attractor,
    is_stable_point,
    is_strongly_stable,
    number_attractors,
    number_stable_points,
    stability_kinds,
    sweep_epsilon,
    transition_graph,
)


class TableMethod:
    """A test double: the greedy set of each u~ is read from an explicit transition table."""

    name = "table"

    def __init__(self, table, certified=True):
        self.table = {tuple(u): frozenset(tuple(v) for v in vs) for u, vs in table.items()}
        self.certified = certified
        self.calls = []

    def fit(self, payoff, u_tilde):
        u = tuple(u_tilde)
        self.calls.append(u)
        return FitResult(self.name, u, float(len(self.calls)), self.table[u], (), certified=self.certified)

    def settings(self):
        return {"kind": "table"}


def grid_table(shape, mapping):
    """Every joint action of ``shape`` -> its greedy set; 0-based."""
    return {u: mapping[u] for u in itertools.product(*(range(s) for s in shape))}


# --------------------------------------------------------------------------- independent reference


def closure(nodes, edges):
    """Reachability (paths of length >= 0) by boolean matrix squaring: no networkx involved."""
    index = {u: i for i, u in enumerate(nodes)}
    r = np.eye(len(nodes), dtype=bool)
    for u, v in edges:
        r[index[u], index[v]] = True
    for _ in range(len(nodes).bit_length() + 1):
        r = r | ((r.astype(int) @ r.astype(int)) > 0)
    return index, r


def reference_analysis(table):
    nodes = list(table)
    edges = [(u, v) for u, vs in table.items() for v in vs]
    index, r = closure(nodes, edges)
    reach = {u: {v for v in nodes if r[index[u], index[v]]} for u in nodes}
    # u lies in an attractor iff everything it reaches reaches back to it; the attractor is reach(u).
    atts = {frozenset(reach[u]) for u in nodes if all(u in reach[v] for v in reach[u])}
    some = {a: frozenset(x for x in nodes if reach[x] & a) for a in atts}
    every = {
        a: frozenset(x for x in nodes if all(any(y in b for y in reach[x]) == (b == a) for b in atts))
        for a in atts
    }
    kinds = {}
    for u, vs in table.items():
        if u in vs:
            kinds[u] = "strong" if len(set(vs)) == 1 else "weak"
    return atts, some, every, kinds


@st.composite
def random_tables(draw):
    n = draw(st.integers(min_value=1, max_value=9))
    nodes = [(i,) for i in range(n)]
    table = {}
    for u in nodes:
        succ = draw(st.sets(st.sampled_from(nodes), min_size=1, max_size=min(3, n)))
        table[u] = sorted(succ)
    return table


@settings(max_examples=150, deadline=None)
@given(random_tables())
def test_graph_logic_matches_independent_reachability(table):
    g = transition_graph(table)
    atts, some, every, kinds = reference_analysis(table)
    assert set(attractors(g)) == atts
    assert number_attractors(g) == len(atts)
    assert stability_kinds(g) == kinds
    assert number_stable_points(g) == len(kinds)
    for a in atts:
        assert is_attractor(g, a)
        assert basin_some(g, a) == some[a]
        assert basin_all(g, a) == every[a]
    # Every node reaches some attractor; "every path" basins are disjoint.
    assert set().union(*some.values()) == set(table)
    alls = list(every.values())
    assert all(not (x & y) for x, y in itertools.combinations(alls, 2))


# --------------------------------------------------------------------------- hand-built cases


def test_two_cycle_is_an_attractor_without_stable_points():
    payoff = Payoff([[1.0, 2.0], [3.0, 4.0]], name="toy")
    table = grid_table((2, 2), {(0, 0): [(0, 1)], (0, 1): [(1, 0)], (1, 0): [(0, 1)], (1, 1): [(0, 0)]})
    res = analyze(payoff, TableMethod(table))
    assert res.kinds == {}
    assert res.attractors == (frozenset({(0, 1), (1, 0)}),)
    assert res.attractor_kind(0) == "cycle"
    assert res.basins_some[0] == res.basins_all[0] == frozenset(table)
    # The optimum (2, 2) (0-based (1, 1)) is neither stable nor reachable from anywhere but itself.
    assert res.optimal == ((1, 1),)
    assert not res.optimum_stable
    assert res.optimum_reachable_from == frozenset({(1, 1)})
    assert not res.optimum_reachable_from_every
    assert res.optimum_guaranteed_from == frozenset()


def test_weak_point_tie_and_basins_some_versus_every():
    payoff = Payoff([[5.0, 0.0], [0.0, 4.0]])
    table = grid_table(
        (2, 2),
        {
            (0, 0): [(0, 0)],  # strongly stable optimum
            (1, 1): [(1, 1)],  # strongly stable suboptimum
            (0, 1): [(0, 0), (1, 1)],  # tie between the two attractors
            (1, 0): [(1, 0), (0, 1)],  # weakly stable, not an attractor
        },
    )
    res = analyze(payoff, TableMethod(table))
    assert dict(res.kinds) == {(0, 0): "strong", (1, 0): "weak", (1, 1): "strong"}
    assert res.stable_points == ((0, 0), (1, 0), (1, 1))
    assert res.attractors == (frozenset({(0, 0)}), frozenset({(1, 1)}))
    everything = frozenset(table)
    assert res.basins_some == (everything - {(1, 1)}, everything - {(0, 0)})
    assert res.basins_all == (frozenset({(0, 0)}), frozenset({(1, 1)}))
    assert res.optimum_stable and not res.optimum_reachable_from_every
    assert res.optimum_reachable_from == everything - {(1, 1)}
    assert res.optimum_guaranteed_from == frozenset({(0, 0)})
    g = res.graph
    assert is_stable_point(g, (1, 0)) and not is_strongly_stable(g, (1, 0))
    assert is_strongly_stable(g, (0, 0))
    assert not is_attractor(g, [(1, 0)])


def test_optimum_in_a_weak_closed_set_like_resq():
    # ResQ-like: the two optima tie with each other; everything else goes to one of them.
    payoff = Payoff([[3.0, 0.0], [0.0, 3.0]])
    opt = [(0, 0), (1, 1)]
    table = grid_table((2, 2), {(0, 0): opt, (1, 1): opt, (0, 1): [(0, 0)], (1, 0): [(1, 1)]})
    res = analyze(payoff, TableMethod(table))
    assert dict(res.kinds) == {(0, 0): "weak", (1, 1): "weak"}
    assert res.attractors == (frozenset(opt),)
    assert res.optimum_guaranteed_from == frozenset(table)


def test_analyze_calls_fit_once_per_u_tilde_in_c_order_and_reports_progress():
    payoff = Payoff(np.arange(8.0).reshape(2, 2, 2))
    table = {u: [(1, 1, 1)] for u in itertools.product(range(2), repeat=3)}
    method = TableMethod(table)
    seen = []
    res = analyze(payoff, method, progress=lambda d, t, f: seen.append((d, t, f.u_tilde)))
    assert method.calls == list(itertools.product(range(2), repeat=3))
    assert [s[:2] for s in seen] == [(k, 8) for k in range(1, 9)]
    assert res.kinds == {(1, 1, 1): "strong"}
    assert res.settings == {"kind": "table"}
    assert res.certified
    assert not analyze(payoff, TableMethod(table, certified=False)).certified
    with pytest.raises(TypeError):
        res.settings["x"] = 1  # read-only mapping


def test_analyze_rejects_method_bugs():
    payoff = Payoff([[1.0, 0.0], [0.0, 0.0]])

    class Wrong:
        name = "wrong"

        def fit(self, payoff, u):
            return FitResult("wrong", (0, 0), 0.0, frozenset({(0, 0)}), ())

    class Empty:
        name = "empty"

        def fit(self, payoff, u):
            return FitResult("empty", u, 0.0, frozenset(), ())

    with pytest.raises(ValueError, match="returned u~"):
        analyze(payoff, Wrong())
    with pytest.raises(ValueError, match="empty"):
        analyze(payoff, Empty())
    with pytest.raises(SettingsError, match="no fit"):
        analyze(payoff, object())


# --------------------------------------------------------------------------- sweeps


class ThresholdMethod:
    """Stability of each u~ switches at its own epsilon threshold (a test double for sweeps)."""

    name = "threshold"

    def __init__(self, eps, thresholds, weak_band=None):
        self.eps = eps
        self.thresholds = thresholds
        self.weak_band = weak_band

    def fit(self, payoff, u):
        u = tuple(u)
        target = (0, 0)
        greedy = {target}
        if u in self.thresholds and self.eps < self.thresholds[u]:
            greedy = {u}
        if self.weak_band is not None and u == self.weak_band[0] and self.weak_band[1] <= self.eps < self.weak_band[2]:
            greedy = {u, target}
        return FitResult(self.name, u, 0.0, frozenset(greedy), ())

    def settings(self):
        return {"epsilon": self.eps}


def test_sweep_brackets_every_critical_epsilon():
    payoff = Payoff(np.array([[9.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 2.0]]))
    thresholds = {(1, 1): 0.23, (2, 2): 0.71}
    factory = lambda e: ThresholdMethod(e, thresholds, weak_band=((0, 2), 0.4, 0.6))  # noqa: E731
    calls = []
    sw = sweep_epsilon(payoff, factory, [0.0, 0.2, 0.4, 0.6, 0.8, 1.0], tol=1e-4, progress=lambda *a: calls.append(a[:2]))
    assert sw.epsilons == (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
    sets = sw.stable_sets()
    assert sets[0] == {(0, 0), (1, 1), (2, 2)} and sets[-1] == {(0, 0)}
    assert sw.kinds()[2] == {(0, 0): "strong", (0, 2): "weak", (2, 2): "strong"}
    found = {(c.action, c.before, c.after): c for c in sw.critical}
    assert set(found) == {
        ((1, 1), "strong", None),
        ((0, 2), None, "weak"),
        ((0, 2), "weak", None),
        ((2, 2), "strong", None),
    }
    truth = {((1, 1), "strong", None): 0.23, ((0, 2), None, "weak"): 0.4, ((0, 2), "weak", None): 0.6, ((2, 2), "strong", None): 0.71}
    for key, c in found.items():
        assert c.hi - c.lo <= 1e-4
        # Kinds at the bracket ends are exactly as reported: the threshold lies in (lo, hi].
        assert c.lo < truth[key] <= c.hi
    assert [c.lo for c in sw.critical] == sorted(c.lo for c in sw.critical)
    # Progress: done counts up by one to a final total that includes the bisection fits.
    assert [d for d, _ in calls] == list(range(1, len(calls) + 1))
    assert calls[-1][0] == calls[-1][1]


def test_sweep_without_changes_and_bad_settings():
    payoff = Payoff([[1.0, 0.0], [0.0, 0.0]])
    factory = lambda e: ThresholdMethod(e, {})  # noqa: E731
    sw = sweep_epsilon(payoff, factory, [1.0, 0.5, 0.5])
    assert sw.epsilons == (0.5, 1.0) and sw.critical == ()
    with pytest.raises(SettingsError, match="epsilon"):
        sweep_epsilon(payoff, factory, [0.5, 1.5])
    with pytest.raises(SettingsError, match="tolerance"):
        sweep_epsilon(payoff, factory, [0.5], tol=0)
    with pytest.raises(SettingsError, match="empty"):
        sweep_epsilon(payoff, factory, [])


# --------------------------------------------------------------------------- the real methods


def test_qmix_table5_uniform_everything_goes_to_3_3():
    from stablepoint.catalog import get_game
    from stablepoint.methods import get_method

    payoff = get_game("table5")
    method = get_method("qmix", visitation="uniform")
    res = analyze(payoff, method)
    everything = frozenset(payoff.joint_actions())
    # MRVF Table 5: every u~ -> (3, 3) (1-based), which is strongly stable; the optimum (1, 1) is not stable.
    assert all(f.greedy_set == {(2, 2)} for f in res.transitions.values())
    assert dict(res.kinds) == {(2, 2): "strong"}
    assert res.attractors == (frozenset({(2, 2)}),)
    assert res.basins_some == res.basins_all == (everything,)
    assert not res.optimum_stable and res.optimum_reachable_from == {(0, 0)}
    assert all(f.loss == pytest.approx(326 / 9) for f in res.transitions.values())
    # Second code path: QMIX's own shortcut (one fit serves every u~ under uniform visitation).
    assert method.stable_points(payoff) == frozenset(res.kinds)


def _resq_payoffs():
    from stablepoint.catalog import get_game

    names = ["table4a", "table4c", "table4d", "table5", "qtran", "game-b", "table11", "risk-reward:agents=3,actions=2,seed=1"]
    rng = np.random.default_rng(7)
    randoms = [Payoff(rng.integers(-5, 6, size=shape).astype(float), name=f"random{k}")
               for k, shape in enumerate([(3, 3), (2, 4), (3, 3), (2, 2, 3)])]
    return [get_game(n) for n in names] + randoms


@pytest.mark.parametrize("payoff", _resq_payoffs(), ids=lambda p: p.name)
def test_resq_optima_weakly_stable_nothing_else(payoff):
    from stablepoint.methods import get_method

    res = analyze(payoff, get_method("resq", epsilon=0.3))
    # MRVF Theorem 3: every optimal joint action is weakly (never strongly) stable, nothing else is stable.
    assert dict(res.kinds) == {u: "weak" for u in payoff.optimal_actions()}
    assert res.optimum_stable
    # Weak is not attracting: the optimum's greedy set holds every joint action, so the process
    # can leave it (e.g. on risk-reward agents=3,actions=2,seed=1 no other u~ reaches the optimum).
    assert all(len(res.greedy_set(u)) > 1 for u in payoff.optimal_actions())


def test_mrvf_table5_terminates_at_the_optimum_from_everywhere():
    from stablepoint.catalog import get_game
    from stablepoint.methods import get_method

    payoff = get_game("table5")
    res = analyze(payoff, get_method("mrvf"))
    assert dict(res.kinds) == {(0, 0): "strong"}
    assert res.basins_all == (frozenset(payoff.joint_actions()),)
    assert res.optimum_guaranteed_from == frozenset(payoff.joint_actions())


def test_vdn_sweep_brackets_agree_with_direct_fits():
    from stablepoint.catalog import get_game
    from stablepoint.methods import get_method

    payoff = get_game("table5")
    factory = lambda e: get_method("vdn", epsilon=e)  # noqa: E731
    sw = sweep_epsilon(payoff, factory, [0.05, 0.5, 1.0], tol=1e-3)
    assert sw.critical, "VDN on Table 5 changes its stable set between epsilon 0.05 and 1"
    for c in sw.critical:
        assert c.hi - c.lo <= 1e-3
        for eps, kind in ((c.lo, c.before), (c.hi, c.after)):
            fit = factory(eps).fit(payoff, c.action)
            got = None if c.action not in fit.greedy_set else ("strong" if len(fit.greedy_set) == 1 else "weak")
            assert got == kind
    # Grid results equal a fresh analysis at the same epsilon.
    assert sw.results[1].kinds == analyze(payoff, factory(0.5)).kinds


def _brute_force_greedy(y, w):
    """Best monotone fit over every pair of agent orders with OSQP (not the project's solvers):
    optimal loss and the greedy actions (top of each order) of the optimal order pairs."""
    import cvxpy as cp

    results = []
    for o1 in itertools.permutations(range(3)):
        for o2 in itertools.permutations(range(3)):
            x = cp.Variable((3, 3))
            cons = [x[o1[k], :] <= x[o1[k + 1], :] for k in range(2)]
            cons += [x[:, o2[k]] <= x[:, o2[k + 1]] for k in range(2)]
            prob = cp.Problem(cp.Minimize(cp.sum(cp.multiply(w, cp.square(x - y)))), cons)
            prob.solve(solver="OSQP", eps_abs=1e-10, eps_rel=1e-10, max_iter=200000)
            results.append((prob.value, (o1[-1], o2[-1])))
    best = min(v for v, _ in results)
    return best, {u for v, u in results if v < best + 1e-6}


def test_wqmix_table5_uniform_has_a_two_cycle():
    """WQMIX (alpha 0.1, strict Eq. 3, uniform) on Table 5: the optimum is strongly stable but
    attracts only itself; every other u~ ends in the 2-cycle (1, 3) <-> (3, 1) (1-based).
    Figure 2's narrative (ending at (1, 1)) is therefore not reproduced on the Table 5 payoff
    (Figure 2's own payoff is not in the text)."""
    from stablepoint.catalog import get_game
    from stablepoint.methods import get_method

    payoff = get_game("table5")
    res = analyze(payoff, get_method("wqmix", visitation="uniform"))
    assert dict(res.kinds) == {(0, 0): "strong"}
    assert res.attractors == (frozenset({(0, 0)}), frozenset({(0, 2), (2, 0)}))
    assert res.basins_all[1] == frozenset(payoff.joint_actions()) - {(0, 0)}
    # Independent check of the transition out of (3, 3): weight 1 on (1, 1) and (3, 3), alpha elsewhere.
    y = payoff.values
    w = np.where(y > y[2, 2], 1.0, 0.1)
    w[2, 2] = 1.0
    loss, greedy = _brute_force_greedy(y, w / 9)
    assert res.greedy_set((2, 2)) == greedy == {(0, 2), (2, 0)}
    assert res.transitions[(2, 2)].loss == pytest.approx(loss, abs=1e-6)
