"""``stablepoint games``: list the payoff catalog."""

from __future__ import annotations

import click

from stablepoint.catalog import get_game, list_games


@click.command()
def games():
    """List the catalog of the papers' payoffs (use with --game NAME)."""
    for name, source, params in list_games():
        if params:
            shown = f"{name}:" + ",".join(f"{p}=..." for p in params)
            click.echo(f"{shown:<40} {source}")
        else:
            shape = "x".join(str(s) for s in get_game(name).shape)
            click.echo(f"{name:<40} {source} [{shape}]")
