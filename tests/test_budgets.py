"""Whole-analysis budgets, estimates, parallel rows and the fit-once shortcut (issue 16.3, 15.4).

The oracle throughout is the serial in-process analysis (``jobs=1``, no budget), which is
the code path every other test of :mod:`stablepoint.stability` pins.
"""

from __future__ import annotations

import multiprocessing as mp
import time

import numpy as np
import pytest

from stablepoint.catalog import get_game
from stablepoint.errors import SettingsError
from stablepoint.methods import get_method
from stablepoint.methods.base import FitResult
from stablepoint.payoff import Payoff
from stablepoint.stability import AnalysisEstimate, analyze, fit_ignores_u_tilde


def _same(a, b):
    assert list(a.transitions) == list(b.transitions)
    for u, fa in a.transitions.items():
        fb = b.transitions[u]
        assert fa.u_tilde == fb.u_tilde == u
        assert fa.greedy_set == fb.greedy_set
        assert fa.loss == pytest.approx(fb.loss, rel=1e-12, abs=1e-15)
        assert fa.certified == fb.certified
        assert (fa.greedy_losses is None) == (fb.greedy_losses is None)
    assert dict(a.kinds) == dict(b.kinds)
    assert a.attractors == b.attractors
    assert a.basins_some == b.basins_some and a.basins_all == b.basins_all
    assert a.partial == b.partial


class _Hidden:
    """The same method without its fit-once declaration: every row is really fitted."""

    def __init__(self, method):
        self._m = method
        self.name = method.name

    def settings(self):
        return self._m.settings()

    def fit(self, payoff, u):
        return self._m.fit(payoff, u)


def _no_children():
    # Workers are killed and reaped before analyze returns or raises.
    assert mp.active_children() == []


@pytest.mark.parametrize("name,settings", [
    ("qmix", {"epsilon": 0.2}), ("wqmix", {}), ("vdn", {"epsilon": 0.3}), ("resq", {}), ("mrvf", {}),
    ("qmix", {"epsilon": 0.2, "losses": "greedy"}),
])
def test_parallel_rows_equal_serial(name, settings):
    payoff = get_game("table5")
    method = get_method(name, **settings)
    serial = analyze(payoff, method)
    _same(serial, analyze(payoff, method, jobs=2))
    _same(serial, analyze(payoff, method, jobs=3, budget=600.0))
    _no_children()


def test_parallel_targeted_rows_equal_serial():
    payoff = Payoff(np.random.default_rng(3).normal(size=(3, 2, 3)))
    method = get_method("wqmix", alpha=0.3)
    rows = [(2, 1, 0), (0, 0, 2), (1, 1, 1)]
    serial = analyze(payoff, method, u_tildes=rows)
    pooled = analyze(payoff, method, u_tildes=rows, jobs=2)
    _same(serial, pooled)
    assert pooled.partial and pooled.unfinished == ()


@pytest.mark.parametrize("name,settings", [
    ("qmix", {}), ("qmix", {"visitation": "uniform", "epsilon": 0.3}), ("vdn", {}),
    ("vdn", {"visitation": "uniform", "epsilon": 0.1}), ("qmix", {"losses": "greedy"}),
])
def test_fit_once_equals_every_row_fitted(name, settings):
    rng = np.random.default_rng(11)
    for shape in [(3, 3), (2, 3, 2)]:
        payoff = Payoff(np.round(rng.normal(size=shape), 1))  # rounded: ties occur
        method = get_method(name, **settings)
        assert fit_ignores_u_tilde(method)
        _same(analyze(payoff, _Hidden(method)), analyze(payoff, method))


def test_fit_once_is_declared_only_when_the_weights_ignore_u_tilde():
    assert not fit_ignores_u_tilde(get_method("qmix", epsilon=0.5))
    assert not fit_ignores_u_tilde(get_method("vdn", epsilon=0.99))
    assert not fit_ignores_u_tilde(get_method("wqmix"))  # its weights depend on u~ even at epsilon 1
    assert not fit_ignores_u_tilde(get_method("resq"))
    assert not fit_ignores_u_tilde(_Hidden(get_method("qmix")))


