"""Env steps per second for the batched predator-prey env (8 agents) and a matrix game on CPU.

Usage::

    python benchmarks/bench_envs.py [--n-envs 1,8,32,128] [--steps 400] [--punishment -2]
                                    [--capture-rule adjacent] [--seed 0]

For each batch size it reports two rates, in single-agent-team env steps (one
copy advancing one step counts as one):

* ``env steps/s``: the env alone, i.e. ``obs() + state() + avail_actions() +
  step()`` per lockstep step, the calls the runner makes (action sampling is
  timed separately and excluded);
* ``runner steps/s``: whole :func:`~stablepoint.rl.runner.run_episodes` calls
  with a vectorized uniform-random policy over available actions (batch
  assembly and padding included, no neural network).

Each rate is given per wall-clock second and per CPU second of this process
(``time.process_time``); on a shared, loaded machine the CPU rate is the
stable one, the wall rate what a run will see.

Settings (library versions, CPU count, env options) are printed first.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np

from stablepoint.rl.envs import make_env
from stablepoint.rl.runner import run_episodes


def random_policy(rng):
    def select(obs, state, avail, t, test_mode):
        cum = np.cumsum(avail / avail.sum(-1, keepdims=True), -1)
        actions = (rng.random(avail.shape[:2] + (1,)) > cum).sum(-1)
        return np.minimum(actions, avail.shape[-1] - 1).astype(np.int64), {}

    return select


def bench_env(spec, n_envs, steps, seed, **options):
    env = make_env(spec, n_envs=n_envs, seed=seed, **options)
    select = random_policy(np.random.default_rng(seed))
    env_time = pick_time = env_cpu = 0.0
    done_steps = 0
    env.reset()
    t_ep = 0
    while done_steps < steps * n_envs:
        t0, c0 = time.perf_counter(), time.process_time()
        obs, state, avail = env.obs(), env.state(), env.avail_actions()
        t1, c1 = time.perf_counter(), time.process_time()
        actions, _ = select(obs, state, avail, 0, False)
        t2, c2 = time.perf_counter(), time.process_time()
        _, terminated, _ = env.step(actions)
        t3, c3 = time.perf_counter(), time.process_time()
        env_time += (t1 - t0) + (t3 - t2)
        env_cpu += (c1 - c0) + (c3 - c2)
        pick_time += t2 - t1
        done_steps += n_envs
        t_ep += 1
        if terminated.all() or t_ep == env.info.episode_limit:
            env.reset()
            t_ep = 0
    return done_steps / env_time, done_steps / max(env_cpu, 1e-9)


def bench_runner(spec, n_envs, steps, seed, **options):
    env = make_env(spec, n_envs=n_envs, seed=seed, **options)
    select = random_policy(np.random.default_rng(seed))
    total, t0, c0 = 0, time.perf_counter(), time.process_time()
    while total < steps * n_envs:
        _, stats = run_episodes(env, select, test_mode=False, t_env=total)
        total += stats.env_steps
    return total / (time.perf_counter() - t0), total / max(time.process_time() - c0, 1e-9)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-envs", default="1,8,32,128", help="comma-separated batch sizes")
    parser.add_argument("--steps", type=int, default=400, help="lockstep steps per batch size (min)")
    parser.add_argument("--punishment", type=float, default=-2.0)
    parser.add_argument("--capture-rule", default="adjacent", choices=["adjacent", "same_cell"])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    sizes = [int(x) for x in args.n_envs.split(",")]
    pp_options = {"punishment": args.punishment, "capture_rule": args.capture_rule}

    env = make_env("predator_prey", **pp_options)
    print("# env step throughput (CPU, numpy, one process)")
    print(f"python {platform.python_version()}, numpy {np.__version__}, {platform.machine()}, "
          f"cpu_count={os.cpu_count()}, affinity={len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else 'n/a'}, "
          f"load average {os.getloadavg()[0]:.1f} (rates drop on a loaded machine)")
    print(f"predator_prey: {env!r}, info={env.info}")
    print(f"steps per batch size >= {args.steps} lockstep steps, random policy over available actions, seed {args.seed}")
    print()
    print(f"{'env':<16}{'n_envs':>8}{'env steps/s':>14}{'(per CPU s)':>14}{'runner steps/s':>16}{'(per CPU s)':>14}")
    for spec, options in (("predator_prey", pp_options), ("matrix:table5", {})):
        for n in sizes:
            steps = args.steps if spec == "predator_prey" else max(args.steps, 2000)
            wall, cpu = bench_env(spec, n, steps, args.seed, **options)
            runner_wall, runner_cpu = bench_runner(spec, n, steps, args.seed, **options)
            print(f"{spec:<16}{n:>8}{wall:>14,.0f}{cpu:>14,.0f}{runner_wall:>16,.0f}{runner_cpu:>14,.0f}")


if __name__ == "__main__":
    main()
