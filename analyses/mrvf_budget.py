"""Does MRVF reach the optimum of a 3-agent x 5-action game with a larger budget?  Round by round.

The cross-check (20k steps) found MRVF's rounds 2 and 3 never leaving round 1's greedy
action on the five risk-reward games, although the exact analysis makes the optimum its
only strongly stable point.  This study trains MRVF longer (100k steps by default), with
the behaviour epsilon (``mrvf``) and with pi_k's epsilon fixed at 0.3 (``mrvf_eps03``),
and tabulates every round's greedy joint action and its payoff.

Usage::

    python analyses/mrvf_budget.py [--seeds 2] [--steps 100000] [--jobs 2]
        [--out runs/mrvf_budget] [--markdown analyses/results/mrvf_budget.md]

Training goes through ``stablepoint.rl.confirm`` (runs resume; finished ones are reread),
so an interrupted study loses nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from stablepoint.catalog import get_game
from stablepoint.report import format_action
from stablepoint.rl.confirm import confirm

GAMES = [f"risk-reward:agents=3,actions=5,seed={s}" for s in range(5)]
ALGOS = ("mrvf", "mrvf_eps03")


def study(seeds, steps, jobs, out):
    """Rows (game, algo, seed, round greedy actions, their payoffs, final round, optimum value)."""
    rows = []
    for game in GAMES:
        res = confirm(game, ALGOS, seeds, steps=steps, out=out, analyze_stable=False, jobs=jobs)
        payoff = get_game(game).values
        for row in res.rows:
            for outcome in row.seeds:
                matrix = json.loads((Path(outcome.run_dir) / "final.json").read_text())["matrix"]
                rounds = [tuple(u) for u in matrix["round_greedy"]]
                rows.append((game, row.algo, outcome.seed, rounds, [float(payoff[u]) for u in rounds],
                             int(matrix["final_round"]), float(payoff.max())))
        print(f"  done {game}", file=sys.stderr, flush=True)
    return rows


def render(rows, steps):
    lines = [f"# MRVF round by round on 3-agent x 5-action risk-reward games ({steps:,} steps)", "",
             "| game seed | config | seed | greedy per round (1-based) | payoff per round | final round "
             "| optimum |", "|---|---|---|---|---|---|---|"]
    for game, algo, seed, rounds, values, final, best in rows:
        lines.append(f"| {game.split('seed=')[1]} | {algo} | {seed} | {' -> '.join(map(format_action, rounds))} "
                     f"| {' -> '.join(f'{v:.2f}' for v in values)} | {final} | {best:.2f} |")
    n = len(rows)
    improved = sum(values[final - 1] > values[0] + 1e-9 for _, _, _, _, values, final, _ in rows)
    optimal = sum(abs(values[final - 1] - best) < 1e-9 for _, _, _, _, values, final, best in rows)
    lines += ["", f"Runs whose final round improves on round 1: {improved}/{n}; "
              f"runs ending at the optimum: {optimal}/{n}."]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", default="runs/mrvf_budget")
    parser.add_argument("--markdown", default=None)
    args = parser.parse_args(argv)
    text = render(study(args.seeds, args.steps, args.jobs, args.out), args.steps)
    if args.markdown:
        Path(args.markdown).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