class _Slow:
    """Fits like VDN, but rows named in ``slow`` sleep for a long time first."""

    name = "slow-vdn"

    def __init__(self, slow, seconds=300.0):
        self.slow = set(slow)
        self.seconds = seconds
        self._vdn = get_method("vdn", epsilon=0.2)

    def fit(self, payoff, u):
        if tuple(u) in self.slow:
            time.sleep(self.seconds)
        return self._vdn.fit(payoff, u)


def test_budget_bounds_the_analysis_and_reports_unfinished_rows():
    payoff = get_game("table5")
    slow = {(1, 1), (2, 0)}
    start = time.monotonic()
    res = analyze(payoff, _Slow(slow), budget=3.0, jobs=3)  # two workers sleep, one does the rest
    took = time.monotonic() - start
    assert took < 15, took  # the sleeping workers were killed, not waited for
    assert set(res.unfinished) == slow
    assert res.partial and not res.certified and res.budget == 3.0
    assert res.attractors is None
    done = analyze(payoff, get_method("vdn", epsilon=0.2))
    for u, fit in res.transitions.items():  # what finished is exactly the unbounded answer
        assert fit.greedy_set == done.transitions[u].greedy_set
    assert set(res.transitions) | slow == set(payoff.joint_actions())
    _no_children()


def test_budget_stops_a_solve_inside_a_compiled_kernel():
    # One branch-and-bound solve of a 12x12 Ideal QMIX fit takes far longer than the budget.
    payoff = get_game("risk-reward:agents=2,actions=12,seed=0")
    start = time.monotonic()
    res = analyze(payoff, get_method("qmix", epsilon=0.2), budget=2.0, jobs=1)
    assert time.monotonic() - start < 12
    assert len(res.unfinished) == 144 and not res.transitions and not res.certified
    _no_children()


def test_estimate_from_the_first_row_and_from_the_probe_window():
    payoff = get_game("table5")
    seen = []
    analyze(payoff, get_method("wqmix"), on_estimate=seen.append, jobs=2)
    (est,) = seen
    assert isinstance(est, AnalysisEstimate) and not est.lower_bound
    assert est.rows == 9 and est.jobs == 2 and est.shape == (3, 3)
    assert est.first_row_seconds * 5 <= est.seconds  # start-up, then 5 waves of 2 rows
    assert est.seconds <= est.first_row_seconds * 4 + 60
    assert "9 rows u~ on 2 jobs of a 3x3 payoff: about" in est.describe()

    seen.clear()
    res = analyze(payoff, _Slow(set(payoff.joint_actions()), seconds=60), on_estimate=seen.append,
                  probe_seconds=0.5, budget=1.5, jobs=3)
    (est,) = seen
    assert est.lower_bound and est.first_row_seconds is None
    assert est.seconds == pytest.approx(0.5 * 3)  # 9 rows in 3 waves of 3 jobs
    assert "more than" in est.describe() and len(res.unfinished) == 9


def test_fit_once_estimate_counts_one_row():
    seen = []
    analyze(get_game("table5"), get_method("qmix"), on_estimate=seen.append)
    assert seen[0].fit_once and seen[0].rows == 1
    assert "1 fit (the same for every u~)" in seen[0].describe()


def test_refusing_from_on_estimate_stops_and_cleans_up():
    class Refused(Exception):
        pass

    def refuse(est):
        raise Refused(est.describe())

    with pytest.raises(Refused):
        analyze(get_game("table5"), _Slow({(0, 0)}), on_estimate=refuse, probe_seconds=0.3, jobs=2)
    _no_children()


def test_interrupt_in_progress_kills_workers():
    def stop(done, total, fit):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        analyze(get_game("table5"), _Slow({(2, 2)}), progress=stop, jobs=2)
    _no_children()


class _Broken:
    name = "broken"

    def fit(self, payoff, u):
        if tuple(u) == (1, 2):
            raise SettingsError("bad setting seen at u~ = (1, 2)")
        return get_method("vdn").fit(payoff, u)


def test_worker_errors_reach_the_caller_with_their_type():
    with pytest.raises(SettingsError, match=r"u~ = \(1, 2\)"):
        analyze(get_game("table5"), _Broken(), jobs=2)
    _no_children()


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_bad_jobs(bad):
    with pytest.raises(SettingsError, match="jobs must be a positive integer"):
        analyze(get_game("table5"), get_method("vdn"), jobs=bad)


