"""Learner update throughput (and acting throughput) on CPU or GPU, with the settings used.

Usage::

    python benchmarks/bench_learner.py [--algos qmix,wqmix,qplex,resq,mrvf] [--envs matrix:table5,predator_prey]
                                       [--batch-size 32] [--updates 5] [--threads 1] [--device cpu]
    python benchmarks/bench_learner.py --compare [--json FILE] [--updates 3] [--repeats 3] [--act-steps 2000]

For each (env, algorithm) it fills a replay buffer with episodes from the untrained
controller, then times ``Learner.update`` on sampled batches of ``--batch-size`` episodes and
reports updates per second and *transitions* per second (episodes x filled steps per batch),
per wall-clock second and per CPU second of this process (the stable number on a shared
machine).  It also times acting (``run_episodes`` with the controller, epsilon-greedy) in env
steps per second.

``--compare [--json FILE]`` instead measures, in one run and side by side, on the same
predator-prey batches:

* updates/s of QMIX and MRVF with the step-by-step GRU unroll (``Learner.fused_unroll =
  False``, the code before issue 14) against the fused one (torch's GRU kernel), timed in
  interleaved repeats (the best repeat per CPU second of this process counts);
* acting steps/s of the loop env + previous controller (``tests/_predator_prey_loop.py``,
  ``tests/_controller_loop.py``) against the vectorized ones (``benchmarks/bench_acting.py``'s
  measurement);
* the matrix-multiplication FLOPs of one update (``torch.utils.flop_counter``, forward and
  backward) and the bound they imply: updates/s at the GFLOP/s of a plain 2048^3 matmul here.

and writes ``{"speedup_qmix_pp": ..., "speedup_mrvf_pp": ..., "acting_speedup_pp": ..., ...}``.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import sys
import time
from pathlib import Path

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


def matmul_gflops(size: int = 2048, seconds: float = 1.0) -> float:
    """GFLOP/s per CPU second of a plain ``size``^3 float32 matmul (best of a few; CPU time, as
    the update rates of :func:`compare` are, so load on a shared machine cancels)."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    best, start = 0.0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        t = time.process_time()
        a @ b
        best = max(best, 2.0 * size**3 / max(time.process_time() - t, 1e-9) / 1e9)
    return best


def update_flops(learner, batch) -> int:
    """Matmul FLOPs (forward and backward) of one update, counted by torch's flop counter."""
    from torch.utils.flop_counter import FlopCounterMode

    probe = copy.deepcopy(learner)
    with FlopCounterMode(display=False) as counter:
        probe.update(batch, 0.3)
    return int(counter.get_total_flops())


def _fill(env_spec, algo, batch_size, n_envs, device):
    cfg = make_config(env_spec, algo)
    env = make_env(env_spec, n_envs, seed=0)
    learner = Learner(cfg.algo, env.info, cfg.env.gamma, device, seed=0)
    ctl = Controller(learner, LinearSchedule(1.0, 0.05, 50000), seed=0)
    buffer = EpisodeBuffer(max(batch_size, n_envs) * 2, info=env.info)
    while not buffer.can_sample(batch_size):
        batch, _ = run_episodes(env, ctl, test_mode=False, t_env=0)
        buffer.insert(batch)
    return learner, buffer


def compare_updates(algo, env_spec, batch_size, updates, repeats, n_envs, device):
    """Stepwise against fused updates/s of one algorithm on the same batches (interleaved repeats)."""
    fused, buffer = _fill(env_spec, algo, batch_size, n_envs, device)
    rng = np.random.default_rng(0)
    batches = [buffer.sample(batch_size, rng).to_torch(device) for _ in range(updates)]
    step = copy.deepcopy(fused)
    step.fused_unroll = False
    learners = {"stepwise": step, "fused": fused}
    for learner in learners.values():
        learner.update(batches[0], 0.3)  # warm-up
    best = {name: (0.0, 0.0) for name in learners}
    for _ in range(repeats):
        for name, learner in learners.items():
            wall, cpu = time.perf_counter(), time.process_time()
            for b in batches:
                learner.update(b, 0.3)
            if device.type == "cuda":
                torch.cuda.synchronize()
            w, c = updates / (time.perf_counter() - wall), updates / max(time.process_time() - cpu, 1e-9)
            best[name] = (max(best[name][0], w), max(best[name][1], c))
    flops = update_flops(step, batches[0])
    return best, flops, int(batches[0]["filled"].sum()), tuple(batches[0]["reward"].shape)


