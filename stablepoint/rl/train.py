"""``train(cfg)``: one training run, CleanRL-shaped but importable.

Reads top to bottom: seeding, run directory, environments, learner and
controller, replay buffer, optional resume, then one loop over environment
steps (collect a batch of episodes, store, update, evaluate, log, checkpoint).

A run directory ``<out>/<run_name>/`` holds

* ``config.yaml``: the full :class:`~stablepoint.rl.config.TrainConfig`;
* ``metrics.jsonl``: one JSON object per log row (``t_env``, namespaced scalars
  ``train/...``, ``losses/...``, ``test/...``);
* ``metrics.csv``: one row per logged step (the JSONL rows of a step merged; test columns
  filled on evaluation steps, empty elsewhere), written as the run goes; a resume drops
  the rows after the checkpoint from both files, so neither repeats a step;
* ``tb/``: TensorBoard event files (when tensorboard is installed);
* ``wandb_id.txt`` (with ``wandb: true`` / ``--wandb``, the ``wandb`` extra): the run's
  Weights & Biases id, so that a resume continues the same W&B run;
* ``checkpoints/last.pt``: networks, optimizer, random generators, counters and, when it is
  small, the replay buffer; ``--resume`` continues from it;
* ``final.json``: final test return and, for matrix games, the greedy joint action, the
  learned Q_tot table of every round and the learned Q^_jt table;
* ``initial.json`` (matrix games): the same tables for the untrained networks, written
  before the first update.

Resuming is exact (bit-for-bit the run that was not interrupted) when the replay buffer fit
in the checkpoint (at most ``CHECKPOINT_BUFFER_BYTES``) and the environment saves its random
generator (``state_dict``); otherwise the run continues from the checkpointed networks and
refills its replay buffer.
"""

from __future__ import annotations

import csv
import dataclasses
import itertools
import json
import math
import random
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from stablepoint.errors import SettingsError
from stablepoint.interrupts import Interrupted, deferred
from stablepoint.rl import runfolder
from stablepoint.rl.buffer import EpisodeBuffer
from stablepoint.rl.config import TrainConfig, config_to_dict, load_config, save_config
from stablepoint.rl.controller import Controller, LinearSchedule
from stablepoint.rl.envs import make_env
from stablepoint.rl.learner import Learner, greedy_final, masked_max, run_rounds
from stablepoint.rl.mixers import MixContext
from stablepoint.rl.agents import agent_inputs
from stablepoint.rl.runner import run_episodes

__all__ = ["TrainResult", "MatrixTables", "train", "matrix_tables", "run_dir_for", "resolve_device", "seed_everything"]

#: Replay buffers larger than this are left out of checkpoints (a resumed run refills its buffer).
CHECKPOINT_BUFFER_BYTES = 256 * 2**20


@dataclass(frozen=True, eq=False)
class MatrixTables:
    """What a trained learner makes of a one-step matrix game.

    Attributes
    ----------
    greedy : tuple of int
        The greedy final joint action (0-based), with early termination for K > 1 rounds.
    final_round : int
        1-based round that produced it.
    round_greedy : tuple of tuples
        Each round's greedy joint action.
    q_tot : tuple of ndarray
        Each round's learned Q_tot over all joint actions (the payoff's shape).
    q_jt : ndarray or None
        The learned joint-action network Q^_jt over all joint actions, when the algorithm has one.
    utilities : tuple of ndarray
        Each round's utilities, shape (n_agents, n_actions).
    """

    greedy: tuple
    final_round: int
    round_greedy: tuple
    q_tot: tuple
    q_jt: np.ndarray | None
    utilities: tuple

    def to_dict(self) -> dict:
        return {
            "greedy": list(self.greedy),
            "final_round": self.final_round,
            "round_greedy": [list(g) for g in self.round_greedy],
            "q_tot": [q.tolist() for q in self.q_tot],
            "q_jt": None if self.q_jt is None else self.q_jt.tolist(),
            "utilities": [u.tolist() for u in self.utilities],
        }


