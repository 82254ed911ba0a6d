"""Run folders: one writer at a time, private temporary files, safe names, readable damage.

* :class:`RunLock` — ``<run dir>/run.lock`` names the owner's pid and host and is held with
  ``flock`` while the run trains.  A second writer is refused with a :class:`RunFolderBusy`
  (a :class:`~stablepoint.errors.SettingsError`: exit 2 through the CLI).  A lock left by a
  dead process on this host is stale and taken over; a lock naming another host is refused
  (the message says which file to delete if that run is gone).
* :func:`private_tmp` / :func:`write_atomic` — temporary files unique per process and call,
  renamed into place, removed if the write fails or is interrupted.
* :func:`check_run_name` — a run name must stay inside its parent directory.
* :func:`load_checkpoint`, :func:`read_metrics` — damaged files are named with what to do;
  a torn last JSONL line (a write cut short) is dropped with a :class:`RunFolderWarning`.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
import tempfile
import time
import warnings
from pathlib import Path
from typing import Iterable

from stablepoint.errors import SettingsError

__all__ = [
    "LOCK_NAME", "RunFolderBusy", "DamagedRunFile", "RunFolderWarning", "RunLock", "lock_all",
    "private_tmp", "write_atomic", "check_run_name", "load_checkpoint", "read_metrics", "refuse_rerun",
    "clear_previous_run",
]

LOCK_NAME = "run.lock"


class RunFolderBusy(SettingsError):
    """Another live process writes into this run folder."""


class DamagedRunFile(SettingsError):
    """A checkpoint or log in a run folder cannot be read."""


class RunFolderWarning(UserWarning):
    """Something in a run folder was repaired (a torn log line dropped, a stale lock taken over)."""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    except OSError:
        return False
    return True


def _describe(owner: dict) -> str:
    return f"pid {owner.get('pid')} on host {owner.get('host')}"


class RunLock:
    """Exclusive ownership of one run folder (context manager; :meth:`acquire` / :meth:`release`)."""

    def __init__(self, run_dir):
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / LOCK_NAME
        self._fd = None

    def _refuse(self, owner: dict, why: str = "") -> RunFolderBusy:
        gone = f"; if that process is gone, delete {self.path}" if why != "live" else ""
        return RunFolderBusy(
            f"{self.run_dir} is in use by {_describe(owner)} (lock file {self.path}); "
            f"wait for that run to end or give another --run-name/--out{gone}"
        )

    @staticmethod
    def _read(fd) -> dict | None:
        os.lseek(fd, 0, os.SEEK_SET)
        data = b""
        while chunk := os.read(fd, 4096):
            data += chunk
        try:
            owner = json.loads(data.decode())
            return owner if isinstance(owner, dict) else None
        except (UnicodeDecodeError, ValueError):
            return None

    def acquire(self) -> "RunLock":
        import fcntl

        if self._fd is not None:
            raise RunFolderBusy(f"{self.run_dir} is already locked by this process")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        host, pid = socket.gethostname(), os.getpid()
        for _ in range(50):
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError as exc:
                    if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                        raise
                    owner = self._read(fd) or {"pid": "?", "host": "?"}
                    raise self._refuse(owner, "live") from None
                try:
                    same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
                except FileNotFoundError:
                    same = False
                if not same:  # the owner removed the file between our open and flock: retry
                    os.close(fd)
                    fd = None
                    continue
                owner = self._read(fd)
                if owner is not None:
                    if owner.get("host") != host:
                        raise self._refuse(owner)
                    other = int(owner.get("pid", -1)) if str(owner.get("pid", "")).isdigit() else -1
                    if other != pid and other > 0 and _pid_alive(other):
                        raise self._refuse(owner)
                    if other != pid:
                        warnings.warn(f"{self.path}: took over the stale lock of {_describe(owner)} (no such process)",
                                      RunFolderWarning, stacklevel=3)
                os.ftruncate(fd, 0)
                os.lseek(fd, 0, os.SEEK_SET)
                os.write(fd, json.dumps({"pid": pid, "host": host, "since": time.time()}).encode())
                os.fsync(fd)
                self._fd, fd = fd, None
                return self
            finally:
                if fd is not None:
                    os.close(fd)
        raise RunFolderBusy(f"{self.run_dir}: could not take the lock file {self.path}")

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            with contextlib.suppress(FileNotFoundError):
                if os.fstat(fd).st_ino == os.stat(self.path).st_ino:
                    os.unlink(self.path)
        finally:
            os.close(fd)  # drops the flock

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
        return False


@contextlib.contextmanager
def lock_all(run_dirs: Iterable):
    """Lock every run folder (in order) or none: a refusal releases the ones already taken."""
    with contextlib.ExitStack() as stack:
        for d in run_dirs:
            stack.enter_context(RunLock(d))
        yield


def private_tmp(path) -> Path:
    """A new, empty temporary file beside ``path``, unique to this process and call."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    return Path(name)