@pytest.mark.parametrize("bad", [0, -3.0, float("nan")])
def test_bad_budget(bad):
    with pytest.raises(SettingsError, match="budget must be a positive number"):
        analyze(get_game("table5"), get_method("vdn"), budget=bad)


def test_fit_result_pickles():
    # Rows cross the process boundary as pickles: a FitResult must survive the trip intact.
    import pickle

    fit = get_method("qmix", epsilon=0.2).fit(get_game("table5"), (0, 0))
    back = pickle.loads(pickle.dumps(fit))
    assert isinstance(back, FitResult) and back.greedy_set == fit.greedy_set and back.loss == fit.loss


# --------------------------------------------------------------------------- the CLI (issue 16.3)

from click.testing import CliRunner  # noqa: E402

from stablepoint import methods  # noqa: E402
from stablepoint.cli import main  # noqa: E402
from stablepoint.commands import limits  # noqa: E402


def _check(*args):
    return CliRunner().invoke(main, ["check", *args])


def _one_line_error(res):
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert res.exit_code == 2, res.output
    assert len(lines) == 1 and "Traceback" not in res.output, res.stderr
    return lines[0]


@pytest.fixture
def quick_probe(monkeypatch):
    # The probe window is 10 s in use; 1 s keeps the refusals quick here.
    monkeypatch.setattr(limits, "PROBE_S", 1.0)


@pytest.mark.parametrize("game,method", [
    ("risk-reward:agents=2,actions=12,seed=0", "qmix"),
    ("risk-reward:agents=3,actions=10,seed=0", "qmix"),
    ("risk-reward:agents=4,actions=6,seed=0", "wqmix"),
    ("risk-reward:agents=2,actions=12,seed=0", "mrvf"),
    ("risk-reward:agents=4,actions=7,seed=0", "qmix"),
])
def test_beyond_reach_is_refused_up_front(quick_probe, game, method):
    start = time.monotonic()
    line = _one_line_error(_check("--game", game, "--method", method, "--epsilon", "0.2"))
    assert time.monotonic() - start < 30
    shape = "x".join(game.split("actions=")[1].split(",")[0] for _ in range(int(game.split("agents=")[1][0])))
    assert f"of a {shape} payoff" in line and "more than" in line
    assert "--budget SECONDS" in line and "--u-tilde" in line and "smaller game" in line
    _no_children()


def test_budget_gives_a_bounded_partial_result(quick_probe):
    game = "risk-reward:agents=2,actions=12,seed=0"
    start = time.monotonic()
    res = _check("--game", game, "--method", "qmix", "--epsilon", "0.2", "--budget", "2", "--format", "json")
    assert res.exit_code == 0, res.output
    assert time.monotonic() - start < 20
    import json

    doc = json.loads(res.stdout)
    assert doc["partial"] is True and doc["certified"] is False and doc["budget"] == 2.0
    assert len(doc["unfinished"]) == 144 and doc["transitions"] == []
    assert "stopping at the 2 s budget" in res.stderr and "144 rows u~" in res.stderr
    text = _check("--game", game, "--method", "qmix", "--epsilon", "0.2", "--budget", "2").stdout
    assert "144 requested rows not finished within the 2 s budget (not certified, no answer)" in text
    assert "Attractors and basins: not computed" in text


def test_budget_inf_and_jobs_keep_the_answer():
    import json

    base = _check("--game", "table5", "--method", "wqmix", "--format", "json", "--jobs", "1")
    for extra in (["--budget", "inf"], ["--jobs", "3"], ["--budget", "300", "--jobs", "2"]):
        res = _check("--game", "table5", "--method", "wqmix", "--format", "json", *extra)
        assert res.exit_code == 0, extra
        doc, want = json.loads(res.stdout), json.loads(base.stdout)
        assert doc.pop("budget") == (300.0 if "300" in extra else None)
        want.pop("budget")
        assert doc == want, extra


@pytest.mark.parametrize("bad,what", [
    ("0", "positive"), ("-1", "positive"), ("abc", "not a number"), ("nan", "positive"), ("", "not a number"),
])
def test_bad_budget_cli(bad, what):
    assert what in _one_line_error(_check("--game", "table5", "--method", "vdn", "--budget", bad))


def test_bad_jobs_cli():
    assert "--jobs" in _one_line_error(_check("--game", "table5", "--method", "vdn", "--jobs", "0"))


