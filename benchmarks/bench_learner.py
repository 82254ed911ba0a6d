"""Learner update throughput (and acting throughput) on CPU or GPU, with the settings used.

Usage::

    python benchmarks/bench_learner.py [--algos qmix,wqmix,qplex,resq,mrvf] [--envs matrix:table5,predator_prey]
                                       [--batch-size 32] [--updates 5] [--threads 1] [--device cpu]

For each (env, algorithm) it fills a replay buffer with episodes from the untrained
controller, then times ``Learner.update`` on sampled batches of ``--batch-size`` episodes and
reports updates per second and *transitions* per second (episodes x filled steps per batch),
per wall-clock second and per CPU second of this process (the stable number on a shared
machine).  It also times acting (``run_episodes`` with the controller, epsilon-greedy) in env
steps per second.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import torch

from stablepoint.rl.buffer import EpisodeBuffer
from stablepoint.rl.config import make_config
from stablepoint.rl.controller import Controller, LinearSchedule
from stablepoint.rl.envs import make_env
from stablepoint.rl.learner import Learner
from stablepoint.rl.runner import run_episodes


def bench(env_spec, algo, batch_size, updates, device, n_envs):
    cfg = make_config(env_spec, algo)
    env = make_env(env_spec, n_envs, seed=0)
    learner = Learner(cfg.algo, env.info, cfg.env.gamma, device, seed=0)
    ctl = Controller(learner, LinearSchedule(1.0, 0.05, 50000), seed=0)
    buffer = EpisodeBuffer(max(batch_size, n_envs) * 2, info=env.info)
    wall, cpu = time.perf_counter(), time.process_time()
    steps = 0
    while not buffer.can_sample(batch_size):
        batch, stats = run_episodes(env, ctl, test_mode=False, t_env=0)
        buffer.insert(batch)
        steps += stats.env_steps
    act_wall, act_cpu = time.perf_counter() - wall, time.process_time() - cpu
    rng = np.random.default_rng(0)
    learner.update(buffer.sample(batch_size, rng).to_torch(device), 0.3)  # warm-up
    transitions = 0
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(updates):
        sample = buffer.sample(batch_size, rng)
        transitions += int(sample["filled"].sum())
        learner.update(sample.to_torch(device), 0.3)
    if device.type == "cuda":
        torch.cuda.synchronize()
    up_wall, up_cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {
        "env": env_spec,
        "algo": algo,
        "agents": env.info.n_agents,
        "T": env.info.episode_limit,
        "upd/s": updates / up_wall,
        "upd/cpu-s": updates / max(up_cpu, 1e-9),
        "trans/s": transitions / up_wall,
        "act steps/s": steps / act_wall,
        "act steps/cpu-s": steps / max(act_cpu, 1e-9),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--algos", default="qmix,wqmix,qplex,resq,mrvf")
    parser.add_argument("--envs", default="matrix:table5,predator_prey")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--updates", type=int, default=5)
    parser.add_argument("--n-envs", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    print(f"python {platform.python_version()}, torch {torch.__version__}, numpy {np.__version__}, "
          f"{os.cpu_count()} CPUs, torch threads {torch.get_num_threads()}, device {device}")
    print(f"batch {args.batch_size} episodes, {args.updates} timed updates after 1 warm-up, {args.n_envs} env copies acting")
    cols = ["env", "algo", "agents", "T", "upd/s", "upd/cpu-s", "trans/s", "act steps/s", "act steps/cpu-s"]
    print(" | ".join(f"{c:>15}" for c in cols))
    for env_spec in args.envs.split(","):
        updates = args.updates if not env_spec.startswith("matrix") else args.updates * 20
        for algo in args.algos.split(","):
            row = bench(env_spec, algo, args.batch_size, updates, device, args.n_envs)
            print(" | ".join(f"{row[c]:>15.1f}" if isinstance(row[c], float) else f"{row[c]:>15}" for c in cols), flush=True)


if __name__ == "__main__":
    main()
