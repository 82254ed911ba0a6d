"""Population training against the single learner's training loop, side by side in one run.

Usage::

    python benchmarks/bench_population.py [--quick] [--json FILE] [--device cpu|cuda]
                                          [--members 1,16,64,256,1024] [--profile default]
                                          [--algos qmix,mrvf] [--game risk-reward:agents=3,actions=5,seed=0]

For each algorithm it runs :func:`stablepoint.rl.train.train` (one learner) and
:func:`stablepoint.rl.population.train_population` with P members (seeds 0..P-1 on the
game), with the same profile, the same config and one torch thread, and times the steady
state of each training loop: the rate between the first and the last loop iteration after
the replay buffer can sample (setup, the initial and final tables and the checkpoint
writes are excluded and reported apart).  A population's rate is aggregate member-updates
per second; the speed-up of a population is that over the single learner's updates per
second.  ``--json`` writes ``{"speedup": S_qmix, "speedup_mrvf": S_mrvf, "members": P_best,
"rows": [...]}`` (speed-ups of the best population of each algorithm).  ``--quick`` uses
fewer steps and populations up to 256 members and finishes within about two minutes.

The machine is shared and noisy: the ratio measured in one run is the number to read.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import tempfile
import time
from pathlib import Path

import torch

from stablepoint.rl.config import make_config
from stablepoint.rl.population import train_population
from stablepoint.rl.train import train


def _configs(game, algo, profile, members, steps, out, device):
    return [
        make_config(f"matrix:{game}", algo, profile=profile, seed=s, steps=steps, out=str(out), device=device,
                    tensorboard=False, torch_threads=1)
        for s in range(members)
    ]


def _timed(run, cfg0):
    """Run a training loop; return (updates per second of the loop, loop seconds, total seconds)."""
    marks = []
    warm = cfg0.batch_size + cfg0.env.n_envs  # from here on every iteration updates

    def progress(t_env, total, latest):
        if t_env >= warm:
            marks.append(time.perf_counter())

    start = time.perf_counter()
    run(progress)
    total = time.perf_counter() - start
    if len(marks) < 2:
        raise SystemExit("too few loop iterations to time; raise the steps")
    loop = marks[-1] - marks[0]
    return (len(marks) - 1) / loop, loop, total


def bench(algo, game, profile, members_list, single_steps, pop_iters, device, root: Path):
    cfg = _configs(game, algo, profile, 1, single_steps, root / "single", device)[0]
    rate, loop, total = _timed(lambda cb: train(cfg, progress=cb), cfg)
    rows = [{"algo": algo, "members": 0, "kind": "single", "updates_per_s": rate, "member_updates_per_s": rate,
             "loop_s": loop, "total_s": total, "speedup": 1.0}]
    for P in members_list:
        steps = (cfg.batch_size + (pop_iters + 2) * cfg.env.n_envs)
        cfgs = _configs(game, algo, profile, P, steps, root / f"pop{P}", device)
        r, loop, total = _timed(lambda cb: train_population(cfgs, progress=cb), cfgs[0])
        rows.append({"algo": algo, "members": P, "kind": "population", "updates_per_s": r,
                     "member_updates_per_s": r * P, "loop_s": loop, "total_s": total, "speedup": r * P / rate})
        shutil.rmtree(root / f"pop{P}", ignore_errors=True)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", default=None)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--members", default=None, help="comma-separated population sizes")
    parser.add_argument("--profile", default="default")
    parser.add_argument("--algos", default="qmix,mrvf")
    parser.add_argument("--game", default="risk-reward:agents=3,actions=5,seed=0")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    members = [int(m) for m in args.members.split(",")] if args.members else (
        [1, 16, 64, 256] if args.quick else [1, 16, 64, 256, 1024])
    single_steps = 1500 if args.quick else 6000
    pop_iters = 25 if args.quick else 80
    print(f"# {platform.processor() or platform.machine()}, torch {torch.__version__}, device {args.device}, "
          f"1 thread, profile {args.profile}, game {args.game}")
    print(f"{'algo':6s} {'kind':10s} {'P':>5s} {'updates/s':>10s} {'member-updates/s':>17s} {'speed-up':>9s} "
          f"{'loop s':>7s} {'total s':>8s}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for algo in args.algos.split(","):
            for row in bench(algo, args.game, args.profile, members, single_steps, pop_iters, args.device, Path(tmp)):
                rows.append(row)
                print(f"{row['algo']:6s} {row['kind']:10s} {row['members']:5d} {row['updates_per_s']:10.1f} "
                      f"{row['member_updates_per_s']:17.0f} {row['speedup']:9.1f} {row['loop_s']:7.1f} "
                      f"{row['total_s']:8.1f}", flush=True)
    best = {}
    for row in rows:
        if row["kind"] == "population" and row["speedup"] > best.get(row["algo"], {"speedup": 0})["speedup"]:
            best[row["algo"]] = row
    summary = {
        "speedup": best.get("qmix", {}).get("speedup"),
        "speedup_mrvf": best.get("mrvf", {}).get("speedup"),
        "members": best.get("qmix", {}).get("members"),
        "members_mrvf": best.get("mrvf", {}).get("members"),
        "profile": args.profile,
        "device": args.device,
        "rows": rows,
    }
    print(json.dumps({k: v for k, v in summary.items() if k != "rows"}))
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
