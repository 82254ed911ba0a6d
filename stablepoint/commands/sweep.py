"""``stablepoint sweep``: run or resume a grid of training runs from a sweep YAML.

Exit codes: 0 every run finished (or was already finished); 1 at least one run failed
(see its ``failed.json``; rerun the same command to retry); 2 bad sweep file or setting;
130 interrupted (rerun the same command: finished runs are skipped, killed runs resume).
"""

from __future__ import annotations

import click

from stablepoint.commands.options import jobs_option, parse_seeds, progress_option
from stablepoint.commands.options import show_progress as _bars


@click.command()
@click.argument("sweep_file", type=click.Path(dir_okay=False))
@click.option("--backend", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="local: a process pool on this machine; ray: a Ray cluster (pip install .[ray]).")
@jobs_option("workers", default=None, help="Runs in parallel (default: CPU count; 1 runs in this process).",
             old=("--workers",))
@click.option("--address", default=None, help="Ray cluster address for ray.init(address=...); default a local instance.")
@click.option("--out", default=None, help="Override the sweep file's out directory.")
@click.option("--seeds", "seeds_spec", default=None, metavar="LIST|N",
              help="Override the sweep file's seeds: 0..N-1, or a comma list (0,3,7).")
@click.option("--dry-run", is_flag=True, help="List the runs and their status without training.")
@progress_option()
def sweep(sweep_file, backend, workers, address, out, dry_run, show_progress, seeds_spec=None):
    """Train every algorithm x env x seed x override cell of SWEEP_FILE (resumable)."""
    import dataclasses

    from stablepoint.rl.sweep import expand, load_sweep, run_status, run_sweep

    from stablepoint.errors import SettingsError

    if workers is not None and workers < 1:
        raise SettingsError(f"--jobs must be >= 1, got {workers}")
    spec = load_sweep(sweep_file)
    if out is not None:
        spec = dataclasses.replace(spec, out=out)
    if seeds_spec is not None:
        spec = dataclasses.replace(spec, seeds=parse_seeds(seeds_spec))
    if dry_run:
        runs = expand(spec)
        for run in runs:
            click.echo(f"{run_status(run):10s} {run.run_dir}")
        click.echo(f"{len(runs)} runs")
        return
    n_runs = len(expand(spec))
    bar = None
    if _bars(show_progress):
        from tqdm import tqdm

        bar = tqdm(total=n_runs, unit="run", dynamic_ncols=True, desc=spec.name or "sweep")

    def on_outcome(outcome):
        line = f"{outcome.status:8s} {outcome.name}"
        if outcome.status == "failed":
            line += f"  ({outcome.error})"
        elif outcome.test_return is not None:
            line += f"  test return {outcome.test_return:.3f}"
        if bar is not None:
            bar.update(1)
            bar.write(line)
        else:
            click.echo(line)

    try:
        result = run_sweep(spec, backend=backend, workers=workers, address=address, on_outcome=on_outcome)
    finally:
        if bar is not None:
            bar.close()
    counts = ", ".join(f"{s} {result.count(s)}" for s in ("finished", "resumed", "skipped", "failed") if result.count(s))
    click.echo(f"{len(result.outcomes)} runs in {spec.out}: {counts}")
    if not result.success:
        raise click.exceptions.Exit(1)
