"""``stablepoint plot``: learning curves (PNG/SVG), a final-performance CSV and aggregate statistics.

Runs of one environment and method that differ in their training budget (``steps``) or
``profile`` are labelled apart (``qmix [steps=20000]``), never pooled; ``--mixed refuse``
makes that an error instead.  With the ``stats`` extra (rliable), the IQM of the final
performance with a stratified-bootstrap CI, beside the median and 25-75% band, and the
pairwise probabilities of improvement are printed as markdown and written to
``<figure stem>_stats.md``.

Exit codes: 0 written; 2 bad input (no run directories, unknown metric or format, mixed
settings with ``--mixed refuse``).
"""

from __future__ import annotations

from pathlib import Path

import click

from stablepoint.commands.options import figure_option


@click.command()
@click.argument("runs", nargs=-1, required=True, type=click.Path())
@figure_option("out", default="curves.png", help="Figure file; the suffix picks the format (.png, .svg, .pdf).",
               old=("--out",))
@click.option("--csv", "csv_path", default=None,
              help="Final-performance CSV (default <figure stem>_final.csv; counts in <...>_final_counts.csv).")
@click.option("--metric", type=click.Choice(["auto", "return", "win_rate", "normalized_return"]), default="auto",
              show_default=True, help="auto: win rate on SMAC/SMAX, Eq. 30 normalized return on risk-reward games, else return.")
@click.option("--tolerance", type=float, default=0.05, show_default=True, help="Best/worst tolerance (MRVF Table 3).")
@click.option("--final-fraction", type=float, default=0.25, show_default=True,
              help="Final performance = mean over the last this fraction of each run's steps.")
@click.option("--negative", type=click.Choice(["ratio", "printed"]), default="ratio", show_default=True,
              help="Eq. 30 negative branch: r/|min| (order-preserving) or the formula as printed.")
@click.option("--title", default="", help="Figure title.")
@click.option("--mixed", type=click.Choice(["apart", "refuse"]), default="apart", show_default=True,
              help="Runs of one env and method with different training budgets (steps) or profiles: "
                   "label them apart (own curve and statistics) or refuse (exit 2).")
@click.option("--reps", type=int, default=2000, show_default=True,
              help="Bootstrap replications of the IQM and probability-of-improvement CIs (rliable).")
def plot(runs, out, csv_path, metric, tolerance, final_fraction, negative, title, mixed="apart", reps=2000):
    """Plot median learning curves with bands for RUNS (run directories or folders holding them)."""
    from stablepoint.errors import SettingsError
    from stablepoint.rl.plot import aggregate, final_table, load_runs, plot_curves, write_final_csv

    out = Path(out)
    if out.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise SettingsError(f"--figure must end in .png, .svg or .pdf, got {out.name!r}")
    import math

    if not (tolerance >= 0 and math.isfinite(tolerance)):
        raise SettingsError(f"--tolerance must be a finite number >= 0, got {tolerance}")
    if not 0 < final_fraction <= 1:
        raise SettingsError(f"--final-fraction must be in (0, 1], got {final_fraction}")
    csv_file = Path(csv_path) if csv_path else out.with_name(out.stem + "_final.csv")
    for option, path in (("--figure", out), ("--csv", csv_file)):
        if path.is_dir():
            raise SettingsError(f"{option} {str(path)!r} is a directory")
        if not path.parent.is_dir():
            raise SettingsError(f"{option} {str(path)!r}: directory {str(path.parent)!r} does not exist")
    if reps < 1:
        raise SettingsError(f"--reps must be >= 1, got {reps}")
    from stablepoint.rl.plot import aggregate_stats, render_stats, separate_settings

    curves = separate_settings(load_runs(runs, metric=metric, negative=negative), mixed)
    bands = aggregate(curves)
    fig = plot_curves(bands, title=title)
    fig.savefig(out, dpi=150)
    table = final_table(curves, tolerance=tolerance, final_fraction=final_fraction)
    csv_path = csv_file
    write_final_csv(table, csv_path)
    click.echo(f"{len(curves)} runs, {len(bands)} curves -> {out}")
    click.echo(f"final performance -> {csv_path} (best/worst counts, tolerance {tolerance:g}):")
    for algo, c in table.counts.items():
        click.echo(f"  {algo:16s} best {c['best']:3d}  worst {c['worst']:3d}")
    try:
        stats = aggregate_stats(curves, final_fraction=final_fraction, reps=reps)
    except SettingsError as exc:  # the stats extra is not installed: the rest is written
        click.echo(f"aggregate statistics skipped: {exc}", err=True)
        return
    stats_path = out.with_name(out.stem + "_stats.md")
    text = render_stats(stats)
    stats_path.write_text(text)
    click.echo(f"aggregate statistics -> {stats_path}:")
    click.echo(text.rstrip("\n"))
