"""Does gradient-trained QMIX compute Ideal QMIX?  Trained Q_tot losses beside the exact fits.

MRVF models QMIX as *Ideal QMIX*: the best monotonic fit of Q_jt under the visitation.
This study trains the QMIX learner with a fixed epsilon (1.0 by default: uniform
visitation, so the exact fit does not depend on the greedy action) and compares, per seed,

* the trained Q_tot's weighted loss against the payoff,
* the Ideal-QMIX optimum (``bnb``, exact) and its greedy set,
* the exact best loss with the trained greedy action forced greedy (``greedy_losses``).

If trained QMIX computed Ideal QMIX, its loss would match the optimum and its greedy action
would be in the optimum's greedy set.

Usage::

    python analyses/qmix_vs_ideal.py [--games qtran,table4d,table5] [--seeds 5] [--steps 20000]
        [--epsilon 1.0] [--out runs/qmix_vs_ideal] [--markdown analyses/results/qmix_vs_ideal.md]

Runs resume (finished ones are reread), so an interrupted study loses nothing.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from stablepoint.catalog import get_game
from stablepoint.methods import get_method
from stablepoint.rl.config import make_config
from stablepoint.rl.train import train
from stablepoint.visitation import uniform


def fmt(u) -> str:
    return "(" + ", ".join(str(a + 1) for a in u) + ")"


def study(game: str, seeds: int, steps: int, epsilon: float, out: str) -> list[str]:
    payoff = get_game(game)
    y = payoff.values
    if epsilon != 1.0:
        raise SystemExit("only epsilon = 1 (uniform visitation) is compared here: the fit then needs no u~")
    w = uniform(y.shape)
    exact = get_method("qmix", visitation="uniform").fit(payoff, tuple(0 for _ in y.shape))
    rows = []
    for seed in range(seeds):
        cfg = make_config(f"matrix:{game}", "qmix", seed=seed, steps=steps, out=out, tensorboard=False,
                          epsilon_start=epsilon, epsilon_finish=epsilon)
        res = train(cfg, resume=True)
        q_tot = res.matrix.q_tot[0]
        loss = float(np.sum(w * (q_tot - y) ** 2))
        greedy = tuple(res.matrix.greedy)
        forced = exact.greedy_losses[greedy]
        rows.append(
            f"| `{game}` | {seed} | {fmt(greedy)} | {loss:.3f} | {forced:.3f} | {exact.loss:.3f} "
            f"| {' '.join(fmt(u) for u in sorted(exact.greedy_set))} | {'yes' if greedy in exact.greedy_set else 'no'} |"
        )
        print(f"  {game} seed {seed}: greedy {fmt(greedy)}, loss {loss:.3f}", file=sys.stderr, flush=True)
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--games", default="qtran,table4d,table5")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=20000)
    parser.add_argument("--epsilon", type=float, default=1.0)
    parser.add_argument("--out", default="runs/qmix_vs_ideal")
    parser.add_argument("--markdown", default=None)
    args = parser.parse_args(argv)
    lines = [
        "| game | seed | trained greedy | trained Q_tot loss | exact best loss with that action greedy "
        "| Ideal-QMIX optimum | its greedy set | trained = ideal |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for game in args.games.split(","):
        lines += study(game.strip(), args.seeds, args.steps, args.epsilon, args.out)
    text = "\n".join(lines) + "\n"
    print(text)
    if args.markdown:
        command = "python analyses/qmix_vs_ideal.py " + " ".join(argv if argv is not None else sys.argv[1:])
        with open(args.markdown, "w") as fh:
            fh.write(f"# Trained QMIX against Ideal QMIX (uniform visitation)\n\nRegenerate with `{command}`.\n"
                     f"Losses are sum_u w(u) (Q_tot(u) - Q_jt(u))^2 with w uniform; joint actions 1-based.\n\n{text}")


if __name__ == "__main__":
    main()
