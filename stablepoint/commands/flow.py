"""``stablepoint flow``: where random initial conditions end under the true and semi-gradient flows.

Exit codes: 0 success; 1 with ``--check`` when a converged end point's field
norm is not below the tolerance; 2 bad input (tau <= 0, unknown mixer, ...).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass

import click

from stablepoint.bounded import run_bounded
from stablepoint.commands.limits import Limits, parse_budget

from stablepoint.commands.options import (
    _before, deprecation_note, figure_option, format_option, game_options, jobs_option, progress_option,
)
from stablepoint.commands.options import show_progress as _bars
from stablepoint.errors import SettingsError


def parse_floats(text: str, what: str) -> tuple:
    """``"1,0.3,0.1"`` -> (1.0, 0.3, 0.1)."""
    items = str(text).split(",")
    try:
        if not str(text).strip() or any(not t.strip() for t in items):
            raise ValueError
        return tuple(float(t) for t in items)
    except ValueError:
        raise SettingsError(f"{what} must be comma-separated numbers, got {text!r}") from None


#: solve_ivp's integration methods
IVP_METHODS = ("RK45", "RK23", "DOP853", "Radau", "BDF", "LSODA")
FIGURE_SUFFIXES = (".png", ".svg", ".pdf")


def _check_options(runs, hidden, epsilon, t_max, gtol, method, workers, figure) -> None:
    """Refuse bad option values before any trajectory is integrated."""
    import math
    from pathlib import Path

    if runs < 1:
        raise SettingsError(f"--runs must be >= 1, got {runs}")
    if hidden < 1:
        raise SettingsError(f"--hidden must be >= 1, got {hidden}")
    if workers < 1:
        raise SettingsError(f"--jobs must be >= 1, got {workers}")
    if not 0.0 <= epsilon <= 1.0:
        raise SettingsError(f"--epsilon must be in [0, 1], got {epsilon}")
    if not (t_max > 0 and math.isfinite(t_max)):
        raise SettingsError(f"--t-max must be a finite number > 0, got {t_max}")
    if not (gtol > 0 and math.isfinite(gtol)):
        raise SettingsError(f"--gtol must be a finite number > 0, got {gtol}")
    if method not in IVP_METHODS:
        raise SettingsError(f"--solver {method!r} is not a solve_ivp method; choose one of {', '.join(IVP_METHODS)}")
    if figure:
        path = Path(figure)
        if path.suffix.lower() not in FIGURE_SUFFIXES:
            raise SettingsError(f"--figure {figure!r} must end in {', '.join(FIGURE_SUFFIXES)}")
        if not path.parent.is_dir():
            raise SettingsError(f"--figure {figure!r}: directory {str(path.parent)!r} does not exist")


@dataclass(frozen=True)
class FlowConfig:
    """Everything one ``flow`` run needs (built from the options, then passed to the library)."""

    game: str
    mixers: tuple
    taus: tuple
    gradients: tuple
    runs: int
    seed: int
    hidden: int
    epsilon: float
    t_max: float
    gtol: float
    method: str
    workers: int


MIXER_DEFAULT = "nonmono"
SOLVER_DEFAULT = "LSODA"


def _mixer_and_solver(kwargs):
    """``--method`` is the mixer (the analyses' grammar); the ODE solver is ``--solver``.

    Before issue 15 ``flow --method`` named the solve_ivp method and ``--mixer`` the mixer.
    Both old spellings still work, each with a deprecation note: ``--mixer M`` is
    ``--method M``, and ``--method`` with a solve_ivp name (LSODA, RK45, ...; no mixer is
    named so, so the value is unambiguous) is ``--solver``.
    """
    method, solver = kwargs.get("mixer"), kwargs.get("method")
    if method in IVP_METHODS:
        deprecation_note(f"--method {method} (an ODE solver)", f"--solver {method}")
        if solver is not None and solver != method:
            raise click.UsageError(f"--solver {solver} and the old --method {method} contradict each other")
        solver, method = method, None
    old_mixer = kwargs.pop("_old_mixer", None)
    if old_mixer is not None:
        deprecation_note("--mixer", "--method")
        if method is not None:
            raise click.UsageError("give --method or its old spelling --mixer, not both")
        method = old_mixer
    kwargs["mixer"] = method or MIXER_DEFAULT
    kwargs["method"] = solver or SOLVER_DEFAULT


#: resolves --method/--mixer/--solver before the command runs (options._before, as the shared options do)
_flow_options = _before(_mixer_and_solver)


@click.command()
@game_options(default="game-a", help_game="Game: catalog name (A, B, table5, ...) or spec. [default: game-a]")
@click.option("--method", "mixer", default=None, metavar="MIXER",
              help=f"Mixer under study: nonmono, qmix, qmix-abs, vdn. [default: {MIXER_DEFAULT}]")
@click.option("--mixer", "_old_mixer", default=None, hidden=True)
@click.option("--baseline/--no-baseline", default=True, show_default=True,
              help="Also run the monotone mixer (qmix) as a baseline.")
@click.option("--tau", "taus", default="1,0.3,0.1", show_default=True, help="Softmax temperature(s), comma-separated.")
@click.option("--gradient", type=click.Choice(["both", "true", "semi"]), default="both", show_default=True,
              help="true: policy differentiated (Eq. 17); semi: policy held fixed while differentiating.")
@click.option("--runs", default=20, show_default=True, type=int, help="Random initial conditions per cell.")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--hidden", default=8, show_default=True, type=int, help="MLP mixer width.")
@click.option("--epsilon", default=0.0, show_default=True, type=float, help="Uniform exploration mixed into the softmax.")
@click.option("--t-max", default=1000.0, show_default=True, type=float, help="Integration horizon.")
@click.option("--gtol", default=1e-3, show_default=True, type=float, help="Converged when |dx/dt| < gtol.")
@click.option("--solver", "method", default=None,
              help=f"solve_ivp method (LSODA, RK45, Radau, BDF, ...). [default: {SOLVER_DEFAULT}]")
@jobs_option("workers", default=1, help="Processes for the trajectories.", old=("--workers",))
@figure_option(help="Save a figure here (.png, .svg or .pdf).")
@click.option("--check", is_flag=True, help="Exit 1 if a converged end point's field norm is not below gtol.")
@click.option("--budget", "budget_spec", metavar="SECONDS|inf",
              help="Seconds for the whole table; cells not run are listed, never answered.  Without it a table "
                   "estimated above 60 s is refused up front; inf: no bound.")
@format_option()
@progress_option()
@_flow_options
def flow(game, mixer, baseline, taus, gradient, runs, seed, hidden, epsilon, t_max, gtol, method, workers, figure,
         check, fmt="text", show_progress=None, budget_spec=None):
    """Outcome table: fraction of runs ending at u* / IGM-consistent, true vs semi-gradient flow."""
    from stablepoint.catalog import get_game
    from stablepoint.gradflow.flow import FlowSettings
    from stablepoint.gradflow.loss import check_tau
    from stablepoint.gradflow.mixers import make_mixer
    from stablepoint.gradflow.outcomes import outcome_table
    from stablepoint.gradflow.render import format_outcome_rows, plot_outcomes

    _check_options(runs, hidden, epsilon, t_max, gtol, method, workers, figure)
    mixers = (mixer,) + (("qmix",) if baseline and mixer not in ("qmix", "qmix-abs") else ())
    config = FlowConfig(game, mixers, parse_floats(taus, "--tau"),
                        ("true", "semi") if gradient == "both" else (gradient,),
                        runs, seed, hidden, epsilon, t_max, gtol, method, workers)
    payoff = get_game(config.game)
    for tau in config.taus:  # refuse bad input before the progress bar draws anything
        check_tau(tau)
    for name in config.mixers:
        make_mixer(name, payoff.n_agents, hidden=config.hidden)
    settings = FlowSettings(t_max=config.t_max, gtol=config.gtol, method=config.method)
    total = len(config.mixers) * len(config.taus) * len(config.gradients) * config.runs
    limits = Limits(parse_budget(budget_spec), config.workers)
    from tqdm import tqdm

    def work(send):
        return outcome_table(payoff, taus=config.taus, mixers=config.mixers, gradients=config.gradients,
                             n_runs=config.runs, seed=config.seed, hidden=config.hidden,
                             epsilon=config.epsilon, settings=settings, workers=config.workers,
                             progress=lambda done, n: send(("progress", done)), on_row=lambda row: send(("row", row)))

    with tqdm(total=total, desc="trajectories", file=sys.stderr, disable=not _bars(show_progress), leave=False) as bar:
        run = run_bounded(work, budget=limits.budget if limits.bounded else None,
                          **_flow_estimate(limits, payoff, total, config.workers, bar))
    table = run.value if run.finished else _partial_table(payoff, config, settings, run)
    if not run.finished:
        click.echo(f"flow: the {limits.budget:g} s budget ended after {len(table.rows)} of {_cells(config)} rows; "
                   "rows not run are listed (no answer)", err=True)
    missing = _missing_rows(config, table)
    if fmt == "json":
        doc = flow_to_dict(payoff, config, table)
        doc.update(complete=not missing, unfinished=missing, budget=limits.budget if limits.bounded else None)
        click.echo(json.dumps(doc, indent=2))
    elif fmt == "markdown":
        click.echo(flow_markdown(payoff, config, table))
    else:
        click.echo(_header(payoff, config))
        click.echo("u*: share of converged runs whose greedy joint action is the optimum; "
                   "IGM: share whose greedy action maximizes their own Q_tot (Eq. 5)")
        click.echo(format_outcome_rows(table.rows))
        if missing:
            click.echo(f"Budget: rows not run within the {limits.budget:g} s budget (no answer): "
                       + ", ".join(f"{m['mixer']} {m['gradient']} tau={m['tau']:g}" for m in missing))
    if missing and (figure or check):
        click.echo("flow: --figure and --check need every row; skipped", err=True)
        return
    if figure:
        plot_outcomes(table, figure)
        click.echo(f"figure written to {figure}", err=fmt != "text")
    if check:
        bad = [t for b in table.batches for t in b.trajectories if t.converged and not t.field_norm < config.gtol]
        if bad:
            click.echo(f"check failed: {len(bad)} converged end point(s) with |dx/dt| >= gtol", err=True)
            raise SystemExit(1)


def _u(u):
    return "(" + ", ".join(str(a + 1) for a in u) + ")"


def _cells(config) -> int:
    return len(config.mixers) * len(config.gradients) * len(config.taus)


def _missing_rows(config, table) -> list[dict]:
    """The (mixer, gradient, tau) rows of the full table that ``table`` lacks, in table order."""
    done = {(r.mixer, r.gradient, float(r.tau)) for r in table.rows}
    return [{"mixer": m, "gradient": g, "tau": float(t)}
            for m in config.mixers for g in config.gradients for t in config.taus
            if (m, g, float(t)) not in done]


def _partial_table(payoff, config, settings, run):
    """The rows finished before the budget ended (no batches: figures and --check need them all)."""
    from stablepoint.gradflow.outcomes import OutcomeTable

    rows = tuple(m[1] for m in run.messages if m[0] == "row")
    return OutcomeTable(payoff.name, rows, (), settings, config.seed)


def _flow_estimate(limits, payoff, total, workers, bar) -> dict:
    """``on_message``/``on_wait`` for :func:`run_bounded`: the progress bar, and the estimate after the
    first trajectory (or the probe window) judged by :func:`stablepoint.commands.limits.judge`."""
    import math

    from stablepoint.commands import limits as lim
    from stablepoint.stability import format_duration

    shape = "x".join(str(s) for s in payoff.shape)
    state = {"estimated": False}

    def on_message(message, elapsed):
        if message[0] != "progress":
            return
        done = int(message[1])
        bar.update(done - bar.n)
        if not state["estimated"] and done > 0:
            state["estimated"] = True
            seconds = elapsed / done * total
            lim.judge(limits, "flow", f"{total} trajectories on a {shape} payoff: about {format_duration(seconds)} "
                      f"({done} done in {format_duration(elapsed)})", seconds, False, lim.FLOW_ADVICE)

    def on_wait(elapsed):
        if not state["estimated"] and elapsed >= lim.PROBE_S:
            state["estimated"] = True
            seconds = lim.PROBE_S * math.ceil(total / max(1, workers))
            lim.judge(limits, "flow", f"{total} trajectories on a {shape} payoff: more than "
                      f"{format_duration(seconds)} (none finished in {format_duration(lim.PROBE_S)})",
                      seconds, True, lim.FLOW_ADVICE)

    return {"on_message": on_message, "on_wait": on_wait, "wait_every": 0.5}


def _header(payoff, config) -> str:
    return (f"game {payoff.name}, optimum {_u(payoff.optimal_actions()[0])}; {config.runs} random "
            f"initial conditions per row (seed {config.seed}), epsilon {config.epsilon:g}, "
            f"t_max {config.t_max:g}, gtol {config.gtol:g}")


def flow_to_dict(payoff, config, table) -> dict:
    """The ``--format json`` document: the settings and one object per :class:`OutcomeRow` (actions 0-based)."""
    import dataclasses

    from stablepoint.report import jsonable

    return {
        "kind": "flow",
        "game": payoff.name,
        "shape": list(payoff.shape),
        "optimal": [list(u) for u in payoff.optimal_actions()],
        "settings": jsonable(dataclasses.asdict(config)),
        "rows": [jsonable(r) for r in table.rows],
    }


def flow_markdown(payoff, config, table) -> str:
    """The ``--format markdown`` report: the outcome rows as one table."""
    head = ["mixer", "gradient", "tau", "runs", "converged", "u*", "IGM", "median loss", "max field norm"]
    lines = [f"## Flow outcomes on {payoff.name}", "", _header(payoff, config) + ".", "",
             "| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for r in table.rows:
        cells = [r.mixer, r.gradient, f"{r.tau:g}", str(r.n_runs), str(r.n_converged), f"{r.optimal:.2f}",
                 f"{r.igm:.2f}", f"{r.median_loss:.3g}", f"{r.max_field_norm:.3g}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
