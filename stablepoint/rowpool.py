"""Rows u~ of an analysis fitted in forked worker processes, with a deadline.

A row of the transition graph depends only on ``method.fit(payoff, u~)``, so rows can be
fitted in any order and side by side; :func:`stablepoint.stability.analyze` assembles them
in C order, so the result does not depend on the number of workers.  Workers are forked:
they inherit the method, its caches and the compiled kernels, and only results cross the
process boundary.  They can be killed at any moment (a deadline, an interrupt, the parent's
death), which is what lets a whole-analysis budget hold even while a solve sits inside a
compiled kernel that never returns to Python.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import signal
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

__all__ = ["RowPool", "RowOutcome", "fork_available"]


def fork_available() -> bool:
    """Whether worker processes can be forked here (POSIX; not on Windows)."""
    return "fork" in mp.get_all_start_methods()


@dataclass(frozen=True)
class RowOutcome:
    """One row's result as it arrives: the fit, or the error the fit raised."""

    u_tilde: tuple
    fit: Any = None
    error: BaseException | None = None
    seconds: float = 0.0


def _die_with_parent(parent_pid: int) -> None:
    # Linux: the kernel kills us when the parent dies; elsewhere a watcher thread does.
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        PR_SET_PDEATHSIG = 1
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0:
            if os.getppid() != parent_pid:  # died between fork and prctl
                os._exit(1)
            return
    except (OSError, AttributeError):
        pass

    def watch():
        while os.getppid() == parent_pid:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def _portable(exc: BaseException) -> BaseException:
    """``exc`` if it survives pickling, else a RuntimeError carrying its type and message."""
    import pickle

    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {exc}")


def _work(tasks, results, payoff, method, parent_pid: int) -> None:
    # The terminal's SIGINT is the parent's to handle: it kills the workers itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _die_with_parent(parent_pid)
    while True:
        u = tasks.get()
        if u is None:
            break
        start = time.perf_counter()
        try:
            fit = method.fit(payoff, u)
        except BaseException as exc:  # noqa: BLE001 - every failure goes back to the parent
            results.put(RowOutcome(u, error=_portable(exc), seconds=time.perf_counter() - start))
            break
        results.put(RowOutcome(u, fit=fit, seconds=time.perf_counter() - start))
    results.close()
    results.join_thread()


class RowPool:
    """Fit ``rows`` with ``jobs`` forked workers; iterate :meth:`outcomes`; always :meth:`close`.

    Rows are handed out in the order given, one at a time, so the first rows finish first.

    Parameters
    ----------
    payoff, method
        As for :func:`stablepoint.stability.analyze`.
    rows : sequence of joint actions
    jobs : int
        Worker processes (at most one per row).
    """

    def __init__(self, payoff, method, rows: Sequence[tuple], jobs: int):
        if not fork_available():  # pragma: no cover - POSIX everywhere the project runs
            raise RuntimeError("worker processes need the 'fork' start method (POSIX)")
        ctx = mp.get_context("fork")
        self.rows = [tuple(u) for u in rows]
        self.jobs = max(1, min(int(jobs), len(self.rows)))
        self._tasks = ctx.Queue()
        self._results = ctx.Queue()
        for u in self.rows:
            self._tasks.put(u)
        for _ in range(self.jobs):
            self._tasks.put(None)
        # Flush stdio so that a child never writes the parent's buffered output a second time.
        sys.stdout.flush()
        sys.stderr.flush()
        self._procs = [
            ctx.Process(target=_work, args=(self._tasks, self._results, payoff, method, os.getpid()), daemon=True)
            for _ in range(self.jobs)
        ]
        for p in self._procs:
            p.start()
        self.started = time.monotonic()
        self._pending = len(self.rows)

    @property
    def pending(self) -> int:
        """Rows not yet returned."""
        return self._pending

    def next(self, timeout: float | None) -> RowOutcome | None:
        """The next finished row, or None when ``timeout`` seconds pass first (or all rows are back).

        Raises RuntimeError when every worker died without returning the remaining rows.
        """
        if self._pending == 0:
            return None
        end = None if timeout is None else time.monotonic() + max(0.0, timeout)
        while True:
            wait = 0.2 if end is None else min(0.2, max(0.0, end - time.monotonic()))
            try:
                out = self._results.get(timeout=wait)
            except queue.Empty:
                if not any(p.is_alive() for p in self._procs):
                    try:  # a last result may still sit in the pipe
                        out = self._results.get(timeout=0.5)
                    except queue.Empty:
                        codes = sorted({p.exitcode for p in self._procs})
                        raise RuntimeError(
                            f"row workers exited (codes {codes}) with {self._pending} rows not returned"
                        ) from None
                elif end is not None and time.monotonic() >= end:
                    return None
                else:
                    continue
            self._pending -= 1
            return out

    def outcomes(self, deadline: float | None = None) -> Iterator[RowOutcome]:
        """Finished rows as they come, until all are back or ``deadline`` (time.monotonic()) passes."""
        while self._pending:
            timeout = None if deadline is None else deadline - time.monotonic()
            if timeout is not None and timeout <= 0:
                return
            out = self.next(timeout)
            if out is None:
                return
            yield out

    def close(self) -> None:
        """Kill the workers (rows still running are dropped) and release the queues."""
        for p in self._procs:
            if p.is_alive():
                try:
                    p.kill()
                except OSError:  # pragma: no cover - already gone
                    pass
        for p in self._procs:
            p.join(timeout=5)
        for q in (self._tasks, self._results):
            q.cancel_join_thread()
            q.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
