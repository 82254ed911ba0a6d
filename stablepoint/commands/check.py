"""``stablepoint check``: stable points, transitions, attractors and basins of one method on one payoff.

Thin: parse the options, build the method, call :func:`stablepoint.stability.analyze`
(or :func:`~stablepoint.stability.sweep_epsilon` with ``--sweep``; only the
rows named by ``--u-tilde`` with that option), render with
:mod:`stablepoint.report`.  Exit codes: 0 success; 2 bad input or usage (one
line, no traceback); 130 interrupted (a partial ``--out`` file is kept).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click
import numpy as np

from stablepoint.commands.options import (
    figure_option, format_option, game_options, jobs_option, method_option, progress_option,
)
from stablepoint.commands.limits import Limits, parse_budget, resolve_jobs
from stablepoint.errors import ProblemTooLargeError, SettingsError
from stablepoint.visitation import VISITATIONS, check_epsilon


def _load(game: str):
    from stablepoint.catalog import get_game

    return get_game(game)  # --game NAME|SPEC, --payoff FILE (file=...) or --env matrix:NAME


#: the most epsilon values one --sweep may hold (each costs a full analysis)
MAX_GRID = 10_000


def parse_grid(spec: str) -> list[float]:
    """``"a:b:n"`` (n evenly spaced points from a to b) or ``"e1,e2,..."``; values checked to be in [0, 1].

    >>> parse_grid("0:1:5")
    [0.0, 0.25, 0.5, 0.75, 1.0]
    >>> parse_grid("0.1, 0.5")
    [0.1, 0.5]
    """
    text = spec.strip()
    try:
        if ":" in text:
            parts = text.split(":")
            if len(parts) != 3:
                raise ValueError
            start, stop, num = float(parts[0]), float(parts[1]), int(parts[2])
            if num < 1:
                raise ValueError
            if num > MAX_GRID:
                raise SettingsError(f"--sweep grid {spec!r} has {num} points; the limit is {MAX_GRID} points")
            grid = [float(x) for x in np.linspace(start, stop, num)]
        else:
            items = text.split(",") if text else []
            if any(not x.strip() for x in items):
                raise SettingsError(f"bad --sweep grid {spec!r}: empty item in the comma list")
            if len(items) > MAX_GRID:
                raise SettingsError(f"--sweep grid has {len(items)} values; the limit is {MAX_GRID} points")
            grid = [float(x) for x in items]
    except SettingsError:
        raise
    except ValueError:
        raise SettingsError(
            f"bad --sweep grid {spec!r}: use START:STOP:NUM (e.g. 0:1:11) or a comma list (e.g. 0.1,0.5,1)"
        ) from None
    if not grid:
        raise SettingsError(f"bad --sweep grid {spec!r}: no epsilon values")
    return [check_epsilon(e) for e in grid]


def parse_u_tildes(specs, shape) -> list[tuple[int, ...]] | None:
    """``--u-tilde`` values ("1,2,3", 1-based, one joint action each) as 0-based tuples, in the order given.

    None when no value was given.  Raises SettingsError (one line) for a value
    that is not a comma list of integers, has the wrong length, is out of
    range, or repeats another.

    >>> parse_u_tildes(["1,3", " 2, 1 "], (2, 3))
    [(0, 2), (1, 0)]
    """
    if not specs:
        return None
    n = len(shape)
    out: list[tuple[int, ...]] = []
    for spec in specs:
        parts = [x.strip() for x in str(spec).split(",")]
        actions = []
        for x in parts:
            try:
                actions.append(int(x))
            except ValueError:
                raise SettingsError(
                    f"--u-tilde {spec!r}: {x!r} is not an integer (give {n} 1-based actions, e.g. "
                    f"--u-tilde {','.join(['1'] * n)})"
                ) from None
        if len(actions) != n:
            raise SettingsError(f"--u-tilde {spec!r} has {len(actions)} actions; the payoff has {n} agents")
        for i, a in enumerate(actions):
            if not 1 <= a <= shape[i]:
                raise SettingsError(
                    f"--u-tilde {spec!r}: action {a} of agent {i + 1} is out of range 1..{shape[i]} (1-based)"
                )
        u = tuple(a - 1 for a in actions)
        if u in out:
            raise SettingsError(f"--u-tilde {spec!r} is given twice")
        out.append(u)
    return out


def _write_json_atomic(path: Path, doc: dict) -> None:
    # Write then rename, so an interrupt never leaves a half-written file behind.
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(json.dumps(doc, indent=2) + "\n")
        os.replace(tmp, path)
    except OSError as exc:
        raise SettingsError(f"cannot write --out file {str(path)!r}: {exc.strerror or exc}") from None
    except BaseException:  # an interrupt mid-write: the previous file (rows done so far) stays, no .tmp left
        try:
            tmp.unlink()
        except OSError:
            pass
        raise


def _check_writable(option: str, path: Path | None) -> None:
    if path is not None and not path.parent.is_dir():
        raise SettingsError(f"{option} {str(path)!r}: directory {str(path.parent)!r} does not exist")


class _Bar:
    """A tqdm progress bar on stderr, or nothing."""

    def __init__(self, enabled: bool | None, desc: str):
        from tqdm import tqdm

        # disable=None lets tqdm switch itself off when stderr is not a terminal.
        disable = None if enabled is None else not enabled
        self.bar = tqdm(total=0, desc=desc, file=sys.stderr, disable=disable, leave=False, unit="fit")

    def update(self, done: int, total: int):
        if self.bar.total != total:
            self.bar.total = total
        self.bar.n = done
        self.bar.refresh()

    def close(self):
        self.bar.close()


#: CLI option -> method setting it fills (``--max-orderings`` goes into the solver's options).
_OPTION_OF = {
    "visitation": "--visitation",
    "epsilon": "--epsilon",
    "alpha": "--alpha",
    "tie_rule": "--tie-rule",
    "solver": "--solver",
    "solver_options": "--max-orderings/--time-limit",
    "losses": "--losses",
}


def _check_solver_takes(option: str, flag: str, solver: str) -> None:
    """Refuse a solver option (e.g. ``max_orderings``) that the chosen solver does not take."""
    import inspect

    from stablepoint import projection

    params = inspect.signature(projection.get_solver(solver)).parameters
    if option not in params:
        resolved = projection.DEFAULT_SOLVER if solver == "auto" else solver
        other = "cvxpy" if resolved != "cvxpy" else "bnb"
        raise SettingsError(f"{flag} does not apply to solver {resolved!r} (add --solver {other})")


def _method_settings(method_name: str, *, max_orderings=None, time_limit=None, **given) -> dict:
    """The settings the user gave, checked against the ones the method takes (``method_settings``)."""
    from stablepoint.methods import method_settings

    settings = {k: v for k, v in given.items() if v is not None}
    solver_options = {}
    if max_orderings is not None:
        _check_solver_takes("max_orderings", "--max-orderings", settings.get("solver", "auto"))
        solver_options["max_orderings"] = int(max_orderings)
    if time_limit is not None:
        _check_solver_takes("time_limit", "--time-limit", settings.get("solver", "auto"))
        solver_options["time_limit"] = float(time_limit)
    if solver_options:
        settings["solver_options"] = solver_options
    try:
        accepted = method_settings(method_name)
    except SettingsError:
        return settings  # an unknown method: get_method raises the message listing the valid ones
    for key in settings:
        if key not in accepted:
            takes = ", ".join(_OPTION_OF[k] for k in accepted if k in _OPTION_OF) or "no options"
            raise SettingsError(f"{_OPTION_OF[key]} does not apply to method {method_name!r} (it takes: {takes})")
    return settings


def _takes_losses(method_name: str) -> bool:
    from stablepoint.methods import method_settings

    try:
        return "losses" in method_settings(method_name)
    except SettingsError:
        return False


def _too_large(exc: ProblemTooLargeError) -> ProblemTooLargeError:
    """The solver's refusal, with its advice spelled as CLI options."""
    msg = str(exc).splitlines()[0] if str(exc) else "problem too large"
    if "--budget" in msg:  # the estimate's refusal (stablepoint.commands.limits) already says what to do
        return ProblemTooLargeError(msg)
    cli = msg.replace("pass max_orderings=", "pass --max-orderings ").replace("solver='bnb'", "--solver bnb")
    if "--max-orderings" not in cli:
        cli += " (raise the limit with --max-orderings N, or try --solver bnb)"
    return ProblemTooLargeError(cli)


