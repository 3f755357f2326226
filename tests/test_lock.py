"""The run lock (gin_core.training.lock): one holder per folder, a second one is told who holds it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

import gin_core.training.lock as lock_module
from gin_core.training.lock import LOCK_NAME, LockedError, hold_lock, lock_holder, run_lock

pytestmark = pytest.mark.unit

HOLDER = """
import sys, time
from gin_core.training.lock import run_lock
with run_lock(sys.argv[1]):
    print("locked", flush=True)
    time.sleep(60)
"""


def start_holder(folder) -> subprocess.Popen:
    """A process that holds the run lock of ``folder``; returns once it holds it (bounded wait)."""
    process = subprocess.Popen([sys.executable, "-c", HOLDER, str(folder)], stdout=subprocess.PIPE, text=True)
    line = process.stdout.readline()  # the child prints once it holds the lock; it exits on failure (EOF)
    assert line.strip() == "locked", f"the holder did not start (exit {process.poll()})"
    return process


def test_a_second_holder_in_this_process_is_refused_and_named(tmp_path):
    with run_lock(tmp_path) as me:
        assert me["pid"] == os.getpid() and me["host"] == socket.gethostname()
        assert lock_holder(tmp_path)["pid"] == os.getpid()
        with pytest.raises(LockedError) as error:
            with run_lock(tmp_path):
                pass
        assert error.value.holder["pid"] == os.getpid()
        assert f"process {os.getpid()} on host {socket.gethostname()}, started {me['started']}" in str(error.value)
    assert lock_holder(tmp_path) is None
    assert not (tmp_path / LOCK_NAME).exists()  # the holder removed its file (and its record) on release
    with run_lock(tmp_path):  # free again
        pass


def test_a_second_process_is_refused_and_a_killed_holder_frees_the_folder(tmp_path):
    holder = start_holder(tmp_path)
    try:
        with pytest.raises(LockedError, match=f"process {holder.pid} on host"):
            with run_lock(tmp_path):
                pass
        assert lock_holder(tmp_path)["pid"] == holder.pid
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    deadline = time.monotonic() + 10
    while lock_holder(tmp_path) is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    with run_lock(tmp_path) as me:  # the kernel dropped the dead holder's lock
        assert me["pid"] == os.getpid()


def test_the_lock_file_is_created_with_its_folder(tmp_path):
    path = tmp_path / "a" / "b" / "run.lock"
    with hold_lock(path):
        assert path.is_file()
    assert lock_holder(tmp_path / "nowhere") is None


def test_a_file_removed_between_open_and_lock_is_not_held(tmp_path, monkeypatch):
    """The previous holder removes its file just after we opened it: we must lock the file now at the path.

    Were the removed file locked instead, a second holder would lock the new file too, and two runs
    would hold one folder.
    """
    path = tmp_path / "run.lock"
    real_flock, calls = lock_module.fcntl.flock, []

    def flock(fd, operation):
        if not calls:  # the previous holder releases between our open and our flock
            path.unlink()
        calls.append(operation)
        return real_flock(fd, operation)

    path.write_text("")
    monkeypatch.setattr(lock_module.fcntl, "flock", flock)
    with hold_lock(path) as me:
        assert len(calls) == 2  # locked the removed file, saw it gone, locked the one at the path
        monkeypatch.setattr(lock_module.fcntl, "flock", real_flock)
        assert path.is_file()  # a new file, locked by us
        with pytest.raises(LockedError, match=f"process {me['pid']}"):
            with hold_lock(path):
                pass
    assert not path.exists()


def test_a_waiting_holder_takes_the_lock_once_it_is_free(tmp_path):
    path = tmp_path / "file.lock"
    released = threading.Event()

    def hold_briefly(ready: threading.Event):
        with hold_lock(path):
            ready.set()
            time.sleep(0.5)
        released.set()

    ready = threading.Event()
    holder = threading.Thread(target=hold_briefly, args=(ready,))
    holder.start()
    try:
        assert ready.wait(30)
        with pytest.raises(LockedError, match=f"process {os.getpid()}"):
            with hold_lock(path, wait=0.05):  # waits a little, then names the holder
                pass
        with hold_lock(path, wait=30):  # waits until the holder lets go
            assert released.is_set()
    finally:
        holder.join(timeout=30)
