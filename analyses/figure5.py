"""MRVF Figure 5 at the paper's scale, with the exact verdict of every run's final greedy action.

Usage (resumable: rerun the same command and it continues where it stopped)::

    python analyses/figure5.py [--budgets 50000,200000,1000000] [--settings 3x5,5x5,5x8]
                               [--methods qmix,na2q,...] [--seeds 5] [--workers 1]
                               [--runs runs/figure5] [--results analyses/results/figure5]
                               [--verdicts 3x5] [--report-only]

Risk-reward games (MRVF Appendix E.1 generator, five random games per setting) are trained
under the ``pymarl`` profile (MRVF Table 9 as PyMARL runs it: one update per episode,
epsilon 1 -> 0.05 over 50k steps) as populations: one process per method and setting holds
its 5 games x seeds.  Budgets are reached in order by extending the same runs (the profile's
schedule does not depend on the budget, so a run extended from 50k to 200k steps is the run
trained to 200k); at each budget every run's ``final.json`` is kept as ``final_b<budget>.json``
and its final greedy action is judged exactly (``stablepoint.stability.analyze`` with
``u_tildes=[greedy]``) under the method's counterpart at the final epsilon
(``stablepoint.rl.confirm.analysis_for``), for the settings named by ``--verdicts``.

Outputs under ``--results``: ``runs/<setting>/<run>__b<budget>.json`` (one per run and budget),
``README.md`` (final-performance and verdict tables per budget, what is missing) and
``figure5.png`` (median and 25-75% band of the test normalized return, MRVF Eq. 30 with the
``ratio`` negative branch r / |min U^-|, per method and setting).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np

SETTINGS = {"3x5": (3, 5), "5x5": (5, 5), "5x8": (5, 8)}
METHODS = ["qmix", "na2q", "qplex", "qtran", "wqmix", "resq", "mrvf", "vdn", "mrvf_single", "mrvf_nonstrict"]
GAMES_PER_SETTING = 5


def games(setting: str) -> list[str]:
    agents, actions = SETTINGS[setting]
    return [f"matrix:risk-reward:agents={agents},actions={actions},seed={g}" for g in range(GAMES_PER_SETTING)]


def sweep_spec(setting, methods, seeds, budget, runs_root):
    from stablepoint.rl.sweep import sweep_from_dict

    return sweep_from_dict({
        "name": f"figure5-{setting}", "out": str(Path(runs_root) / setting), "algos": list(methods),
        "envs": games(setting), "seeds": seeds, "profile": "pymarl",
        # checkpoints every 10k steps (the profile's 50k would lose a whole budget to a kill)
        "settings": {"steps": int(budget), "tensorboard": False, "save_interval": 10000},
    })


def verdict(run_dir: Path, greedy) -> dict:
    """The exact stable kind of ``greedy`` under the run's counterpart method, one targeted row."""
    from stablepoint.catalog import get_game
    from stablepoint.methods import get_method
    from stablepoint.rl.config import load_config
    from stablepoint.rl.confirm import analysis_for
    from stablepoint.stability import analyze

    cfg = load_config(run_dir / "config.yaml")
    name, settings = analysis_for(cfg)
    if name is None:
        return {"method": None, "kind": None, "certified": None, "reason": "no exact counterpart"}
    payoff = get_game(cfg.env.spec.partition(":")[2])
    start = time.perf_counter()
    u = tuple(int(a) for a in greedy)
    res = analyze(payoff, get_method(name, **settings), u_tildes=[u])
    row = res.transitions[u]
    return {"method": name, "settings": settings, "kind": res.kinds.get(u), "certified": bool(row.certified),
            "greedy_set": [list(g) for g in sorted(row.greedy_set)], "seconds": time.perf_counter() - start}