@click.command()
@game_options()
@method_option("method_name", required=True, help="vdn, qmix, wqmix, resq, mrvf or qplex.")
@click.option("--epsilon", type=float, help="Exploration rate in [0, 1] of the epsilon-greedy visitation.")
@click.option("--visitation", type=click.Choice(sorted(VISITATIONS)), help="Visitation pi(u | u~) weighting the loss.")
@click.option("--alpha", type=float, help="WQMIX weight of under-valued joint actions, in (0, 1].")
@click.option("--tie-rule", type=click.Choice(["strict", "inclusive"]), help="WQMIX: Q_jt(u) > Q_jt(u~) (strict, Eq. 3) or >= (inclusive).")
@click.option("--solver", help="Ideal-QMIX solver: auto, cvxpy or bnb.")
@click.option("--max-orderings", type=click.IntRange(min=1), help="Refuse problems with more agent-order combinations than this.")
@click.option("--losses", type=click.Choice(["all", "greedy"]), help="QMIX/WQMIX: only the greedy sets (greedy, default: much faster with bnb) or also the exact loss of every forced greedy action (all: the JSON's greedy_losses).")
@click.option("--time-limit", type=click.FloatRange(min=0, min_open=True), help="Seconds per exact solve (bnb solver); a stopped solve is reported as not certified, with its best bound.")
@click.option("--budget", "budget_spec", metavar="SECONDS|inf",
              help="Seconds for the whole analysis; rows not finished are reported as not certified, never as "
                   "answers.  Without it an analysis estimated above 60 s is refused up front; inf: no bound.")
