"""One writer per run: a lock on one byte of the log file, at an offset derived from the run id.

Two processes writing the same run of one log would both generate every attempt the log lacked
when they started (each skips only the keys already logged), doubling the cost for nothing. So
a writer (``collect``, ``rejudge``, ``repair-collect``, ``episodes --grow``) claims its run with
:meth:`~octoroute.store.Store.claim_run`, and a second writer of the same run is refused at once
with :class:`~octoroute.exceptions.RunBusy`. Writers of *different* runs of one log do not meet.

The lock is a Linux open-file-description lock (``fcntl(F_OFD_SETLK)``) on one byte of the
database file itself:

* it needs no other file and writes nothing: the byte lies far beyond the end of the file, at
  2**40 plus 40 bits of the run id's SHA-256, far from the bytes SQLite locks (0x40000000 to
  0x400001FF), so SQLite's own locking never meets it;
* the kernel drops it when its process ends, however it ends (SIGKILL included), so a killed
  run can be resumed at once and there is no stale lock to clean up;
* it belongs to an open file description, not to the process, so two stores of one process
  conflict as two processes do.

One trap remains, POSIX's: closing *any* descriptor of a file drops every classic POSIX lock the
process holds on it, and SQLite's locks are classic POSIX locks. So the descriptor the run locks
live on is opened once per file and closed only when no store of this process has the file open
(:class:`ProcessLocks` counts them). That is state of the process, as POSIX locks are; it lives
in one table per process (:data:`PROCESS_LOCKS`).

>>> lock_offset("collect/humaneval") - 2**40 < 2**40
True
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import logging
import os
import struct
import threading
from dataclasses import dataclass, field
from pathlib import Path

from octoroute.exceptions import RunBusy, StoreError

__all__ = ["PROCESS_LOCKS", "FileKey", "ProcessLocks", "lock_offset"]

log = logging.getLogger(__name__)

FileKey = tuple[int, int]
"""A file's identity: ``(st_dev, st_ino)``; two paths of one file share it."""

_BASE = 1 << 40
# struct flock on 64-bit Linux: l_type, l_whence, l_start, l_len, l_pid (0 for OFD locks).
_FLOCK = struct.Struct("hhqqi4x")
_HAVE_OFD = hasattr(fcntl, "F_OFD_SETLK")  # Linux 3.15 and later


def lock_offset(run_id: str) -> int:
    """The byte locked for ``run_id``: 2**40 plus the first 40 bits of its SHA-256."""
    digest = hashlib.sha256(run_id.encode("utf-8", "surrogatepass")).digest()
    return _BASE + int.from_bytes(digest[:5], "big")


def _set_lock(fd: int, kind: int, offset: int) -> None:
    fcntl.fcntl(fd, fcntl.F_OFD_SETLK, _FLOCK.pack(kind, os.SEEK_SET, offset, 1, 0))


def _holder(path: str, offset: int) -> str:
    """Who holds the lock at ``offset``, from /proc (best effort: the processes we may read)."""
    target = os.path.realpath(path)
    wanted = f" {offset} {offset}"
    try:
        pids = [p for p in os.listdir("/proc") if p.isdigit()]
    except OSError:  # no /proc: say what we know
        pids = []
    for pid in pids:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                if os.readlink(f"/proc/{pid}/fd/{fd}") != target:
                    continue
                with open(f"/proc/{pid}/fdinfo/{fd}") as info:
                    if any("OFDLCK" in line and line.rstrip().endswith(wanted) for line in info):
                        with open(f"/proc/{pid}/cmdline", "rb") as cmd:
                            argv = cmd.read().replace(b"\0", b" ").decode(errors="replace")
                        return f"pid {pid}: {argv.strip()[:120]}"
        except OSError:
            continue  # another user's process, or one that just ended
    return "its lock goes when that process ends"


@dataclass
class _File:
    fd: int | None = None
    stores: int = 0
    runs: dict[str, object] = field(default_factory=dict)  # run id -> the store that holds it


class ProcessLocks:
    """The run locks of this process, per database file, and how many stores have it open."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._files: dict[FileKey, _File] = {}

    def attach(self, path: str | Path) -> FileKey:
        """Count one more store of this process on the file at ``path``; return its key."""
        st = os.stat(path)
        key = (st.st_dev, st.st_ino)
        with self._mutex:
            self._files.setdefault(key, _File()).stores += 1
        return key

    def detach(self, key: FileKey, owner: object) -> None:
        """``owner``'s store is closed (its SQLite connection first): release its runs, and
        close the descriptor when no store of this process has the file open any more."""
        with self._mutex:
            entry = self._files[key]
            for run_id in [r for r, o in entry.runs.items() if o is owner]:
                del entry.runs[run_id]
                if entry.fd is not None:
                    _set_lock(entry.fd, fcntl.F_UNLCK, lock_offset(run_id))
            entry.stores -= 1
            if entry.stores == 0:
                if entry.fd is not None:
                    os.close(entry.fd)
                del self._files[key]

    def claim(self, key: FileKey, path: str, run_id: str, owner: object) -> None:
        """Make ``owner`` the only writer of ``run_id`` in the file until it detaches.

        Claiming a run twice is a no-op. Raises :class:`~octoroute.exceptions.RunBusy` when
        another process, or another store of this one, holds the run.
        """
        if not _HAVE_OFD:
            log.warning("%s: no open-file-description locks here; run %r is not protected "
                        "from a second writer", path, run_id)  # fmt: skip
            return
        with self._mutex:
            entry = self._files[key]
            holder = entry.runs.get(run_id)
            if holder is owner:
                return
            busy = f"run {run_id!r} in {path} is being written by another"
            if holder is not None:
                raise RunBusy(f"{busy} store of this process (pid {os.getpid()})")
            if entry.fd is None:
                try:
                    entry.fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
                except OSError as exc:
                    raise StoreError(f"{path}: cannot open for writing: {exc.strerror}") from exc
            offset = lock_offset(run_id)
            try:
                _set_lock(entry.fd, fcntl.F_WRLCK, offset)
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise StoreError(f"{path}: cannot lock run {run_id!r}: {exc}") from exc
                raise RunBusy(
                    f"{busy} process ({_holder(path, offset)}); wait for it to finish, or "
                    "choose another run id"
                ) from None
            entry.runs[run_id] = owner


# POSIX locks are state of the process, so is this table (see the module docstring).
PROCESS_LOCKS = ProcessLocks()
"""This process's table of run locks and open stores."""
