"""The cross-check's predictions and bookkeeping, without training (synthetic seed outcomes)."""

from __future__ import annotations

import json

import networkx as nx
import pytest

from stablepoint.catalog import get_game
from stablepoint.methods import get_method
from stablepoint.rl.confirm import (
    AlgoConfirmation,
    ConfirmResult,
    CrossCheckResult,
    SeedOutcome,
    _analyze_one,
    _starts,
    predicted_ends,
    render_cross_check,
)
from stablepoint.stability import analyze, transition_graph, attractors


def test_predicted_ends_follow_every_path_to_stable_points_and_cycles():
    # 0 stable; 1 <-> 2 a cycle; 3 splits to 0 and 1; 4 -> 3; 5 weakly stable but leaks to 0
    g = transition_graph({(0,): [(0,)], (1,): [(2,)], (2,): [(1,)], (3,): [(0,), (1,)], (4,): [(3,)], (5,): [(5,), (0,)]})
    kinds = {(0,): "strong", (5,): "weak"}
    att = attractors(g)
    assert predicted_ends(g, kinds, att, (4,)) == {(0,), (1,), (2,)}
    assert predicted_ends(g, kinds, att, (1,)) == {(1,), (2,)}
    assert predicted_ends(g, kinds, att, (5,)) == {(5,), (0,)}  # a weak stable point is an end, and so is where it leaks


def test_analysis_worker_matches_analyze_and_reachability():
    payoff = get_game("table5")
    settings = {"visitation": "decentralized", "epsilon": 0.05}
    stable, kinds, att, ends = _analyze_one((payoff, "qmix", settings, None))
    res = analyze(payoff, get_method("qmix", **settings))
    assert stable == tuple(res.stable_points) and kinds == dict(res.kinds) and att == tuple(res.attractors)
    for u, e in ends.items():
        # every end is a stable point or in an attractor, and each one is reachable from u
        assert all(v in res.kinds or any(v in a for a in res.attractors) for v in e)
        assert all(v == u or v in nx.descendants(res.graph, u) for v in e)
    for u in res.stable_points:
        assert u in ends[u]


def test_start_at_epsilon_one_is_the_uniform_fit_for_every_initial_action():
    # Table 5 under uniform visitation: the Ideal-QMIX optimum (326/9) makes (3, 3) greedy
    payoff = get_game("table5")
    seeds = tuple(SeedOutcome(k, (0, 0), 0.0, "", u) for k, u in enumerate([(0, 0), (1, 2), (2, 1)]))
    starts = _starts(payoff, "qmix", {"visitation": "decentralized", "epsilon": 0.05}, 1.0, seeds)
    uniform = get_method("qmix", visitation="uniform").fit(payoff, (0, 0)).greedy_set
    assert starts == (frozenset(uniform),) * 3 == (frozenset({(2, 2)}),) * 3
    # no exploration phase (start epsilon = final epsilon): the start is the initial action itself
    same = _starts(payoff, "qmix", {"visitation": "decentralized", "epsilon": 0.05}, 0.05, seeds)
    assert same == tuple(frozenset({s.initial}) for s in seeds)


def _row(greedy, initial, stable, ends, explored, optimal=((0, 0),)):
    seeds = tuple(SeedOutcome(k, g, 0.0, f"run{k}", i) for k, (g, i) in enumerate(zip(greedy, initial)))
    return AlgoConfirmation(
        "qmix", "qmix", {"epsilon": 0.05}, seeds, tuple(stable), {u: "strong" for u in stable}, optimal,
        tuple(frozenset({u}) for u in stable), tuple(map(frozenset, ends)), 1.0,
        tuple(frozenset({i}) for i in initial), tuple(map(frozenset, explored)),
    )


def test_agreement_counts_and_disagreement_reasons():
    row = _row(
        greedy=[(0, 0), (1, 1), (2, 2), (1, 1)],
        initial=[(0, 1), (0, 1), (2, 2), (1, 0)],
        stable=[(0, 0), (1, 1)],
        ends=[{(0, 0)}, {(0, 0)}, {(1, 1)}, {(0, 0)}],
        explored=[{(0, 0)}, {(0, 0)}, {(1, 1)}, {(0, 0), (1, 1)}],
    )
    assert (row.n_optimal, row.n_agree, row.n_basin_agree, row.n_explored_agree) == (1, 3, 1, 2)
    reasons = {s.seed: why for s, _, why in row.disagreements}
    # seed 3 only misses the basin of its initial action, which the exploration phase explains
    assert reasons == {1: "stable, but not reachable after the exploration phase", 2: "not a stable point"}
    cross = CrossCheckResult((ConfirmResult("table5", get_game("table5"), 100, (row,)),
                              ConfirmResult("qtran", get_game("qtran"), 100, (row,))))
    assert cross.totals("qmix") == {"explored": 4, "basin": 2, "stable": 6, "optimal": 2, "seeds": 8}
    text = render_cross_check(cross, "stablepoint confirm ...")
    # explored ends have 1, 1, 1 and 2 of table5's 9 joint actions: 5 / 4 / 9 = 14% coverage
    assert ("| qmix | E 2/4 [14%], I 1/4, S 3/4 [22%], O 1/4 | E 2/4 [14%], I 1/4, S 3/4 [22%], O 1/4 "
            "| 4/8 (50%) | 2/8 (25%) | 6/8 (75%) | 2/8 (25%) |") in text
    assert text.count("not a stable point") == 2 and "seed 2: initial (3, 3), trained (3, 3)" in text
    # seed 3 misses only its initial basin: listed in the second list, once per game
    explained = text.split("## Initial-basin misses the exploration phase explains")[1].split("## Per game")[0]
    assert explained.count("seed 3: initial (2, 1), trained (2, 2)") == 2 and "seed 1:" not in explained


