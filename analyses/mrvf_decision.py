"""The MRVF decision (issue 13.3): render ``analyses/results/mrvf_decision.md`` from the studies' results.

Usage::

    python analyses/mrvf_decision.py [--rounds analyses/results/mrvf_rounds_g0_20k.json]
                                     [--figure5 analyses/results/figure5/runs] [--out analyses/results/mrvf_decision.md]

Reads (a) the round-2-in-isolation fits of ``analyses/mrvf_rounds.py`` and (b) the per-run results
of the Figure 5 study (``analyses/figure5.py``: MRVF and its ablations under the ``pymarl``
profile, with the exact verdict of each final greedy action) and writes the tables and a verdict
that follows from them.  Everything printed is computed here from those files.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

CLASSES = ("zero-plateau", "improving", "best")


def part_a(doc: dict) -> tuple[list[str], dict]:
    by_eps = defaultdict(list)
    for m in doc["members"]:
        by_eps[m["epsilon"]].append(m)
    lines = [
        f"Command: `{doc['command']}` ({doc['updates']:,} updates, {doc['seeds']} seeds, games {doc['games']}, "
        f"{doc['optimizer']}, {doc['train_seconds']:.0f} s).",
        "",
        "| epsilon_pi | members | ends: zero-plateau | improving (not best) | best | end is an exact stable point "
        "of the round | settled over the last 10% | exact stable points of the round (by class) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    summary = {}
    for eps in sorted(by_eps):
        ms = by_eps[eps]
        c = Counter(m["end_class"] for m in ms)
        stable = sum(m["exact_kind_of_end"] is not None for m in ms)
        settled = sum(m["settled_last_10pct"] for m in ms)
        exact = Counter()
        for g in sorted({m["game"] for m in ms}):
            first = next(m for m in ms if m["game"] == g)
            exact.update(_point_class(first, v) for v, _ in first["exact_stable"])
        exact_txt = ", ".join(f"{k} {exact[k]}" for k in CLASSES if exact[k]) or "none"
        lines.append(f"| {eps:g} | {len(ms)} | {c['zero-plateau']} | {c['improving']} | {c['best']} | "
                     f"{stable}/{len(ms)} | {settled}/{len(ms)} | {exact_txt} |")
        summary[eps] = {"n": len(ms), **{k: c[k] for k in CLASSES}, "stable": stable}
    return lines, summary


def _point_class(member, v) -> str:
    """The class of joint action ``v`` on the member's round-2 target."""
    from stablepoint.catalog import get_game
    from stablepoint.methods.mrvf import increment_target

    payoff = get_game(f"risk-reward:agents=3,actions=5,seed={member['game']}")
    target = increment_target(payoff.values, tuple(member["ubar1"]))
    t, best = float(target[tuple(v)]), float(target.max())
    return "zero-plateau" if t <= 1e-9 else ("best" if t >= best - 1e-9 else "improving")


def part_b(root: Path) -> tuple[list[str], dict]:
    groups = defaultdict(list)
    for path in sorted(root.glob("*/*.json")):
        d = json.loads(path.read_text())
        if d.get("method", "").startswith("mrvf"):
            groups[(d["method"], d["setting"], d["budget"])].append(d)
    lines = ["| method | setting | budget | runs | optimal | median normalized return | non-optimal ends the exact "
             "model still moves (not stable) | of those, moved toward the optimum |",
             "|---|---|---|---|---|---|---|---|"]
    summary = {}
    for (method, setting, budget), ds in sorted(groups.items()):
        opt = sum(bool(d["optimal"]) for d in ds)
        med = float(np.median([d["normalized_return"] for d in ds]))
        bad = [d for d in ds if not d["optimal"]]
        moving = [d for d in bad if d.get("verdict") and d["verdict"]["kind"] is None]
        toward = [d for d in moving
                  if any(tuple(v) in {tuple(o) for o in _optimal(d["game"])} for v in d["verdict"]["greedy_set"])]
        lines.append(f"| {method} | {setting} | {budget:,} | {len(ds)} | {opt}/{len(ds)} | {med:.3f} | "
                     f"{len(moving)}/{len(bad)} | {len(toward)}/{len(moving)} |")
        summary[(method, setting, budget)] = {"n": len(ds), "optimal": opt, "median": med,
                                              "moving": len(moving), "toward": len(toward), "bad": len(bad)}
    return lines, summary


def _optimal(game: str):
    from stablepoint.catalog import get_game

    return get_game(game).optimal_actions()


