"""Export to JSONL (round trip) and Parquet (when pyarrow is installed)."""

from __future__ import annotations

import gzip
import importlib.util
import json
import sys
from pathlib import Path

import pytest

from octoroute.exceptions import ConfigError, DataError, MissingDependencyError, StoreError
from octoroute.store import (
    Store,
    export_attempts,
    export_jsonl,
    export_parquet,
    read_attempts_jsonl,
)
from octoroute.types import ArmErrorKind, Problem, Tier

from .conftest import RUN, attempt

HAS_PYARROW = importlib.util.find_spec("pyarrow") is not None


@pytest.fixture
def filled(store: Store, problems: list[Problem]) -> Store:
    store.add_run("run-2")
    store.record_attempt(attempt(problems[0], "arm-a"))
    store.record_attempt(attempt(problems[1], "arm-b", failing=(Tier.PLUS,), sample=3))
    store.record_attempt(attempt(problems[2], "arm-b", error=ArmErrorKind.WRONG_MODEL))
    store.record_attempt(attempt(problems[0], "arm-a", run="run-2"))
    return store


@pytest.mark.parametrize("name", ["out.jsonl", "out.jsonl.gz"])
def test_jsonl_round_trip(filled: Store, tmp_path: Path, name: str) -> None:
    out = tmp_path / "sub" / name
    assert export_jsonl(filled, out) == 4
    assert read_attempts_jsonl(out) == list(filled.attempts())
    raw = gzip.decompress(out.read_bytes()) if name.endswith(".gz") else out.read_bytes()
    first = json.loads(raw.splitlines()[0])
    assert first["tests"][0] == {
        "index": 0,
        "tier": "visible",
        "outcome": "pass",
        "detail": "",
        "cpu": 0.001,
    }
    assert first["error"] is None and first["sampling"] == {
        "max_tokens": 512,
        "temperature": 0.0,
        "seed": 0,
    }
    assert not list(out.parent.glob(".*.tmp"))


def test_jsonl_of_one_run(filled: Store, tmp_path: Path) -> None:
    assert export_attempts(filled, tmp_path / "o.jsonl", "jsonl", run="run-2") == 1
    (only,) = read_attempts_jsonl(tmp_path / "o.jsonl")
    assert only.run_id == "run-2"


def test_bad_jsonl_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text(
        '{"run_id": "r", "benchmark": "b", "problem_id": "p", "arm": "a"}\n{"run_id": "r"}\n'
    )
    with pytest.raises(DataError, match="line 2: not an attempt"):
        read_attempts_jsonl(path)