def test_confirm_refuses_bad_jobs_in_the_library():
    from stablepoint.errors import SettingsError
    from stablepoint.rl.confirm import confirm

    with pytest.raises(SettingsError, match="jobs"):
        confirm("table4a", ["qmix"], 1, jobs=0)


def test_a_seed_caught_in_a_predicted_cycle_is_listed_with_its_cycle():
    cycle = frozenset({(0, 1), (1, 0)})
    seeds = (SeedOutcome(0, (0, 1), 0.0, "run0", (1, 1)), SeedOutcome(1, (1, 0), 0.0, "run1", (1, 1)))
    row = AlgoConfirmation(
        "resq", "resq", {}, seeds, ((0, 0),), {(0, 0): "weak"}, ((0, 0),), (cycle,),
        (cycle, cycle), 1.0, (frozenset({(1, 1)}),) * 2, (cycle, frozenset({(0, 0)})),
    )
    assert (row.n_agree, row.n_explored_agree) == (0, 1)
    reasons = [why for _, _, why in row.disagreements]
    assert reasons == [
        "not a stable point (a member of a predicted attractor cycle reachable after exploration)",
        "not a stable point (a member of an attractor cycle not reachable after exploration)",
    ]


def test_analysis_cache_round_trips_and_is_keyed_by_payoff_and_settings(tmp_path):
    payoff = get_game("table5")
    settings = {"visitation": "decentralized", "epsilon": 0.05}
    cache = tmp_path / "a.json"
    fresh = _analyze_one((payoff, "qmix", settings, str(cache)))
    assert cache.exists() and _analyze_one((payoff, "qmix", settings, str(cache))) == fresh
    # a planted answer is read back only under the same key
    data = json.loads(cache.read_text())
    data["stable"] = [[0, 1]]
    cache.write_text(json.dumps(data))
    assert _analyze_one((payoff, "qmix", settings, str(cache)))[0] == ((0, 1),)
    other = {"visitation": "decentralized", "epsilon": 0.5}
    assert _analyze_one((payoff, "qmix", other, str(cache)))[:3] == _analyze_one((payoff, "qmix", other, None))[:3]
    assert json.loads(cache.read_text())["key"]["settings"] == other


def test_long_sets_print_as_first_members_and_a_count():
    from stablepoint.rl.confirm import _ends_text

    everything = frozenset((a, b) for a in range(3) for b in range(3))
    assert _ends_text(everything) == "(1, 1) (1, 2) (1, 3) (2, 1) (2, 2) (2, 3) ... (9 joint actions)"
    assert _ends_text(frozenset({(0, 0), (2, 2)})) == "(1, 1) (3, 3)"


def test_mrvf_budget_summary_counts_improvements_and_optima():
    """analyses/mrvf_budget.py: the final round (early termination) decides both counts."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "analyses" / "mrvf_budget.py"
    spec = importlib.util.spec_from_file_location("mrvf_budget", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    g = "risk-reward:agents=3,actions=5,seed=0"
    rows = [
        (g, "mrvf", 0, [(0, 0, 0)] * 3, [1.0, 1.0, 1.0], 1, 8.0),  # never moves
        (g, "mrvf", 1, [(0, 0, 0), (1, 1, 1), (2, 2, 2)], [1.0, 5.0, -3.0], 2, 8.0),  # round 2 kept
        (g, "mrvf", 2, [(0, 0, 0), (1, 1, 1), (2, 2, 2)], [1.0, 5.0, 8.0], 3, 8.0),  # reaches the optimum
        (g, "mrvf", 3, [(0, 0, 0), (1, 1, 1), (0, 0, 0)], [1.0, 5.0, 1.0], 3, 8.0),  # moves, then back
    ]
    text = mod.render(rows, 1000)
    assert "improves on round 1: 2/4" in text and "at the optimum: 1/4" in text
    assert "(1, 1, 1) -> (2, 2, 2) -> (3, 3, 3)" in text