def verdict(a: dict | None, b: dict) -> list[str]:
    out = []
    mrvf = {k: v for k, v in b.items() if k[0] == "mrvf"}
    for (method, setting, budget), v in sorted(mrvf.items()):
        share = v["optimal"] / v["n"]
        out.append(
            f"- (b) MRVF under the `pymarl` profile, {setting}, {budget:,} steps: optimal in {v['optimal']}/{v['n']} "
            f"runs (median normalized return {v['median']:.2f}); {v['moving']} of the {v['bad']} non-optimal runs "
            f"end at an action the exact model does not hold (it moves on), {v['toward']} of them toward the optimum."
        )
        if share >= 0.5:
            out.append(
                f"  So at {setting} the claim (MRVF consistently attains the optimal return) holds for most runs at this "
                "budget; the toolkit's earlier 0/25 (default profile: one update per 8 episodes, 10k anneal, 20k "
                "steps) was a matter of **budget and settings**, not of the method or our implementation."
            )
        else:
            out.append(f"  At {setting} and this budget the claim does not hold for most runs.")
    for (method, setting, budget), v in sorted(b.items()):
        if method != "mrvf":
            out.append(f"- (b) Ablation {method} (MRVF Appendix F), {setting}, {budget:,} steps: optimal in "
                       f"{v['optimal']}/{v['n']} runs (median normalized return {v['median']:.2f}).")
    if a:
        for eps, v in sorted(a.items()):
            out.append(
                f"- (a) Round 2 fitted alone at epsilon_pi = {eps:g}: {v['best']}/{v['n']} end at the best cell, "
                f"{v['improving']}/{v['n']} at an improving cell that is not the best, {v['zero-plateau']}/{v['n']} on "
                f"the zero plateau; {v['stable']}/{v['n']} ends are exact stable points of the round."
            )
    if a:
        n = sum(v["n"] for v in a.values())
        plateau = sum(v["zero-plateau"] for v in a.values())
        agree = sum(v["stable"] for v in a.values())
        out.append(
            f"  Together: {agree}/{n} isolated round-2 ends are exact stable points of the same round, and "
            f"{plateau}/{n} end on the zero plateau"
            + (" (none keeps round 1's action, so the earlier diagnostic, a round-2 Q_tot that fits the plateau and "
               "keeps round 1's action, is not reproduced by QMIX's network fitting the round alone)" if plateau == 0
               else "")
            + ": the round's network does what the exact analysis of the round predicts."
            if agree >= 0.8 * n else
            f"  Together: only {agree}/{n} isolated round-2 ends are exact stable points of the same round."
        )
    out.append(
        "- Not yet measured: 5x5 and 5x8, the 200k and 1M budgets, and (a) at the issue's 200k updates x 20 seeds "
        "on all five games (the present run is smaller; see its command). The verdict is for what is measured."
    )
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", default="analyses/results/mrvf_rounds_g0_20k.json")
    parser.add_argument("--figure5", default="analyses/results/figure5/runs")
    parser.add_argument("--out", default="analyses/results/mrvf_decision.md")
    args = parser.parse_args(argv)
    lines = ["# The MRVF decision (issue 13.3)", "",
             "Regenerate with `python analyses/mrvf_decision.py` (reads the files named below).", ""]
    a_summary = None
    rounds = Path(args.rounds)
    lines += ["## (a) Round 2 in isolation: QMIX's network on the exact increment target", ""]
    if rounds.exists():
        a_lines, a_summary = part_a(json.loads(rounds.read_text()))
        lines += ["Target `max(Y - Y(ubar^1), 0)` with ubar^1 the exact round-1 (QMIX, uniform) stable point; "
                  "pi centred on the network's own greedy action; classes: zero-plateau (no improvement), "
                  "improving (not the best), best (the optimum of Y). Source: "
                  f"[`{rounds.name}`]({rounds.name}), made by `analyses/mrvf_rounds.py`.", ""] + a_lines + [""]
    else:
        lines += [f"Not run yet (`{rounds}` is missing).", ""]
    b_lines, b_summary = part_b(Path(args.figure5))
    lines += ["## (b) Full MRVF and its ablations under the `pymarl` profile (Figure 5 study)", "",
              "From the per-run results in [`figure5/runs/`](figure5/README.md), each final greedy action judged "
              "exactly under MRVF at the final epsilon.", ""] + b_lines + [""]
    lines += ["## (c) Verdict", ""] + verdict(a_summary, b_summary) + [""]
    Path(args.out).write_text("\n".join(lines))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
