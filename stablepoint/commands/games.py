"""``stablepoint games``: list the payoff catalog."""

from __future__ import annotations

import json

import click

from stablepoint.catalog import get_game, list_games
from stablepoint.commands.options import format_option


def _entries() -> list[dict]:
    """One record per catalog game: name, source, parameters and (fixed games) shape and values."""
    out = []
    for name, source, params in list_games():
        entry = {"name": name, "source": source, "params": list(params)}
        if not params:
            payoff = get_game(name)
            entry["shape"] = list(payoff.shape)
            entry["values"] = payoff.values.tolist()
        out.append(entry)
    return out


@click.command()
@format_option()
def games(fmt):
    """List the catalog of the papers' payoffs (use with --game NAME or --env matrix:NAME)."""
    entries = _entries()
    if fmt == "json":
        click.echo(json.dumps({"kind": "games", "games": entries}, indent=2))
        return
    if fmt == "markdown":
        click.echo("| game | source | shape or parameters |")
        click.echo("|---|---|---|")
        for e in entries:
            shown = "x".join(map(str, e["shape"])) if "shape" in e else ", ".join(f"{p}=..." for p in e["params"])
            click.echo(f"| `{e['name']}` | {e['source']} | {shown} |")
        return
    for e in entries:
        if e["params"]:
            shown = f"{e['name']}:" + ",".join(f"{p}=..." for p in e["params"])
            click.echo(f"{shown:<40} {e['source']}")
        else:
            shape = "x".join(str(s) for s in e["shape"])
            click.echo(f"{e['name']:<40} {e['source']} [{shape}]")