def compare_acting(n_envs, steps, repeats, seed=0):
    """Loop env + previous controller against the vectorized ones (bench_acting's measurement)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import bench_acting

    options = {"punishment": -2.0, "capture_rule": "adjacent"}
    cfg = make_config("predator_prey", "qmix")
    probe = bench_acting.PredatorPreyEnv(n_envs=n_envs, seed=seed, **options)
    learner = Learner(cfg.algo, probe.info, cfg.env.gamma, torch.device("cpu"), seed=seed)
    identical = bench_acting.same_episodes(learner, n_envs, seed, options)
    runs = {name: bench_acting.make_variant(name, learner, n_envs, seed, options) for name in ("loop", "vectorized")}
    best = {name: (0.0, 0.0) for name in runs}
    for _ in range(repeats):
        for name, (env, ctl) in runs.items():
            wall, cpu = bench_acting.time_variant(env, ctl, steps)
            best[name] = (max(best[name][0], wall), max(best[name][1], cpu))
    return best, identical


def compare(args) -> dict:
    device = torch.device(args.device)
    env_spec = args.envs if args.envs != "matrix:table5,predator_prey" else "predator_prey"
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    gflops = matmul_gflops()
    print(f"# stepwise vs fused GRU unroll on {env_spec}, batch {args.batch_size} episodes, {args.updates} updates "
          f"x {args.repeats} interleaved repeats (best per CPU s), device {device}, load average {load:.1f}")
    print(f"plain 2048^3 matmul: {gflops:.1f} GFLOP/s per CPU s (the bound below: updates/s at that rate)")
    out = {"env": env_spec, "device": str(device), "matmul_gflops": gflops, "load_average": load,
           "torch_threads": torch.get_num_threads(), "torch": torch.__version__}
    print(f"{'algo':6s} {'variant':9s} {'upd/s':>8s} {'upd/cpu-s':>10s} {'speedup':>8s} "
          f"{'GFLOP/upd':>10s} {'bound upd/s':>12s}")
    for algo in ("qmix", "mrvf"):
        best, flops, filled, shape = compare_updates(algo, env_spec, args.batch_size, args.updates, args.repeats,
                                                     args.n_envs, device)
        speed = best["fused"][1] / best["stepwise"][1]
        bound = gflops * 1e9 / max(flops, 1)
        for name, (w, c) in best.items():
            print(f"{algo:6s} {name:9s} {w:8.2f} {c:10.2f} {c / best['stepwise'][1]:7.2f}x "
                  f"{flops / 1e9:10.2f} {bound:12.2f}", flush=True)
        out[f"speedup_{algo}_pp"] = speed
        out[f"speedup_{algo}_pp_wall"] = best["fused"][0] / best["stepwise"][0]
        out[f"{algo}_updates_per_cpu_s"] = {k: v[1] for k, v in best.items()}
        out[f"{algo}_gflop_per_update"] = flops / 1e9
        out[f"{algo}_bound_updates_per_s"] = bound
        out["batch_shape"], out["filled_steps"] = shape, filled
    act, identical = compare_acting(args.n_envs, args.act_steps, args.repeats)
    out["acting_speedup_pp"] = act["vectorized"][1] / act["loop"][1]
    out["acting_speedup_pp_wall"] = act["vectorized"][0] / act["loop"][0]
    out["acting_steps_per_cpu_s"] = {k: v[1] for k, v in act.items()}
    out["acting_same_episodes"] = identical
    for name, (w, c) in act.items():
        print(f"acting {name:10s} {w:10,.0f} steps/s {c:10,.0f} steps/cpu-s {c / act['loop'][1]:6.2f}x  "
              f"same episodes: {'yes' if identical else 'NO'}")
    summary = {k: round(out[k], 3) for k in ("speedup_qmix_pp", "speedup_mrvf_pp", "acting_speedup_pp")}
    print(json.dumps(summary))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1) + "\n")
        print(f"wrote {args.json}")
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--algos", default="qmix,wqmix,qplex,resq,mrvf")
    parser.add_argument("--envs", default="matrix:table5,predator_prey")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--updates", type=int, default=5)
    parser.add_argument("--n-envs", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--compare", action="store_true", help="stepwise against fused, and loop against vectorized acting")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved repeats of --compare")
    parser.add_argument("--act-steps", type=int, default=2000, help="env steps per acting repeat of --compare")
    parser.add_argument("--json", default=None, help="--compare: write the numbers here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.compare:
        compare(args)
        return
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
