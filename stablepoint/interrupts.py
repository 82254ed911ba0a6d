"""Interrupts (SIGINT, SIGTERM) as one exception, and places where they wait for a safe point.

* :class:`Interrupted` is a :class:`KeyboardInterrupt` carrying a one-line message (what was
  kept, how to continue).  The CLI entry point (:mod:`stablepoint.cli`) turns every
  interrupt into exit code 130 with one line on stderr.
* :func:`terminate_as_interrupt` makes SIGTERM raise :class:`KeyboardInterrupt` as SIGINT does.
* :func:`is_interrupt` recognises an interrupt that surfaced as another exception, e.g. the
  ``SystemError: CPUDispatcher(...) returned a result with an exception set`` that numba
  raises when the signal lands inside a compiled kernel.
* :class:`deferred` holds SIGINT/SIGTERM while a loop runs: the signal sets a flag that the
  loop checks at a safe point (between iterations), where it writes a checkpoint and raises.
  A second signal before that point interrupts at once (unless :meth:`deferred.critical`
  is active, e.g. while the checkpoint is written).
"""

from __future__ import annotations

import contextlib
import signal
import threading

__all__ = ["Interrupted", "is_interrupt", "terminate_as_interrupt", "deferred", "INTERRUPT_SIGNALS"]

INTERRUPT_SIGNALS = tuple(s for s in (getattr(signal, "SIGINT", None), getattr(signal, "SIGTERM", None)) if s is not None)


class Interrupted(KeyboardInterrupt):
    """An interrupt with a one-line message saying what was kept (``str(exc)``)."""


def is_interrupt(exc: BaseException | None) -> bool:
    """Whether ``exc`` is an interrupt, or an error whose cause or context chain holds one."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def _raise_interrupt(signum, frame):  # noqa: ARG001 - signal handler signature
    raise KeyboardInterrupt


def terminate_as_interrupt() -> None:
    """SIGTERM raises KeyboardInterrupt (main thread only; a no-op elsewhere)."""
    if threading.current_thread() is threading.main_thread() and hasattr(signal, "SIGTERM"):
        signal.signal(signal.SIGTERM, _raise_interrupt)


class deferred:
    """Context manager: SIGINT/SIGTERM set :attr:`requested` instead of raising.

    Outside the main thread (where Python cannot install handlers) it does nothing and
    :attr:`requested` stays False.  The previous handlers are restored on exit.

    >>> with deferred() as stop:
    ...     for step in range(3):
    ...         if stop.requested:
    ...             break
    """

    def __init__(self):
        self.requested = 0  # signal number of the first interrupt, 0 for none
        self._previous = {}
        self._critical = 0

    def _handler(self, signum, frame):  # noqa: ARG002
        if self.requested and not self._critical:
            raise KeyboardInterrupt  # a second interrupt: stop now
        self.requested = self.requested or signum

    @contextlib.contextmanager
    def critical(self):
        """Signals arriving inside only set the flag (e.g. while a checkpoint is written)."""
        self._critical += 1
        try:
            yield
        finally:
            self._critical -= 1

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in INTERRUPT_SIGNALS:
                previous = signal.getsignal(sig)
                if previous is signal.SIG_IGN:
                    continue  # e.g. an idle sweep worker ignoring the terminal's SIGINT
                self._previous[sig] = previous
                signal.signal(sig, self._handler)
        return self

    def __exit__(self, *exc):
        for sig, previous in self._previous.items():
            signal.signal(sig, previous if previous is not None else signal.SIG_DFL)
        self._previous = {}
        return False
