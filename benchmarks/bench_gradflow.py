"""Trajectories per second of the gradient-flow integrator (2x3 game, 8-unit MLP mixer).

Target: >= 10 trajectories per second on 2 CPU cores with the default
settings (LSODA, t_max 1000, gtol 1e-3, closed-form numpy field).  Prints a
table; run ``python benchmarks/bench_gradflow.py [--runs N] [--backend torch]``.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from stablepoint.gradflow.flow import FlowSettings, initial_states, run_flows
from stablepoint.gradflow.loss import LossModel
from stablepoint.payoff import Payoff

#: A 2x3 non-monotone coordination game (optimum at (1, 1)).
GAME_2X3 = Payoff([[12.0, -12.0, 0.0], [-12.0, 0.0, 10.0]], name="bench-2x3")


def _cpu_seconds() -> float:
    # this process plus finished worker processes: on a shared machine CPU time,
    # not wall time, says what an idle machine would do
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def bench(runs: int, backend: str, mixer: str, taus, workers: int = 1, seed: int = 0):
    rows = []
    for tau in taus:
        model = LossModel(GAME_2X3, mixer, tau=tau, hidden=8)
        x0s = initial_states(model, runs, seed)
        for kind in ("true", "semi"):
            settings = FlowSettings(gradient=kind, backend=backend)
            start, cpu = time.perf_counter(), _cpu_seconds()
            batch = run_flows(model, x0s, settings, workers=workers)
            elapsed, cpu = time.perf_counter() - start, _cpu_seconds() - cpu
            nfev = np.mean([t.nfev for t in batch.trajectories])
            rows.append((tau, kind, runs, elapsed, runs / elapsed, cpu, nfev, batch.n_converged))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--backend", default="auto", choices=["auto", "numpy", "torch"])
    parser.add_argument("--mixer", default="nonmono")
    parser.add_argument("--taus", default="1,0.3,0.1")
    parser.add_argument("--workers", type=int, default=1, help="processes (2 uses both cores)")
    args = parser.parse_args()
    taus = [float(t) for t in args.taus.split(",")]
    rows = bench(args.runs, args.backend, args.mixer, taus, args.workers)
    print(f"game {GAME_2X3.name} {GAME_2X3.shape}, mixer {args.mixer} (8 hidden units), "
          f"backend {args.backend}, workers {args.workers}")
    print(f"{'tau':>5} {'flow':<5} {'runs':>5} {'wall s':>8} {'traj/s':>7} {'cpu s':>7} {'traj/cpu-s':>10} "
          f"{'mean nfev':>10} {'converged':>9}")
    for tau, kind, runs, sec, rate, cpu, nfev, conv in rows:
        print(f"{tau:>5g} {kind:<5} {runs:>5} {sec:>8.2f} {rate:>7.1f} {cpu:>7.2f} {runs / cpu:>10.1f} "
              f"{nfev:>10.0f} {conv:>9}")
    total_runs = sum(r[2] for r in rows)
    total_sec = sum(r[3] for r in rows)
    total_cpu = sum(r[5] for r in rows)
    print(f"overall: {total_runs / total_sec:.1f} trajectories per wall second, "
          f"{total_runs / total_cpu:.1f} per CPU second (x cores for an idle machine with --workers = cores)")


if __name__ == "__main__":
    main()