@dataclass(frozen=True)
class TrainResult:
    """Summary of a finished run (the run directory holds the rest).

    Attributes
    ----------
    run_dir : Path
    t_env : int
        Environment steps taken.
    episodes : int
    n_updates : int
    test : dict
        Final evaluation scalars (``test/return_mean``...).
    matrix : MatrixTables or None
        For matrix games: greedy action and learned tables.
    resumed_from : int or None
        ``t_env`` of the checkpoint the run resumed from.
    initial_greedy : tuple of int or None
        For matrix games: the untrained network's greedy joint action (0-based).
    """

    run_dir: Path
    t_env: int
    episodes: int
    n_updates: int
    test: dict
    matrix: MatrixTables | None
    resumed_from: int | None = None
    initial_greedy: tuple | None = None


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch global generators."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def resolve_device(name: str) -> torch.device:
    """``auto`` -> CUDA when available else CPU; ``cuda`` without a GPU is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise SettingsError("device 'cuda' requested but no CUDA device is available")
    return torch.device(name)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")


def run_dir_for(cfg: TrainConfig) -> Path:
    """``<out>/<run_name>``, the name defaulting to ``<env>__<algo>__seed<seed>``.

    A run name that leaves ``out`` (``../x``, an absolute path) raises SettingsError.
    """
    name = cfg.run_name or f"{_slug(cfg.env.spec)}__{_slug(cfg.algo.name)}__seed{cfg.seed}"
    return runfolder.check_run_name(cfg.out, name)


def matrix_tables(learner: Learner, env) -> MatrixTables:
    """Greedy joint action and learned tables of a learner on a one-step matrix game env."""
    payoff = env.payoff
    n, A = env.info.n_agents, env.info.n_actions
    dev = learner.device
    env.reset()
    with torch.no_grad():
        obs = torch.as_tensor(env.obs()[:1], device=dev)
        state = torch.as_tensor(env.state()[:1], device=dev)
        avail = torch.as_tensor(env.avail_actions()[:1], device=dev)
        last = torch.full((1, n), -1, device=dev) if learner.algo.obs_last_action else None
        inputs = agent_inputs(obs, last, A, learner.algo.obs_agent_id)
        h = learner.agent.recur(inputs.reshape(n, -1), learner.agent.init_hidden(n)).view(1, n, -1)
        rounds = run_rounds(learner.agent, h, avail, learner.algo.rounds)
        q_jt_fn = (lambda a: learner.joint(state, a)) if learner.joint is not None else None
        final, which = greedy_final(rounds, q_jt_fn)
        joint = torch.tensor(list(itertools.product(*[range(s) for s in payoff.shape])), device=dev)
        m = joint.shape[0]
        q_tots, utilities = [], []
        for k in range(learner.algo.rounds):
            q = rounds.qs[k][0]  # (n, A)
            chosen = q[torch.arange(n, device=dev), joint]  # (m, n)
            mstate = state.expand(m, -1)
            if rounds.conds[k] is not None:
                mstate = torch.cat([mstate, rounds.conds[k].expand(m, -1)], dim=-1)
            ctx = MixContext.for_actions(
                joint, rounds.greedy[k].expand(m, -1), A, max_qs=masked_max(q, avail[0]).expand(m, -1)
            )
            q_tots.append(learner.mixer(chosen, mstate, ctx).view(payoff.shape).cpu().numpy().astype(np.float64))
            utilities.append(q.cpu().numpy().astype(np.float64))
        q_jt = None
        if learner.joint is not None:
            q_jt = learner.joint(state.expand(m, -1), joint).view(payoff.shape).cpu().numpy().astype(np.float64)
    return MatrixTables(
        greedy=tuple(int(a) for a in final[0].tolist()),
        final_round=int(which[0]) + 1,
        round_greedy=tuple(tuple(int(a) for a in g[0].tolist()) for g in rounds.greedy),
        q_tot=tuple(q_tots),
        q_jt=q_jt,
        utilities=tuple(utilities),
    )


def _summary_writer():
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # tensorboard is an optional extra
        return None
    return SummaryWriter


class _CsvLog:
    """``metrics.csv``: one row per logged step, kept in step with ``metrics.jsonl``.

    Rows logged at the same ``t_env`` (a training row, an evaluation, the final evaluation)
    merge into one CSV row (a later value of a key wins, as in :func:`~stablepoint.rl.plot.load_runs`);
    keys a row does not have stay empty (test columns are filled on evaluation steps only).
    The file is rebuilt from the (already trimmed) JSONL rows when opened, so a resumed run
    has no rows past its checkpoint; when a key first appears after the header was written
    (the first evaluation, a new loss), the whole file is rewritten atomically with the
    wider header, so it never holds rows of different widths.
    """

    def __init__(self, path: Path, rows: list[dict]):
        self.path = path
        self.rows: list[dict] = []
        for row in rows:
            self._merge(row)
        self.columns = list(dict.fromkeys(["t_env", *(k for row in self.rows for k in row)]))
        self._last_offset = 0
        self._rewrite()

    def _merge(self, row: dict) -> bool:
        if self.rows and self.rows[-1]["t_env"] == row["t_env"]:
            self.rows[-1].update(row)
            return True
        self.rows.append(dict(row))
        return False

    def _line(self, row: dict) -> str:
        import io

        buf = io.StringIO()
        csv.DictWriter(buf, fieldnames=self.columns, restval="", lineterminator="\n").writerow(row)
        return buf.getvalue()

    def _rewrite(self) -> None:
        header = ",".join(self.columns) + "\n"
        lines = [self._line(row) for row in self.rows]
        runfolder.write_text_atomic(self.path, header + "".join(lines))
        self._last_offset = len((header + "".join(lines[:-1])).encode()) if lines else len(header.encode())

    def add(self, row: dict) -> None:
        merged = self._merge(row)
        if any(k not in self.columns for k in row):
            self.columns += [k for k in row if k not in self.columns]
            self._rewrite()
            return
        line = self._line(self.rows[-1]).encode()
        with self.path.open("r+b") as fh:
            if merged:  # replace the step's row in place
                fh.seek(self._last_offset)
                fh.truncate()
            else:
                fh.seek(0, 2)
                self._last_offset = fh.tell()
            fh.write(line)


class _WandbLog:
    """Optional Weights & Biases mirror of the log rows (``wandb`` extra, imported lazily).

    The run's W&B id is kept in ``<run_dir>/wandb_id.txt`` so that ``--resume`` continues the
    same W&B run (``resume="allow"``); W&B cannot drop the rows a resume rewinds past, so its
    history may hold steps the JSONL dropped (the JSONL and CSV are the record).  ``WANDB_MODE``
    (``offline`` logs to ``$WANDB_DIR``, default the run directory) and the other W&B
    environment variables apply.
    """

    def __init__(self, run_dir: Path, config: dict, project: str, resume: bool):
        import os
        import uuid

        try:
            import wandb
        except ImportError:
            raise SettingsError("wandb logging needs the wandb extra: pip install 'stablepoint[wandb]'") from None
        id_path = run_dir / "wandb_id.txt"
        if resume and id_path.is_file():
            run_id = id_path.read_text().strip()
        else:
            run_id = uuid.uuid4().hex[:12]
            runfolder.write_text_atomic(id_path, run_id + "\n")
        self.run = wandb.init(
            project=project, name=run_dir.name, id=run_id, resume="allow", config=config,
            dir=os.environ.get("WANDB_DIR") or str(run_dir), reinit="create_new",
            settings=wandb.Settings(console="off", quiet=True, silent=True, save_code=False, disable_git=True),
        )

    def log(self, t_env: int, values: dict) -> None:
        self.run.log({k: float(v) for k, v in values.items()}, step=int(t_env))

    def close(self) -> None:
        self.run.finish()


class _Metrics:
    """JSONL rows, ``metrics.csv``, optional TensorBoard and W&B; on resume drops rows written after the checkpoint.

    ``live_tensorboard=False`` (population members: one writer thread per member would not
    scale) writes the TensorBoard events and the W&B history once, from the JSONL rows, at
    :meth:`close`.  ``wandb`` is the W&B run config (None: no W&B logging).
    """

    def __init__(self, run_dir: Path, use_tb: bool, resume_t: int | None, live_tensorboard: bool = True,
                 wandb: dict | None = None, wandb_project: str = "stablepoint"):
        self.path = run_dir / "metrics.jsonl"
        kept: list[str] = []
        if resume_t is None:
            self.path.write_text("")
        elif self.path.exists():
            kept = [line for line in runfolder.read_metrics(self.path) if json.loads(line)["t_env"] <= resume_t]
            runfolder.write_text_atomic(self.path, "".join(line + "\n" for line in kept))
        self.csv = _CsvLog(run_dir / "metrics.csv", [json.loads(line) for line in kept])
        self.tb = None
        self.tb_at_close = use_tb and not live_tensorboard and _summary_writer() is not None
        if use_tb and live_tensorboard and _summary_writer() is not None:
            self.tb = _summary_writer()(str(run_dir / "tb"), purge_step=resume_t)
        self.wandb = None
        self.wandb_at_close = None
        if wandb is not None:
            args = (run_dir, wandb, wandb_project, resume_t is not None)
            if live_tensorboard:
                self.wandb = _WandbLog(*args)
            else:
                self.wandb_at_close = args

    def log(self, t_env: int, values: dict) -> None:
        row = {"t_env": int(t_env), **{k: float(v) for k, v in values.items()}}
        with self.path.open("a") as fh:
            fh.write(json.dumps(row) + "\n")
        self.csv.add(row)
        if self.tb is not None:
            for key, value in values.items():
                self.tb.add_scalar(key, float(value), int(t_env))
        if self.wandb is not None:
            self.wandb.log(t_env, values)

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()
        if self.wandb is not None:
            self.wandb.close()
        rows = [json.loads(line) for line in self.path.read_text().splitlines() if line]
        if self.tb_at_close:
            import shutil

            shutil.rmtree(self.path.parent / "tb", ignore_errors=True)
            writer = _summary_writer()(str(self.path.parent / "tb"))
            for row in rows:
                for key, value in row.items():
                    if key != "t_env":
                        writer.add_scalar(key, float(value), int(row["t_env"]))
            writer.close()
        if self.wandb_at_close is not None:
            run = _WandbLog(*self.wandb_at_close)
            for row in rows:
                run.log(row["t_env"], {k: v for k, v in row.items() if k != "t_env"})
            run.close()


def round_shares(counts) -> dict[str, float]:
    """``test/round<k>_share``: the share of greedy final actions each round produced (MRVF Fig. 14).

    >>> round_shares([3, 1, 0])
    {'test/round1_share': 0.75, 'test/round2_share': 0.25, 'test/round3_share': 0.0}
    """
    total = max(int(sum(counts)), 1)
    return {f"test/round{k + 1}_share": float(c / total) for k, c in enumerate(counts)}


def next_mark(mark: int, t_env: int, interval: int) -> int:
    """The first multiple-of-``interval`` step after ``mark`` beyond ``t_env`` (one event per crossing).

    >>> next_mark(2000, 2008, 2000), next_mark(2000, 6100, 2000)
    (4000, 8000)
    """
    return mark + interval * max(1, math.ceil((t_env - mark + 1) / interval))


def _evaluate(env, controller: Controller, cfg: TrainConfig, t_env: int) -> dict:
    runs = math.ceil(cfg.test_episodes / env.n_envs)
    returns, extras = [], {}
    for _ in range(runs):
        _, stats = run_episodes(env, controller, test_mode=True, t_env=t_env)
        returns.append(stats.returns)
        for key, value in stats.info_totals.items():
            extras.setdefault(key, []).append(value)
    out = {"test/return_mean": float(np.concatenate(returns).mean()), "test/return_std": float(np.concatenate(returns).std())}
    for key, values in extras.items():
        out[f"test/{key}_mean"] = float(np.concatenate(values).mean())
    return out


def _save_checkpoint(path: Path, payload: dict) -> None:
    # a private temporary file, renamed into place: a kill mid-write leaves the previous
    # checkpoint intact, and two processes never share a temporary file
    runfolder.write_atomic(path, lambda tmp: torch.save(payload, tmp))


def _env_state(env):
    # envs that draw random numbers expose their generator state (stablepoint.rl.envs.base)
    fn = getattr(env, "state_dict", None)
    return fn() if callable(fn) else None


def _buffer_bytes(buffer: EpisodeBuffer) -> int:
    per_episode = sum(int(np.prod(shape)) * dtype.itemsize for shape, dtype in buffer.scheme.values())
    return per_episode * buffer.max_seq_length * len(buffer)


def train(
    cfg: TrainConfig,
    *,
    resume: bool = False,
    progress: Callable[[int, int, dict], None] | None = None,
    force: bool = False,
) -> TrainResult:
    """Train ``cfg.algo`` on ``cfg.env`` for ``cfg.steps`` environment steps.

    Parameters
    ----------
    cfg : TrainConfig
    resume : bool
        Continue from ``<run dir>/checkpoints/last.pt`` (a fresh start if there is none).
    progress : callable, optional
        ``progress(t_env, total_steps, latest_scalars)`` after each collected batch.
    force : bool
        Start afresh in a run directory that holds a run (finished, or with a checkpoint);
        without it (and without ``resume``) such a directory is refused.

    Returns
    -------
    TrainResult

    Raises
    ------
    SettingsError
        Bad settings; a run directory in use by another process (:class:`~stablepoint.rl.runfolder.RunFolderBusy`),
        holding a run (without ``resume`` or ``force``), or with a damaged checkpoint or log.
    stablepoint.interrupts.Interrupted
        SIGINT/SIGTERM while training: a checkpoint of the last completed batch was written first.
    """
    # -- seeding and run directory -------------------------------------------------------
    seed_everything(cfg.seed)
    torch.set_num_threads(cfg.torch_threads)
    device = resolve_device(cfg.device)
    run_dir = run_dir_for(cfg)
    with runfolder.RunLock(run_dir):
        return _train(cfg, run_dir, device, resume, progress, force)


def _train(cfg, run_dir, device, resume, progress, force) -> TrainResult:
    ckpt_path = run_dir / "checkpoints" / "last.pt"
    checkpoint = None
    runfolder.refuse_rerun(run_dir, resume, force)
    if resume and ckpt_path.exists():
        checkpoint = runfolder.load_checkpoint(ckpt_path, device)
        if "population" in checkpoint:
            raise SettingsError(
                f"{run_dir}: trained as a member of a population; resume it with stablepoint sweep (vectorize: true)"
            )
        saved = load_config(run_dir / "config.yaml")
        if dataclasses.replace(saved, steps=cfg.steps, device=cfg.device) != dataclasses.replace(
            cfg, steps=cfg.steps, device=cfg.device
        ):
            raise SettingsError(f"{run_dir}: the checkpoint was made with a different config; only --steps may change")
    if checkpoint is None and force:
        runfolder.clear_previous_run(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    save_config(cfg, run_dir / "config.yaml")

    # -- environments, networks, buffer --------------------------------------------------
    env = make_env(cfg.env.spec, cfg.env.n_envs, seed=cfg.seed)
    test_env = make_env(cfg.env.spec, cfg.env.n_envs, seed=cfg.seed + 1_000_003)
    learner = Learner(cfg.algo, env.info, cfg.env.gamma, device, seed=cfg.seed)
    schedule = LinearSchedule(cfg.epsilon_start, cfg.epsilon_finish, cfg.epsilon_anneal_steps)
    controller = Controller(learner, schedule, seed=cfg.seed + 1)
    buffer = EpisodeBuffer(cfg.buffer_size, info=env.info)
    rng = np.random.default_rng(cfg.seed + 2)

    t_env = episodes = 0
    marks = {"log": 0, "test": 0, "save": cfg.save_interval}
    resumed_from = None
    if checkpoint is not None:
        learner.load_state_dict(checkpoint["learner"])
        controller.load_state_dict(checkpoint["controller"])
        if checkpoint["buffer"] is not None:
            buffer.load_state_dict(checkpoint["buffer"])
        rng.bit_generator.state = checkpoint["rng"]
        for e, key in ((env, "env"), (test_env, "test_env")):
            if checkpoint.get(key) is not None and callable(getattr(e, "load_state_dict", None)):
                e.load_state_dict(checkpoint[key])
        torch.set_rng_state(checkpoint["torch_rng"].cpu())
        t_env, episodes, marks = checkpoint["t_env"], checkpoint["episodes"], dict(checkpoint["marks"])
        resumed_from = t_env
    # what was collected since the last log row (a checkpoint written at an interrupt holds some)
    window = checkpoint.get("window") if checkpoint is not None else None
    window_returns: list[np.ndarray] = list(window["returns"]) if window else []
    window_stats: list[dict] = list(window["stats"]) if window else []
    metrics = _Metrics(run_dir, cfg.tensorboard, resumed_from,
                       wandb=config_to_dict(cfg) if cfg.wandb else None, wandb_project=cfg.wandb_project)
    # The untrained network's greedy action is where the stable-point dynamics start (the
    # basin prediction of `stablepoint confirm`); a resumed run reads the one it wrote.
    initial_path = run_dir / "initial.json"
    initial_greedy = None
    if hasattr(test_env, "payoff"):
        if checkpoint is None:
            runfolder.write_text_atomic(initial_path, json.dumps({"matrix": matrix_tables(learner, test_env).to_dict()}, indent=1))
        if initial_path.exists():
            initial_greedy = tuple(json.loads(initial_path.read_text())["matrix"]["greedy"])

    def save() -> None:
        _save_checkpoint(
            ckpt_path,
            {
                "config": config_to_dict(cfg),
                "learner": learner.state_dict(),
                "controller": controller.state_dict(),
                "buffer": buffer.state_dict() if _buffer_bytes(buffer) <= CHECKPOINT_BUFFER_BYTES else None,
                "rng": rng.bit_generator.state,
                "env": _env_state(env),
                "test_env": _env_state(test_env),
                "torch_rng": torch.get_rng_state(),
                "t_env": t_env,
                "episodes": episodes,
                "marks": marks,
                "window": {"returns": list(window_returns), "stats": list(window_stats)},
            },
        )

    # -- the loop ------------------------------------------------------------------------
    latest: dict = {}
    start, start_t = time.perf_counter(), t_env
    with deferred() as stop:  # SIGINT/SIGTERM: checkpoint the last completed batch, then stop
        while t_env < cfg.steps:
            batch, stats = run_episodes(env, controller, test_mode=False, t_env=t_env)
            buffer.insert(batch)
            t_env += stats.env_steps
            episodes += env.n_envs
            window_returns.append(stats.returns)
            if buffer.can_sample(cfg.batch_size):
                sample = buffer.sample(cfg.batch_size, rng).to_torch(device)
                window_stats.append(learner.update(sample, epsilon=schedule(t_env)))
                if learner.n_updates % cfg.target_update_interval == 0:
                    learner.update_targets()

            if t_env >= marks["test"]:
                latest = _evaluate(test_env, controller, cfg, t_env)
                metrics.log(t_env, latest)
                marks["test"] = next_mark(marks["test"], t_env, cfg.test_interval)
            if t_env >= marks["log"]:
                row = {
                    "train/return_mean": float(np.concatenate(window_returns).mean()),
                    "train/epsilon": schedule(t_env),
                    "train/episodes": float(episodes),
                    "train/updates": float(learner.n_updates),
                    "train/steps_per_s": (t_env - start_t) / max(time.perf_counter() - start, 1e-9),
                }
                for key in window_stats[-1] if window_stats else ():
                    row[key] = float(np.mean([s[key] for s in window_stats if key in s]))
                metrics.log(t_env, row)
                latest = {**latest, **row}
                window_returns, window_stats = [], []
                marks["log"] = next_mark(marks["log"], t_env, cfg.log_interval)
            if t_env >= marks["save"] and t_env < cfg.steps:
                marks["save"] = next_mark(marks["save"], t_env, cfg.save_interval)
                save()
            if progress is not None:
                progress(t_env, cfg.steps, latest)
            if stop.requested:
                with stop.critical():
                    save()
                raise Interrupted(f"interrupted at t_env = {t_env}; checkpoint {ckpt_path} written, "
                                  "continue with --resume")

        # -- final evaluation ------------------------------------------------------------
        final_test = _evaluate(test_env, controller, cfg, t_env)
        metrics.log(t_env, final_test)
        metrics.close()
        with stop.critical():
            save()
        tables = matrix_tables(learner, test_env) if hasattr(test_env, "payoff") else None
        if learner.algo.rounds > 1:
            counts = controller.round_counts
            final_test = {**final_test, **round_shares(counts)}
        summary = {
            "t_env": t_env,
            "episodes": episodes,
            "n_updates": learner.n_updates,
            "test": final_test,
            "resumed_from": resumed_from,
            "matrix": None if tables is None else tables.to_dict(),
            "initial_greedy": None if initial_greedy is None else list(initial_greedy),
        }
        with stop.critical():
            runfolder.write_text_atomic(run_dir / "final.json", json.dumps(summary, indent=1))
    if stop.requested:
        raise Interrupted(f"interrupted as the run finished; every result is written to {run_dir}")
    return TrainResult(run_dir, t_env, episodes, learner.n_updates, final_test, tables, resumed_from, initial_greedy)
