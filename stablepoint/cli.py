"""The ``stablepoint`` command: a thin click group over the library.

Each subcommand lives in its own module under ``stablepoint/commands/`` and is
imported only when used (torch-heavy commands do not slow down ``check``).

Exit codes: 0 success; 1 a run finished but reports a failure it was asked to
check; 2 bad input or usage (one line, no traceback); 130 interrupted.
"""

from __future__ import annotations

import importlib

import click

from stablepoint.errors import StablepointError

#: command name -> "module:attribute"; add one line per command module.
COMMANDS = {
    "games": "stablepoint.commands.games:games",
    "flow": "stablepoint.commands.flow:flow",
    "hessian": "stablepoint.commands.hessian:hessian",
    "train": "stablepoint.commands.train:train",
    "confirm": "stablepoint.commands.confirm:confirm",
    "tables": "stablepoint.commands.tables:tables",
    "check": "stablepoint.commands.check:check",
    "sweep": "stablepoint.commands.sweep:sweep",
    "plot": "stablepoint.commands.plot:plot",
}


class InputError(click.ClickException):
    """A user-input problem: printed as one line, exit code 2."""

    exit_code = 2


class LazyGroup(click.Group):
    """A group that imports each command's module on first use and maps library errors to exit 2."""

    def list_commands(self, ctx):
        return sorted(COMMANDS)

    def get_command(self, ctx, name):
        target = COMMANDS.get(name)
        if target is None:
            return None
        module, _, attr = target.partition(":")
        return getattr(importlib.import_module(module), attr)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except StablepointError as exc:
            raise InputError(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from None
        except KeyboardInterrupt:
            click.echo("interrupted; results already written are kept", err=True)
            ctx.exit(130)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="stablepoint")
def main():
    """Stable-point analysis of value-factorization methods in cooperative MARL."""
