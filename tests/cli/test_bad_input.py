"""Bad input exits 2 with the file, the line and the field, and changes nothing on disk.

The commands run in this process (typer's runner); a second writer is refused while another
real process (a subprocess) holds the run.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from octoroute.cli import app
from tests.store.conftest import corrupt_a_page, make_log, snapshot
from tests.store.test_runlock import start_holder

DEEP = 200_000
TOY = {"id": "P/0", "prompt": "def f(x):\n    pass\n", "entry_point": "f",
       "reference": "def f(x):\n    return x\n", "tests": [{"kind": "call", "input": [1]}]}  # fmt: skip


def invoke(*args: str | Path, stdin: bytes | None = None) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args], input=stdin)


@pytest.fixture
def problems(tmp_path: Path) -> Path:
    path = tmp_path / "toy.jsonl"
    path.write_text(json.dumps(TOY) + "\n")
    return path


# -- files that are not UTF-8, or nested too deeply ------------------------------------------


def test_check_code_not_utf8(tmp_path: Path, problems: Path) -> None:
    code = tmp_path / "prog.py"
    code.write_bytes(b"def f(x):\n    return 'caf\xe9'\n")
    out = invoke("check", "--benchmark", problems, "--problem", "P/0", "--code", code)
    assert out.exit_code == 2
    assert f"{code}, line 2: not UTF-8 text: byte 0xe9 at column 16" in out.stderr
    out = invoke("check", "--benchmark", problems, "--problem", "P/0", "--code", "-",
                 stdin=b"x = 1\n\xff\n")  # fmt: skip
    assert out.exit_code == 2 and "<stdin>, line 2: not UTF-8 text: byte 0xff" in out.stderr


def test_problems_line_nested_200000_deep(tmp_path: Path) -> None:
    path = tmp_path / "deep.jsonl"
    deep = dict(TOY, tests="@")
    path.write_text(
        json.dumps(TOY) + "\n" + json.dumps(deep).replace('"@"', "[" * DEEP + "]" * DEEP)
    )
    out = invoke("validate", path)
    assert out.exit_code == 2
    assert f"{path}, line 2, field tests: nested too deeply" in out.stderr


def test_bad_pool_file_creates_no_log(tmp_path: Path, problems: Path) -> None:
    pool = tmp_path / "pool.toml"
    db = tmp_path / "log.db"
    pool.write_bytes(b'[[arms]]\nname = "caf\xe9"\n')
    out = invoke("collect", "--pool", pool, "--benchmark", problems, "--db", db)
    assert out.exit_code == 2 and f"{pool}, line 2: not UTF-8 text" in out.stderr
    pool.write_text('[[arms]]\nname = "a"\nsampling = ' + "[" * DEEP + "]" * DEEP + "\n")
    out = invoke("collect", "--pool", pool, "--benchmark", problems, "--db", db)
    assert out.exit_code == 2
    assert f"{pool}, line 3, field arms.sampling: nested too deeply" in out.stderr
    assert not db.exists()


def test_bad_matrix_creates_no_log(tmp_path: Path) -> None:
    matrix = tmp_path / "m.jsonl"
    row = {"model": "a-1b", "example_id": "P/0", "pass1": 1}
    matrix.write_text(json.dumps(row) + "\n" + '{"model": ' + "[" * DEEP + "]" * DEEP + "}\n")
    db = tmp_path / "log.db"
    out = invoke("import", "eval-arena", matrix, "--benchmark", "toy", "--db", db)
    assert out.exit_code == 2 and f"{matrix}, line 2, field model: nested" in out.stderr
    assert not db.exists()
    out = invoke("replay", "--outcomes", matrix, "--problems", "humaneval", "--policy", "random")
    assert out.exit_code == 2 and f"{matrix}, line 2, field model: nested" in out.stderr


def test_sizes_file_not_utf8(tmp_path: Path) -> None:
    sizes = tmp_path / "sizes.json"
    sizes.write_bytes(b'{"m": 1,\n "\xff": 2}')
    out = invoke("replay", "--outcomes", tmp_path / "m.jsonl", "--problems", "humaneval",
                 "--policy", "random", "--sizes", sizes)  # fmt: skip
    assert out.exit_code == 2 and f"{sizes}, line 2: not UTF-8 text: byte 0xff" in out.stderr


# -- commands that only read a log -----------------------------------------------------------


def _foreign(path: Path) -> None:
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE notes (text TEXT)")
        conn.commit()


BAD_LOGS: dict[str, tuple[Callable[[Path], object], str]] = {
    "missing": (lambda p: None, "no such store"),
    "empty": (lambda p: p.write_bytes(b""), "an empty file (0 bytes), not an octoroute store"),
    "text": (lambda p: p.write_text("x\n" * 20), "not an octoroute store: not an SQLite database"),
    "foreign": (_foreign, "not an octoroute store (an SQLite file of application 0x0"),
}

READERS: dict[str, Callable[[Path, Path], list[str | Path]]] = {
    "stats": lambda db, tmp: ["stats", "--db", db],
    "export": lambda db, tmp: ["export", "--db", db, "--out", tmp / "out.jsonl"],
    "fixrate": lambda db, tmp: ["fixrate", "--db", db],
    "replay": lambda db, tmp: [
        "replay",
        "--outcomes",
        db,
        "--problems",
        "humaneval",
        "--policy",
        "random",
    ],
    "report": lambda db, tmp: [
        "report",
        "--outcomes",
        db,
        "--problems",
        "humaneval",
        "--out",
        tmp / "r.html",
    ],
    "episodes": lambda db, tmp: ["episodes", "--db", db, "--benchmark", tmp / "toy.jsonl"],
    "demo": lambda db, tmp: ["demo", "--log", db, "--out-dir", tmp / "demo", "--live", "0"],
}


@pytest.mark.parametrize("kind", sorted(BAD_LOGS))
@pytest.mark.parametrize("command", sorted(READERS))
def test_readers_refuse_bad_logs_and_change_nothing(
    tmp_path: Path, problems: Path, command: str, kind: str
) -> None:
    make, message = BAD_LOGS[kind]
    db = tmp_path / "log.db"
    make(db)
    before = snapshot(db)
    out = invoke(*READERS[command](db, tmp_path))
    assert out.exit_code == 2, out.output
    if not (command == "demo" and kind == "missing"):  # the demo says so in its own words
        assert f"{db}: {message}" in out.stderr
    assert snapshot(db) == before  # no file created, none changed, no output written


@pytest.mark.parametrize("command", ["stats", "export", "replay"])
def test_a_damaged_page_is_reported_and_nothing_exported(tmp_path: Path, command: str) -> None:
    bad = corrupt_a_page(make_log(tmp_path / "good.db"), tmp_path / "log.db")
    out = invoke(*READERS[command](bad, tmp_path))
    assert out.exit_code == 2
    assert f"{bad}: the database is damaged (SQLite: " in out.stderr
    assert not (tmp_path / "out.jsonl").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


# -- two writers of one run ------------------------------------------------------------------

WRITERS: dict[str, Callable[[Path, Path], list[str | Path]]] = {
    "collect": lambda db, p: ["collect", "--pool", "default", "--benchmark", p, "--db", db],
    "rejudge": lambda db, p: ["rejudge", "--db", db, "--from-run", "run-1", "--benchmark", p],
    "repair-collect": lambda db, p: [
        "repair-collect",
        "--db",
        db,
        "--from-run",
        "run-1",
        "--benchmark",
        p,
    ],
    "episodes": lambda db, p: ["episodes", "--db", db, "--benchmark", p, "--grow"],
}
RUNS = {"collect": "collect/toy", "rejudge": "rejudge/toy", "repair-collect": "repair/toy",
        "episodes": "grow/toy"}  # fmt: skip


@pytest.fixture
def held_log(tmp_path: Path) -> Iterator[tuple[Path, subprocess.Popen[str]]]:
    db = make_log(tmp_path / "log.db", n=3)
    proc = start_holder(tmp_path, db, *RUNS.values())
    yield db, proc
    proc.kill()
    proc.communicate(timeout=30)


@pytest.mark.parametrize("command", sorted(WRITERS))
def test_second_writer_of_a_run_exits_2_at_once(
    held_log: tuple[Path, subprocess.Popen[str]], problems: Path, command: str
) -> None:
    db, proc = held_log
    before = snapshot(db)
    out = invoke(*WRITERS[command](db, problems))
    assert out.exit_code == 2
    assert (
        f"run '{RUNS[command]}' in {db} is being written by another process (pid {proc.pid}: "
        in out.stderr
    )
    assert snapshot(db)[1:] == before[1:]  # the database's bytes and mtime
