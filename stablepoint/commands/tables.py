"""``stablepoint tables``: regenerate the papers' tables beside the published values.

Exit codes: 0 every table ran (mismatches are findings, listed in the output);
1 some regeneration raised (status ``error``); 2 bad usage.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import click

from stablepoint.commands.options import progress_option
from stablepoint.commands.options import show_progress as _bars
from stablepoint.paper import TABLES, run_tables
from stablepoint.paper.render import FORMATS, render, report_markdown

DEFAULT_REPORT = Path("paper_tables") / "REPORT.md"


@click.command()
@click.option("--only", "only", multiple=True, type=click.Choice(list(TABLES)),
              help="Regenerate only this table (repeatable). Default: all.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True,
              help="Output format on stdout.")
@click.option("--report", "report", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help=f"Write the markdown report here. Default: {DEFAULT_REPORT} when running all tables "
                   "from a checkout (a paper_tables/ folder in the current directory).")
@click.option("--no-report", is_flag=True, help="Do not write the markdown report.")
@click.option("--quiet", "-q", is_flag=True, help="Print only the one-line-per-table summary.")
@click.option("--budget", "budget_spec", metavar="SECONDS|inf",
              help="Seconds for all the tables; a table not finished is reported as unfinished (no values) and "
                   "the default report is then not rewritten.  Default: no bound (a fixed workload, one line per "
                   "table as it starts).")
@progress_option()
def tables(only, fmt, report, no_report, quiet, show_progress, budget_spec=None):
    """Regenerate the papers' tables and compare them with the published values."""
    names = list(only) if only else None
    if report is not None and no_report:
        raise click.UsageError("--report and --no-report contradict each other; give one")
    if report is not None:
        _check_report_path(report)

    def progress(name):
        click.echo(f"regenerating {name} ...", err=True)

    from stablepoint.commands.limits import parse_budget

    budget = parse_budget(budget_spec)
    results = run_tables(names, progress=progress if _bars(show_progress) else None,
                         budget=None if budget is None or budget == float("inf") else budget)
    unfinished = [r.name for r in results if r.status == "unfinished"]
    if unfinished:
        click.echo(f"tables: the {budget:g} s budget ended; not regenerated (no values): {', '.join(unfinished)}",
                   err=True)
    if quiet:
        for r in results:
            click.echo(f"{r.name:<10} {r.status:<11} {r.n_match}/{r.n_match + r.n_mismatch} match  {r.seconds:6.1f} s")
    else:
        click.echo(render(results, fmt))
    target = report
    if target is None and not no_report and names is None and DEFAULT_REPORT.parent.is_dir() and not unfinished:
        target = DEFAULT_REPORT  # a report with unfinished tables never replaces the complete one
    if target is not None and not no_report:
        target.parent.mkdir(parents=True, exist_ok=True)
        results = tuple(_draw_graphs(r, target.parent) for r in results)
        target.write_text(report_markdown(results))
        click.echo(f"wrote {target}", err=True)
    elif not no_report and names is None:
        click.echo(f"no report written: no {DEFAULT_REPORT.parent}/ folder in the current directory; "
                   "give --report FILE to write one", err=True)
    if any(r.status == "error" for r in results):
        click.get_current_context().exit(1)


def _check_report_path(report: Path) -> None:
    """Refuse a --report path that cannot be written, before the tables run."""
    from stablepoint.errors import SettingsError

    if report.is_dir():
        raise SettingsError(f"--report {str(report)!r} is a directory")
    parent = report.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise SettingsError(f"--report {str(report)!r}: {str(parent)!r} is a file, not a directory")


def _draw_graphs(result, folder: Path):
    """Write the transition graphs a table keeps in ``data["graphs"]`` as PNGs and link them in its notes."""
    graphs = result.data.get("graphs") if result.data else None
    if not graphs:
        return result
    import matplotlib

    matplotlib.use("Agg")
    from stablepoint.report import write_graph

    links = []
    for key, analysis in graphs.items():
        path = folder / "figures" / f"{result.name}_{key}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_graph(analysis, path)
        links.append(f"![{result.name} {key}](figures/{path.name})")
    return dataclasses.replace(result, notes=result.notes + ("Transition graphs: " + " ".join(links),))
