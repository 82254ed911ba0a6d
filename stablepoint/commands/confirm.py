"""``stablepoint confirm``: trained greedy actions beside the predicted stable points.

Exit codes: 0 done; 2 bad input; 130 interrupted.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click


@click.command()
@click.option("--game", required=True, help="Catalog game, e.g. table5, qtran, risk-reward:agents=2,actions=3,seed=0.")
@click.option("--algos", default="qmix,wqmix,resq,mrvf", show_default=True, help="Comma-separated algorithm names.")
@click.option("--seeds", type=int, default=5, show_default=True, help="Seeds 0 .. SEEDS-1.")
@click.option("--steps", type=int, default=20000, show_default=True, help="Environment steps per run.")
@click.option("--out", default="runs/confirm", show_default=True, help="Parent directory of the runs.")
@click.option("--markdown", "markdown", type=click.Path(dir_okay=False), default=None,
              help="Also append a markdown table to this file.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None, help="Also write the results as JSON.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Training setting for every run; repeatable.")
@click.option("--no-analysis", is_flag=True, help="Skip the exact stable-point analysis.")
@click.option("--threads", type=int, default=None, help="Torch CPU threads per run (default 1).")
def confirm(game, algos, seeds, steps, out, markdown, json_path, overrides, no_analysis, threads):
    """Train each algorithm on GAME for SEEDS seeds and compare with the exact stable points."""
    from tqdm import tqdm

    from stablepoint.rl.confirm import confirm as run_confirm, render_markdown, render_text

    names = [a.strip() for a in algos.split(",") if a.strip()]
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
    with tqdm(total=len(names) * seeds * steps, unit="step", dynamic_ncols=True, mininterval=1.0, desc=f"confirm {game}") as bar:
        done = {}

        def progress(algo, seed, t_env, total):
            done[(algo, seed)] = min(t_env, total)
            bar.set_postfix(run=f"{algo} seed {seed}", refresh=False)
            bar.update(sum(done.values()) - bar.n)

        result = run_confirm(
            game, names, seeds, steps=steps, out=out, analyze_stable=not no_analysis,
            train_overrides=settings, progress=progress,
        )
    click.echo(render_text(result))
    command = "stablepoint confirm " + " ".join(sys.argv[2:]) if len(sys.argv) > 2 else ""
    if markdown:
        with Path(markdown).open("a") as fh:
            fh.write(render_markdown(result, command) + "\n")
        click.echo(f"markdown appended to {markdown}")
    if json_path:
        rows = [
            {
                "algo": r.algo, "method": r.method, "settings": r.settings,
                "seeds": [{"seed": s.seed, "greedy": list(s.greedy), "test_return": s.test_return, "run_dir": s.run_dir} for s in r.seeds],
                "stable": None if r.stable is None else [list(u) for u in r.stable],
                "kinds": {str(list(u)): k for u, k in r.kinds.items()},
                "n_optimal": r.n_optimal, "n_agree": r.n_agree,
            }
            for r in result.rows
        ]
        Path(json_path).write_text(json.dumps({"game": game, "steps": steps, "rows": rows}, indent=1))
