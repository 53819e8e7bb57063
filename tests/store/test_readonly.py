"""Reading a log never creates or changes it; a file that is not a sound octoroute log is refused."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest

from octoroute.exceptions import SchemaError, StoreError
from octoroute.store import export_attempts, open_store, stats

from .conftest import corrupt_a_page, make_log, snapshot


def _foreign(path: Path) -> None:
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE notes (text TEXT)")
        conn.commit()


def _newer(path: Path) -> None:
    make_log(path, n=3)
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
        conn.execute("PRAGMA journal_mode = DELETE")  # so that a reader needs no -shm file


BAD: dict[str, tuple[Callable[[Path], object], type[StoreError], str]] = {
    "missing": (lambda p: None, StoreError, "no such store"),
    "empty": (lambda p: p.write_bytes(b""), SchemaError, "an empty file (0 bytes)"),
    "text": (lambda p: p.write_text("id,arm\n1,a\n" * 20), SchemaError, "not an SQLite database"),
    "foreign": (_foreign, SchemaError, "not an octoroute store (an SQLite file of application 0x0"),
    "newer": (_newer, SchemaError, "schema version 99, newer than"),
}


@pytest.mark.parametrize("kind", sorted(BAD))
def test_bad_files_are_refused_and_left_as_they_were(tmp_path: Path, kind: str) -> None:
    make, error, message = BAD[kind]
    path = tmp_path / "log.db"
    make(path)
    before = snapshot(path)
    with pytest.raises(error) as info:
        open_store(path, readonly=True)
    assert str(info.value).startswith(f"{path}: ") and message in str(info.value)
    assert snapshot(path) == before


def test_a_good_log_reads_and_stays_byte_identical(tmp_path: Path) -> None:
    path = make_log(tmp_path / "log.db")
    data, mtime = path.read_bytes(), path.stat().st_mtime_ns
    with open_store(path, readonly=True) as store:
        assert stats(store)["attempts"] == 300
        with pytest.raises(StoreError, match="readonly"):
            store.add_run("new")
    assert (path.read_bytes(), path.stat().st_mtime_ns) == (data, mtime)


def test_a_damaged_page_is_found_before_reading(tmp_path: Path) -> None:
    bad = corrupt_a_page(make_log(tmp_path / "log.db"), tmp_path / "bad.db")
    with pytest.raises(StoreError) as info:
        open_store(bad, readonly=True)
    assert str(info.value).startswith(f"{bad}: the database is damaged (SQLite: ")
    assert "out of range" in str(info.value)


def test_an_export_failing_midway_leaves_no_file(tmp_path: Path) -> None:
    path = make_log(tmp_path / "log.db")
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("UPDATE attempts SET verdicts = '[[' WHERE id = 150")  # a damaged row
        conn.commit()
    out = tmp_path / "out" / "a.jsonl.gz"
    with pytest.raises(StoreError, match="corrupt attempt 150"), open_store(path) as store:
        export_attempts(store, out, "jsonl")
    assert list(out.parent.iterdir()) == []
