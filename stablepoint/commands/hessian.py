"""``stablepoint hessian``: spectra at a zero-loss point with a chosen greedy action, and verdicts.

Exit codes: 0 success; 2 bad input (tau <= 0, unknown mixer, greedy action out
of range, no zero-loss point found).
"""

from __future__ import annotations

import json
import math

import click

from stablepoint.commands.options import deprecated_alias, format_option, game_options
from stablepoint.bounded import run_bounded
from stablepoint.commands.limits import HESSIAN_ADVICE, UNBOUNDED_LIMIT_S, parse_budget
from stablepoint.errors import BudgetExhaustedError, ProblemTooLargeError, SettingsError


def parse_joint(text: str) -> tuple:
    """``"2,2"`` (1-based) -> (1, 1) (0-based)."""
    try:
        return tuple(int(t) - 1 for t in str(text).replace("(", "").replace(")", "").split(","))
    except ValueError:
        raise SettingsError(f"--greedy must be 1-based comma-separated integers like 2,2, got {text!r}") from None


@click.command()
@game_options(default="game-a", help_game="Game: catalog name (A, B, ...) or spec. [default: game-a]")
@click.option("--greedy", default="2,2", show_default=True, help="Greedy joint action of the point, 1-based.")
@click.option("--tau", default=0.1, show_default=True, type=float, help="Softmax temperature (> 0).")
@click.option("--method", "mixer", default=None, metavar="MIXER", help="Mixer: nonmono, qmix, qmix-abs, vdn. [default: nonmono]")
@deprecated_alias("--mixer", "--method", "mixer")
@click.option("--hidden", default=8, show_default=True, type=int, help="MLP mixer width.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the zero-loss search.")
@click.option("--restarts", default=20, show_default=True, type=int, help="Random starts of the zero-loss search.")
@click.option("--verdicts", is_flag=True, help="Also print the verdicts on Theorems 1-3 for this game.")
@click.option("--budget", "budget_spec", metavar="SECONDS|inf",
              help="Seconds for the whole computation (default: refused when not done within 60 s); inf: no bound.")
@format_option()
def hessian(game, greedy, tau, mixer, hidden, seed, restarts, verdicts, fmt, budget_spec=None):
    """Hessian / semi-gradient Jacobian spectra at a zero-loss point and the Eq. 19/21 comparison."""
    from stablepoint.catalog import get_game
    from stablepoint.gradflow.fixed_points import find_zero_loss_point
    from stablepoint.gradflow.loss import LossModel
    from stablepoint.gradflow.render import format_spectrum, format_verdict
    from stablepoint.gradflow.spectra import analyze_point
    from stablepoint.gradflow.verdicts import verify_theorem1, verify_theorem2, verify_theorem3

    mixer = mixer or "nonmono"
    if restarts < 1:
        raise SettingsError(f"--restarts must be >= 1, got {restarts}")
    if hidden < 1:
        raise SettingsError(f"--hidden must be >= 1, got {hidden}")
    payoff = get_game(game)
    g = parse_joint(greedy)
    if len(g) != payoff.n_agents:
        raise SettingsError(f"--greedy {greedy!r} has {len(g)} actions; game {payoff.name} has {payoff.n_agents} agents")
    model = LossModel(payoff, mixer, tau=tau, hidden=hidden)
    describe = f"{model.mixer.describe()}; state dimension {model.dim} (q: {model.n_q}, theta: {model.mixer.n_params})"
    budget = parse_budget(budget_spec)

    def work(send):  # noqa: ARG001 - nothing to stream: one search, one spectrum
        point = find_zero_loss_point(model, g, seed=seed, restarts=restarts)
        spectrum = analyze_point(model, point.x)
        found = []
        if verdicts:
            found.append(verify_theorem1(payoff, mixer=mixer, hidden=hidden, seed=seed))
            found.append(verify_theorem2(payoff, tau, mixer=mixer, hidden=hidden, seed=seed))
            inconsistent = [g] if g not in payoff.optimal_actions() else None
            found.append(verify_theorem3(payoff, tau, mixer=mixer, hidden=hidden, seed=seed, greedy=inconsistent))
        return spectrum, found

    # No probe splits this work, so the bound is the probe: without --budget it may take UNBOUNDED_LIMIT_S.
    cap = UNBOUNDED_LIMIT_S if budget is None else (None if math.isinf(budget) else budget)
    run = run_bounded(work, budget=cap)
    if not run.finished:
        shape = "x".join(str(a) for a in payoff.shape)
        size = f"the zero-loss search ({restarts} starts, state dimension {model.dim}) on a {shape} payoff"
        if budget is None:
            raise ProblemTooLargeError(f"hessian: {size} did not finish within {UNBOUNDED_LIMIT_S:g} s, the most a "
                                       f"command may take without a budget: {HESSIAN_ADVICE}")
        raise BudgetExhaustedError(f"hessian: {size} did not finish within the {budget:g} s budget: "
                                   f"{HESSIAN_ADVICE}")
    spectrum, found = run.value
    if fmt == "json":
        click.echo(json.dumps(hessian_to_dict(payoff, mixer, describe, model, spectrum, found), indent=2))
        return
    if fmt == "markdown":
        click.echo(hessian_markdown(payoff, describe, spectrum, found))
        return
    click.echo(describe)
    click.echo(format_spectrum(spectrum, payoff.name, full=True))
    if verdicts:
        click.echo("")
        for v in found:
            click.echo(format_verdict(v))


