"""SIGINT/SIGTERM on real subprocesses: exit 130, one line on stderr, partial results kept, no child left."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml
from click.testing import CliRunner

from stablepoint.cli import main

pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning"),
              pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")]

GAME3 = "risk-reward:agents=3,actions=5,seed=0"


_SPAWNED: list = []


@pytest.fixture(autouse=True)
def _no_process_left_behind():
    """Whatever a test spawned is killed with its whole process group when the test ends,
    pass or fail (a loaded machine can time a test out with its children still running)."""
    yield
    while _SPAWNED:
        proc = _SPAWNED.pop()
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            proc.communicate(timeout=10)
        except (subprocess.TimeoutExpired, ValueError):
            pass


def _spawn(*args, cwd):
    proc = subprocess.Popen([sys.executable, "-m", "stablepoint.cli", *args], cwd=cwd, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _SPAWNED.append(proc)
    return proc


def _wait_for(pred, timeout=90.0, proc=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = pred()
        except (OSError, ValueError, KeyError):
            value = None
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"process ended early ({proc.returncode}): {proc.stderr.read()}")
        time.sleep(0.1)
    raise AssertionError("timed out")


def _stop(proc, sig, timeout=180):
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=timeout)
    assert "Traceback" not in err, err
    # besides the interrupt line, only the size-and-estimate line a long exact analysis prints first
    lines = [ln for ln in err.strip().splitlines() if not (ln.startswith("check: ") and " payoff: " in ln)]
    assert proc.returncode == 130 and len(lines) == 1 and lines[0].startswith("interrupted"), (proc.returncode, err)
    return out, lines[0]


def _children(pid):
    """Pids whose parent is ``pid`` (Linux /proc)."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(entry.name))
    return out


def _catches(pid, sig):
    """Whether process ``pid`` has a handler for ``sig`` (``SigCgt`` in /proc/<pid>/status)."""
    for line in (Path("/proc") / str(pid) / "status").read_text().splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) >> (int(sig) - 1) & 1)
    return False


def _alive(pid):
    try:
        fields = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return fields[0] != "Z"