def write_atomic(path, write) -> None:
    """``write(tmp_path)`` then rename onto ``path``; a failed or interrupted write leaves ``path`` as it was."""
    path = Path(path)
    tmp = private_tmp(path)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def write_text_atomic(path, text: str) -> None:
    """:func:`write_atomic` for text."""
    write_atomic(path, lambda tmp: Path(tmp).write_text(text))


def check_run_name(out, name: str) -> Path:
    """``<out>/<name>``, refusing names that are empty, absolute or climb out of ``out``."""
    text = str(name)
    parts = Path(text).parts
    if not text.strip() or Path(text).is_absolute() or ".." in parts or not parts or all(p == "." for p in parts):
        raise SettingsError(f"run name {text!r} must be a folder name inside --out {str(out)!r} (no '..', not absolute)")
    run_dir = Path(out) / text
    base = Path(os.path.abspath(out))
    if os.path.commonpath([base, Path(os.path.abspath(run_dir))]) != str(base):
        raise SettingsError(f"run name {text!r} leaves --out {str(out)!r}")
    return run_dir


_START_OVER = "rerun without --resume and with --force to start over"


def load_checkpoint(path, device, required=("t_env", "learner")) -> dict:
    """``torch.load`` a checkpoint, naming the file and the way out when it is damaged."""
    import torch

    path = Path(path)
    try:
        if path.stat().st_size == 0:
            raise EOFError("the file is empty")
        ckpt = torch.load(path, map_location=device, weights_only=False)
    except Exception as exc:  # noqa: BLE001 - any unreadable file: one clear message
        reason = (str(exc).splitlines() or [type(exc).__name__])[0][:120]
        raise DamagedRunFile(f"checkpoint {path} is damaged ({type(exc).__name__}: {reason}); {_START_OVER}") from None
    if not isinstance(ckpt, dict) or any(k not in ckpt for k in required):
        raise DamagedRunFile(f"checkpoint {path} is damaged (not a stablepoint checkpoint); {_START_OVER}")
    return ckpt


def read_metrics(path) -> list[str]:
    """The lines of a ``metrics.jsonl``, each a JSON object with ``t_env``.

    A torn last line (a write cut short by a kill) is dropped with a :class:`RunFolderWarning`;
    a bad line before the last raises :class:`DamagedRunFile` naming the file and line.
    """
    path = Path(path)
    try:
        lines = path.read_text().splitlines()
    except UnicodeDecodeError:
        raise DamagedRunFile(f"{path} is damaged (not text); delete it or {_START_OVER}") from None
    while lines and not lines[-1].strip():
        lines.pop()
    out = []
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            ok = isinstance(row, dict) and isinstance(row.get("t_env"), int)
        except ValueError:
            ok = False
        if ok:
            out.append(line)
        elif i == len(lines) - 1:
            warnings.warn(f"{path}: dropped a torn last line (line {i + 1}: {line[:40]!r}...)", RunFolderWarning,
                          stacklevel=3)
        else:
            raise DamagedRunFile(f"{path} line {i + 1} is damaged ({line[:40]!r}); repair or delete that line, "
                                 f"or {_START_OVER}")
    return out


def refuse_rerun(run_dir, resume: bool, force: bool) -> None:
    """Refuse to start a folder holding a run afresh unless ``force``; with ``resume`` nothing to refuse."""
    run_dir = Path(run_dir)
    if resume or force:
        return
    if (run_dir / "final.json").exists():
        raise SettingsError(f"{run_dir} holds a finished run (final.json); add --resume to continue it "
                            "(e.g. with more --steps) or --force to start over")
    if (run_dir / "checkpoints" / "last.pt").exists():
        raise SettingsError(f"{run_dir} holds an interrupted run (checkpoints/last.pt); add --resume to continue it "
                            "or --force to start over")


def clear_previous_run(run_dir) -> None:
    """A fresh start over an old run (``force``): remove what the old run left that a new one may not rewrite."""
    import shutil

    run_dir = Path(run_dir)
    for name in ("final.json", "metrics.csv", "failed.json", "wandb_id.txt"):
        with contextlib.suppress(FileNotFoundError):
            (run_dir / name).unlink()
    for name in ("checkpoints", "tb"):
        shutil.rmtree(run_dir / name, ignore_errors=True)
