"""Sweeps: a grid of training runs (algorithms x environments x seeds x overrides), resumable.

A sweep file is YAML::

    name: figure6-predator-prey        # optional, for reports
    out: runs/figure6                  # parent of the run directories
    algos: [qmix, wqmix, mrvf]         # names or YAML paths, as for ``stablepoint train``
    envs: ["predator_prey:punishment=0", "predator_prey:punishment=-2"]
    # games: [table5, qtran]           # one-step games: the same as envs [matrix:table5, ...]
    # payoffs: [my_game.csv]           # payoff files: the same as envs [matrix:file=my_game.csv]
    seeds: 5                           # 0..4, or an explicit list [0, 3, 7]
    settings: {steps: 200000}          # fixed for every run
    overrides:                         # optional grid axis: a list of variants ...
      - {}
      - {epsilon_anneal_steps: 5000, algo.sample_epsilon: 0.1}
    # ... or a mapping of lists, expanded as a product: {lr: [...]} style
    profile: pymarl                    # optional settings profile (stablepoint/configs/profiles)
    vectorize: true                    # matrix-game cells train as populations (the default)
    population_size: 1024              # at most this many members per population

Keys of ``settings`` and of each override are :class:`~stablepoint.rl.config.TrainConfig`
fields, ``algo.<field>`` (:class:`~stablepoint.rl.config.AlgoConfig`) or ``env.<field>``
(``env.n_envs``, ``env.gamma``).  Every run is an ordinary :func:`stablepoint.rl.train.train`
run in ``<out>/<env>__<algo>__seed<seed>[__<override>]``, whose ``config.yaml`` describes it
completely; the sweep adds nothing a run needs.

**Populations.**  Matrix-game cells that differ only in seed and game (same algorithm, same
settings, games of one shape) train together in one process as a population
(:func:`stablepoint.rl.population.train_population`), each still writing its own run
directory; ``vectorize: false`` trains every cell on its own.  A killed population resumes
from its members' checkpoints (members at different checkpoints resume apart).

Resuming is by what each run directory holds: a ``final.json`` with ``t_env >= steps``
is finished (skipped); a ``checkpoints/last.pt`` without it is a killed run, continued with
``train(..., resume=True)``; anything else starts fresh.  A run that raises is recorded in
its ``failed.json`` (error and traceback) and the sweep goes on; the next invocation retries
it.  ``<out>/sweep.json`` lists every run's latest status.

Backends: ``local`` (default) runs one process per worker, ``workers`` defaulting to the
CPU count (``workers=1`` runs in this process); ``ray`` sends the same function to a Ray
cluster (``pip install .[ray]``; ``ray.init(address=...)``), writing the same directories.

Examples
--------
>>> spec = sweep_from_dict({"out": "runs/x", "algos": ["vdn", "qmix"], "envs": ["matrix:table5"],
...                         "seeds": 2, "settings": {"steps": 100}})
>>> [run.name for run in expand(spec)]
['matrix-table5__vdn__seed0', 'matrix-table5__vdn__seed1', 'matrix-table5__qmix__seed0', 'matrix-table5__qmix__seed1']
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import re
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import yaml

from stablepoint.errors import SettingsError
from stablepoint.rl.runfolder import RunFolderBusy, write_text_atomic

__all__ = [
    "SweepSpec",
    "SweepRun",
    "RunOutcome",
    "SweepResult",
    "BACKENDS",
    "load_sweep",
    "sweep_from_dict",
    "expand",
    "run_status",
    "run_one",
    "run_population",
    "plan",
    "run_sweep",
]

#: outcome statuses and what they mean
STATUS_MESSAGES = {
    "finished": "trained to the end in this invocation",
    "resumed": "continued from a checkpoint and finished",
    "skipped": "already finished before this invocation",
    "failed": "raised an error (see failed.json in its run directory)",
}

_SPEC_KEYS = {"name", "out", "algos", "envs", "games", "payoffs", "seeds", "settings", "overrides", "profile", "vectorize",
              "population_size"}


@dataclass(frozen=True)
class SweepSpec:
    """A parsed sweep file (see the module docstring)."""

    out: str
    algos: tuple[str, ...]
    envs: tuple[str, ...]
    seeds: tuple[int, ...]
    settings: Mapping[str, Any] = field(default_factory=dict)
    overrides: tuple[Mapping[str, Any], ...] = ({},)
    name: str = ""
    profile: str = "default"
    vectorize: bool = True
    population_size: int = 1024


@dataclass(frozen=True)
class SweepRun:
    """One cell of the grid: its name and the complete config (as a plain dict)."""

    name: str
    config: dict

    @property
    def run_dir(self) -> Path:
        return Path(self.config["out"]) / self.name

    @property
    def steps(self) -> int:
        return int(self.config["steps"])


@dataclass(frozen=True)
class RunOutcome:
    """What happened to one run in one invocation.

    Attributes
    ----------
    name : str
    run_dir : str
    status : {"finished", "resumed", "skipped", "failed"}
    t_env : int or None
        Environment steps reached (None when the run failed before training).
    test_return : float or None
        Final ``test/return_mean``.
    resumed_from : int or None
        Checkpoint ``t_env`` a resumed run started from.
    error : str
        One-line error of a failed run.
    seconds : float
    """

    name: str
    run_dir: str
    status: str
    t_env: int | None = None
    test_return: float | None = None
    resumed_from: int | None = None
    error: str = ""
    seconds: float = 0.0


@dataclass(frozen=True)
class SweepResult:
    """All outcomes of one :func:`run_sweep` call, in grid order."""

    outcomes: tuple[RunOutcome, ...]

    def count(self, status: str) -> int:
        return sum(o.status == status for o in self.outcomes)

    @property
    def success(self) -> bool:
        return self.count("failed") == 0


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.=-]+", "-", str(text)).strip("-")


def _as_tuple(value, what: str, where: str) -> tuple:
    if isinstance(value, (str, int)):
        value = [value]
    if not isinstance(value, (list, tuple)) or not value:
        raise SettingsError(f"{where}: {what} must be a non-empty list")
    return tuple(value)


def sweep_from_dict(data: Mapping[str, Any], where: str = "sweep") -> SweepSpec:
    """Validate a sweep mapping (a parsed sweep file) into a :class:`SweepSpec`."""
    if not isinstance(data, Mapping):
        raise SettingsError(f"{where}: expected a mapping at the top level")
    unknown = sorted(set(data) - _SPEC_KEYS)
    if unknown:
        raise SettingsError(f"{where}: unknown key(s) {', '.join(unknown)}; valid: {', '.join(sorted(_SPEC_KEYS))}")
    for key in ("algos", "seeds"):
        if key not in data:
            raise SettingsError(f"{where}: missing {key!r}")
    if not any(k in data for k in ("envs", "games", "payoffs")):
        raise SettingsError(f"{where}: missing 'envs' (or 'games', 'payoffs': one-step games)")
    seeds = data["seeds"]
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        if seeds < 1:
            raise SettingsError(f"{where}: seeds must be >= 1, got {seeds}")
        seeds = tuple(range(seeds))
    seeds = _as_tuple(seeds, "seeds", where)
    if not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds):
        raise SettingsError(f"{where}: seeds must be non-negative integers, got {list(seeds)}")
    settings = data.get("settings") or {}
    if not isinstance(settings, Mapping):
        raise SettingsError(f"{where}: settings must be a mapping")
    overrides = data.get("overrides") or [{}]
    if isinstance(overrides, Mapping):
        keys = list(overrides)
        axes = [_as_tuple(overrides[k], f"overrides.{k}", where) for k in keys]
        overrides = [dict(zip(keys, combo)) for combo in itertools.product(*axes)]
    overrides = _as_tuple(overrides, "overrides", where)
    if not all(isinstance(o, Mapping) for o in overrides):
        raise SettingsError(f"{where}: each override must be a mapping")
    algos = tuple(str(a) for a in _as_tuple(data["algos"], "algos", where))
    # games: [table5] and payoffs: [p.csv] are the one-step-game shorthands of --game / --payoff
    envs = tuple(str(e) for e in _as_tuple(data["envs"], "envs", where)) if "envs" in data else ()
    if "games" in data:
        envs += tuple(g if str(g).lower().startswith("matrix:") else f"matrix:{g}"
                      for g in (str(x) for x in _as_tuple(data["games"], "games", where)))
    if "payoffs" in data:
        envs += tuple(f"matrix:file={p}" for p in _as_tuple(data["payoffs"], "payoffs", where))
    vectorize = data.get("vectorize", True)
    if not isinstance(vectorize, bool):
        raise SettingsError(f"{where}: vectorize must be true or false, got {vectorize!r}")
    size = data.get("population_size", 1024)
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise SettingsError(f"{where}: population_size must be a positive integer, got {size!r}")
    profile = data.get("profile") or "default"
    if not isinstance(profile, str):
        raise SettingsError(f"{where}: profile must be a name, got {profile!r}")
    return SweepSpec(
        out=str(data.get("out") or "runs"),
        algos=algos,
        envs=envs,
        seeds=tuple(int(s) for s in seeds),
        settings=dict(settings),
        overrides=tuple(dict(o) for o in overrides),
        name=str(data.get("name") or ""),
        profile=profile,
        vectorize=vectorize,
        population_size=size,
    )


def load_sweep(path) -> SweepSpec:
    """Read and validate a sweep YAML file."""
    path = Path(path)
    if not path.is_file():
        raise SettingsError(f"sweep file {str(path)!r} does not exist")
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(f"{path}: cannot read the sweep file as text ({type(exc).__name__})") from None
    except yaml.YAMLError as exc:
        raise SettingsError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    return sweep_from_dict(data or {}, str(path))


def _build_config(env: str, algo: str, seed: int, out: str, run_name: str, values: Mapping[str, Any],
                  profile: str = "default"):
    """A validated TrainConfig from grid coordinates and ``key: value`` settings."""
    from stablepoint.rl.config import config_from_dict, config_to_dict, make_config

    train_values = {k: v for k, v in values.items() if "." not in k}
    nested = {k: v for k, v in values.items() if "." in k}
    cfg = make_config(env, algo, profile=profile, seed=seed, out=out, run_name=run_name, **train_values)
    if nested:
        data = config_to_dict(cfg)
        for key, value in nested.items():
            section, _, name = key.partition(".")
            if section not in ("algo", "env") or not name or name == "spec":
                raise SettingsError(f"bad setting {key!r}; use a train field, algo.<field> or env.<field>")
            data[section][name] = value
        cfg = config_from_dict(data)
    return cfg


#: the parser of a sweep file's settings, shared with ``--set`` of ``train`` and ``confirm``
build_config = _build_config


def expand(spec: SweepSpec) -> list[SweepRun]:
    """Every run of the grid (algorithm-major, then env, override, seed), configs validated.

    Raises
    ------
    SettingsError
        An unknown algorithm, a bad environment spec (:func:`stablepoint.rl.envs.check_env_spec`)
        or setting, or two cells with one run name.
    """
    from stablepoint.rl.config import config_to_dict
    from stablepoint.rl.envs import check_env_spec

    for env in spec.envs:  # every env spec before any run trains (issue 16.5)
        try:
            check_env_spec(env)
        except SettingsError as exc:
            raise SettingsError(f"sweep env {env!r}: {exc}") from None
    runs: list[SweepRun] = []
    for algo, env, override, seed in itertools.product(spec.algos, spec.envs, spec.overrides, spec.seeds):
        algo_label = Path(algo).stem if algo.endswith((".yaml", ".yml")) else algo
        name = f"{_slug(env)}__{_slug(algo_label)}__seed{seed}"
        if override:
            name += "__" + "_".join(f"{_slug(k)}={_slug(v)}" for k, v in sorted(override.items()))
        values = {**spec.settings, **override}
        for reserved in ("seed", "out", "run_name"):
            if reserved in values:
                raise SettingsError(f"sweep setting {reserved!r} is set by the sweep itself")
        cfg = _build_config(env, algo, seed, spec.out, name, values, spec.profile)
        runs.append(SweepRun(name, config_to_dict(cfg)))
    names = [r.name for r in runs]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise SettingsError(f"two sweep cells share the run name {dup!r}")
    return runs


def run_status(run: SweepRun) -> str:
    """``"done"``, ``"checkpoint"`` (killed mid-way), ``"failed"`` or ``"new"`` from the run directory."""
    d = run.run_dir
    final = d / "final.json"
    if final.is_file():
        try:
            if int(json.loads(final.read_text())["t_env"]) >= run.steps:
                return "done"
        except (ValueError, KeyError, TypeError):
            pass
    if (d / "checkpoints" / "last.pt").is_file():
        return "checkpoint"
    if (d / "failed.json").is_file():
        return "failed"
    return "new"


def run_one(run: SweepRun, progress: Callable[[int, int, dict], None] | None = None) -> RunOutcome:
    """Train one grid cell: skip if done, resume from its checkpoint if killed, else start.

    Errors (any ``Exception``) are caught and written to ``failed.json``; interrupts
    (``KeyboardInterrupt``) propagate, leaving the last checkpoint for the next invocation.
    """
    start = time.perf_counter()
    d = run.run_dir
    before = run_status(run)
    if before == "done":
        final = json.loads((d / "final.json").read_text())
        return RunOutcome(run.name, str(d), "skipped", int(final["t_env"]),
                          final.get("test", {}).get("test/return_mean"), final.get("resumed_from"))
    try:
        from stablepoint.rl.config import config_from_dict
        from stablepoint.rl.train import train

        cfg = config_from_dict(run.config)
        (d / "failed.json").unlink(missing_ok=True)
        result = train(cfg, resume=before == "checkpoint", progress=progress)
    except RunFolderBusy as exc:  # another process trains it: its folder is not ours to mark
        return RunOutcome(run.name, str(d), "failed", error=f"{type(exc).__name__}: {exc}",
                          seconds=time.perf_counter() - start)
    except Exception as exc:  # noqa: BLE001 - a failing run must not stop the sweep
        d.mkdir(parents=True, exist_ok=True)
        message = (str(exc).splitlines() or [type(exc).__name__])[0]
        (d / "failed.json").write_text(json.dumps({
            "error": f"{type(exc).__name__}: {message}",
            "traceback": traceback.format_exc(),
            "config": run.config,
        }, indent=1))
        return RunOutcome(run.name, str(d), "failed", error=f"{type(exc).__name__}: {message}",
                          seconds=time.perf_counter() - start)
    status = "resumed" if result.resumed_from is not None else "finished"
    return RunOutcome(run.name, str(d), status, result.t_env, result.test.get("test/return_mean"),
                      result.resumed_from, seconds=time.perf_counter() - start)


def run_population(runs: Sequence[SweepRun], progress: Callable[[int, int, dict], None] | None = None) -> list[RunOutcome]:
    """Train matrix-game cells together as one population (see the module docstring).

    The cells must share a population key (:func:`stablepoint.rl.population.population_key`)
    and a status (all new, or all at one population checkpoint).  Errors are recorded in every
    member's ``failed.json``; interrupts propagate, leaving the members' checkpoints.
    """
    start = time.perf_counter()
    statuses = [run_status(r) for r in runs]
    try:
        from stablepoint.rl.config import config_from_dict
        from stablepoint.rl.population import train_population

        cfgs = [config_from_dict(r.config) for r in runs]
        for r in runs:
            (r.run_dir / "failed.json").unlink(missing_ok=True)
        results = train_population(cfgs, resume="checkpoint" in statuses, progress=progress)
    except Exception as exc:  # noqa: BLE001 - a failing population must not stop the sweep
        message = (str(exc).splitlines() or [type(exc).__name__])[0]
        out = []
        for r in runs:
            r.run_dir.mkdir(parents=True, exist_ok=True)
            (r.run_dir / "failed.json").write_text(json.dumps({
                "error": f"{type(exc).__name__}: {message}", "traceback": traceback.format_exc(),
                "config": r.config, "population": [m.name for m in runs],
            }, indent=1))
            out.append(RunOutcome(r.name, str(r.run_dir), "failed", error=f"{type(exc).__name__}: {message}",
                                  seconds=time.perf_counter() - start))
        return out
    seconds = time.perf_counter() - start
    return [
        RunOutcome(r.name, str(r.run_dir), "resumed" if res.resumed_from is not None else "finished", res.t_env,
                   res.test.get("test/return_mean"), res.resumed_from, seconds=seconds)
        for r, res in zip(runs, results)
    ]


def plan(spec: SweepSpec, runs: Sequence[SweepRun]) -> list[tuple[SweepRun, ...]]:
    """Group unfinished runs into jobs: populations of matrix-game cells, single runs otherwise.

    A population holds cells of one population key and one checkpoint state, at most
    ``spec.population_size`` of them, in grid order.
    """
    if not spec.vectorize:
        return [(r,) for r in runs]
    from stablepoint.rl.config import config_from_dict
    from stablepoint.rl.population import can_vectorize, population_key

    groups: dict[tuple, list[SweepRun]] = {}
    jobs: list = []
    for run in runs:
        cfg = config_from_dict(run.config)
        state = _population_checkpoint(run)
        if not can_vectorize(cfg) or state is None:
            jobs.append([run])  # not a matrix game, or a single run's checkpoint
            continue
        try:
            key = (population_key(cfg), state)
        except Exception:  # noqa: BLE001 - e.g. an unknown game: it fails on its own, recorded
            jobs.append([run])
            continue
        if key not in groups:
            groups[key] = []
            jobs.append(groups[key])
        groups[key].append(run)
    out = []
    for job in jobs:
        for i in range(0, len(job), spec.population_size):
            out.append(tuple(job[i:i + spec.population_size]))
    return out


def _population_checkpoint(run: SweepRun):
    """``"new"``, the step of a population checkpoint, or None for a single run's checkpoint.

    Read from the checkpoint itself, not from the ``last.json`` marker written after it: a kill
    between one member's checkpoint and its marker (or the next member's checkpoint) leaves
    members at different steps, and they must then be grouped, and resumed, apart.
    """
    if run_status(run) != "checkpoint":
        return "new"
    from stablepoint.rl.runfolder import load_checkpoint

    try:
        ckpt = load_checkpoint(run.run_dir / "checkpoints" / "last.pt", "cpu")
    except Exception:  # noqa: BLE001 - damaged: the run on its own names the file when it resumes
        return None
    return int(ckpt["t_env"]) if "population" in ckpt else None


def _run_job(job: tuple[SweepRun, ...], vectorized: bool, progress=None) -> list[RunOutcome]:
    """One job: a population, or one run on its own."""
    if vectorized and _population_checkpoint(job[0]) is not None:
        cb = None if progress is None else (lambda t, total, latest: [progress(r.name, t, total, latest) for r in job])
        return run_population(job, cb)
    cb = None if progress is None else (lambda t, total, latest: progress(job[0].name, t, total, latest))
    return [run_one(job[0], cb)]


def _run_job_quiet(job, vectorized) -> list[RunOutcome]:
    """Worker entry point (no progress callback crosses a process boundary)."""
    return _run_job(job, vectorized)


#: seconds a worker has to checkpoint and exit after SIGTERM (its parent's interrupt or death)
WORKER_GRACE_S = 20.0


def _worker_init(parent_pid: int) -> None:
    """A sweep worker: the terminal's SIGINT is the parent's to handle (it sends SIGTERM, which
    training turns into a checkpoint and an exit); a worker whose parent died stops itself."""
    import signal
    import threading

    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def watch():
        while os.getppid() == parent_pid:
            time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGTERM)  # training checkpoints and stops
        time.sleep(WORKER_GRACE_S)
        os._exit(1)

    threading.Thread(target=watch, name="stablepoint-parent-watch", daemon=True).start()


def _stop_workers(pool) -> None:
    """SIGTERM every worker of ``pool`` (each checkpoints its run), wait, then kill what is left."""
    import signal

    procs = list(getattr(pool, "_processes", {}).values())
    for p in procs:
        if p.is_alive():
            try:
                os.kill(p.pid, signal.SIGTERM)
            except OSError:
                pass
    pool.shutdown(wait=False, cancel_futures=True)
    deadline = time.monotonic() + WORKER_GRACE_S
    for p in procs:
        p.join(max(0.0, deadline - time.monotonic()))
        if p.is_alive():
            p.kill()
            p.join(5)


def _local(jobs, workers, on_outcome, progress, vectorized):
    if workers == 1:
        for job in jobs:
            for outcome in _run_job(job, vectorized, progress):
                on_outcome(outcome)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    # spawn: workers import torch afresh (fork after torch threads started can deadlock)
    ctx = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_worker_init, initargs=(os.getpid(),))
    try:
        futures = {pool.submit(_run_job_quiet, job, vectorized): job for job in jobs}
        for fut in as_completed(futures):
            try:
                outcomes = fut.result()
            except Exception as exc:  # noqa: BLE001 - a worker died (e.g. killed): record, go on
                outcomes = [RunOutcome(r.name, str(r.run_dir), "failed", error=f"worker died: {type(exc).__name__}: {exc}")
                            for r in futures[fut]]
            for outcome in outcomes:
                on_outcome(outcome)
    except BaseException:  # an interrupt (or a failing callback): stop the workers, leave no child behind
        _stop_workers(pool)
        raise
    pool.shutdown(wait=True)


def _ray(jobs, workers, on_outcome, address, vectorized):
    try:
        import ray
    except ImportError:
        raise SettingsError("the ray backend needs the 'ray' package (pip install .[ray])") from None
    started = False
    if not ray.is_initialized():
        kwargs = {"address": address} if address else {"num_cpus": workers}
        ray.init(include_dashboard=False, log_to_driver=False, **kwargs)
        started = True
    try:
        remote = ray.remote(num_cpus=1, max_retries=0)(_run_job_quiet)
        pending = {remote.remote(job, vectorized): job for job in jobs}
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            job = pending.pop(done[0])
            try:
                outcomes = ray.get(done[0])
            except Exception as exc:  # noqa: BLE001 - a task died: record, go on
                outcomes = [RunOutcome(r.name, str(r.run_dir), "failed", error=f"ray task died: {type(exc).__name__}")
                            for r in job]
            for outcome in outcomes:
                on_outcome(outcome)
    finally:
        if started:
            ray.shutdown()


#: backend name -> function(runs, workers, on_outcome, **options)
BACKENDS = {"local": _local, "ray": _ray}


def run_sweep(
    spec: SweepSpec,
    *,
    backend: str = "local",
    workers: int | None = None,
    address: str | None = None,
    on_outcome: Callable[[RunOutcome], None] | None = None,
    progress: Callable[[str, int, int, dict], None] | None = None,
) -> SweepResult:
    """Run (or resume) every cell of ``spec``'s grid.

    Parameters
    ----------
    spec : SweepSpec
    backend : {"local", "ray"}
    workers : int, optional
        Parallel runs; default the CPU count (local) or the cluster's (ray).  ``1`` with the
        local backend trains in this process.
    address : str, optional
        Ray cluster address for ``ray.init(address=...)``; default starts a local instance.
    on_outcome : callable, optional
        Called with each :class:`RunOutcome` as it completes.
    progress : callable, optional
        ``progress(run_name, t_env, total, latest)`` during training; in-process runs only
        (``workers=1``).

    Returns
    -------
    SweepResult
        Outcomes in grid order.
    """
    if backend not in BACKENDS:
        raise SettingsError(f"unknown sweep backend {backend!r}; choose one of: {', '.join(BACKENDS)}")
    if workers is None:
        workers = os.cpu_count() or 1
    if int(workers) != workers or workers < 1:
        raise SettingsError(f"workers must be a positive integer, got {workers!r}")
    runs = expand(spec)
    out = Path(spec.out)
    out.mkdir(parents=True, exist_ok=True)
    manifest = out / "sweep.json"
    outcomes: dict[str, RunOutcome] = {}

    def record(outcome: RunOutcome) -> None:
        outcomes[outcome.name] = outcome
        rows = [dataclasses.asdict(outcomes[r.name]) if r.name in outcomes else {"name": r.name, "status": "pending"}
                for r in runs]
        write_manifest(rows)
        if on_outcome is not None:
            on_outcome(outcome)

    def write_manifest(rows, **extra) -> None:
        doc = {"name": spec.name, "spec": dataclasses.asdict(spec), "runs": rows, **extra}
        write_text_atomic(manifest, json.dumps(doc, indent=1))  # a private temporary file per process

    try:
        todo = []
        for run in runs:
            if run_status(run) == "done":
                record(run_one(run))  # a cheap skip, recorded in order
            else:
                todo.append(run)
        if todo:
            jobs = plan(spec, todo)
            if backend == "local":
                _local(jobs, min(int(workers), len(jobs)), record, progress, spec.vectorize)
            else:
                _ray(jobs, int(workers), record, address, spec.vectorize)
    except KeyboardInterrupt:
        # sweep.json says where every run stands: outcomes so far, and for the others what
        # their folder holds ("checkpoint": resumes on the next invocation)
        rows = [dataclasses.asdict(outcomes[r.name]) if r.name in outcomes
                else {"name": r.name, "status": "pending", "on_disk": run_status(r)} for r in runs]
        write_manifest(rows, interrupted=True)
        raise
    return SweepResult(tuple(outcomes[r.name] for r in runs))
