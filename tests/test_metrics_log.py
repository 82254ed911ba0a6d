"""metrics.csv (one row per logged step, no duplicates across a resume) and optional W&B logging."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from stablepoint.rl.config import make_config
from stablepoint.rl.population import train_population
from stablepoint.rl.train import _CsvLog, train

torch.set_num_threads(1)

SETTINGS = dict(tensorboard=False, epsilon_anneal_steps=200, test_interval=100, log_interval=50,
                save_interval=100, batch_size=8, target_update_interval=20)


def _cfg(out, steps=400, seed=0, **kw):
    return make_config("matrix:table4a", "vdn", seed=seed, steps=steps, out=str(out), **{**SETTINGS, **kw})


def _csv(run_dir):
    with (Path(run_dir) / "metrics.csv").open(newline="") as fh:
        rows = list(csv.reader(fh))
    return rows[0], rows[1:]


def _jsonl(run_dir):
    return [json.loads(line) for line in (Path(run_dir) / "metrics.jsonl").read_text().splitlines() if line]


def _check_against_jsonl(run_dir):
    """The CSV has one row per distinct JSONL step, in order, each the merge of that step's JSONL rows."""
    header, rows = _csv(run_dir)
    assert header[0] == "t_env" and len(set(header)) == len(header)
    assert all(len(r) == len(header) for r in rows)
    steps = [int(r[0]) for r in rows]
    assert all(a < b for a, b in zip(steps, steps[1:])), steps
    jsonl = _jsonl(run_dir)
    assert steps == list(dict.fromkeys(r["t_env"] for r in jsonl))
    merged: dict[int, dict] = {}
    for r in jsonl:
        merged.setdefault(r["t_env"], {}).update(r)
    for row in rows:
        want = merged[int(row[0])]
        for key, cell in zip(header, row):
            if key in want:
                assert float(cell) == pytest.approx(want[key], rel=1e-12, abs=0), (row[0], key)
            else:
                assert cell == "", (row[0], key)
    return header, rows


def _kill_at(t):
    def progress(t_env, total, latest):
        if t_env >= t:
            raise KeyboardInterrupt
    return progress


def test_csv_has_one_row_per_step_with_test_columns_only_at_evaluations(tmp_path):
    run = train(_cfg(tmp_path)).run_dir
    header, rows = _check_against_jsonl(run)
    assert "test/return_mean" in header and "train/return_mean" in header and "losses/tot" in header
    test_col = header.index("test/return_mean")
    evaluated = {r["t_env"] for r in _jsonl(run) if "test/return_mean" in r}
    assert {int(r[0]) for r in rows if r[test_col] != ""} == evaluated
    # log_interval 50 < test_interval 100: some rows are training-only, and their test cells are empty
    assert any(r[test_col] == "" for r in rows)
    # the final evaluation repeats the last step: still one row for it
    assert int(rows[-1][0]) == 400 and rows[-1][test_col] != ""


def test_csv_after_an_interrupt_and_resume_has_no_duplicate_steps(tmp_path):
    ref = train(_cfg(tmp_path / "ref")).run_dir
    cfg = _cfg(tmp_path / "cut")
    with pytest.raises(KeyboardInterrupt):
        train(cfg, progress=_kill_at(250))  # checkpoint at 200, rows written up to 250
    run = tmp_path / "cut" / ref.name
    _, before = _csv(run)
    assert max(int(r[0]) for r in before) > 200  # rows past the checkpoint are there before the resume
    resumed = train(cfg, resume=True)
    assert resumed.resumed_from == 200
    header, rows = _check_against_jsonl(run)
    ref_header, ref_rows = _csv(ref)
    assert header == ref_header
    assert [r[0] for r in rows] == [r[0] for r in ref_rows]
    # resuming is exact here, so every logged value but the wall-clock rate matches the uninterrupted run
    keep = [i for i, k in enumerate(header) if k != "train/steps_per_s"]
    assert [[r[i] for i in keep] for r in rows] == [[r[i] for i in keep] for r in ref_rows]


