"""`stablepoint plot`: runs of different budgets/profiles kept apart, and rliable aggregate statistics."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import scipy.stats
from click.testing import CliRunner

from stablepoint.cli import main
from stablepoint.errors import SettingsError
from stablepoint.rl.config import make_config, save_config
from stablepoint.rl.plot import RunCurve, aggregate, aggregate_stats, final_values, load_runs, render_stats, separate_settings

needs_rliable = pytest.mark.skipif(importlib.util.find_spec("rliable") is None, reason="the stats extra")

REPS = 200


def _run(algo, seed, final, group="g", steps=100, profile="default"):
    # early evaluations (t < 75 of 100 steps) must not count toward the final performance
    return RunCurve(f"{algo}{seed}", algo, group, group, seed, "return", np.array([0, 80, 100]),
                    np.array([-50.0, final, final]), steps, False, profile)


@needs_rliable
def test_iqm_and_band_match_an_independent_computation():
    rng = np.random.default_rng(3)
    values = rng.normal(size=8) * 3
    stats = aggregate_stats([_run("qmix", s, v) for s, v in enumerate(values)], reps=REPS)
    (g,) = stats.groups
    middle = np.sort(values)[2:6]  # the interquartile half of 8 runs
    assert g.iqm == pytest.approx(middle.mean(), rel=1e-12)
    assert g.iqm == pytest.approx(scipy.stats.trim_mean(values, 0.25), rel=1e-12)
    assert g.median == pytest.approx(np.median(values)) and g.n_runs == 8
    assert g.band == pytest.approx((np.percentile(values, 25), np.percentile(values, 75)))
    lo, hi = g.iqm_ci
    assert lo < g.iqm < hi and values.min() <= lo and hi <= values.max()
    # seeded: the same intervals again, another seed other intervals
    assert aggregate_stats([_run("qmix", s, v) for s, v in enumerate(values)], reps=REPS).groups[0].iqm_ci == g.iqm_ci
    assert aggregate_stats([_run("qmix", s, v) for s, v in enumerate(values)], reps=REPS, seed=1).groups[0].iqm_ci != g.iqm_ci
    # numpy's global generator (which rliable draws from) is left as it was
    np.random.seed(123)
    expected = np.random.random()
    np.random.seed(123)
    aggregate_stats([_run("qmix", s, v) for s, v in enumerate(values)], reps=REPS)
    assert np.random.random() == expected


@needs_rliable
def test_probability_of_improvement():
    same = [1.0, 2.0, 3.0, 4.0]
    runs = [_run("a", s, v) for s, v in enumerate(same)] + [_run("b", s, v) for s, v in enumerate(same)]
    runs += [_run("c", s, v + 10) for s, v in enumerate(same)]  # strictly above every run of a and b
    stats = aggregate_stats(runs, reps=REPS)
    poi = {(i.algo_x, i.algo_y): i for i in stats.improvements}
    assert set(poi) == {("a", "b"), ("a", "c"), ("b", "c")}
    assert poi[("a", "b")].probability == 0.5
    assert poi[("a", "c")].probability == 0.0 and poi[("b", "c")].probability == 0.0
    lo, hi = poi[("a", "b")].ci
    assert lo <= 0.5 <= hi
    # strictly dominating: P(d > e) = 1 (d sorts first, so the pair is (d, e))
    dom = aggregate_stats([_run("d", s, v + 10) for s, v in enumerate(same)] + [_run("e", s, v) for s, v in enumerate(same)],
                          reps=REPS)
    (imp,) = dom.improvements
    assert (imp.algo_x, imp.algo_y, imp.probability) == ("d", "e", 1.0) and imp.ci == (1.0, 1.0)
    # a partial overlap: the Mann-Whitney count, computed by hand
    x, y = np.array([1.0, 3.0, 5.0]), np.array([2.0, 3.0])
    mixed = aggregate_stats([_run("x", s, v) for s, v in enumerate(x)] + [_run("y", s, v) for s, v in enumerate(y)],
                            reps=REPS)
    wins = sum((a > b) + 0.5 * (a == b) for a in x for b in y)
    assert mixed.improvements[0].probability == pytest.approx(wins / 6)


@needs_rliable
def test_groups_are_kept_apart_and_render_as_markdown():
    runs = [_run("qmix", s, s, group="e1") for s in range(4)] + [_run("qmix", s, -s, group="e2") for s in range(4)]
    stats = aggregate_stats(runs, reps=REPS)
    assert [(g.group, g.iqm) for g in stats.groups] == [("e1", 1.5), ("e2", -1.5)]
    assert stats.improvements == ()  # one algorithm per group
    text = render_stats(stats)
    assert "| e1 | qmix | return | 4 | 1.5 |" in text and "IQM 95% CI" in text
    assert final_values(runs[1]) == 1.0


def test_different_budgets_and_profiles_are_labelled_apart_or_refused():
    runs = [_run("qmix", 0, 1.0, steps=100), _run("qmix", 1, 2.0, steps=100), _run("qmix", 2, 3.0, steps=200),
            _run("vdn", 0, 1.0, profile="pymarl"), _run("vdn", 1, 1.0)]
    apart = separate_settings(runs)
    assert [r.algo for r in apart] == ["qmix [steps=100]", "qmix [steps=100]", "qmix [steps=200]",
                                       "vdn [profile=pymarl]", "vdn [profile=default]"]
    assert sorted((b.algo, b.n_runs) for b in aggregate(apart)) == [
        ("qmix [steps=100]", 2), ("qmix [steps=200]", 1), ("vdn [profile=default]", 1), ("vdn [profile=pymarl]", 1)]
    with pytest.raises(SettingsError, match=r"qmix: runs differ in steps \(100, 200\)"):
        separate_settings(runs, "refuse")
    same = [_run("qmix", s, 1.0) for s in range(3)]
    assert separate_settings(same, "refuse") == same


def _fake_run(root: Path, algo: str, seed: int, final: float, steps: int = 100, profile: str = "default") -> Path:
    cfg = make_config("matrix:table5", algo, seed=seed, steps=steps, out=str(root), device="cpu", profile=profile)
    d = root / f"{algo}_{steps}_{profile}_seed{seed}"
    d.mkdir(parents=True)
    save_config(cfg, d / "config.yaml")
    rows = [{"t_env": 0, "test/return_mean": -12.0}, {"t_env": steps, "test/return_mean": final}]
    (d / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return d


@needs_rliable
def test_plot_command_labels_budgets_apart_and_prints_statistics(tmp_path):
    runs = tmp_path / "runs"
    for seed, final in enumerate([8.0, 5.0, 8.0, 3.0]):
        _fake_run(runs, "qmix", seed, final)
    _fake_run(runs, "qmix", 9, 0.0, steps=200)
    _fake_run(runs, "vdn", 0, -12.0, profile="pymarl")
    assert {c.profile for c in load_runs([runs])} == {"default", "pymarl"}
    out = tmp_path / "fig.png"
    res = CliRunner().invoke(main, ["plot", str(runs), "--figure", str(out), "--reps", str(REPS)])
    assert res.exit_code == 0, res.output
    assert out.stat().st_size > 1000
    table = (tmp_path / "fig_stats.md").read_text()
    assert table in res.output + "\n"
    # IQM of 8, 5, 8, 3 is the mean of the middle two (5, 8)
    assert "| matrix:table5 | qmix [steps=100] | return | 4 | 6.5 |" in table
    assert "| 6.5 |" in table.split("qmix [steps=100]")[1].split("\n")[0]
    assert "| matrix:table5 | qmix [steps=200] | return | 1 |" in table
    assert "| matrix:table5 | qmix [steps=100] | qmix [steps=200] | 1.000 |" in table
    refused = CliRunner().invoke(main, ["plot", str(runs), "--figure", str(out), "--mixed", "refuse"])
    assert refused.exit_code == 2
    lines = [line for line in refused.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "differ in steps" in lines[0] and lines[0].startswith("Error: ")
