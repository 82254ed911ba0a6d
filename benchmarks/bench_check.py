"""``stablepoint check`` with its defaults on a 3-agent x 5-action game (issue 15.4: <= 10 s on 2 cores).

Usage::

    python benchmarks/bench_check.py [--game risk-reward:agents=3,actions=5,seed=0]
                                     [--methods qmix,wqmix,vdn,resq] [--json FILE]

For each method it times the real command (a fresh process, so numba's cache load counts)
in two forms, one after the other in the same run:

* ``new``: the defaults (``--jobs`` = every core, ``--losses greedy``, one fit when the
  weights do not depend on u~);
* ``old``: the defaults before issue 15.4 as far as options reach them
  (``--jobs 1 --losses all --budget inf``; the fit-once shortcut cannot be switched off
  from the command line, so QMIX and VDN at epsilon = 1 are fast in both).

It also times the library's analysis of QMIX at epsilon = 1 with and without the fit-once
declaration (in process, after a warm-up).  Prints one table and, with ``--json``, writes
``{"game", "cores", "rows": [{"method", "new_s", "old_s", "speedup"}], "fit_once": {...}}``.
The machine is shared and noisy: read the ratios, and the absolute times with the load
average printed beside them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time


def _time_cli(args: list[str]) -> tuple[float, int]:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "stablepoint.cli", "check", *args, "--no-progress"],
                          capture_output=True, text=True)
    return time.perf_counter() - start, proc.returncode


def _fit_once(game: str) -> dict:
    from stablepoint.catalog import get_game
    from stablepoint.methods import get_method
    from stablepoint.stability import analyze

    class Hidden:  # the same method without its fit-once declaration
        def __init__(self, m):
            self._m, self.name = m, m.name

        def settings(self):
            return self._m.settings()

        def fit(self, payoff, u):
            return self._m.fit(payoff, u)

    payoff, method = get_game(game), get_method("qmix", losses="greedy")
    method.fit(payoff, (0,) * payoff.n_agents)  # warm-up: kernels loaded
    t0 = time.perf_counter()
    once = analyze(payoff, method)
    t1 = time.perf_counter()
    every = analyze(payoff, Hidden(method))
    t2 = time.perf_counter()
    assert dict(once.kinds) == dict(every.kinds)
    return {"method": "qmix epsilon=1", "fit_once_s": t1 - t0, "every_row_s": t2 - t1, "speedup": (t2 - t1) / (t1 - t0)}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--game", default="risk-reward:agents=3,actions=5,seed=0")
    parser.add_argument("--methods", default="qmix,wqmix,vdn,resq")
    parser.add_argument("--json", dest="json_path")
    parser.add_argument("--new-only", action="store_true", help="time only the new defaults (the old WQMIX run takes minutes)")
    args = parser.parse_args(argv)
    from stablepoint.commands.limits import available_cores

    cores = available_cores()
    rows = []
    for m in [x for x in args.methods.split(",") if x]:
        new_s, rc_new = _time_cli(["--game", args.game, "--method", m])
        if args.new_only:
            rows.append({"method": m, "new_s": new_s, "old_s": None, "speedup": None, "exit_new": rc_new,
                         "exit_old": None, "load": os.getloadavg()[0]})
            continue
        old_s, rc_old = _time_cli(["--game", args.game, "--method", m, "--jobs", "1", "--losses", "all",
                                   "--budget", "inf"] if m in ("qmix", "wqmix") else
                                  ["--game", args.game, "--method", m, "--jobs", "1", "--budget", "inf"])
        rows.append({"method": m, "new_s": new_s, "old_s": old_s, "speedup": old_s / new_s,
                     "exit_new": rc_new, "exit_old": rc_old, "load": os.getloadavg()[0]})
    once = _fit_once(args.game)
    print(f"stablepoint check on {args.game}, {cores} cores")
    print(f"{'method':8s} {'new (s)':>8s} {'old (s)':>8s} {'old/new':>8s} {'exit':>6s} {'load':>5s}")
    for r in rows:
        if r["old_s"] is None:
            print(f"{r['method']:8s} {r['new_s']:8.2f} {'-':>8s} {'-':>8s} {r['exit_new']:>2d}/-   {r['load']:5.1f}")
            continue
        print(f"{r['method']:8s} {r['new_s']:8.2f} {r['old_s']:8.2f} {r['speedup']:8.2f} "
              f"{r['exit_new']:>2d}/{r['exit_old']:<3d} {r['load']:5.1f}")
    print(f"fit once (qmix, epsilon 1, in process): {once['fit_once_s']:.3f} s against "
          f"{once['every_row_s']:.2f} s fitting every row ({once['speedup']:.0f}x)")
    if args.json_path:
        with open(args.json_path, "w") as fh:
            json.dump({"game": args.game, "cores": cores, "rows": rows, "fit_once": once}, fh, indent=2)
            fh.write("\n")


if __name__ == "__main__":
    main()
