"""Learning-curve aggregation, Eq. 30 normalized return, Table 3 style counts, and the plot command."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from stablepoint.catalog import get_game
from stablepoint.cli import main
from stablepoint.errors import SettingsError
from stablepoint.rl.config import make_config, save_config
from stablepoint.rl.plot import RunCurve, aggregate, final_table, load_runs, normalized_return


def test_normalized_return_on_a_risk_reward_game():
    y = get_game("risk-reward:agents=3,actions=5,seed=0").values
    pos = np.sort(y[y > 0])
    neg = y[y < 0]
    assert pos.size == 5  # one consensus joint action per mapped action
    got = normalized_return([pos[-1], pos[0], pos[2], neg.min(), neg.min() / 2], y)
    expected = [1.0, 0.0, (pos[2] - pos[0]) / (pos[-1] - pos[0]), -1.0, -0.5]
    np.testing.assert_allclose(got, expected)
    # every joint action lands in [-1, 1], and the map is monotone in the return
    flat = np.sort(y.ravel())
    mapped = normalized_return(flat, y)
    assert mapped.min() == -1.0 and mapped.max() == 1.0 and np.all(np.diff(mapped) >= 0)


def test_eq30_as_printed_reverses_negative_returns():
    # Kept as data: the printed negative branch (r - m) / m maps the worst payoff m to 0 and returns
    # just below 0 to about -1, against the caption's "negative returns normalized to [-1, 0)".
    y = get_game("risk-reward:agents=3,actions=5,seed=0").values
    m = y.min()
    printed = normalized_return([m, -1e-9], y, negative="printed")
    np.testing.assert_allclose(printed, [0.0, -1.0], atol=1e-8)
    with pytest.raises(SettingsError, match="negative"):
        normalized_return([0.0], y, negative="other")


def _curve(algo, seed, t, v, group="g", one_step=False, steps=100, metric="return"):
    return RunCurve(f"{algo}{seed}", algo, group, group, seed, metric, np.asarray(t), np.asarray(v, float), steps, one_step)


def test_aggregate_median_and_bands_with_unaligned_evaluations():
    # five runs evaluated at different steps; values forward-filled onto the union grid
    runs = [_curve("qmix", s, [0, 50 + s, 100], [s, 10 + s, 20 + s]) for s in range(5)]
    band = aggregate(runs)[0]
    assert band.t_env.tolist() == [0, 50, 51, 52, 53, 54, 100]
    # at t = 52 runs 0..2 have reached their second evaluation (10, 11, 12), runs 3, 4 not (3, 4)
    i = band.t_env.tolist().index(52)
    vals = sorted([10, 11, 12, 3, 4])
    assert band.median[i] == vals[2]
    assert band.low[i] == vals[1] and band.high[i] == vals[3]  # 25% and 75% of 5 values: 2nd and 4th
    assert band.band == (25.0, 75.0) and band.n_runs == 5
    one_step = aggregate([_curve("vdn", s, [0, 100], [s, 2 * s], one_step=True) for s in range(5)])[0]
    assert one_step.band == (0.0, 100.0)
    assert one_step.low.tolist() == [0, 0] and one_step.high.tolist() == [4, 8]


def test_aggregate_starts_where_every_run_has_a_value():
    runs = [_curve("qmix", 0, [0, 10], [1, 2]), _curve("qmix", 1, [5, 10], [3, 4])]
    band = aggregate(runs)[0]
    assert band.t_env.tolist() == [5, 10] and band.median.tolist() == [2.0, 3.0]


def test_final_table_counts_best_and_worst_with_tolerance():
    def run(group, algo, final):
        # early evaluations must not count: only t_env >= 75 of 100 steps
        return _curve(algo, 0, [0, 50, 80, 100], [-9, -9, final - 0.01, final + 0.01], group=group, metric="win_rate")

    runs = [
        run("3m", "mrvf", 0.95), run("3m", "qmix", 0.92), run("3m", "qtran", 0.30),
        run("5m_vs_6m", "mrvf", 0.70), run("5m_vs_6m", "qmix", 0.50), run("5m_vs_6m", "qtran", 0.60),
    ]
    table = final_table(runs, tolerance=0.05)
    assert table.counts == {
        "mrvf": {"best": 2, "worst": 0},
        "qmix": {"best": 1, "worst": 1},
        "qtran": {"best": 0, "worst": 1},
    }
    # in 5m_vs_6m, qtran (0.60) is within 0.05 of neither the max 0.70 nor the min 0.50
    row = next(r for r in table.rows if r.group == "5m_vs_6m" and r.algo == "qtran")
    assert not row.best and not row.worst and row.final_mean == pytest.approx(0.60)
    tight = final_table(runs, tolerance=0.0)
    assert tight.counts["qmix"] == {"best": 0, "worst": 1}


def _fake_run(root: Path, env: str, algo: str, seed: int, rows: list[dict], steps: int = 100) -> Path:
    cfg = make_config(env, algo, seed=seed, steps=steps, out=str(root), device="cpu")
    d = root / f"{env.replace(':', '-')}__{algo}__seed{seed}"
    d.mkdir(parents=True)
    save_config(cfg, d / "config.yaml")
    (d / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return d


def test_plot_command_writes_figures_and_csv(tmp_path):
    y = get_game("risk-reward:agents=3,actions=5,seed=1").values
    best, worst = float(y.max()), float(y.min())
    for seed in range(2):
        _fake_run(tmp_path / "runs", "matrix:risk-reward:agents=3,actions=5,seed=1", "mrvf", seed, [
            {"t_env": 0, "test/return_mean": worst},
            {"t_env": 100, "train/return_mean": 0.0},
            {"t_env": 100, "test/return_mean": best},
        ])
        _fake_run(tmp_path / "runs", "matrix:risk-reward:agents=3,actions=5,seed=1", "qmix", seed, [
            {"t_env": 0, "test/return_mean": worst},
            {"t_env": 100, "test/return_mean": worst},
        ])
    for seed, win in ((0, 0.5), (1, 0.7)):
        _fake_run(tmp_path / "smax", "smax:3m", "qmix", seed, [
            {"t_env": 0, "test/return_mean": 0.1, "test/battle_won_mean": 0.0},
            {"t_env": 100, "test/return_mean": 1.5, "test/battle_won_mean": win},
        ])
    curves = load_runs([tmp_path])
    assert {c.metric for c in curves} == {"normalized_return", "win_rate"}
    assert {c.group for c in curves} == {"matrix:risk-reward:agents=3,actions=5", "smax:3m"}

    runner = CliRunner()
    for suffix in ("png", "svg"):
        out = tmp_path / f"fig.{suffix}"
        result = runner.invoke(main, ["plot", str(tmp_path / "runs"), str(tmp_path / "smax"), "--out", str(out)])
        assert result.exit_code == 0, result.output
        assert out.stat().st_size > 1000
    assert (tmp_path / "fig.svg").read_text().lstrip().startswith("<?xml")
    with (tmp_path / "fig_final.csv").open() as fh:
        rows = {(r["env"], r["algo"]): r for r in csv.DictReader(fh)}
    rr = "matrix:risk-reward:agents=3,actions=5"
    assert float(rows[(rr, "mrvf")]["final"]) == 1.0  # optimum -> normalized 1
    assert float(rows[(rr, "qmix")]["final"]) == -1.0  # worst payoff -> -1
    assert rows[(rr, "mrvf")]["metric"] == "normalized_return" and rows[("smax:3m", "qmix")]["metric"] == "win_rate"
    assert rows[(rr, "mrvf")]["best"] == "1" and rows[(rr, "qmix")]["worst"] == "1"
    assert float(rows[("smax:3m", "qmix")]["final"]) == pytest.approx(0.6)
    with (tmp_path / "fig_final_counts.csv").open() as fh:
        counts = {r["method"]: (r["best"], r["worst"]) for r in csv.DictReader(fh)}
    assert counts == {"mrvf": ("1", "0"), "qmix": ("0", "1")}


def test_plot_command_errors_exit_2(tmp_path):
    result = CliRunner().invoke(main, ["plot", str(tmp_path)])
    assert result.exit_code == 2 and "no run directories" in result.output
    result = CliRunner().invoke(main, ["plot", str(tmp_path), "--out", str(tmp_path / "x.gif")])
    assert result.exit_code == 2 and ".png, .svg or .pdf" in result.output


def test_sweep_override_runs_get_their_own_curve(tmp_path):
    rows = [{"t_env": 0, "test/return_mean": 1.0}, {"t_env": 100, "test/return_mean": 2.0}]
    _fake_run(tmp_path, "matrix:table5", "qmix", 0, rows)
    d = _fake_run(tmp_path, "matrix:table5", "qmix", 1, rows)
    d.rename(d.with_name(d.name + "__epsilon_anneal_steps=5000"))
    bands = aggregate(load_runs([tmp_path]))
    assert sorted((b.algo, b.n_runs) for b in bands) == [("qmix", 1), ("qmix [epsilon_anneal_steps=5000]", 1)]
