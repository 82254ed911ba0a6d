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
    lines = err.strip().splitlines()
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
    # during the analysis, inside the numba branch-and-bound kernel: SIGINT after some rows
    proc = _spawn("check", "--game", GAME3, "--method", "qmix", "--out", "X.json", "--no-progress", cwd=tmp_path)
    out = tmp_path / "X.json"
    seen = _wait_for(lambda: len(json.loads(out.read_text())["transitions"]) >= 2 and json.loads(out.read_text()),
                     proc=proc)
    _stop(proc, signal.SIGINT)
    kept = json.loads(out.read_text())
    assert kept["complete"] is False and kept["total"] == 125
    assert len(kept["transitions"]) >= len(seen["transitions"])
    assert kept["transitions"][: len(seen["transitions"])] == seen["transitions"]  # nothing lost or rewritten
    assert not list(tmp_path.glob("*.tmp"))


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc")
def test_train_interrupt_writes_a_checkpoint_and_resume_continues_exactly(tmp_path):
    common = ["--env", "matrix:table5", "--algo", "qmix", "--no-progress", "--set", "tensorboard=false",
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
    proc = _spawn("sweep", "s.yaml", "--workers", "2", "--no-progress", cwd=tmp_path)
    kids = training(proc)
    _stop(proc, signal.SIGINT)
    _wait_for(lambda: not any(_alive(k) for k in kids), timeout=15)  # workers and multiprocessing's tracker
    manifest = json.loads((tmp_path / "out" / "sweep.json").read_text())
    assert manifest["interrupted"] is True
    assert [r["on_disk"] for r in manifest["runs"]] == ["checkpoint", "checkpoint"]
    steps = [torch.load(r / "checkpoints" / "last.pt", weights_only=False)["t_env"] for r in runs]
    assert all(not (r / "run.lock").exists() for r in runs)

    # the parent killed outright: its workers notice, checkpoint and exit
    proc = _spawn("sweep", "s.yaml", "--workers", "2", "--no-progress", cwd=tmp_path)
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
