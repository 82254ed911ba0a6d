"""The ``stablepoint`` command: a thin click group over the library.

Each subcommand lives in its own module under ``stablepoint/commands/`` and is
imported only when used (torch-heavy commands do not slow down ``check``).

Exit codes: 0 success; 1 a run finished but reports a failure it was asked to
check; 2 bad input or usage (one line, no traceback); 130 interrupted.
"""

from __future__ import annotations

import importlib
import signal
import threading
import sys
import warnings

import click

from stablepoint.errors import StablepointError
from stablepoint.interrupts import INTERRUPT_SIGNALS, Interrupted, is_interrupt, terminate_as_interrupt

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

    def main(self, *args, **kwargs):
        # SIGTERM is an interrupt like SIGINT (exit 130, partial results kept); run-folder
        # warnings (a torn log line dropped...) are one line on stderr
        # the handlers are the process's: restore them on the way out, so an in-process caller
        # (a test's CliRunner) is not left ignoring SIGINT, which its own children would inherit
        main_thread = threading.current_thread() is threading.main_thread()
        saved = {sig: signal.getsignal(sig) for sig in INTERRUPT_SIGNALS} if main_thread else {}
        terminate_as_interrupt()
        previous = warnings.showwarning
        warnings.showwarning = _show_warning(previous)
        try:
            return super().main(*args, **kwargs)
        finally:
            warnings.showwarning = previous
            for sig, handler in saved.items():
                if handler is not None:
                    signal.signal(sig, handler)

    def invoke(self, ctx):
        # the one place where interrupts become exit 130 with one line on stderr
        try:
            return super().invoke(ctx)
        except StablepointError as exc:
            raise InputError(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from None
        except click.UsageError as exc:
            # click prints a usage error as three lines (usage, hint, error): keep it to one
            raise InputError(_usage_line(exc)) from None
        except KeyboardInterrupt as exc:
            _interrupted(ctx, exc)
        except Exception as exc:
            # e.g. numba: "SystemError: CPUDispatcher(...) returned a result with an exception
            # set" when the signal lands inside a compiled kernel
            if not is_interrupt(exc):
                raise
            _interrupted(ctx, exc)


def _usage_line(exc: click.UsageError) -> str:
    message = (exc.format_message().splitlines() or [type(exc).__name__])[0]
    path = exc.ctx.command_path if exc.ctx is not None else "stablepoint"
    return f"{message} (see '{path} --help')"


def _interrupted(ctx, exc):
    for sig in INTERRUPT_SIGNALS:  # a second Ctrl-C while exiting must not print a traceback
        signal.signal(sig, signal.SIG_IGN)
    detail = str(exc).splitlines()[0] if isinstance(exc, Interrupted) and str(exc) else ""
    click.echo(detail or "interrupted; results already written are kept", err=True)
    ctx.exit(130)


def _show_warning(fallback):
    def show(message, category, filename, lineno, file=None, line=None):
        if category.__name__ == "RunFolderWarning" or any(c.__name__ == "RunFolderWarning" for c in category.__mro__):
            click.echo(f"Warning: {str(message).splitlines()[0]}", err=True)
        else:
            fallback(message, category, filename, lineno, file, line)

    return show


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="stablepoint")
def main():
    """Stable-point analysis of value-factorization methods in cooperative MARL."""


if __name__ == "__main__":
    sys.exit(main())
