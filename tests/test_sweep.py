"""Sweeps: grid expansion, one-command local runs, exact resume after a kill, failures recorded."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from stablepoint.cli import main
from stablepoint.errors import SettingsError
from stablepoint.rl.sweep import expand, load_sweep, run_status, run_sweep, sweep_from_dict

TINY = {
    "steps": 160, "batch_size": 8, "buffer_size": 64, "epsilon_anneal_steps": 100, "test_interval": 40,
    "test_episodes": 8, "log_interval": 40, "save_interval": 40, "device": "cpu", "tensorboard": False,
    "target_update_interval": 5,
}


def write_sweep(path: Path, out: Path, **extra) -> Path:
    data = {"name": "tiny", "out": str(out), "algos": ["vdn", "qmix"], "envs": ["matrix:table5"], "seeds": 2,
            "settings": TINY, **extra}
    path.write_text(yaml.safe_dump(data))
    return path


def test_expand_grid_names_and_settings():
    spec = sweep_from_dict({
        "out": "o", "algos": ["mrvf"], "envs": ["matrix:qtran", "predator_prey:punishment=-2"], "seeds": [3],
        "settings": {"steps": 50}, "overrides": {"epsilon_anneal_steps": [10, 20], "algo.sample_epsilon": [0.1]},
    })
    runs = expand(spec)
    assert [r.name for r in runs] == [
        "matrix-qtran__mrvf__seed3__algo.sample_epsilon=0.1_epsilon_anneal_steps=10",
        "matrix-qtran__mrvf__seed3__algo.sample_epsilon=0.1_epsilon_anneal_steps=20",
        "predator_prey-punishment=-2__mrvf__seed3__algo.sample_epsilon=0.1_epsilon_anneal_steps=10",
        "predator_prey-punishment=-2__mrvf__seed3__algo.sample_epsilon=0.1_epsilon_anneal_steps=20",
    ]
    cfg = runs[1].config
    assert cfg["epsilon_anneal_steps"] == 20 and cfg["algo"]["sample_epsilon"] == 0.1
    assert cfg["seed"] == 3 and cfg["steps"] == 50 and cfg["run_name"] == runs[1].name
    assert runs[1].run_dir == Path("o") / runs[1].name
    assert runs[2].config["env"]["spec"] == "predator_prey:punishment=-2"


@pytest.mark.parametrize("data, message", [
    ({"algos": ["nope"], "envs": ["matrix:table5"], "seeds": 1}, "unknown algorithm 'nope'"),
    ({"algos": ["qmix"], "envs": ["matrix:table5"], "seeds": 1, "settings": {"stepz": 1}}, "stepz"),
    ({"algos": ["qmix"], "envs": ["matrix:table5"], "seeds": 1, "settings": {"seed": 1}}, "set by the sweep"),
    ({"algos": ["qmix"], "envs": ["matrix:table5"], "seeds": 0}, "seeds must be >= 1"),
    ({"algos": ["qmix"], "envs": ["matrix:table5"]}, "missing 'seeds'"),
    ({"algos": ["qmix"], "envs": ["matrix:table5"], "seeds": 1, "settings": {"algo.nothing": 1}}, "nothing"),
])
def test_bad_sweeps_raise_settings_errors(data, message):
    with pytest.raises(SettingsError, match=message):
        expand(sweep_from_dict({"out": "o", **data}))


def _rows(run_dir: Path) -> list[dict]:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line]
    for row in rows:
        row.pop("train/steps_per_s", None)  # wall-clock rate, the only thing allowed to differ
    return rows


def test_sweep_runs_with_one_command_and_resumes_after_kill_with_nothing_lost(tmp_path):
    # every cell on its own (vectorize: false); populations are tested below
    # reference: one command, a local process pool of 2 workers, never interrupted
    ref_file = write_sweep(tmp_path / "ref.yaml", tmp_path / "ref", vectorize=False)
    result = CliRunner().invoke(main, ["sweep", str(ref_file), "--workers", "2", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "4 runs in" in result.output and "finished 4" in result.output
    ref_spec = load_sweep(ref_file)
    ref_runs = expand(ref_spec)
    assert [run_status(r) for r in ref_runs] == ["done"] * 4

    # the same sweep elsewhere, "killed" deterministically in the third run (qmix, seed 0) at t_env 104,
    # after its checkpoint at t_env 80 and before it finishes
    spec = load_sweep(write_sweep(tmp_path / "kill.yaml", tmp_path / "kill", vectorize=False))
    runs = expand(spec)

    def killer(name, t_env, total, latest):
        if name == runs[2].name and t_env >= 104:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_sweep(spec, workers=1, progress=killer)
    assert [run_status(r) for r in runs] == ["done", "done", "checkpoint", "new"]
    first_final = (runs[0].run_dir / "final.json").stat().st_mtime_ns

    resumed = run_sweep(spec, workers=1)
    assert [o.status for o in resumed.outcomes] == ["skipped", "skipped", "resumed", "finished"]
    assert resumed.outcomes[2].resumed_from == 80
    assert (runs[0].run_dir / "final.json").stat().st_mtime_ns == first_final  # not retrained
    manifest = json.loads((tmp_path / "kill" / "sweep.json").read_text())
    assert [r["status"] for r in manifest["runs"]] == ["skipped", "skipped", "resumed", "finished"]

    # nothing lost: every run's log and final tables equal the uninterrupted sweep's
    for ref, run in zip(ref_runs, runs):
        assert _rows(run.run_dir) == _rows(ref.run_dir), run.name
        a = json.loads((ref.run_dir / "final.json").read_text())
        b = json.loads((run.run_dir / "final.json").read_text())
        assert b["test"] == a["test"] and b["matrix"] == a["matrix"] and b["n_updates"] == a["n_updates"]
    # a third invocation trains nothing
    again = run_sweep(spec, workers=1)
    assert {o.status for o in again.outcomes} == {"skipped"}


def test_failing_run_is_recorded_and_the_sweep_goes_on(tmp_path, monkeypatch):
    from stablepoint.rl import train as train_module

    real = train_module.train

    def train(cfg, *args, **kwargs):  # a failure only training can meet (specs are checked up front)
        if "table5" in cfg.env.spec:
            raise RuntimeError("the simulator of table5 crashed")
        return real(cfg, *args, **kwargs)

    monkeypatch.setattr(train_module, "train", train)
    settings = {**TINY, "steps": 16}
    path = write_sweep(tmp_path / "s.yaml", tmp_path / "out", algos=["vdn"], seeds=1,
                       envs=["matrix:table5", "matrix:qtran"], settings=settings, vectorize=False)
    result = CliRunner().invoke(main, ["sweep", str(path), "--jobs", "1", "--no-progress"])
    assert result.exit_code == 1, result.output
    assert "failed   matrix-table5__vdn__seed0" in result.output
    assert "finished 1, failed 1" in result.output
    failed = json.loads((tmp_path / "out" / "matrix-table5__vdn__seed0" / "failed.json").read_text())
    assert "simulator of table5 crashed" in failed["error"] and "Traceback" in failed["traceback"]
    assert (tmp_path / "out" / "matrix-qtran__vdn__seed0" / "final.json").is_file()
    dry = CliRunner().invoke(main, ["sweep", str(path), "--dry-run"])
    assert dry.exit_code == 0 and "failed" in dry.output and "done" in dry.output


def test_a_bad_env_spec_is_refused_before_any_run_trains(tmp_path):
    path = write_sweep(tmp_path / "s.yaml", tmp_path / "out", algos=["vdn"], seeds=1,
                       envs=["matrix:qtran", "matrix:no-such-game"], settings={**TINY, "steps": 16})
    result = CliRunner().invoke(main, ["sweep", str(path), "--jobs", "1", "--no-progress"])
    assert result.exit_code == 2 and "no-such-game" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "out" / "matrix-qtran__vdn__seed0").exists()


def test_bad_sweep_file_exits_2(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("algos: [qmix]\nenvs: [matrix:table5]\nseeds: 1\nwhat: 3\n")
    result = CliRunner().invoke(main, ["sweep", str(path)])
    assert result.exit_code == 2 and "unknown key(s) what" in result.output


def test_shipped_sweeps_expand():
    from importlib import resources

    folder = Path(str(resources.files("stablepoint") / "configs" / "sweeps"))
    files = sorted(folder.glob("*.yaml"))
    assert len(files) >= 3
    for path in files:
        assert expand(load_sweep(path)), path.name


@pytest.mark.slow
def test_ray_backend_runs_the_same_sweep(tmp_path):
    pytest.importorskip("ray", reason="ray is not installed (optional extra: pip install .[ray])")
    ref = run_sweep(load_sweep(write_sweep(tmp_path / "a.yaml", tmp_path / "a")), workers=1)
    spec = load_sweep(write_sweep(tmp_path / "b.yaml", tmp_path / "b"))
    result = run_sweep(spec, backend="ray", workers=2)
    assert [o.status for o in result.outcomes] == ["finished"] * 4
    for a, b in zip(ref.outcomes, result.outcomes):
        assert Path(a.run_dir).name == Path(b.run_dir).name
        fa = json.loads((Path(a.run_dir) / "final.json").read_text())
        fb = json.loads((Path(b.run_dir) / "final.json").read_text())
        assert fa["matrix"] == fb["matrix"] and fa["test"] == fb["test"]


def test_vectorized_sweep_trains_populations_and_resumes_after_kill_with_nothing_lost(tmp_path):
    """Matrix cells of one algorithm train as one population; a kill loses and duplicates nothing."""
    from stablepoint.rl.sweep import plan

    extra = {"envs": ["matrix:table5", "matrix:qtran"], "algos": ["vdn", "mrvf"]}
    ref_file = write_sweep(tmp_path / "ref.yaml", tmp_path / "ref", **extra)
    ref_spec = load_sweep(ref_file)
    ref_runs = expand(ref_spec)
    jobs = plan(ref_spec, ref_runs)
    assert [len(j) for j in jobs] == [4, 4]  # 2 games x 2 seeds per algorithm
    assert {r.config["algo"]["name"] for r in jobs[1]} == {"mrvf"}
    result = CliRunner().invoke(main, ["sweep", str(ref_file), "--workers", "2", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "finished 8" in result.output
    for run in ref_runs:
        final = json.loads((run.run_dir / "final.json").read_text())
        assert final["trainer"] == {"kind": "population", "members": 4} and final["t_env"] == 160

    spec = load_sweep(write_sweep(tmp_path / "kill.yaml", tmp_path / "kill", **extra))
    runs = expand(spec)

    def killer(name, t_env, total, latest):  # the mrvf population, after its checkpoint at 80
        if name == runs[4].name and t_env >= 104:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_sweep(spec, workers=1, progress=killer)
    assert [run_status(r) for r in runs] == ["done"] * 4 + ["checkpoint"] * 4
    resumed = run_sweep(spec, workers=1)
    assert [o.status for o in resumed.outcomes] == ["skipped"] * 4 + ["resumed"] * 4
    assert {o.resumed_from for o in resumed.outcomes[4:]} == {80}
    for ref, run in zip(ref_runs, runs):
        assert _rows(run.run_dir) == _rows(ref.run_dir), run.name
        a = json.loads((ref.run_dir / "final.json").read_text())
        b = json.loads((run.run_dir / "final.json").read_text())
        assert b["test"] == a["test"] and b["matrix"] == a["matrix"] and b["n_updates"] == a["n_updates"]
        csv_rows = (run.run_dir / "metrics.csv").read_text().splitlines()
        steps = list(dict.fromkeys(r["t_env"] for r in _rows(run.run_dir)))
        # one row per logged step (a step's JSONL rows merged), no duplicates across the resume
        assert [int(line.split(",")[0]) for line in csv_rows[1:]] == steps
    assert {o.status for o in run_sweep(spec, workers=1).outcomes} == {"skipped"}


def test_sweep_file_settings_for_populations(tmp_path):
    spec = sweep_from_dict({"out": "o", "algos": ["qmix"], "envs": ["matrix:table5"], "seeds": 3,
                            "profile": "pymarl", "population_size": 2})
    runs = expand(spec)
    assert {r.config["profile"] for r in runs} == {"pymarl"} and runs[0].config["env"]["n_envs"] == 1
    from stablepoint.rl.sweep import plan

    assert [len(j) for j in plan(spec, runs)] == [2, 1]
    assert [len(j) for j in plan(dataclasses.replace(spec, vectorize=False), runs)] == [1, 1, 1]
    for bad, message in (({"vectorize": "yes"}, "vectorize"), ({"population_size": 0}, "population_size"),
                         ({"profile": "nope"}, "unknown profile")):
        with pytest.raises(SettingsError, match=message):
            expand(sweep_from_dict({"out": "o", "algos": ["qmix"], "envs": ["matrix:table5"], "seeds": 1, **bad}))


def test_population_members_checkpointed_at_different_steps_resume_apart_exactly(tmp_path):
    """A kill between two members' checkpoint writes leaves them at different steps: the planner
    reads each member's step from its checkpoint and resumes them apart, each exactly as it would
    have continued with its own population."""
    import shutil

    settings = {**TINY, "log_interval": 100, "save_interval": 100}

    def spec(out, steps):
        return sweep_from_dict({"out": str(out), "algos": ["vdn"], "envs": ["matrix:table5"], "seeds": 2,
                                "settings": {**settings, "steps": steps}})

    def copy(src, dst):
        shutil.copytree(src, dst)
        for p in dst.rglob("config.yaml"):  # a run folder names its own out directory
            p.write_text(p.read_text().replace(str(src), str(dst)))

    run_sweep(spec(tmp_path / "a", 200), workers=1)  # both members checkpointed at 200
    run_sweep(spec(tmp_path / "b", 400), workers=1)  # both members checkpointed at 400
    seed0, seed1 = "matrix-table5__vdn__seed0", "matrix-table5__vdn__seed1"
    copy(tmp_path / "a", tmp_path / "mixed")
    shutil.rmtree(tmp_path / "mixed" / seed0)
    copy(tmp_path / "b" / seed0, tmp_path / "mixed" / seed0)  # seed 0 at 400, seed 1 at 200
    for p in (tmp_path / "mixed" / seed0).rglob("config.yaml"):
        p.write_text(p.read_text().replace(str(tmp_path / "b"), str(tmp_path / "mixed")))
    result = run_sweep(spec(tmp_path / "mixed", 600), workers=1)  # raised "different steps" before
    assert {o.status for o in result.outcomes} == {"resumed"}, result.outcomes
    assert sorted(o.resumed_from for o in result.outcomes) == [200, 400]
    copy(tmp_path / "a", tmp_path / "a600")
    copy(tmp_path / "b", tmp_path / "b600")
    run_sweep(spec(tmp_path / "a600", 600), workers=1)
    run_sweep(spec(tmp_path / "b600", 600), workers=1)
    # A member resumed in a population of one is the same computation as in a population of two up
    # to float32 summation order (the population exactness tests allow 1e-5 relative as well).
    for mine, ref in ((tmp_path / "mixed" / seed0, tmp_path / "b600" / seed0),
                      (tmp_path / "mixed" / seed1, tmp_path / "a600" / seed1)):
        a, b = _rows(mine), _rows(ref)
        assert [(r["t_env"], sorted(r)) for r in a] == [(r["t_env"], sorted(r)) for r in b]
        for x, y in zip(a, b):
            assert x == pytest.approx(y, rel=1e-5, abs=1e-6), x["t_env"]