def record(run_dir: Path, setting: str, budget: int, results: Path, judge: bool) -> None:
    """Keep the run's final.json for this budget and write its per-run JSON (once)."""
    out = results / "runs" / setting / f"{run_dir.name}__b{budget}.json"
    snap = run_dir / f"final_b{budget}.json"
    final_path = run_dir / "final.json"
    if not snap.exists():
        if not final_path.exists():
            return
        final = json.loads(final_path.read_text())
        if int(final["t_env"]) != budget:
            return  # trained past this budget before the snapshot was taken: say so in the report
        shutil.copyfile(final_path, snap)
    if out.exists():
        return
    from stablepoint.catalog import get_game
    from stablepoint.rl.config import load_config
    from stablepoint.rl.plot import normalized_return

    final = json.loads(snap.read_text())
    cfg = load_config(run_dir / "config.yaml")
    payoff = get_game(cfg.env.spec.partition(":")[2])
    greedy = final["matrix"]["greedy"]
    ret = float(final["test"]["test/return_mean"])
    doc = {
        "run": run_dir.name, "method": cfg.algo.name, "game": cfg.env.spec, "seed": cfg.seed, "setting": setting,
        "budget": budget, "t_env": final["t_env"], "profile": cfg.profile, "greedy": greedy,
        "optimal": bool(payoff.values[tuple(greedy)] >= payoff.values.max()),
        "test_return": ret, "normalized_return": float(normalized_return(np.array([ret]), payoff.values)[0]),
        "round": final["matrix"]["final_round"],
        "verdict": verdict(run_dir, greedy) if judge else {"kind": None, "certified": None,
                                                             "reason": "not computed in this run (--verdicts)"},
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=1))


