"""Env steps per second of the SMAX stand-in: one copy vs many copies stepped with jax.vmap.

Usage::

    python benchmarks/bench_smax.py [--map 3m] [--n-envs 1,8,32,128] [--steps 200]
                                    [--jax-threads 1,0] [--seed 0]

Needs the smax extra (``pip install .[smax]``).  For each XLA thread setting
(``1``: single-threaded XLA, ``0``: XLA's default pool) a fresh Python process is
started, because XLA reads its flags once, at import.  In it, for each batch size, the
env is built and compiled (reported separately as ``compile s``), then stepped with a
uniform-random policy over available actions; finished copies are reset together when
all are done, as the runner does.  A step of one running copy counts as one env step
(finished copies waiting for the others do not count).

Printed: settings (versions, CPU count, load), then one row per (threads, n_envs) with
env steps/s per wall-clock second and per CPU second of the process (CPU time above
wall time means several threads worked).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time

import numpy as np


def worker(args) -> None:
    from stablepoint.rl.envs import make_env

    rng = np.random.default_rng(args.seed)
    rows = []
    for n_envs in [int(x) for x in args.n_envs.split(",")]:
        t0 = time.perf_counter()
        env = make_env(f"smax:{args.map},jax_threads={args.jax_threads}", n_envs=n_envs, seed=args.seed)
        env.reset()
        env.step(np.full((n_envs, env.info.n_agents), 4))  # compiles the step
        compile_s = time.perf_counter() - t0
        env.reset()
        done = np.zeros(n_envs, dtype=bool)
        steps, wall, cpu = 0, 0.0, 0.0
        while steps < args.steps * n_envs:
            avail = env.avail_actions()
            cum = np.cumsum(avail / avail.sum(-1, keepdims=True), -1)
            actions = np.minimum((rng.random(avail.shape[:2] + (1,)) > cum).sum(-1), avail.shape[-1] - 1)
            w, c = time.perf_counter(), time.process_time()
            _, term, _ = env.step(actions)
            env.obs(), env.state()
            wall += time.perf_counter() - w
            cpu += time.process_time() - c
            steps += int((~done).sum())  # only copies still running count
            done = term
            if term.all():
                w, c = time.perf_counter(), time.process_time()
                env.reset()
                done = np.zeros(n_envs, dtype=bool)
                wall += time.perf_counter() - w
                cpu += time.process_time() - c
        rows.append({"n_envs": n_envs, "compile_s": compile_s, "steps": steps,
                     "wall_rate": steps / wall, "cpu_rate": steps / max(cpu, 1e-9)})
    print(json.dumps({"threads_applied": env.threads_applied, "xla_flags": os.environ.get("XLA_FLAGS", ""),
                      "rows": rows}))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--map", default="3m")
    p.add_argument("--n-envs", default="1,8,32,128")
    p.add_argument("--steps", type=int, default=200, help="lockstep steps per batch size")
    p.add_argument("--jax-threads", default="1,0", help="XLA thread settings to compare (1 single, 0 default)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        worker(args)
        return

    import jax
    import jaxmarl
    import torch

    print(f"python {platform.python_version()}, jax {jax.__version__}, jaxmarl {jaxmarl.__version__}, "
          f"torch {torch.__version__}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    print(f"map smax:{args.map}, random policy, {args.steps} lockstep steps per batch size, seed {args.seed}")
    print(f"{'XLA threads':>12} {'n_envs':>7} {'compile s':>10} {'steps/s wall':>13} {'steps/s CPU':>12} {'x single':>9}")
    for threads in args.jax_threads.split(","):
        env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
        cmd = [sys.executable, __file__, "--worker", "--map", args.map, "--n-envs", args.n_envs,
               "--steps", str(args.steps), "--jax-threads", threads, "--seed", str(args.seed)]
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
        result = json.loads(out.strip().splitlines()[-1])
        label = "1" if threads == "1" else "default"
        base = result["rows"][0]["wall_rate"]
        for row in result["rows"]:
            print(f"{label:>12} {row['n_envs']:>7} {row['compile_s']:>10.1f} {row['wall_rate']:>13.0f} "
                  f"{row['cpu_rate']:>12.0f} {row['wall_rate'] / base:>9.1f}")


if __name__ == "__main__":
    main()
