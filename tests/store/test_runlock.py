"""One writer per run: a second writer of a run is refused while the first lives, never after."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from octoroute.exceptions import RunBusy
from octoroute.store import open_store
from octoroute.store.runlock import lock_offset

from .conftest import make_log, snapshot

HOLDER = textwrap.dedent(
    """
    import sys
    from octoroute.store import open_store

    store = open_store(sys.argv[1])
    for run_id in sys.argv[2:]:
        store.claim_run(run_id)
    print("ready", flush=True)
    sys.stdin.read()  # hold the runs until the test closes stdin (or kills us)
    store.close()
    """
)


def start_holder(tmp_path: Path, db: Path, *runs: str) -> subprocess.Popen[str]:
    """A real process that claims ``runs`` of ``db`` and holds them until killed."""
    script = tmp_path / "holder.py"
    script.write_text(HOLDER)
    proc = subprocess.Popen(
        [sys.executable, str(script), str(db), *runs],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if line.strip() != "ready":
        proc.kill()
        pytest.fail(f"the holder did not start: {proc.communicate()}")
    return proc


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return make_log(tmp_path / "log.db", n=3)


@pytest.fixture
def holder(tmp_path: Path, log: Path) -> Iterator[subprocess.Popen[str]]:
    proc = start_holder(tmp_path, log, "collect/toy")
    yield proc
    if proc.poll() is None:
        proc.kill()
    proc.communicate(timeout=30)


def test_second_writer_of_a_run_is_refused_at_once(
    log: Path, holder: subprocess.Popen[str]
) -> None:
    before = snapshot(log)
    with open_store(log) as store, pytest.raises(RunBusy) as info:
        store.claim_run("collect/toy")
    message = str(info.value)
    assert message.startswith(f"run 'collect/toy' in {log} is being written by another process (")
    assert f"pid {holder.pid}: " in message and "holder.py" in message
    assert snapshot(log)[1:] == before[1:]  # the database's bytes and mtime


def test_other_runs_of_the_log_may_be_written_beside(
    log: Path, holder: subprocess.Popen[str]
) -> None:
    with open_store(log) as store:
        store.claim_run("collect/other")
        store.add_run("collect/other", config={"k": 1})
        assert "collect/other" in [r.id for r in store.runs()]


def test_a_killed_writer_releases_its_run(log: Path, holder: subprocess.Popen[str]) -> None:
    holder.send_signal(signal.SIGKILL)
    holder.communicate(timeout=30)
    assert holder.returncode == -signal.SIGKILL
    with open_store(log) as store:
        store.claim_run("collect/toy")  # resumes at once: the kernel dropped the lock
        store.claim_run("collect/toy")  # and claiming twice is a no-op


def test_two_stores_of_one_process_conflict_too(log: Path) -> None:
    first = open_store(log)
    first.claim_run("r")
    with open_store(log) as second:
        with pytest.raises(RunBusy, match="another store of this process"):
            second.claim_run("r")
        first.close()
        second.claim_run("r")  # released by close
    with open_store(":memory:") as memory:
        memory.claim_run("r")  # a private store has nothing to share


def test_a_store_closing_keeps_another_stores_sqlite_locks(log: Path) -> None:
    """The locks' descriptor stays open while any store of the process has the file open:
    closing it would drop SQLite's own POSIX locks of the other store."""

    def sqlite_locks() -> list[str]:
        inode, pid = f":{log.stat().st_ino} ", f" {os.getpid()} "
        return [line for line in Path("/proc/locks").read_text().splitlines()
                if "POSIX" in line and inode in line and pid in line]  # fmt: skip

    reader = open_store(log, readonly=True)
    held = sqlite_locks()
    assert held  # SQLite keeps a shared lock on the file while the connection is open
    with open_store(log) as writer:
        writer.claim_run("r")
    assert sqlite_locks() == held
    assert reader.count_attempts() == 3
    reader.close()


def test_lock_offsets_are_far_from_sqlite_lock_bytes() -> None:
    offsets = {lock_offset(f"run-{i}") for i in range(1000)}
    assert len(offsets) == 1000
    assert min(offsets) >= 2**40 > 0x40000000 + 512
