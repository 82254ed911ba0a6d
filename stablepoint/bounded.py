"""A computation in a forked child process that the caller can stop at a deadline.

Used by the commands whose work cannot be cut into rows (``flow``'s trajectories, ``hessian``'s
zero-loss search): the child runs ``fn(send)``, where ``send(message)`` streams progress and
finished pieces to the parent; the parent reads them, may stop the child at any moment (a
deadline, a refusal from an estimate, an interrupt) and keeps what was streamed.  Killing a
process is the one way to stop a solve that sits in compiled code, so the bound holds there too.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from stablepoint.rowpool import _die_with_parent, _portable, fork_available

__all__ = ["BoundedRun", "run_bounded"]


@dataclass(frozen=True)
class BoundedRun:
    """What a bounded computation gave: its value when it finished, and every message it streamed."""

    finished: bool
    value: Any = None
    messages: tuple = field(default=())
    seconds: float = 0.0


def _child(conn, fn, parent_pid):
    # A process group of its own: the parent stops it with every process it started (flow's
    # trajectory pool, say) in one killpg.
    os.setpgrp()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles interrupts and kills us
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _die_with_parent(parent_pid)
    try:
        value = fn(lambda message: conn.send(("message", message)))
        conn.send(("done", value))
    except BaseException as exc:  # noqa: BLE001 - every failure goes back to the parent
        conn.send(("error", _portable(exc)))
    finally:
        conn.close()


def run_bounded(fn: Callable[[Callable[[Any], None]], Any], *, budget: float | None = None,
                on_message: Callable[[Any, float], None] | None = None,
                on_wait: Callable[[float], None] | None = None, wait_every: float = 1.0) -> BoundedRun:
    """Run ``fn(send)`` in a forked child until it returns or ``budget`` seconds pass.

    Parameters
    ----------
    fn : callable
        ``fn(send) -> value``; ``send(message)`` streams a picklable message to the parent.
    budget : float, optional
        Seconds; when they pass the child is killed and ``finished`` is False.
    on_message : callable, optional
        ``on_message(message, elapsed)`` for each streamed message, in the parent.  It may
        raise (e.g. to refuse after an estimate): the child is killed and the error propagates.
    on_wait : callable, optional
        ``on_wait(elapsed)`` about every ``wait_every`` seconds while nothing arrives; it may
        raise too (e.g. when no progress came within a probe window).

    Without ``fork`` (not POSIX) ``fn`` runs in this process, unbounded.
    """
    start = time.monotonic()
    messages: list = []
    if not fork_available():  # pragma: no cover - POSIX everywhere the project runs
        def send(message):
            messages.append(message)
            if on_message is not None:
                on_message(message, time.monotonic() - start)

        value = fn(send)
        return BoundedRun(True, value, tuple(messages), time.monotonic() - start)
    ctx = mp.get_context("fork")
    parent_conn, child_conn = ctx.Pipe(duplex=False)
    sys.stdout.flush()
    sys.stderr.flush()
    # not a daemon: the child may start processes of its own (daemons may not); it dies with us
    # all the same (PR_SET_PDEATHSIG, or the watcher thread) and is killed in the finally below
    proc = ctx.Process(target=_child, args=(child_conn, fn, os.getpid()), daemon=False)
    proc.start()
    child_conn.close()
    deadline = None if budget is None else start + float(budget)
    try:
        while True:
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                return BoundedRun(False, None, tuple(messages), now - start)
            wait = wait_every if deadline is None else min(wait_every, max(0.0, deadline - now))
            if parent_conn.poll(wait):
                try:
                    kind, payload = parent_conn.recv()
                except EOFError:
                    raise RuntimeError(f"the worker process exited (code {proc.exitcode}) without a result") from None
                if kind == "done":
                    return BoundedRun(True, payload, tuple(messages), time.monotonic() - start)
                if kind == "error":
                    raise payload
                messages.append(payload)
                if on_message is not None:
                    on_message(payload, time.monotonic() - start)
            elif on_wait is not None:
                on_wait(time.monotonic() - start)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # the child and whatever it started
        except (ProcessLookupError, PermissionError):
            pass
        if proc.is_alive():
            proc.kill()
        proc.join(timeout=5)
        parent_conn.close()
