"""Run folders: one writer (lock, stale locks), private temporary files, finished runs, damaged
checkpoints and logs, run names inside --out; the same for population members."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from stablepoint.cli import main
from stablepoint.errors import SettingsError
from stablepoint.rl.config import make_config
from stablepoint.rl.population import train_population
from stablepoint.rl.runfolder import LOCK_NAME, RunFolderBusy, RunFolderWarning, RunLock
from stablepoint.rl.train import _save_checkpoint, train

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
torch.set_num_threads(1)

SETTINGS = dict(tensorboard=False, epsilon_anneal_steps=200, test_interval=100, log_interval=100,
                save_interval=100, batch_size=8, target_update_interval=20)


def _cfg(out, steps=300, seed=0, game="table4a", **kw):
    return make_config(f"matrix:{game}", "vdn", seed=seed, steps=steps, out=str(out), **{**SETTINGS, **kw})


def _cli(*args, out):
    base = ["train", "--env", "matrix:table4a", "--method", "vdn", "--out", str(out), "--no-progress"]
    for k, v in SETTINGS.items():
        base += ["--set", f"{k}={str(v).lower()}"]
    return CliRunner().invoke(main, base + list(args))


def _one_error(res, *words):
    assert res.exit_code == 2, res.output
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), res.output
    for w in words:
        assert w in lines[0], (w, lines[0])
    return lines[0]


def _rows(run_dir):
    rows = [json.loads(x) for x in (Path(run_dir) / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k != "train/steps_per_s"} for r in rows]


def _kill_at(t):
    def progress(t_env, total, latest):
        if t_env >= t:
            raise KeyboardInterrupt
    return progress


def _snapshot(run_dir):
    return {p.relative_to(run_dir): p.read_bytes() for p in sorted(Path(run_dir).rglob("*")) if p.is_file()}


# -- one writer ---------------------------------------------------------------------------


def test_a_second_writer_is_refused_while_the_first_holds_the_run_folder(tmp_path):
    run = tmp_path / "matrix-table4a__vdn__seed0"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from stablepoint.rl.runfolder import RunLock; "
         f"RunLock({str(run)!r}).acquire(); print('held', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(RunFolderBusy, match=f"in use by pid {holder.pid} on host"):
            train(_cfg(tmp_path))
        _one_error(_cli("--steps", "300", out=tmp_path), "in use by pid", LOCK_NAME)
        assert sorted(p.name for p in run.iterdir()) == [LOCK_NAME]  # the refused writer wrote nothing
    finally:
        holder.communicate("")
    # the holder is gone: its flock went with it, the (stale) lock file is taken over with a warning
    with pytest.warns(RunFolderWarning, match="stale lock"):
        result = train(_cfg(tmp_path))
    assert result.t_env >= 300 and not (run / LOCK_NAME).exists()


def test_stale_and_foreign_locks(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    run = tmp_path / "matrix-table4a__vdn__seed0"
    run.mkdir(parents=True)
    (run / LOCK_NAME).write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname()}))
    with pytest.warns(RunFolderWarning, match=f"pid {dead.pid}"):
        train(_cfg(tmp_path))
    (run / LOCK_NAME).write_text(json.dumps({"pid": os.getppid(), "host": socket.gethostname()}))  # alive
    with pytest.raises(RunFolderBusy, match=f"pid {os.getppid()}"):
        train(_cfg(tmp_path), force=True)
    (run / LOCK_NAME).write_text(json.dumps({"pid": 1234, "host": "another-host"}))
    with pytest.raises(RunFolderBusy, match="another-host.*delete"):
        train(_cfg(tmp_path), force=True)
    with RunLock(run / "x"):  # and in this process, a second lock of one folder is refused
        with pytest.raises(RunFolderBusy):
            RunLock(run / "x").acquire()


def test_checkpoint_writes_use_private_temporary_files(tmp_path):
    path = tmp_path / "checkpoints" / "last.pt"
    errors = []

    def writer(k):
        try:
            for i in range(30):
                _save_checkpoint(path, {"writer": k, "i": i})
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and torch.load(path, weights_only=False)["i"] == 29
    assert [p.name for p in path.parent.iterdir()] == ["last.pt"]


# -- finished runs, names ------------------------------------------------------------------


def test_a_finished_run_is_not_rerun_without_resume_unless_forced(tmp_path):
    assert _cli("--steps", "300", out=tmp_path).exit_code == 0
    run = tmp_path / "matrix-table4a__vdn__seed0"
    before = _snapshot(run)
    _one_error(_cli("--steps", "300", out=tmp_path), "finished run", "--resume", "--force")
    assert _snapshot(run) == before  # nothing touched
    rows = _rows(run)
    forced = _cli("--steps", "300", "--force", out=tmp_path)
    assert forced.exit_code == 0, forced.output
    assert _rows(run) == rows  # a fresh, deterministic run: the same rows, none twice
    resumed = _cli("--steps", "300", "--resume", out=tmp_path)
    assert resumed.exit_code == 0 and "resumed from t_env = 30" in resumed.output
    # a killed run's checkpoint is not overwritten by a fresh start either
    with pytest.raises(KeyboardInterrupt):
        train(_cfg(tmp_path / "k", steps=300), progress=_kill_at(150))
    with pytest.raises(SettingsError, match="interrupted run"):
        train(_cfg(tmp_path / "k", steps=300))


@pytest.mark.parametrize("name", ["../../x", "../x", "/tmp/x", "a/../../x", ".."])
def test_run_names_cannot_leave_out(tmp_path, name):
    out = tmp_path / "deep" / "out"
    _one_error(_cli("--steps", "10", "--run-name", name, out=out), "run name")
    assert not (tmp_path / "x").exists() and not (tmp_path / "deep" / "x").exists() and not out.exists()


# -- damaged files -------------------------------------------------------------------------


@pytest.mark.parametrize("damage", ["truncated", "empty", "random"])
def test_resume_with_a_damaged_checkpoint_names_the_file(tmp_path, damage):
    with pytest.raises(KeyboardInterrupt):
        train(_cfg(tmp_path, steps=300), progress=_kill_at(150))
    ckpt = tmp_path / "matrix-table4a__vdn__seed0" / "checkpoints" / "last.pt"
    data = ckpt.read_bytes()
    ckpt.write_bytes({"truncated": data[: len(data) // 2], "empty": b"", "random": os.urandom(4096)}[damage])
    run = ckpt.parent.parent
    before = _snapshot(run)
    line = _one_error(_cli("--steps", "300", "--resume", out=tmp_path), str(ckpt), "damaged", "--force")
    assert "Traceback" not in line
    with pytest.raises(SettingsError, match="damaged"):
        train(_cfg(tmp_path, steps=300), resume=True)
    assert _snapshot(run) == before  # the damaged file and the logs are left for the user to look at


def test_damaged_and_torn_metrics(tmp_path):
    ref = train(_cfg(tmp_path / "ref", steps=400))
    cfg = _cfg(tmp_path / "cut", steps=400)
    with pytest.raises(KeyboardInterrupt):
        train(cfg, progress=_kill_at(250))  # checkpoint at 200, rows up to 250
    log = tmp_path / "cut" / "matrix-table4a__vdn__seed0" / "metrics.jsonl"
    good = log.read_text()
    # a damaged line before the last: refused, naming the file and line
    lines = good.splitlines()
    log.write_text("\n".join(lines[:1] + ["{garbage"] + lines[1:]) + "\n")
    res = _cli("--steps", "400", "--resume", out=tmp_path / "cut")
    _one_error(res, str(log), "line 2", "damaged")
    # a torn last line (a write cut short): dropped with a warning, and the resume is exact
    log.write_text(good + '{"t_env": 260, "train/ret')
    with pytest.warns(RunFolderWarning, match="torn last line"):
        resumed = train(cfg, resume=True)
    assert resumed.resumed_from == 200
    assert _rows(resumed.run_dir) == _rows(ref.run_dir)
    # through the CLI the warning is one line on stderr
    with pytest.raises(KeyboardInterrupt):
        train(_cfg(tmp_path / "cli", steps=400), progress=_kill_at(250))
    torn = tmp_path / "cli" / "matrix-table4a__vdn__seed0" / "metrics.jsonl"
    torn.write_text(torn.read_text() + '{"t_env": 2')
    proc = subprocess.run([sys.executable, "-m", "stablepoint.cli", "train", "--env", "matrix:table4a", "--method", "vdn",
                           "--out", str(tmp_path / "cli"), "--no-progress", "--resume", "--steps", "400",
                           *[a for k, v in SETTINGS.items() for a in ("--set", f"{k}={str(v).lower()}")]],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip().splitlines() == [l for l in proc.stderr.strip().splitlines() if l.startswith("Warning: ")]
    assert len(proc.stderr.strip().splitlines()) == 1 and "torn last line" in proc.stderr


# -- population members --------------------------------------------------------------------


def _pop(out, steps=200):
    return [make_config("matrix:table5", "vdn", seed=s, steps=steps, out=str(out), **SETTINGS) for s in (0, 1, 2)]


def test_population_members_are_locked_and_checked_before_training(tmp_path):
    cfgs = _pop(tmp_path)
    member = tmp_path / "matrix-table5__vdn__seed2"
    with RunLock(member):
        with pytest.raises(RunFolderBusy, match="seed2"):
            train_population(cfgs)
    # no member started: nothing but the lock folders
    assert not list(tmp_path.rglob("metrics.jsonl")) and not list(tmp_path.rglob(LOCK_NAME))
    results = train_population(cfgs)
    assert [r.t_env for r in results] == [200] * 3 and not list(tmp_path.rglob(LOCK_NAME))
    with pytest.raises(SettingsError, match="finished run"):
        train_population(cfgs)
    assert train_population(cfgs, resume=True)[0].resumed_from == 200  # what confirm does
    ckpt = member / "checkpoints" / "last.pt"
    ckpt.write_bytes(b"")
    with pytest.raises(SettingsError, match=f"{ckpt}.*damaged"):
        train_population(cfgs, resume=True)
    forced = train_population(cfgs, force=True)
    assert forced[2].resumed_from is None and ckpt.stat().st_size > 0