def test_default_losses_are_greedy_and_all_on_request():
    import json

    greedy = json.loads(_check("--game", "table5", "--method", "wqmix", "--format", "json").stdout)
    every = json.loads(_check("--game", "table5", "--method", "wqmix", "--format", "json", "--losses", "all").stdout)
    assert greedy["settings"]["losses"] == "greedy" and every["settings"]["losses"] == "all"
    assert all(t["greedy_losses"] is None for t in greedy["transitions"])
    assert all(t["greedy_losses"] for t in every["transitions"])
    assert [t["greedy"] for t in greedy["transitions"]] == [t["greedy"] for t in every["transitions"]]


class _SlowAbove:
    """A VDN whose fits sleep when epsilon > 0.6 (a sweep's last grid point never finishes)."""

    name = "slow-above"
    setting_names = ("epsilon",)

    def __init__(self, epsilon=1.0):
        self.epsilon = epsilon
        self._vdn = get_method("vdn", epsilon=epsilon)

    def settings(self):
        return {"epsilon": self.epsilon}

    def fit(self, payoff, u):
        if self.epsilon > 0.6:
            time.sleep(300)
        return self._vdn.fit(payoff, u)


def test_sweep_budget_reports_the_epsilons_it_did_not_reach(monkeypatch, quick_probe):
    import json

    monkeypatch.setitem(methods.METHODS, "slow-above", _SlowAbove)
    start = time.monotonic()
    res = _check("--game", "table5", "--method", "slow-above", "--sweep", "0.2,0.5,0.9", "--budget", "4",
                 "--format", "json")
    assert res.exit_code == 0, res.output
    assert time.monotonic() - start < 25
    doc = json.loads(res.stdout)
    assert doc["complete"] is False and doc["unfinished"] == [0.9]
    assert [g["epsilon"] for g in doc["grid"]] == [0.2, 0.5]
    text = _check("--game", "table5", "--method", "slow-above", "--sweep", "0.2,0.5,0.9", "--budget", "4").stdout
    assert "epsilon values not analysed (no answer): 0.9" in text
    _no_children()


def test_sweep_without_budget_is_refused_when_out_of_reach(monkeypatch, quick_probe):
    monkeypatch.setitem(methods.METHODS, "slow-above", _SlowAbove)
    line = _one_line_error(_check("--game", "table5", "--method", "slow-above", "--sweep", "0.7,0.9"))
    assert "2 epsilon values x 9 rows u~" in line and "--budget SECONDS" in line


def test_confirm_refuses_an_analysis_out_of_reach_before_training(quick_probe, tmp_path):
    args = ["confirm", "--game", "risk-reward:agents=2,actions=12,seed=0", "--methods", "qmix", "--seeds", "1",
            "--steps", "16", "--out", str(tmp_path / "runs"), "--no-progress"]
    start = time.monotonic()
    res = CliRunner().invoke(main, args)
    line = _one_line_error(res)
    assert time.monotonic() - start < 30
    assert line.startswith("Error: confirm: ") and "12x12 payoff" in line and "--no-analysis" in line
    assert not list((tmp_path / "runs").rglob("metrics.jsonl"))  # nothing trained
    res = CliRunner().invoke(main, [*args, "--budget", "2"])
    estimate, line = res.stderr.strip().splitlines()  # the size-and-estimate line, then the one-line error
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert "stopping at the 2 s budget" in estimate
    assert "did not finish within the 2 s budget" in line and "--budget inf" in line
    assert not list((tmp_path / "runs").rglob("metrics.jsonl"))
    _no_children()


# --------------------------------------------------------------------------- flow and hessian


def _sleep_forever(*args, **kwargs):
    time.sleep(600)


def test_flow_refuses_when_no_trajectory_finishes_in_the_probe_window(monkeypatch, quick_probe):
    monkeypatch.setattr("stablepoint.gradflow.outcomes.run_flows", _sleep_forever)
    start = time.monotonic()
    line = _one_line_error(CliRunner().invoke(main, ["flow", "--runs", "2", "--tau", "1", "--no-baseline"]))
    assert time.monotonic() - start < 20
    assert "flow: 4 trajectories on a 3x3 payoff: more than" in line and "--budget SECONDS" in line
    _no_children()