def test_unknown_format_and_run(filled: Store, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown export format 'csv'"):
        export_attempts(filled, tmp_path / "o.csv", "csv")
    with pytest.raises(StoreError, match="no run 'nope'"):
        export_attempts(filled, tmp_path / "o.jsonl", "jsonl", run="nope")
    assert not (tmp_path / "o.jsonl").exists()


def test_parquet_without_pyarrow_names_the_extra(
    filled: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # makes `import pyarrow` fail
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'octoroute\[parquet\]'"):
        export_parquet(filled, tmp_path / "o.parquet")
    assert not (tmp_path / "o.parquet").exists()


@pytest.mark.skipif(
    not HAS_PYARROW, reason="pyarrow is not installed (pip install 'octoroute[parquet]')"
)
def test_parquet_export(filled: Store, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    out = tmp_path / "o.parquet"
    assert export_attempts(filled, out, "parquet") == 4
    table = pq.read_table(out)
    assert table.num_rows == 4
    rows = table.to_pylist()
    stored = list(filled.attempts())
    assert [r["id"] for r in rows] == [a.id for a in stored]
    assert [r["passed"] for r in rows] == [True, False, None, True]
    assert [r["error"] for r in rows] == [None, None, "wrong_model", None]
    assert rows[1]["pass_plus"] == 0.0 and rows[2]["pass_plus"] is None
    assert json.loads(rows[0]["tests"])[0]["tier"] == "visible" and rows[2]["tests"] is None
    assert rows[0]["flags"] == ["imports_os"]
    assert export_parquet(filled, tmp_path / "empty.parquet", run=RUN, benchmark="none") == 0
    assert pq.read_table(tmp_path / "empty.parquet").num_rows == 0


def test_slim_jsonl_keeps_outcomes_and_counts_tests(filled: Store, tmp_path: Path) -> None:
    out = tmp_path / "slim.jsonl.gz"
    assert export_attempts(filled, out, "jsonl", slim=True) == 4
    full = list(filled.attempts())
    back = read_attempts_jsonl(out)
    for a, b in zip(full, back, strict=True):
        assert (b.passed, b.reward, b.pass_base, b.pass_plus, b.code, b.error) == (
            a.passed, a.reward, a.pass_base, a.pass_plus, a.code, a.error)  # fmt: skip
        # What inference may see survives (the visible verdicts); the hidden ones do not.
        if a.tests is None:
            assert b.tests is None
        else:
            assert b.tests == tuple(t for t in a.tests if t.tier is Tier.VISIBLE)
    records = [json.loads(line) for line in gzip.decompress(out.read_bytes()).splitlines()]
    judged = [r for r in records if r["passed"] is not None][1]
    assert judged["test_counts"]["plus"] == {"wrong_answer": 1}
    assert all(t["tier"] == "visible" for t in judged["tests"])
    assert records[2]["test_counts"] is None  # an arm error was never judged
    with pytest.raises(ConfigError, match="JSONL only"):
        export_attempts(filled, tmp_path / "x.parquet", "parquet", slim=True)


def test_the_shipped_log_imports_back_with_its_trees(tmp_path: Path) -> None:
    """An export logged again: every attempt once, repairs under their parents (ids are the new
    store's, a repair's sample index its new parent's id), arms renamed into a pool; importing
    again adds nothing; an imported run takes the config of the first command that writes."""
    from typer.testing import CliRunner

    from octoroute.cli import app
    from octoroute.demo import recorded_log
    from octoroute.store import open_store

    shipped = read_attempts_jsonl(recorded_log())
    db = tmp_path / "log.db"
    args = ["import", "attempts", str(recorded_log()), "--db", str(db)]
    pool = tmp_path / "pool.toml"
    pool.write_text("".join(
        f'[[arms]]\nname = "{name}"\nbackend = "llamacpp"\nlocal_model = "{model}"\n'
        f'style = "{style}"\n\n'
        for name, model, style in [
            ("smollm2-135m", "smollm2-135m", "chat"), ("gemma-3", "gemma3-270m", "completion"),
            *((f"qwen2.5-coder-{size}{suffix}", f"qwen2.5-coder-{size}", style)
              for size in ("0.5b", "1.5b")
              for suffix, style in (("", "instruct"), ("-completion", "completion"))),
        ]
    ))  # fmt: skip
    renames = ["--pool", str(pool), "--rename", "gemma3-270m=gemma-3"]
    result = CliRunner().invoke(app, args + renames)
    assert result.exit_code == 0, result.output
    with open_store(db) as store:
        logged = list(store.attempts())
        assert len(logged) == len(shipped)
        by_id = {a.id: a for a in logged}
        repairs = [a for a in logged if a.parent_attempt_id is not None]
        assert repairs and all(a.parent_attempt_id in by_id for a in repairs)
        assert all(a.sample_index == a.parent_attempt_id for a in repairs if a.attempt_number > 1)
        assert {a.arm for a in logged} >= {"qwen2.5-coder-1.5b-completion", "gemma-3"}
        assert sum(bool(a.passed) for a in logged) == sum(bool(a.passed) for a in shipped)
        store.add_run("collect/humaneval", config={"kind": "collect", "benchmark": "humaneval"})
        config = {r.id: r.config for r in store.runs()}["collect/humaneval"]
        assert config == {"kind": "collect", "benchmark": "humaneval"}
    again = CliRunner().invoke(app, args + renames)
    assert (
        again.exit_code == 0 and f"0 attempts logged ({len(shipped)} already there)" in again.output
    )
    refused = CliRunner().invoke(app, [*args, "--rename", "gemma3-270m=gemma-9000"])
    assert refused.exit_code == 2 and "not in pool" in refused.output


def test_a_clarification_export_imports_with_its_simulated_users(
    store: Store, problems: list[Problem], tmp_path: Path
) -> None:
    """The oracle user's answers and users' replies are logged under arms of their own, which
    no pool has: an export of a clarification log imports into a pool's log with them, and an
    arm of neither kind is still refused."""
    from typer.testing import CliRunner

    from octoroute.cli import app
    from octoroute.store import open_store

    for arm in ("qwen2.5-coder-0.5b", "oracle", "user", "someone-else"):
        store.add_arm(arm, backend="llamacpp", model=arm, cost_unit="flops")
    for arm in ("qwen2.5-coder-0.5b", "oracle", "user"):
        store.record_attempt(attempt(problems[0], arm))
    export = tmp_path / "comm.jsonl"
    export_jsonl(store, export)
    db = tmp_path / "again.db"
    result = CliRunner().invoke(app, ["import", "attempts", str(export), "--db", str(db)])
    assert result.exit_code == 0, result.output
    with open_store(db) as again:
        assert sorted(a.arm for a in again.attempts()) == ["oracle", "qwen2.5-coder-0.5b", "user"]
    store.record_attempt(attempt(problems[1], "someone-else"))
    export_jsonl(store, export)
    refused = CliRunner().invoke(app, ["import", "attempts", str(export), "--db", str(db)])
    assert refused.exit_code == 2 and "someone-else" in refused.output
