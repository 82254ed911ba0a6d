"""``stablepoint confirm``: trained greedy actions beside the predicted stable points.

Exit codes: 0 done; 2 bad input; 130 interrupted.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click


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
@click.option("--game", "games", required=True, multiple=True,
              help="Catalog game, e.g. table5, qtran, risk-reward:agents=3,actions=5,seed=0; repeatable.")
@click.option("--algos", default="vdn,qmix,wqmix,resq,mrvf", show_default=True, help="Comma-separated algorithm names.")
@click.option("--seeds", type=int, default=5, show_default=True, help="Seeds 0 .. SEEDS-1.")
@click.option("--steps", type=int, default=20000, show_default=True, help="Environment steps per run.")
@click.option("--out", default="runs/confirm", show_default=True, help="Parent directory of the runs.")
@click.option("--markdown", "markdown", type=click.Path(dir_okay=False), default=None,
              help="Write the cross-check report (summary, disagreements, one table per game) here; "
                   "rewritten after each game.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None,
              help="Also write the results as JSON (rewritten after each game).")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Training setting for every run; repeatable.")
@click.option("--no-analysis", is_flag=True, help="Skip the exact stable-point analysis.")
@click.option("--threads", type=int, default=None, help="Torch CPU threads per run (default 1).")
@click.option("--jobs", type=int, default=1, show_default=True, help="Training runs in parallel (processes).")
@click.option("--profile", default="default", show_default=True, help="Training settings profile (default, pymarl).")
def confirm(games, algos, seeds, steps, out, markdown, json_path, overrides, no_analysis, threads, jobs, profile):
    """Train each algorithm on each GAME for SEEDS seeds and compare with the exact prediction.

    Finished runs are reread and interrupted ones resume, so rerunning a stopped command
    loses nothing; the report files are rewritten after every game.
    """
    from tqdm import tqdm

    from stablepoint.errors import SettingsError
    from stablepoint.rl.confirm import CrossCheckResult, confirm as run_confirm, render_cross_check, render_text

    names = [a.strip() for a in algos.split(",") if a.strip()]
    if jobs < 1:
        raise SettingsError(f"--jobs must be >= 1, got {jobs}")
    settings = {}
    for item in overrides:
        key, eq, value = item.partition("=")
        if not eq:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--set")
        try:
            settings[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            settings[key.strip()] = value
    if threads is not None:
        settings["torch_threads"] = threads
    _check_inputs(games, names, seeds, steps, out, markdown, json_path, settings, profile)
    command = "stablepoint confirm " + " ".join(_quote(a) for a in sys.argv[2:]) if len(sys.argv) > 2 else ""
    results = []
    with tqdm(total=len(games) * len(names) * seeds * steps, unit="step", dynamic_ncols=True, mininterval=1.0,
              desc="confirm") as bar:
        done = {}
        for game in games:

            def progress(algo, seed, t_env, total, game=game):
                done[(game, algo, seed)] = min(t_env, total)
                bar.set_postfix(run=f"{game} {algo} seed {seed}", refresh=False)
                bar.update(sum(done.values()) - bar.n)

            result = run_confirm(
                game, names, seeds, steps=steps, out=out, analyze_stable=not no_analysis,
                train_overrides=settings, progress=progress, jobs=jobs, profile=profile,
            )
            results.append(result)
            tqdm.write(render_text(result))
            cross = CrossCheckResult(tuple(results))
            if markdown:
                Path(markdown).write_text(render_cross_check(cross, command))
            if json_path:
                Path(json_path).write_text(json.dumps(
                    {"command": command, "steps": steps, "profile": profile,
                     "games": [{"game": r.game, "rows": [_row_json(row) for row in r.rows]} for r in results]},
                    indent=1,
                ))
    if markdown:
        click.echo(f"report written to {markdown}")


def _check_inputs(games, names, seeds, steps, out, markdown, json_path, settings, profile) -> None:
    """Refuse every bad game, algorithm, number and path before the first run trains."""
    from stablepoint.catalog import get_game
    from stablepoint.errors import SettingsError
    from stablepoint.rl.config import make_config

    if not names:
        raise SettingsError("--algos names no algorithm")
    if seeds < 1:
        raise SettingsError(f"--seeds must be >= 1, got {seeds}")
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
            make_config(f"matrix:{game}", algo, profile=profile, seed=0, steps=steps, out=str(out_path),
                        **{"tensorboard": False, **settings})


def _quote(arg: str) -> str:
    """Shell-quote an argument for the recorded command (risk-reward specs contain commas)."""
    import shlex

    return shlex.quote(arg)
