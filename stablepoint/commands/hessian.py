"""``stablepoint hessian``: spectra at a zero-loss point with a chosen greedy action, and verdicts.

Exit codes: 0 success; 2 bad input (tau <= 0, unknown mixer, greedy action out
of range, no zero-loss point found).
"""

from __future__ import annotations

import click

from stablepoint.errors import SettingsError


def parse_joint(text: str) -> tuple:
    """``"2,2"`` (1-based) -> (1, 1) (0-based)."""
    try:
        return tuple(int(t) - 1 for t in str(text).replace("(", "").replace(")", "").split(","))
    except ValueError:
        raise SettingsError(f"--greedy must be 1-based comma-separated integers like 2,2, got {text!r}") from None


@click.command()
@click.option("--game", default="game-a", show_default=True, help="Catalog game (A, B, ...).")
@click.option("--greedy", default="2,2", show_default=True, help="Greedy joint action of the point, 1-based.")
@click.option("--tau", default=0.1, show_default=True, type=float, help="Softmax temperature (> 0).")
@click.option("--mixer", default="nonmono", show_default=True, help="nonmono, qmix, qmix-abs, vdn.")
@click.option("--hidden", default=8, show_default=True, type=int, help="MLP mixer width.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the zero-loss search.")
@click.option("--restarts", default=20, show_default=True, type=int, help="Random starts of the zero-loss search.")
@click.option("--verdicts", is_flag=True, help="Also print the verdicts on Theorems 1-3 for this game.")
def hessian(game, greedy, tau, mixer, hidden, seed, restarts, verdicts):
    """Hessian / semi-gradient Jacobian spectra at a zero-loss point and the Eq. 19/21 comparison."""
    from stablepoint.catalog import get_game
    from stablepoint.gradflow.fixed_points import find_zero_loss_point
    from stablepoint.gradflow.loss import LossModel
    from stablepoint.gradflow.render import format_spectrum, format_verdict
    from stablepoint.gradflow.spectra import analyze_point
    from stablepoint.gradflow.verdicts import verify_theorem1, verify_theorem2, verify_theorem3

    if restarts < 1:
        raise SettingsError(f"--restarts must be >= 1, got {restarts}")
    if hidden < 1:
        raise SettingsError(f"--hidden must be >= 1, got {hidden}")
    payoff = get_game(game)
    g = parse_joint(greedy)
    if len(g) != payoff.n_agents:
        raise SettingsError(f"--greedy {greedy!r} has {len(g)} actions; game {payoff.name} has {payoff.n_agents} agents")
    model = LossModel(payoff, mixer, tau=tau, hidden=hidden)
    point = find_zero_loss_point(model, parse_joint(greedy), seed=seed, restarts=restarts)
    click.echo(f"{model.mixer.describe()}; state dimension {model.dim} (q: {model.n_q}, theta: {model.mixer.n_params})")
    click.echo(format_spectrum(analyze_point(model, point.x), payoff.name, full=True))
    if verdicts:
        click.echo("")
        click.echo(format_verdict(verify_theorem1(payoff, mixer=mixer, hidden=hidden, seed=seed)))
        click.echo(format_verdict(verify_theorem2(payoff, tau, mixer=mixer, hidden=hidden, seed=seed)))
        g = parse_joint(greedy)
        inconsistent = [g] if g not in payoff.optimal_actions() else None
        click.echo(format_verdict(verify_theorem3(payoff, tau, mixer=mixer, hidden=hidden, seed=seed,
                                                  greedy=inconsistent)))