def _rows(run_dir):
    rows = [json.loads(line) for line in (Path(run_dir) / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k != "train/steps_per_s"} for r in rows]


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc")
def test_check_interrupted_during_the_exact_analysis_keeps_the_rows_done(tmp_path):
    # during start-up (the command's imports), SIGTERM once the CLI handles it
    early = _spawn("check", "--game", GAME3, "--method", "qmix", "--out", "early.json", cwd=tmp_path)
    _wait_for(lambda: _catches(early.pid, signal.SIGTERM), proc=early)
    _stop(early, signal.SIGTERM)
    # during the analysis, inside the numba branch-and-bound kernel of one worker: SIGINT after some rows
    # (epsilon 0.2: every row has its own fit; --budget inf: no refusal however loaded the machine is)
    for jobs in ("1", "2"):
        name = f"X{jobs}.json"
        proc = _spawn("check", "--game", GAME3, "--method", "qmix", "--epsilon", "0.2", "--budget", "inf",
                      "--jobs", jobs, "--out", name, "--no-progress", cwd=tmp_path)
        out = tmp_path / name
        seen = _wait_for(lambda: len(json.loads(out.read_text())["transitions"]) >= 2 and json.loads(out.read_text()),
                         proc=proc)
        workers = _children(proc.pid)
        assert len(workers) >= int(jobs)  # the row workers (and multiprocessing's helper threads' processes)
        _stop(proc, signal.SIGINT)
        kept = json.loads(out.read_text())
        assert kept["complete"] is False and kept["total"] == 125
        rows = [t["u_tilde"] for t in kept["transitions"]]
        assert rows == sorted(rows) and len(rows) >= len(seen["transitions"])
        assert all(t in kept["transitions"] for t in seen["transitions"])  # nothing lost or rewritten
        assert not list(tmp_path.glob("*.tmp"))
        _wait_for(lambda: not any(_alive(w) for w in workers), timeout=10)  # no worker left behind


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc")
def test_train_interrupt_writes_a_checkpoint_and_resume_continues_exactly(tmp_path):
    common = ["--env", "matrix:table5", "--method", "qmix", "--no-progress", "--set", "tensorboard=false",
              "--threads", "1"]
    proc = _spawn("train", *common, "--steps", "200000", "--out", "a", cwd=tmp_path)
    run = tmp_path / "a" / "matrix-table5__qmix__seed0"
    _wait_for(lambda: any(json.loads(x)["t_env"] >= 1000 for x in (run / "metrics.jsonl").read_text().splitlines()),
              proc=proc)
    _, line = _stop(proc, signal.SIGINT)
    ckpt = torch.load(run / "checkpoints" / "last.pt", weights_only=False)
    t = ckpt["t_env"]
    assert "checkpoint" in line and f"t_env = {t}" in line and "--resume" in line
    assert t >= 1000 and not (run / "run.lock").exists() and not list(run.rglob("*.tmp"))
    # resume continues from the interrupt's checkpoint ...
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        res = CliRunner().invoke(main, ["train", *common, "--steps", str(t + 400), "--out", "a", "--resume"])
        assert res.exit_code == 0, res.output
        assert f"resumed from t_env = {t}" in res.output
        # ... and equals a run never interrupted
        ref = CliRunner().invoke(main, ["train", *common, "--steps", str(t + 400), "--out", "b"])
        assert ref.exit_code == 0, ref.output
    finally:
        os.chdir(cwd)
    ref_run = tmp_path / "b" / run.name
    rows = _rows(run)
    assert rows == _rows(ref_run)
    keyed = [(r["t_env"], tuple(sorted(r))) for r in rows]
    assert len(set(keyed)) == len(keyed)  # no row duplicated
    a, b = (json.loads((d / "final.json").read_text()) for d in (run, ref_run))
    assert a["matrix"] == b["matrix"] and a["test"] == b["test"] and a["n_updates"] == b["n_updates"]


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc")
def test_sweep_interrupt_stops_its_workers_and_workers_exit_when_the_parent_dies(tmp_path):
    settings = {"steps": 200000, "tensorboard": False, "log_interval": 200, "save_interval": 400, "device": "cpu"}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({"out": "out", "algos": ["vdn"], "envs": ["matrix:table5"], "seeds": 2,
                                    "settings": settings, "vectorize": False}))
    runs = [tmp_path / "out" / f"matrix-table5__vdn__seed{s}" for s in (0, 1)]

    def training(proc):
        _wait_for(lambda: all((r / "metrics.jsonl").stat().st_size > 0 for r in runs), proc=proc, timeout=120)
        kids = _children(proc.pid)
        assert kids
        return kids

    # Ctrl-C of the parent: workers checkpoint and stop, sweep.json says where each run stands
    proc = _spawn("sweep", "s.yaml", "--jobs", "2", "--no-progress", cwd=tmp_path)
    kids = training(proc)
    _stop(proc, signal.SIGINT)
    _wait_for(lambda: not any(_alive(k) for k in kids), timeout=15)  # workers and multiprocessing's tracker
    manifest = json.loads((tmp_path / "out" / "sweep.json").read_text())
    assert manifest["interrupted"] is True
    assert [r["on_disk"] for r in manifest["runs"]] == ["checkpoint", "checkpoint"]
    steps = [torch.load(r / "checkpoints" / "last.pt", weights_only=False)["t_env"] for r in runs]
    assert all(not (r / "run.lock").exists() for r in runs)

    # the parent killed outright: its workers notice, checkpoint and exit
    proc = _spawn("sweep", "s.yaml", "--jobs", "2", "--no-progress", cwd=tmp_path)
    _wait_for(lambda: all(json.loads((r / "metrics.jsonl").read_text().splitlines()[-1])["t_env"] > s
                          for r, s in zip(runs, steps)), proc=proc, timeout=120)
    kids = _children(proc.pid)
    assert kids
    proc.kill()
    proc.communicate(timeout=30)
    _wait_for(lambda: not any(_alive(k) for k in kids), timeout=30)
    for r, s in zip(runs, steps):
        assert torch.load(r / "checkpoints" / "last.pt", weights_only=False)["t_env"] > s


def test_an_in_process_interrupt_leaves_the_callers_signal_handlers_alone():
    """A command interrupted in-process (CliRunner) must not leave SIGINT ignored: children
    spawned afterwards would inherit SIG_IGN and could no longer be interrupted."""
    from click.testing import CliRunner

    from stablepoint.cli import main

    before = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("stablepoint.commands.games.list_games", boom)
        result = CliRunner().invoke(main, ["games"])
    assert result.exit_code == 130, result.output
    assert {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)} == before


# --------------------------------------------------------------------------- faults at random points (16.6)


def _last_t(run):
    path = run / "metrics.jsonl"
    lines = path.read_text().splitlines() if path.exists() else []
    for line in reversed(lines):  # a SIGKILL may have torn the last line
        try:
            return json.loads(line)["t_env"]
        except json.JSONDecodeError:
            continue
    return 0


def _complete_rows(run):
    # a SIGKILL can tear the last line; the resumed run drops it (with a warning), so compare whole lines
    out = []
    for line in (Path(run) / "metrics.jsonl").read_text().splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        out.append({k: v for k, v in row.items() if k != "train/steps_per_s"})
    return out


def _no_row_twice(rows):
    # a step has at most one training row and one test row (they are logged as separate lines)
    keyed = [(r["t_env"], tuple(sorted(r))) for r in rows]
    return len(set(keyed)) == len(keyed) and [r["t_env"] for r in rows] == sorted(r["t_env"] for r in rows)


def _assert_same_log(rows, ref):
    """The same steps and keys as the uninterrupted run, values to float32 rounding: a kill between
    two members' checkpoint writes leaves them at different steps, they resume as populations of
    one, and a population of one sums in another order than one of two (tests/test_sweep.py,
    members at different steps).  The first differing row is named with its differing keys."""
    assert [(r["t_env"], sorted(r)) for r in rows] == [(r["t_env"], sorted(r)) for r in ref]
    for i, (a, b) in enumerate(zip(rows, ref)):
        diff = {k: (a[k], b[k]) for k in a if a[k] != pytest.approx(b[k], rel=1e-5, abs=1e-6)}
        assert not diff, f"row {i} (t_env {a['t_env']}) differs from the uninterrupted run: {diff}"