def test_flow_budget_gives_the_rows_done_and_lists_the_others(monkeypatch):
    import json

    from stablepoint.gradflow import outcomes

    real, calls = outcomes.run_flows, []

    def second_never_ends(*args, **kwargs):  # the first row is real, the second never finishes
        calls.append(1)
        if len(calls) > 1:
            time.sleep(600)
        return real(*args, **kwargs)

    monkeypatch.setattr(outcomes, "run_flows", second_never_ends)
    args = ["flow", "--runs", "2", "--tau", "1,0.3", "--no-baseline", "--gradient", "semi", "--budget", "6",
            "--t-max", "20"]
    res = CliRunner().invoke(main, [*args, "--format", "json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["complete"] is False and doc["budget"] == 6.0
    assert [(r["gradient"], r["tau"]) for r in doc["rows"]] == [("semi", 1.0)]
    assert doc["unfinished"] == [{"mixer": "nonmono", "gradient": "semi", "tau": 0.3}]
    assert "budget ended after 1 of 2 rows" in res.stderr
    calls.clear()
    text = CliRunner().invoke(main, args).stdout
    assert "rows not run within the 6 s budget (no answer): nonmono semi tau=0.3" in text
    _no_children()


def test_hessian_is_bounded(monkeypatch):
    from stablepoint.commands import hessian

    monkeypatch.setattr("stablepoint.gradflow.fixed_points.find_zero_loss_point", _sleep_forever)
    monkeypatch.setattr(hessian, "UNBOUNDED_LIMIT_S", 2.0)
    line = _one_line_error(CliRunner().invoke(main, ["hessian"]))
    assert "did not finish within 2 s, the most a command may take without a budget" in line
    line = _one_line_error(CliRunner().invoke(main, ["hessian", "--budget", "1.5"]))
    assert "did not finish within the 1.5 s budget" in line and "--restarts" in line
    _no_children()
    monkeypatch.undo()
    ok = CliRunner().invoke(main, ["hessian", "--budget", "inf", "--format", "json"])
    assert ok.exit_code == 0 and '"kind": "hessian"' in ok.stdout


def test_stability_results_cross_process_boundaries_intact():
    import pickle

    res = analyze(get_game("table5"), get_method("wqmix"))
    back = pickle.loads(pickle.dumps(res))
    _same(res, back)
    assert sorted(back.graph.edges) == sorted(res.graph.edges)
    import networkx as nx

    assert nx.is_frozen(back.graph)
    with pytest.raises(TypeError):
        back.kinds[(0, 0)] = "weak"  # still read-only


def test_tables_budget_reports_unfinished_tables_and_keeps_the_report(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "paper_tables").mkdir()
    res = CliRunner().invoke(main, ["tables", "--budget", "1", "-q", "--no-progress"])
    assert res.exit_code == 0, res.output
    lines = res.stdout.strip().splitlines()
    unfinished = [ln.split()[0] for ln in lines if ln.split()[1] == "unfinished"]
    assert len(lines) >= 10 and "theorems" in unfinished  # the slow ones cannot fit in 1 s
    assert all(ln.split()[1] in ("match", "mismatch", "new", "unavailable", "unfinished") for ln in lines)
    assert f"the 1 s budget ended; not regenerated (no values): {', '.join(unfinished)}" in res.stderr
    assert not (tmp_path / "paper_tables" / "REPORT.md").exists()  # a partial report replaces nothing
    _no_children()
    done = CliRunner().invoke(main, ["tables", "--only", "table5", "--budget", "120", "-q"])
    assert done.exit_code == 0 and "table5     match" in done.stdout


def test_flow_with_parallel_trajectories_inside_the_bounded_child():
    # the bounded child starts a process pool of its own (flow --jobs 2): same table as --jobs 1
    args = ["flow", "--runs", "2", "--tau", "1", "--no-baseline", "--t-max", "50", "--format", "json"]
    one = CliRunner().invoke(main, [*args, "--jobs", "1"])
    two = CliRunner().invoke(main, [*args, "--jobs", "2"])
    assert one.exit_code == 0 and two.exit_code == 0, two.output
    import json

    a, b = json.loads(one.stdout), json.loads(two.stdout)
    assert a["rows"] == b["rows"] and a["complete"] is b["complete"] is True
    _no_children()
