"""Acting throughput on predator-prey: the loop env and controller against the vectorized ones.

Usage::

    python benchmarks/bench_acting.py [--n-envs 8] [--steps 4000] [--repeats 3] [--algos qmix]
                                      [--punishment -2] [--capture-rule adjacent] [--threads 1]
                                      [--json FILE]

Acting is what a training run does between updates: :func:`~stablepoint.rl.runner.run_episodes`
with the epsilon-greedy :class:`~stablepoint.rl.controller.Controller` of an untrained learner
on ``predator_prey`` (8 predators, 8 prey, 10 x 10).  Three variants run in one process, on the
same learner, seeds and settings:

* ``loop``: the one-entity-at-a-time env (``tests/_predator_prey_loop.py``) with the previous
  controller (``tests/_controller_loop.py``), i.e. the code before issue 14, item 2;
* ``vec env``: the vectorized env with the previous controller (how much the env alone gives);
* ``vectorized``: the vectorized env with the current controller.

Rates are env steps per second (one copy advancing one step counts as one), per wall-clock
second and per CPU second of this process (``time.process_time``; the stable number on a
shared machine).  Each variant runs ``--repeats`` times, interleaved with the others so load
changes hit all of them alike, and the best repeat is reported.  Before timing, the loop and
vectorized variants play the same episodes from the same seeds and the script checks that the
batches are identical (the rewrite must not change a run).

``--json FILE`` writes ``{"acting_speedup_pp": vectorized / loop (CPU rate, first --n-envs and
algorithm), "rows": [...], "settings": {...}}``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from _controller_loop import Controller as LoopController  # noqa: E402
from _predator_prey_loop import PredatorPreyEnv as LoopPredatorPreyEnv  # noqa: E402

from stablepoint.rl.config import make_config  # noqa: E402
from stablepoint.rl.controller import Controller, LinearSchedule  # noqa: E402
from stablepoint.rl.envs.predator_prey import PredatorPreyEnv  # noqa: E402
from stablepoint.rl.learner import Learner  # noqa: E402
from stablepoint.rl.runner import run_episodes  # noqa: E402

VARIANTS = {
    "loop": (LoopPredatorPreyEnv, LoopController),
    "vec env": (PredatorPreyEnv, LoopController),
    "vectorized": (PredatorPreyEnv, Controller),
}


def make_variant(name, learner, n_envs, seed, options):
    env_cls, ctl_cls = VARIANTS[name]
    env = env_cls(n_envs=n_envs, seed=seed, **options)
    # a schedule that keeps exploring, so both greedy and random actions are exercised
    ctl = ctl_cls(learner, LinearSchedule(1.0, 0.05, 50_000), seed=seed + 1)
    return env, ctl


def same_episodes(learner, n_envs, seed, options, episodes=2) -> bool:
    """Whether the loop and vectorized variants produce identical batches from the same seeds."""
    runs = []
    for name in ("loop", "vectorized"):
        env, ctl = make_variant(name, learner, n_envs, seed, options)
        runs.append([run_episodes(env, ctl, test_mode=False, t_env=1000 * k)[0] for k in range(episodes)])
    for a, b in zip(*runs):
        if set(a.data) != set(b.data) or not all(np.array_equal(a.data[k], b.data[k]) for k in a.data):
            return False
    return True


def time_variant(env, ctl, steps):
    total, t0, c0 = 0, time.perf_counter(), time.process_time()
    while total < steps:
        _, stats = run_episodes(env, ctl, test_mode=False, t_env=total)
        total += stats.env_steps
    return total / (time.perf_counter() - t0), total / max(time.process_time() - c0, 1e-9)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-envs", default="8", help="comma-separated batch sizes (the first one is the headline)")
    parser.add_argument("--steps", type=int, default=4000, help="env steps per timed repeat (at least)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--algos", default="qmix", help="comma-separated algorithms (configs/algos)")
    parser.add_argument("--punishment", type=float, default=-2.0)
    parser.add_argument("--capture-rule", default="adjacent", choices=["adjacent", "same_cell"])
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None, help="write the numbers here")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    sizes = [int(x) for x in args.n_envs.split(",")]
    algos = args.algos.split(",")
    options = {"punishment": args.punishment, "capture_rule": args.capture_rule}

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print("# acting throughput: run_episodes + Controller on predator_prey (CPU, one process)")
    print(f"python {platform.python_version()}, numpy {np.__version__}, torch {torch.__version__}, "
          f"{platform.machine()}, cpu_count={os.cpu_count()}, torch threads {torch.get_num_threads()}, "
          f"load average {load:.1f} (rates drop on a loaded machine)")
    print(f"env options {options}, >= {args.steps} env steps per repeat, best of {args.repeats}, seed {args.seed}")
    print()
    header = f"{'algo':<8}{'n_envs':>7}  {'variant':<12}{'steps/s':>10}{'per CPU s':>11}{'speedup':>9}  same episodes"
    print(header)
    rows = []
    for algo in algos:
        cfg = make_config("predator_prey", algo)
        for n_envs in sizes:
            probe = PredatorPreyEnv(n_envs=n_envs, seed=args.seed, **options)
            learner = Learner(cfg.algo, probe.info, cfg.env.gamma, torch.device("cpu"), seed=args.seed)
            identical = same_episodes(learner, n_envs, args.seed, options)
            runs = {name: make_variant(name, learner, n_envs, args.seed, options) for name in VARIANTS}
            best = {name: (0.0, 0.0) for name in VARIANTS}
            for _ in range(args.repeats):
                for name, (env, ctl) in runs.items():
                    wall, cpu = time_variant(env, ctl, args.steps)
                    best[name] = (max(best[name][0], wall), max(best[name][1], cpu))
            base_cpu = best["loop"][1]
            for name, (wall, cpu) in best.items():
                row = {"algo": algo, "n_envs": n_envs, "variant": name, "steps_per_s": wall,
                       "steps_per_cpu_s": cpu, "speedup_cpu": cpu / base_cpu, "same_episodes": identical}
                rows.append(row)
                print(f"{algo:<8}{n_envs:>7}  {name:<12}{wall:>10,.0f}{cpu:>11,.0f}{cpu / base_cpu:>8.2f}x  "
                      f"{'yes' if identical else 'NO'}", flush=True)
    head = [r for r in rows if r["algo"] == algos[0] and r["n_envs"] == sizes[0]]
    speedup = next(r["speedup_cpu"] for r in head if r["variant"] == "vectorized")
    print()
    print(f"acting speedup (vectorized / loop, per CPU s, {algos[0]}, n_envs={sizes[0]}): {speedup:.2f}x")
    if args.json is not None:
        wall_speedup = (next(r["steps_per_s"] for r in head if r["variant"] == "vectorized")
                        / next(r["steps_per_s"] for r in head if r["variant"] == "loop"))
        out = {
            "acting_speedup_pp": speedup,
            "acting_speedup_pp_wall": wall_speedup,
            "rows": rows,
            "settings": {"python": platform.python_version(), "numpy": np.__version__, "torch": torch.__version__,
                         "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(), "load_average": load,
                         "steps": args.steps, "repeats": args.repeats, "env_options": options, "seed": args.seed},
        }
        args.json.write_text(json.dumps(out, indent=2) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
