"""MRVF's round 2 fitted in isolation by QMIX's network, beside the exact analysis of the same round.

Usage::

    python analyses/mrvf_rounds.py [--games 0,1,2,3,4] [--seeds 20] [--updates 200000]
                                   [--eps 0.05,0.3,1] [--out analyses/results/mrvf_rounds.json]

Issue 13.3 (a).  For each 3-agent x 5-action risk-reward game (MRVF Appendix E.1 generator):

* round 1's outcome ubar^1 is the exact QMIX stable point on Q_jt under uniform visitation
  (``stablepoint check --method qmix``; it is unique on these games, and it is where the trained
  round-1 networks of the Figure 5 study end);
* the round-2 target is the exact increment ``T = max(Q_jt - Q_jt(ubar^1), 0)``
  (:func:`stablepoint.methods.mrvf.increment_target`);
* QMIX's network fits T alone: per-agent utility tables (the agent network on a matrix game's
  constant observation reduces to one table per agent) mixed by the learner's own
  :class:`stablepoint.rl.mixers.QMixer` on a constant state, trained by RMSprop (the ``pymarl``
  profile's 5e-4, alpha 0.99, eps 1e-5) on the exact expected loss
  ``sum_u pi(u | u~) (Q_tot(u) - T(u))^2``, where pi is centralized epsilon-greedy around the
  network's own current greedy action u~ (recomputed every update), for ``--updates`` updates
  from ``--seeds`` random initialisations;
* where the greedy action ends is classified: a **zero-plateau** cell (T = 0: no improvement on
  ubar^1), an **improving** cell that is not the best (0 < T < max T), or the **best** (T = max T,
  the optimum of Q_jt);
* beside it, the exact analysis of the same round: QMIX's stable points on T under the same
  visitation (``stablepoint.stability.analyze``), and whether the learned end is one of them.

All members (games x epsilons x seeds) train together as one vectorised population
(``torch.func``), so one update is one batched step.  Writes a JSON document with every member's
end; ``analyses/mrvf_decision.py`` renders the decision report from it.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch


def exact_round(game_seed: int, eps_list):
    """(payoff, ubar1, target, {eps: exact QMIX stable points on the target}) for one game."""
    from stablepoint.catalog import get_game
    from stablepoint.methods import get_method
    from stablepoint.methods.mrvf import increment_target
    from stablepoint.payoff import Payoff
    from stablepoint.stability import analyze

    payoff = get_game(f"risk-reward:agents=3,actions=5,seed={game_seed}")
    first = analyze(payoff, get_method("qmix"))  # uniform visitation: one fit
    (ubar1,) = first.stable_points
    target = increment_target(payoff.values, ubar1)
    stable = {}
    for eps in eps_list:
        res = analyze(Payoff(target), get_method("qmix", epsilon=float(eps), losses="greedy"), jobs=2)
        stable[float(eps)] = {u: k for u, k in res.kinds.items()}
    return payoff, ubar1, target, stable


def classify(target: np.ndarray, u) -> str:
    t, best = float(target[tuple(u)]), float(target.max())
    if t <= 1e-9:
        return "zero-plateau"
    return "best" if t >= best - 1e-9 else "improving"


def train(targets: np.ndarray, eps: np.ndarray, seeds: np.ndarray, updates: int, log_every: int = 1000):
    """Fit every member's target; returns (final greedy actions (P, n), greedy trace every log_every)."""
    from stablepoint.rl.mixers import QMixer
    from stablepoint.rl.stacked import stack_modules

    P, shape = targets.shape[0], targets.shape[1:]
    n, A = len(shape), shape[0]
    state_dim = 1
    mixers = []
    for s in seeds:
        torch.manual_seed(int(s))
        mixers.append(QMixer(n, A, state_dim))
    mixer = stack_modules(mixers)  # one module, a leading member axis (stablepoint.rl.stacked)
    utilities = torch.zeros(P, n, A)
    for i, s in enumerate(seeds):
        utilities[i] = torch.randn(n, A, generator=torch.Generator().manual_seed(int(s) + 1)) * 0.1
    utilities.requires_grad_(True)
    opt = torch.optim.RMSprop([utilities, *mixer.parameters()], lr=5e-4, alpha=0.99, eps=1e-5)
    joint = np.array(np.unravel_index(np.arange(int(np.prod(shape))), shape)).T  # (U, n)
    joint_t = torch.as_tensor(joint, dtype=torch.long)
    y = torch.as_tensor(targets.reshape(P, -1), dtype=torch.float32)
    eps_t = torch.as_tensor(eps, dtype=torch.float32)[:, None]
    # constant state: the hypernetworks run once per member and broadcast over the joint actions
    state = torch.ones(P, 1, state_dim)
    strides = torch.as_tensor([int(np.prod(shape[i + 1:])) for i in range(n)], dtype=torch.long)
    agents = torch.arange(n)[None, :]

    def q_tot():
        return mixer(utilities[:, agents, joint_t], state)  # (P, U)

    trace = []
    for step in range(updates):
        greedy = utilities.detach().argmax(dim=-1)  # (P, n): decentralized argmax = argmax Q_tot (monotone)
        flat = (greedy * strides).sum(dim=-1)
        w = eps_t.expand(P, joint.shape[0]) / joint.shape[0]
        w = w + (1.0 - eps_t) * torch.nn.functional.one_hot(flat, joint.shape[0]).float()
        q = q_tot()
        loss = (w * (q - y) ** 2).sum(dim=-1).sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if (step + 1) % log_every == 0:
            trace.append(greedy.numpy().copy())
    return utilities.detach().argmax(dim=-1).numpy(), np.stack(trace) if trace else np.zeros((0, P, n), int)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--games", default="0,1,2,3,4")
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--updates", type=int, default=200000)
    parser.add_argument("--eps", default="0.05,0.3,1")
    parser.add_argument("--out", default="analyses/results/mrvf_rounds.json")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    games = [int(g) for g in args.games.split(",") if g]
    eps_list = [float(e) for e in args.eps.split(",") if e]
    exact = {g: exact_round(g, eps_list) for g in games}
    members = [(g, e, s) for g in games for e in eps_list for s in range(args.seeds)]
    targets = np.stack([exact[g][2] for g, _, _ in members])
    start = time.perf_counter()
    final, trace = train(targets, np.array([e for _, e, _ in members]), np.array([s for _, _, s in members]),
                         args.updates)
    seconds = time.perf_counter() - start
    rows = []
    for i, (g, e, s) in enumerate(members):
        payoff, ubar1, target, stable = exact[g]
        u = tuple(int(a) for a in final[i])
        # the greedy action over the last 10% of updates: did it settle?
        tail = trace[int(0.9 * len(trace)):, i] if len(trace) else np.zeros((0, 3), int)
        settled = bool(len(tail) and (tail == tail[-1]).all())
        rows.append({
            "game": g, "epsilon": e, "seed": s, "ubar1": list(ubar1), "end": list(u),
            "end_class": classify(target, u), "end_target": float(target[u]), "target_max": float(target.max()),
            "exact_kind_of_end": stable[e].get(u), "settled_last_10pct": settled,
            "exact_stable": [[list(v), k] for v, k in stable[e].items()],
            "exact_stable_classes": sorted({classify(target, v) for v in stable[e]}),
        })
    doc = {"command": "python analyses/mrvf_rounds.py " + " ".join(argv if argv is not None else __import__("sys").argv[1:]),
           "updates": args.updates, "seeds": args.seeds, "games": games, "epsilons": eps_list,
           "optimizer": "RMSprop lr 5e-4 alpha 0.99 eps 1e-5 (pymarl profile)", "train_seconds": seconds,
           "members": rows}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(doc, indent=1) + "\n")
    print(f"{len(members)} members x {args.updates} updates in {seconds:.0f} s -> {args.out}")


if __name__ == "__main__":
    main()
