"""Exclusive locks on run folders and record files: one writer at a time, and a clear error that names the holder.

Two training runs started into one folder would both write its checkpoint, and two sweeps
could both compute one record. :func:`run_lock` holds an exclusive ``fcntl.flock`` on
``<folder>/.lock`` for as long as a run is in progress; a second holder, in this process or
another, stops at once with a :class:`LockedError` that names the first: its PID, host, start
time and command, which the holder writes into the lock file.

The kernel drops a ``flock`` when its holder's file is closed, so also when the process dies
(``SIGKILL`` included): a crashed run never leaves a stale lock, and the next run simply
takes it (a killed holder's file stays behind, unlocked, until then). A holder that ends
normally removes the lock file while it still holds the lock, so finished runs leave no file
behind; a process that opened the file just before it was removed notices, once it holds the
lock, that its file is no longer the one at the path, and locks the new one instead (the usual
protocol for removable lock files: two processes never hold two files of one name). On network
file systems ``flock`` is as reliable as the file system's own locking (NFSv4: yes; some older
mounts: no).

References:
    ``flock(2)``, Linux manual.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

__all__ = ["LockedError", "LOCK_NAME", "hold_lock", "run_lock", "lock_holder"]

LOCK_NAME = ".lock"


class LockedError(RuntimeError):
    """The lock is held by another run. ``holder`` is what that run wrote: pid, host, started, command.

    Arguments:
        path: the lock file.
        holder: the holder's record, or ``None`` if it had not written it yet.
    """

    def __init__(self, path: Path, holder: dict | None):
        self.path, self.holder = Path(path), holder
        if holder:
            who = (
                f"process {holder.get('pid')} on host {holder.get('host')}, started {holder.get('started')} "
                f"({holder.get('command')})"
            )
        else:
            who = "a process that had not yet recorded itself"
        super().__init__(
            f"{self.path.parent} is in use by another run: {who}. Wait for it to finish, stop it, or use another "
            f"folder (lock file {self.path})"
        )


def _holder_record() -> dict:
    return {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": " ".join([os.path.basename(sys.executable), *sys.argv])[:500],
    }


def _read(path: Path) -> dict | None:
    """The holder's record in the lock file; ``None`` while it is being written (the holder writes it just after locking)."""
    try:
        text = path.read_text()
    except FileNotFoundError:  # the holder ended and removed it since
        return None
    try:
        return json.loads(text) if text.strip() else None
    except json.JSONDecodeError:  # read between the holder's truncate and its write: only the message loses detail
        return None


@contextlib.contextmanager
def hold_lock(path: str | os.PathLike, wait: float | None = 0.0) -> Iterator[dict]:
    """Hold an exclusive lock on the file ``path`` (created if missing, removed on release) for the ``with`` block.

    By default non-blocking: if another open file (another process, or another ``with`` in this
    one) holds it, raise at once.

    Arguments:
        path: the lock file; its folder is created.
        wait: seconds to wait for the holder to let go before raising (``None``: as long as it
            takes), e.g. for locks held only while a file is rewritten.

    Yields:
        The record written into the lock file (``pid``, ``host``, ``started``, ``command``).

    Raises:
        LockedError: the lock is held (after ``wait`` seconds); the error names the holder.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    deadline = None if wait is None else time.monotonic() + wait
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            if deadline is not None and time.monotonic() >= deadline:
                raise LockedError(path, _read(path)) from None
            time.sleep(0.02)
            continue
        if _is_current(fd, path):
            break
        os.close(fd)  # the previous holder removed this file after we opened it: lock the file now at the path
    try:
        record = _holder_record()
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(record) + "\n").encode(), 0)
        os.fsync(fd)
        try:
            yield record
        finally:
            if _is_current(fd, path):  # removed while still locked: whoever opened it meanwhile will retry
                path.unlink()
    finally:
        os.close(fd)  # closing drops the flock


def _is_current(fd: int, path: Path) -> bool:
    """Whether the open file ``fd`` is still the file at ``path`` (not removed or replaced since it was opened)."""
    try:
        now = os.stat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (mine.st_dev, mine.st_ino) == (now.st_dev, now.st_ino)


def run_lock(folder: str | os.PathLike) -> contextlib.AbstractContextManager[dict]:
    """Hold the run lock of ``folder`` (``<folder>/.lock``): ``with run_lock(folder): train(...)``.

    Arguments:
        folder: the run folder (created if missing), e.g. the folder of a checkpoint.

    Returns:
        A context manager that yields the holder's record and raises :class:`LockedError`
        on entry if another run holds the folder.
    """
    return hold_lock(Path(folder) / LOCK_NAME)


def lock_holder(folder: str | os.PathLike) -> dict | None:
    """Who holds the run lock of ``folder`` now: its record, or ``None`` if nobody does.

    Arguments:
        folder: the run folder.

    Returns:
        The holder's record (``pid``, ``host``, ``started``, ``command``), or ``None``.
    """
    path = Path(folder) / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:  # nobody holds it (a holder that ended removed the file)
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read(path) or {}
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
