"""Device check: train on the device and on CPU with the same seeds and compare, then time both.

Usage::

    python benchmarks/gpu_check.py [--device cuda|cpu] [--quick]

At most about 8 minutes on a GPU; ``--device cpu --quick`` (CPU against CPU) in under 2 minutes.

1. ``matrix:table5``: :func:`stablepoint.rl.train.train` of QMIX and MRVF (same seed, same
   config) on the device and on CPU.  Check: the same final greedy joint action, and the same
   greedy action of every round (argmaxes of utilities that agree to float32 rounding; a
   different reduction order can only flip an exact near-tie, which the check would report).
2. ``predator_prey`` (small: 4 x 4 grid, 3 predators, 1 prey, limit 20) briefly.  Check: the
   logged losses and returns agree within a relative ``1e-3`` (absolute ``1e-3`` near 0).
   Why not exactly: a GPU sums in another order (and cuDNN's GRU is another kernel), so the
   numbers differ by float32 rounding (~1e-6 relative per update), which Adam and a few dozen
   updates amplify to ~1e-4; acting is identical while no greedy argmax is a near-tie (the
   exploration draws come from numpy on the host).  TF32 is switched off for the comparison
   (the fused GRU switches it off for cuDNN itself).  CPU against CPU must agree exactly.
3. :func:`benchmarks.bench_population.bench` (single learner and populations; members
   ``1,16`` on ``--quick``, ``1,16,64,256`` otherwise) on both devices.

It ends with a throughput table (env steps/s of each training run, member-updates/s of the
population benchmark) for both devices and exits non-zero when a check fails.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_population import bench as bench_population  # noqa: E402

from stablepoint.rl.config import make_config  # noqa: E402
from stablepoint.rl.train import train  # noqa: E402

PP = "predator_prey:grid_size=4,n_predators=3,n_prey=1,episode_limit=20,punishment=-2"
RTOL = ATOL = 1e-3


def _run(spec, algo, device, steps, out, seed=0, **kw):
    cfg = make_config(spec, algo, seed=seed, steps=steps, out=str(out), device=device, tensorboard=False,
                      torch_threads=1, run_name=f"{algo}-{device}", **kw)
    start = time.perf_counter()
    result = train(cfg)
    wall = time.perf_counter() - start
    rows = [json.loads(line) for line in (result.run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    return result, rows, result.t_env / wall


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=RTOL, abs_tol=ATOL)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", choices=["cuda", "cpu"])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no GPU visible to torch")
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    devices = [args.device, "cpu"]
    exact = args.device == "cpu"
    matrix_steps = 1000 if args.quick else 4000
    pp_steps = 200 if args.quick else 1000
    members = [1, 16] if args.quick else [1, 16, 64, 256]
    print(f"# gpu_check: {args.device} against cpu, torch {torch.__version__}"
          f"{', ' + torch.cuda.get_device_name() if args.device == 'cuda' else ''}, quick={args.quick}")
    failures, rates = [], {}
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        # 1. matrix game: the same greedy joint actions
        for algo in ("qmix", "mrvf"):
            res = {}
            for i, dev in enumerate(devices):
                r, _, rate = _run("matrix:table5", algo, dev, matrix_steps, root / f"m{i}-{dev}")
                res[dev] = r
                rates[(f"train matrix:table5 {algo}", dev)] = (rate, "env steps/s")
            a, b = res[args.device].matrix, res["cpu"].matrix
            same = tuple(a.greedy) == tuple(b.greedy) and [tuple(g) for g in a.round_greedy] == [
                tuple(g) for g in b.round_greedy]
            print(f"matrix:table5 {algo}: greedy {args.device} {tuple(a.greedy)} cpu {tuple(b.greedy)} "
                  f"rounds {[tuple(g) for g in a.round_greedy]} / {[tuple(g) for g in b.round_greedy]}: "
                  f"{'same' if same else 'DIFFERENT'}", flush=True)
            if not same:
                failures.append(f"matrix {algo} greedy")
        # 2. predator-prey briefly: losses and returns within the tolerance (exact for cpu/cpu)
        for algo in ("qmix", "mrvf"):
            logs = {}
            for i, dev in enumerate(devices):
                _, rows, rate = _run(PP, algo, dev, pp_steps, root / f"p{i}-{dev}", log_interval=50, test_interval=100,
                                     test_episodes=8, batch_size=8)
                logs[dev] = rows
                rates[(f"train {PP.split(':')[0]} {algo}", dev)] = (rate, "env steps/s")
            worst, compared, bad = 0.0, 0, []
            for ra, rb in zip(logs[args.device], logs["cpu"]):
                for key in ra:
                    if (key.startswith("losses/") or "return" in key) and key in rb:
                        x, y = float(ra[key]), float(rb[key])
                        compared += 1
                        worst = max(worst, abs(x - y) / max(abs(y), 1.0))
                        if (x != y) if exact else not _close(x, y):
                            bad.append((ra.get("t_env"), key, x, y))
            print(f"predator_prey {algo}: {compared} logged losses/returns compared, worst relative difference "
                  f"{worst:.2e} ({'exact required' if exact else f'tolerance {RTOL:g}'}): "
                  f"{'ok' if not bad and compared else 'FAILED ' + str(bad[:3])}", flush=True)
            if bad or not compared:
                failures.append(f"predator_prey {algo}")
        # 3. the population benchmark on both devices
        for i, dev in enumerate(devices):
            if i and dev == devices[0]:
                break  # CPU against CPU: the population benchmark once
            for algo in ("qmix", "mrvf"):
                rows = bench_population(algo, "risk-reward:agents=3,actions=5,seed=0", "default", members,
                                        800 if args.quick else 3000, 10 if args.quick else 40, dev,
                                        root / f"pop{i}-{dev}-{algo}")
                for row in rows:
                    label = f"population {algo} P={row['members']}" if row["kind"] == "population" else f"single {algo}"
                    rates[(label, dev)] = (row["member_updates_per_s"], "member-updates/s")
                print(f"population benchmark {algo} on {dev}: done", flush=True)
    print()
    labels = list(dict.fromkeys(label for label, _ in rates))
    print(f"{'what':44s} {'unit':17s} " + " ".join(f"{d:>12s}" for d in dict.fromkeys(devices)))
    for label in labels:
        unit = next(u for (lab, _), (_, u) in rates.items() if lab == label)
        print(f"{label:44s} {unit:17s} " + " ".join(f"{rates.get((label, d), (float('nan'),))[0]:12.1f}"
                                                 for d in dict.fromkeys(devices)))
    print(f"\n{time.perf_counter() - t0:.0f} s; {'all checks passed' if not failures else 'FAILED: ' + ', '.join(failures)}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