def _plain(obj):
    """JSON-able values; complex eigenvalues as ``{"real": [...], "imag": [...]}``."""
    import dataclasses

    import numpy as np

    from stablepoint.report import jsonable

    if isinstance(obj, np.ndarray) and np.iscomplexobj(obj):
        return {"real": jsonable(obj.real), "imag": jsonable(obj.imag)}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return jsonable(obj)


def hessian_to_dict(payoff, mixer, describe, model, spectrum, verdicts) -> dict:
    """The ``--format json`` document, from the :class:`PointSpectrum` and :class:`TheoremVerdict` dataclasses."""
    out = {
        "kind": "hessian", "game": payoff.name, "shape": list(payoff.shape), "mixer": mixer, "describe": describe,
        "dimension": {"state": int(model.dim), "q": int(model.n_q), "theta": int(model.mixer.n_params)},
        "spectrum": _plain(spectrum),
        "classification": str(spectrum.classification),
        "min_hessian_eigenvalue": _plain(spectrum.min_hessian_eigenvalue),
        "verdicts": [{**_plain(v), "verdict": str(v.verdict)} for v in verdicts],
    }
    return out


def hessian_markdown(payoff, describe, spectrum, verdicts) -> str:
    """The ``--format markdown`` report: the point's numbers, then the verdicts, as tables."""

    def row(*cells):
        return "| " + " | ".join(str(c) for c in cells) + " |"

    g = "(" + ", ".join(str(a + 1) for a in spectrum.greedy) + ")"
    lines = [f"## Spectra on {payoff.name}", "", describe + ".", "", row("quantity", "value"), row("---", "---"),
             row("greedy (1-based)", g + (" = u*" if spectrum.optimal else " (not u*)")),
             row("tau", spectrum.tau), row("L_tau", f"{spectrum.loss:.3e}"),
             row("max residual", f"{spectrum.max_residual:.3e}"), row("field norm", f"{spectrum.field_norm:.3e}"),
             row("normal rank", spectrum.normal_rank), row("zero-loss set dimension", spectrum.tangent_dim),
             row("smallest Hessian eigenvalue", f"{spectrum.min_hessian_eigenvalue:.3e}"),
             row("classification", spectrum.classification)]
    if spectrum.directions:
        lines += ["", row("agent", "g_i -> b", "v^T H v", "-v^T J_semi v", "Eq. 19", "Eq. 21"), row(*["---"] * 6)]
        for d in spectrum.directions:
            lines.append(row(d.agent + 1, f"{d.from_action + 1} -> {d.to_action + 1}", f"{d.hessian:.4e}",
                             f"{d.semi:.4e}", f"{d.eq19:.3e}", "-" if d.eq21 is None else f"{d.eq21:.3g}"))
    if verdicts:
        lines += ["", row("theorem", "game", "mixer", "verdict", "summary"), row(*["---"] * 5)]
        for v in verdicts:
            lines.append(row(v.theorem, v.game, v.mixer, v.verdict, v.summary.replace("|", "/")))
    return "\n".join(lines)