@jobs_option(default=None, help="Processes fitting rows u~ side by side (default: every core).")
@format_option()
@figure_option("graph_path", help="Write the transition graph: .png, .svg, .pdf or .dot.", old=("--graph",))
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path), help="Also write the JSON result here, updated after every u~ (partial files have complete=false).")
@click.option("--sweep", "sweep_spec", metavar="GRID", help="Epsilon sweep instead of one epsilon: START:STOP:NUM or e1,e2,...")
@click.option("--sweep-tol", type=float, default=1e-3, show_default=True, help="Width of the brackets around critical epsilons.")
@click.option("--u-tilde", "u_tilde_specs", multiple=True, metavar="A1,...,AN",
              help="Compute only this row u~ of the transition graph (1-based, comma-separated; repeat for more). "
                   "The report is then partial: no attractors, basins or reachability.")
@progress_option()
def check(game, method_name, epsilon, visitation, alpha, tie_rule, solver, losses, max_orderings,
          time_limit, fmt, graph_path, out_path, sweep_spec, sweep_tol, u_tilde_specs, show_progress,
          budget_spec, jobs):
    """Stable points of a method on a payoff: the u~ -> ubar table, stable points, attractors, basins.

    Exit codes: 0 success; 2 bad input or usage (one-line error); 130 interrupted.
    """
    from stablepoint.methods import get_method

    payoff = _load(game)
    graph_path = Path(graph_path) if graph_path is not None else None
    u_tildes = parse_u_tildes(u_tilde_specs, payoff.shape)
    if epsilon is not None:
        check_epsilon(epsilon)
    settings = _method_settings(
        method_name, visitation=visitation, epsilon=epsilon, alpha=alpha, tie_rule=tie_rule,
        solver=solver, losses=losses, max_orderings=max_orderings, time_limit=time_limit,
    )
    if graph_path is not None and graph_path.suffix.lower() not in (".png", ".svg", ".pdf", ".dot"):
        raise SettingsError(f"--figure {str(graph_path)!r} must end in .png, .svg, .pdf or .dot")
    _check_writable("--figure", graph_path)
    _check_writable("--out", out_path)
    if losses is None and _takes_losses(method_name):
        # The greedy sets are the same either way; "all" adds every forced action's loss at several times the cost.
        settings["losses"] = "greedy"
    limits = Limits(parse_budget(budget_spec), resolve_jobs(jobs))
    if sweep_spec is not None:
        if epsilon is not None:
            raise click.UsageError("--sweep and --epsilon are exclusive: the sweep sets epsilon")
        if visitation == "uniform":
            raise SettingsError("--sweep needs an epsilon-greedy visitation (centralized or decentralized), not uniform")
        if graph_path is not None:
            raise click.UsageError("--figure draws one analysis; leave it out with --sweep")
        if u_tildes is not None:
            raise click.UsageError("--u-tilde computes rows of one analysis; leave it out with --sweep")
        _run_sweep(payoff, get_method, method_name, settings, parse_grid(sweep_spec), sweep_tol,
                   fmt, out_path, show_progress, limits)
        return
    if u_tildes is not None and graph_path is not None and len(u_tildes) < payoff.n_joint:
        raise click.UsageError("--figure draws the whole transition graph; leave it out with --u-tilde")
    method = get_method(method_name, **settings)
    _run_check(payoff, method, fmt, graph_path, out_path, show_progress, u_tildes, limits)