def test_csv_widens_its_header_when_a_key_first_appears_late(tmp_path):
    path = tmp_path / "metrics.csv"
    log = _CsvLog(path, [{"t_env": 1, "a": 1.0}])
    log.add({"t_env": 2, "a": 2.0})
    log.add({"t_env": 2, "b": 5.0})  # same step: merged, and a new column
    log.add({"t_env": 3, "a": 3.0})
    log.add({"t_env": 3, "a": 4.0})  # same step again: the later value wins, in place
    with path.open(newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows == [["t_env", "a", "b"], ["1", "1.0", ""], ["2", "2.0", "5.0"], ["3", "4.0", ""]]


def test_population_members_write_the_same_csv(tmp_path):
    cfgs = [make_config("matrix:table5", "vdn", seed=s, steps=200, out=str(tmp_path), **SETTINGS) for s in (0, 1)]
    for result in train_population(cfgs):
        header, rows = _check_against_jsonl(result.run_dir)
        assert int(rows[-1][0]) == 200 and "test/return_mean" in header


def _records(path: Path) -> list[bytes]:
    """The records of a ``.wandb`` file: a 7-byte header (``:W&B``, magic, version), then
    LevelDB-log records (crc32 4 bytes, length 2, type 1: full/first/middle/last) in 32 KiB blocks."""
    import struct

    data = path.read_bytes()
    assert data[:4] == b":W&B"
    pos, block, buf, out = 7, 32768, b"", []
    while pos + 7 <= len(data):
        left = block - pos % block
        if left < 7:  # block trailer padding
            pos += left
            continue
        _, length, kind = struct.unpack("<IHB", data[pos:pos + 7])
        if kind == 0:  # zero padding
            pos += 7 + length
            continue
        buf += data[pos + 7:pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):
            out.append(buf)
            buf = b""
    return out


def _offline_history(wandb_dir: Path) -> list[dict]:
    """The history rows of the offline run(s) under ``wandb_dir``, read from their .wandb record logs."""
    files = sorted(wandb_dir.glob("wandb/offline-run-*/run-*.wandb"))
    assert files, sorted(str(p) for p in wandb_dir.rglob("*"))
    return [row for path in files for row in _offline_history_file(path)]


def _offline_history_file(path: Path) -> list[dict]:
    from wandb.proto import wandb_internal_pb2

    out = []
    for data in _records(path):
        rec = wandb_internal_pb2.Record()
        rec.ParseFromString(data)
        if rec.WhichOneof("record_type") == "history":
            out.append({item.key or "/".join(item.nested_key): json.loads(item.value_json) for item in rec.history.item})
    return out


def test_wandb_offline_run_holds_the_logged_history(tmp_path):
    pytest.importorskip("wandb")
    wandb_dir = tmp_path / "wandb_dir"
    wandb_dir.mkdir()
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_DIR": str(wandb_dir)}
    env.pop("WANDB_SILENT", None)
    code = ("import torch; torch.set_num_threads(1)\n"
            "from stablepoint.cli import main\n"
            "main()\n")
    proc = subprocess.run(
        [sys.executable, "-c", code, "train", "--env", "matrix:table4a", "--method", "vdn", "--out", str(tmp_path / "runs"),
         "--steps", "200", "--no-progress", "--wandb",
         *[a for k, v in SETTINGS.items() for a in ("--set", f"{k}={str(v).lower()}")]],
        capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "wandb" not in proc.stderr.lower(), proc.stderr  # W&B is told to keep quiet
    run = tmp_path / "runs" / "matrix-table4a__vdn__seed0"
    assert (run / "wandb_id.txt").is_file()
    history = _offline_history(wandb_dir)
    steps = sorted({int(h["_step"]) for h in history})
    assert steps == sorted({r["t_env"] for r in _jsonl(run)})
    logged = {k for h in history for k in h}
    assert {"test/return_mean", "train/return_mean", "losses/tot"} <= logged
    final_test = [h["test/return_mean"] for h in history if int(h["_step"]) == 200 and "test/return_mean" in h]
    assert final_test and final_test[-1] == pytest.approx(json.loads((run / "final.json").read_text())["test"]["test/return_mean"])


def test_wandb_is_a_train_setting_reachable_from_sweeps_and_old_configs_load(tmp_path):
    from stablepoint.rl.config import config_from_dict, config_to_dict
    from stablepoint.rl.sweep import _build_config

    cfg = _build_config("matrix:table5", "vdn", 0, str(tmp_path), "x", {"wandb": True, "wandb_project": "p"})
    assert cfg.wandb is True and cfg.wandb_project == "p"
    assert config_from_dict(config_to_dict(cfg)) == cfg
    old = config_to_dict(cfg)
    del old["wandb"], old["wandb_project"]  # a config.yaml written before the setting existed
    assert config_from_dict(old).wandb is False


def test_wandb_population_members_each_log_their_history_offline(tmp_path, monkeypatch, capfd):
    pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    monkeypatch.delenv("WANDB_SILENT", raising=False)
    cfgs = [make_config("matrix:table5", "vdn", seed=s, steps=200, out=str(tmp_path / "runs"), wandb=True, **SETTINGS)
            for s in (0, 1)]
    results = train_population(cfgs)
    out, err = capfd.readouterr()
    assert "wandb" not in (out + err).lower(), out + err  # library code does not print
    ids = {(r.run_dir / "wandb_id.txt").read_text().strip(): r.run_dir for r in results}
    assert len(ids) == 2
    for run_id, run_dir in ids.items():
        (path,) = tmp_path.glob(f"wandb/offline-run-*-{run_id}/run-{run_id}.wandb")
        history = _offline_history_file(path)
        assert sorted({int(h["_step"]) for h in history}) == sorted({r["t_env"] for r in _jsonl(run_dir)})