def _interrupt(proc):
    """SIGINT: exit 130, the last stderr line says what was kept; warnings before it are allowed."""
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=180)
    lines = err.strip().splitlines()
    assert "Traceback" not in err and proc.returncode == 130 and lines[-1].startswith("interrupted"), err
    assert all(ln.startswith("Warning:") for ln in lines[:-1]), err


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc")
def test_train_killed_at_random_points_loses_and_duplicates_nothing(tmp_path):
    import random

    rng = random.Random(1606)  # the points are random but the test is repeatable
    steps = 3600
    common = ["--env", "matrix:table5", "--method", "vdn", "--no-progress", "--threads", "1", "--steps", str(steps),
              "--set", "tensorboard=false", "--set", "log_interval=100", "--set", "save_interval=300"]
    run = tmp_path / "a" / "matrix-table5__vdn__seed0"
    points = sorted(rng.sample(range(400, steps - 400, 100), 3))
    for i, point in enumerate(points):
        # SIGKILL (no chance to checkpoint) and SIGINT (checkpoint at the interrupt), alternating
        before = _last_t(run)
        proc = _spawn("train", *common, "--out", "a", *(["--resume"] if i else []), cwd=tmp_path)
        # past the point, and past what the previous process logged (so this one is training)
        _wait_for(lambda p=max(point, before + 1): _last_t(run) >= p and _catches(proc.pid, signal.SIGINT),
                  proc=proc, timeout=180)
        time.sleep(rng.uniform(0.0, 0.3))
        if proc.poll() is not None:
            break  # finished before the fault: nothing to resume
        if i % 2 == 0:
            proc.kill()
            proc.communicate(timeout=30)
        else:
            _interrupt(proc)
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        res = CliRunner().invoke(main, ["train", *common, "--out", "a", "--resume"])
        assert res.exit_code == 0, res.output
        ref = CliRunner().invoke(main, ["train", *common, "--out", "b"])
        assert ref.exit_code == 0, ref.output
    finally:
        os.chdir(cwd)
    rows, ref_rows = _complete_rows(run), _complete_rows(tmp_path / "b" / run.name)
    assert _no_row_twice(rows)
    assert rows == ref_rows  # and nothing lost: the same log as a run never interrupted
    a, b = (json.loads((d / "final.json").read_text()) for d in (run, tmp_path / "b" / run.name))
    assert a["test"] == b["test"] and a["n_updates"] == b["n_updates"]


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc")
def test_sweep_parent_killed_at_random_points_loses_and_duplicates_nothing(tmp_path):
    import random

    rng = random.Random(1616)
    settings = {"steps": 2400, "tensorboard": False, "log_interval": 100, "save_interval": 200, "device": "cpu",
                "torch_threads": 1}
    runs = [tmp_path / "out" / f"matrix-table5__vdn__seed{s}" for s in (0, 1)]
    for out, vectorize in (("out", True), ("ref", True)):
        spec = {"out": out, "algos": ["vdn"], "envs": ["matrix:table5"], "seeds": 2, "settings": settings,
                "vectorize": vectorize}
        (tmp_path / f"{out}.yaml").write_text(yaml.safe_dump(spec))
    for point in sorted(rng.sample(range(300, 2000, 100), 2)):
        before = max(_last_t(r) for r in runs)
        proc = _spawn("sweep", "out.yaml", "--jobs", "1", "--no-progress", cwd=tmp_path)
        _wait_for(lambda p=max(point, before + 1): all(r.is_dir() and (r / "metrics.jsonl").exists()
                                                       and _last_t(r) >= p for r in runs), proc=proc, timeout=180)
        time.sleep(rng.uniform(0.0, 0.3))
        if proc.poll() is not None:
            break
        kids = _children(proc.pid)
        proc.kill()  # the parent dies: its worker must notice and stop writing
        proc.communicate(timeout=30)
        _wait_for(lambda k=kids: not any(_alive(c) for c in k), timeout=60)
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        for name in ("out.yaml", "ref.yaml"):
            res = CliRunner().invoke(main, ["sweep", name, "--jobs", "1", "--no-progress"])
            assert res.exit_code == 0, res.output
    finally:
        os.chdir(cwd)
    manifest = json.loads((tmp_path / "out" / "sweep.json").read_text())
    for r in runs:
        rows = _complete_rows(r)
        assert _no_row_twice(rows)
        _assert_same_log(rows, _complete_rows(tmp_path / "ref" / r.name))
        final = json.loads((r / "final.json").read_text())
        entry = next(e for e in manifest["runs"] if e["name"] == r.name)
        # sweep.json agrees with final.json
        assert final["t_env"] == entry["t_env"] == 2400 and entry["status"] in ("finished", "resumed"), entry