def report(results: Path, runs_root: Path, budgets, settings, methods, seeds, command: str) -> None:
    """README.md and figure5.png from the per-run JSON and the run directories present."""
    docs = [json.loads(p.read_text()) for p in sorted((results / "runs").rglob("*.json"))]
    lines = ["# MRVF Figure 5 at the paper's settings (pymarl profile)", "",
             f"Regenerate or continue with `{command}`.", "",
             "Risk-reward games of MRVF Appendix E.1 (five random games per setting, seeds 0-4 of the "
             "generator), trained under the `pymarl` profile (one update per episode, batch 32, buffer 5000, "
             "epsilon 1 -> 0.05 over 50k steps, target update every 200 episodes, RMSprop lr 5e-4), "
             f"{seeds} training seeds per game, as populations (`stablepoint.rl.population`). "
             "Normalized return: MRVF Eq. 30 with the negative branch r / |min U^-| (the printed branch "
             "reverses the order of negative returns; see `stablepoint/rl/plot.py`). A run's *verdict* is the "
             "exact stable kind of its final greedy joint action under the method's counterpart at the final "
             "epsilon (one targeted row of the transition graph, `stability.analyze(..., u_tildes=...)`).", ""]
    expected = GAMES_PER_SETTING * seeds
    for budget in budgets:
        lines += [f"## Budget {budget:,} environment steps", ""]
        lines += ["| method | setting | runs done | optimal | median normalized return | IQR | strong | weak | not stable | no verdict |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for setting in settings:
            for m in methods:
                rows = [d for d in docs if d["budget"] == budget and d["setting"] == setting and d["method"] == m]
                if not rows:
                    lines.append(f"| {m} | {setting} | 0/{expected} (not run yet) | | | | | | | |")
                    continue
                nr = np.array([d["normalized_return"] for d in rows])
                kinds = [d["verdict"]["kind"] for d in rows]
                judged = [d for d in rows if d["verdict"].get("certified") is not None]
                strong = sum(k == "strong" for k in kinds)
                weak = sum(k == "weak" for k in kinds)
                lines.append(
                    f"| {m} | {setting} | {len(rows)}/{expected} | {sum(d['optimal'] for d in rows)}/{len(rows)} "
                    f"| {np.median(nr):.3f} | {np.percentile(nr, 25):.3f} to {np.percentile(nr, 75):.3f} "
                    f"| {strong} | {weak} | {len(judged) - strong - weak} | {len(rows) - len(judged)} |")
        lines.append("")
    lines += _in_progress(runs_root, settings, methods, budgets, docs)
    missing = [f"{m} {s} {b}" for b in budgets for s in settings for m in methods
               if sum(d["budget"] == b and d["setting"] == s and d["method"] == m for d in docs) < expected]
    lines += ["## Not finished", "",
              ("Every cell above is complete." if not missing else
               "These (method, setting, budget) cells are not complete yet (rerun the command to continue): "
               + "; ".join(missing) + "."), ""]
    (results / "README.md").write_text("\n".join(lines))
    _figure(results, runs_root, settings, methods)


def _in_progress(runs_root: Path, settings, methods, budgets, docs) -> list[str]:
    """Runs still training: the last test evaluation each has logged (not a result yet)."""
    from stablepoint.catalog import get_game
    from stablepoint.rl.config import load_config
    from stablepoint.rl.plot import normalized_return

    rows = []
    for setting in settings:
        for m in methods:
            latest = []
            for d in sorted((runs_root / setting).glob(f"*__{m}__seed*")):
                done = {doc["budget"] for doc in docs if doc["run"] == d.name}
                if set(budgets) <= done or not (d / "metrics.jsonl").exists():
                    continue
                tests = [json.loads(line) for line in (d / "metrics.jsonl").read_text().splitlines()
                         if line.strip() and "test/return_mean" in line]
                if tests and tests[-1]["t_env"] > max(done, default=0):
                    values = get_game(load_config(d / "config.yaml").env.spec.partition(":")[2]).values
                    last = tests[-1]
                    latest.append((last["t_env"], float(normalized_return(np.array([last["test/return_mean"]]), values)[0])))
            if latest:
                t = min(x[0] for x in latest)
                rows.append(f"| {m} | {setting} | {len(latest)} | {t:,} | {np.median([x[1] for x in latest]):.3f} |")
    if not rows:
        return []
    return ["## Still training (the last test evaluation of each unfinished run; not a result)", "",
            "| method | setting | runs | steps reached (min) | median normalized return there |",
            "|---|---|---|---|---|", *rows, ""]


def _figure(results: Path, runs_root: Path, settings, methods) -> None:
    from stablepoint.rl.plot import aggregate, load_runs, plot_curves

    dirs = [d for s in settings for d in sorted((runs_root / s).glob("*__seed*")) if (d / "metrics.jsonl").exists()
            and d.name.split("__")[1] in methods]
    if not dirs:
        return
    bands = aggregate(load_runs(dirs), band=(25.0, 75.0))
    fig = plot_curves(bands, title="MRVF Figure 5 at the pymarl profile (runs in progress end early)")
    fig.savefig(results / "figure5.png", dpi=110, bbox_inches="tight")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", default="50000,200000,1000000")
    parser.add_argument("--settings", default="3x5,5x5,5x8")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--runs", default="runs/figure5")
    parser.add_argument("--results", default="analyses/results/figure5")
    parser.add_argument("--verdicts", default="3x5", help="settings whose runs get an exact verdict")
    parser.add_argument("--report-only", action="store_true")
    args = parser.parse_args(argv)
    budgets = sorted(int(b) for b in args.budgets.split(","))
    settings = [s for s in args.settings.split(",") if s]
    methods = [m for m in args.methods.split(",") if m]
    judge = set(args.verdicts.split(",")) if args.verdicts else set()
    results, runs_root = Path(args.results), Path(args.runs)
    given = [a for a in (sys.argv[1:] if argv is None else argv) if a != "--report-only"]
    command = "python analyses/figure5.py " + " ".join(given)
    results.mkdir(parents=True, exist_ok=True)
    if not args.report_only:
        from stablepoint.rl.sweep import run_sweep

        for budget in budgets:
            for setting in settings:
                spec = sweep_spec(setting, methods, args.seeds, budget, runs_root)

                def on_outcome(o, setting=setting, budget=budget):
                    print(f"{o.status:8s} {o.name} b{budget} {o.error}", flush=True)
                    if o.status != "failed":
                        record(Path(o.run_dir), setting, budget, results, setting in judge)

                run_sweep(spec, workers=args.workers, on_outcome=on_outcome)
                report(results, runs_root, budgets, settings, methods, args.seeds, command)
    report(results, runs_root, budgets, settings, methods, args.seeds, command)


if __name__ == "__main__":
    main()
