"""``stablepoint confirm``: trained greedy actions beside the predicted stable points.

Exit codes: 0 done; 2 bad input; 130 interrupted.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from stablepoint.commands.options import (
    format_option, game_options, jobs_option, methods_option, parse_settings, progress_option, seeds_option,
)
from stablepoint.commands.options import show_progress as _bars
from stablepoint.visitation import VISITATIONS

#: --visitation value that keeps the learner's own final visitation (exploration at epsilon_finish)
LEARNER = "learner"


def _row_json(r) -> dict:
    return {
        "algo": r.algo, "method": r.method, "settings": r.settings,
        "seeds": [
            {"seed": s.seed, "initial": None if s.initial is None else list(s.initial), "greedy": list(s.greedy),
             "test_return": s.test_return, "run_dir": s.run_dir}
            for s in r.seeds
        ],
        "stable": None if r.stable is None else [list(u) for u in r.stable],
        "kinds": {str(list(u)): k for u, k in r.kinds.items()},
        "attractors": [sorted(list(u) for u in a) for a in r.attractors],
        "ends": [None if e is None else sorted(list(u) for u in e) for e in r.ends],
        "start_epsilon": r.start_epsilon,
        "starts": [None if g is None else sorted(list(u) for u in g) for g in r.starts],
        "explored_ends": [None if e is None else sorted(list(u) for u in e) for e in r.explored_ends],
        "n_optimal": r.n_optimal, "n_agree": r.n_agree, "n_basin_agree": r.n_basin_agree,
        "n_explored_agree": r.n_explored_agree,
    }


@click.command()
@game_options(multiple=True, dest="games",
              help_game="Catalog game, e.g. table5, qtran, risk-reward:agents=3,actions=5,seed=0.")
@methods_option("algos", default="vdn,qmix,wqmix,resq,mrvf", old=("--algos",))
@seeds_option(default="5")
@click.option("--steps", type=int, default=20000, show_default=True, help="Environment steps per run.")
@click.option("--out", default="runs/confirm", show_default=True, help="Parent directory of the runs.")
@click.option("--markdown", "markdown", type=click.Path(dir_okay=False), default=None,
              help="Write the cross-check report (summary, disagreements, one table per game) here; "
                   "rewritten after each game.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None,
              help="Also write the results as JSON (rewritten after each game).")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Setting for every run, as in a sweep file: a training field, algo.<field> or env.<field>; repeatable.")
@click.option("--visitation", type=click.Choice(sorted(VISITATIONS) + [LEARNER]), default=None,
              help="Visitation of the prediction (default: the method's own, as `stablepoint check` uses; "
                   "learner: the algorithm's exploration at its final epsilon).")
@click.option("--epsilon", type=float, default=None,
              help="Epsilon of the prediction's visitation (default: as `stablepoint check`, 1 = uniform; "
                   "with --visitation learner: replaces the final epsilon).")
@click.option("--no-analysis", is_flag=True, help="Skip the exact stable-point analysis.")
@click.option("--threads", type=int, default=None, help="Torch CPU threads per run (default 1).")
@jobs_option(default=1, help="Training runs and analyses in parallel (processes).")
@click.option("--budget", "budget_spec", metavar="SECONDS|inf",
              help="Seconds for each exact analysis (they run first, before any training).  Without it an "
                   "analysis estimated above 60 s is refused up front; inf: no bound.")
@click.option("--profile", default="default", show_default=True, help="Training settings profile (default, pymarl).")
@format_option()
@progress_option()
def confirm(games, algos, seeds, steps, out, markdown, json_path, overrides, visitation, epsilon, no_analysis, threads,
            jobs, profile, fmt, show_progress, budget_spec):
    """Train each algorithm on each GAME for SEEDS seeds and compare with the exact prediction.

    Finished runs are reread and interrupted ones resume, so rerunning a stopped command
    loses nothing; the report files are rewritten after every game.
    """
    from tqdm import tqdm

    from stablepoint.errors import SettingsError
    from stablepoint.rl.confirm import CrossCheckResult, confirm as run_confirm, render_cross_check, render_text

    from stablepoint.visitation import check_epsilon

    names = list(algos)
    if jobs < 1:
        raise SettingsError(f"--jobs must be >= 1, got {jobs}")
    settings = parse_settings(overrides)
    if threads is not None:
        settings["torch_threads"] = threads
    if epsilon is not None:
        check_epsilon(epsilon)
    # Issue 15, item 3: by default confirm predicts under the visitation `stablepoint check` uses
    # for the same game and method (each method's own default: epsilon-greedy at epsilon = 1, the
    # uniform visitation), so the two commands show the same stable set.  Uniform visitation is the
    # papers' choice for their stable-point tables (MRVF Tables 2, 5, 6 and 7 and Figure 2 are at
    # epsilon = 1), which is why check keeps it and confirm follows; `--visitation learner` gives
    # the learner's own final visitation (its exploration at epsilon_finish) instead.
    if visitation == LEARNER:
        prediction = {} if epsilon is None else {"epsilon": epsilon}
    else:
        prediction = {"visitation": visitation, "epsilon": epsilon}  # None: the method's default, as check
    _check_inputs(games, names, seeds, steps, out, markdown, json_path, settings, profile)
    from stablepoint.commands.limits import CONFIRM_ADVICE, Limits, estimate_policy, parse_budget

    limits = Limits(parse_budget(budget_spec), jobs)
    on_estimate = estimate_policy(limits, command="confirm", advice=CONFIRM_ADVICE)
    command = "stablepoint confirm " + " ".join(_quote(a) for a in sys.argv[2:]) if len(sys.argv) > 2 else ""
    results = []
    doc = {"command": command, "steps": steps, "profile": profile, "games": []}
    with tqdm(total=len(games) * len(names) * len(seeds) * steps, unit="step", dynamic_ncols=True, mininterval=1.0,
              desc="confirm", disable=not _bars(show_progress)) as bar:
        done = {}
        for game in games:

            def progress(algo, seed, t_env, total, game=game):
                done[(game, algo, seed)] = min(t_env, total)
                bar.set_postfix(run=f"{game} {algo} seed {seed}", refresh=False)
                bar.update(sum(done.values()) - bar.n)

            result = run_confirm(
                game, names, list(seeds), steps=steps, out=out, analyze_stable=not no_analysis,
                train_overrides=settings, progress=progress, jobs=jobs, profile=profile, prediction=prediction,
                on_estimate=on_estimate, budget=limits.analyze_kwargs()["budget"],
            )
            results.append(result)
            if fmt == "text":
                tqdm.write(render_text(result))
            cross = CrossCheckResult(tuple(results))
            doc["games"] = [{"game": r.game, "rows": [_row_json(row) for row in r.rows]} for r in results]
            if markdown:
                Path(markdown).write_text(render_cross_check(cross, command))
            if json_path:
                Path(json_path).write_text(json.dumps(doc, indent=1))
    if fmt == "json":
        click.echo(json.dumps(doc, indent=1))
    elif fmt == "markdown":
        click.echo(render_cross_check(CrossCheckResult(tuple(results)), command))
    if markdown:
        click.echo(f"report written to {markdown}", err=fmt != "text")


def _check_inputs(games, names, seeds, steps, out, markdown, json_path, settings, profile) -> None:
    """Refuse every bad game, algorithm, number and path before the first run trains."""
    from stablepoint.catalog import get_game
    from stablepoint.errors import SettingsError
    from stablepoint.rl.confirm import train_config

    if not names:
        raise SettingsError("--methods names no algorithm")
    if not seeds:
        raise SettingsError("--seeds names no seed")
    if steps < 1:
        raise SettingsError(f"--steps must be >= 1, got {steps}")
    out_path = Path(out)
    if out_path.exists() and not out_path.is_dir():
        raise SettingsError(f"--out {out!r} is a file, not a directory")
    for option, value in (("--markdown", markdown), ("--json", json_path)):
        if value:
            path = Path(value)
            if path.is_dir():
                raise SettingsError(f"{option} {value!r} is a directory")
            if not path.parent.is_dir():
                raise SettingsError(f"{option} {value!r}: directory {str(path.parent)!r} does not exist")
    for game in games:  # every game and algorithm, before the first one trains
        get_game(game)
        for algo in names:
            train_config(f"matrix:{game}", algo, profile=profile, seed=0, steps=steps, out=str(out_path),
                         **{"tensorboard": False, **settings})


def _quote(arg: str) -> str:
    """Shell-quote an argument for the recorded command (risk-reward specs contain commas)."""
    import shlex

    return shlex.quote(arg)