def _run_check(payoff, method, fmt, graph_path, out_path, show_progress, u_tildes=None, limits=None):
    from stablepoint import report
    from stablepoint.commands.limits import Limits, estimate_policy
    from stablepoint.stability import analyze

    limits = limits or Limits(None, 1)
    name = str(getattr(method, "name", method))
    method_settings = method.settings() if callable(getattr(method, "settings", None)) else {}
    fits = {}
    bar = _Bar(show_progress, f"{name} u~")
    bar.update(0, payoff.n_joint if u_tildes is None else len(u_tildes))

    def progress(done, total, fit):
        bar.update(done, total)
        fits[tuple(fit.u_tilde)] = fit
        if out_path is not None:
            _write_json_atomic(out_path, report.partial_to_dict(payoff, name, method_settings, fits, rows=u_tildes))

    try:
        result = analyze(payoff, method, progress=progress, u_tildes=u_tildes, on_estimate=estimate_policy(limits),
                         probe_seconds=_probe_seconds(limits), **limits.analyze_kwargs())
        # A round trace follows the whole process (MRVF), not some rows: left out of partial reports.
        rounds_fn = None if result.partial else getattr(method, "rounds", None)
        rounds = rounds_fn(payoff) if callable(rounds_fn) else None
    except ProblemTooLargeError as exc:
        raise _too_large(exc) from None
    finally:
        bar.close()
    if out_path is not None:
        _write_json_atomic(out_path, report.result_to_dict(result, rounds=rounds))
    if graph_path is not None:
        try:
            report.write_graph(result, graph_path)
        except OSError as exc:
            raise SettingsError(f"cannot write --figure file {str(graph_path)!r}: {exc.strerror or exc}") from None
    click.echo(report.render(result, fmt, rounds=rounds), nl=False)
    if fmt == "json":
        click.echo()


def _probe_seconds(limits) -> float:
    from stablepoint.commands.limits import PROBE_S

    # A budget shorter than the probe window would otherwise end before the estimate is made.
    return min(PROBE_S, 0.5 * limits.budget) if limits.bounded else PROBE_S


def _run_sweep(payoff, get_method, method_name, settings, grid, tol, fmt, out_path, show_progress, limits=None):
    from stablepoint import report
    from stablepoint.stability import sweep_epsilon, transition_graph, stability_kinds, attractors

    # Build once up front so that bad settings fail before any work is done.
    probe = get_method(method_name, **{**settings, "epsilon": grid[0]})
    name = str(getattr(probe, "name", method_name))
    probe_settings = probe.settings() if callable(getattr(probe, "settings", None)) else {}
    grid_set = set(grid)
    per_eps: dict[float, dict] = {}
    finished: list[dict] = []
    bar = _Bar(show_progress, f"{name} sweep")

    def factory(eps):
        return get_method(method_name, **{**settings, "epsilon": eps})

    def progress(done, total, eps, fit):
        bar.update(done, total)
        if out_path is None or eps not in grid_set:
            return
        fits = per_eps.setdefault(eps, {})
        fits[tuple(fit.u_tilde)] = fit
        if len(fits) == payoff.n_joint:
            g = transition_graph({u: f.greedy_set for u, f in fits.items()})
            finished.append({
                "epsilon": eps,
                "stable": [{"action": list(u), "kind": k} for u, k in stability_kinds(g).items()],
                "attractors": [sorted(list(u) for u in a) for a in attractors(g)],
            })
            _write_json_atomic(out_path, report.partial_sweep_to_dict(payoff, name, probe_settings, tol, finished))

    try:
        from stablepoint.commands.limits import Limits, estimate_policy

        limits = limits or Limits(None, 1)
        sweep = sweep_epsilon(payoff, factory, grid, tol=tol, progress=progress,
                              on_estimate=estimate_policy(limits, scale=len(grid), unit="epsilon values"),
                              probe_seconds=_probe_seconds(limits), **limits.analyze_kwargs())
    except ProblemTooLargeError as exc:
        raise _too_large(exc) from None
    finally:
        bar.close()
    if out_path is not None:
        _write_json_atomic(out_path, report.sweep_to_dict(sweep))
    click.echo(report.render_sweep(sweep, fmt), nl=False)
    if fmt == "json":
        click.echo()
