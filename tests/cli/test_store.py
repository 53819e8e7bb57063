"""The store commands, mounted the way :mod:`octoroute.cli` mounts them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from octoroute.cli.store import export_command, import_app, stats_command
from octoroute.store import read_attempts_jsonl
from tests.store.conftest import OUTCOMES


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.add_typer(import_app, name="import")
    app.command("stats")(stats_command)
    app.command("export")(export_command)
    return app


@pytest.fixture
def matrix(tmp_path: Path) -> Path:
    rows = [{"benchmark_id": "humaneval+", "model": m, "example_id": f"HumanEval/{i}", "pass1": int(i < k)}
            for m, k in (("small-model", 1), ("big-model", 3)) for i in range(4)]  # fmt: skip
    path = tmp_path / "toy+.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_import_stats_export(app: typer.Typer, matrix: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    db = tmp_path / "o.db"
    args = ["import", "eval-arena", str(matrix), "--benchmark", "humaneval+", "--db", str(db)]
    first = runner.invoke(app, [*args, "--json"])
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout) == {"db": str(db), "run_id": "eval-arena/toy+", "benchmark": "humaneval+",
                                        "models": 2, "problems": 4, "rows": 8, "inserted": 8}  # fmt: skip
    second = runner.invoke(app, args)
    assert second.exit_code == 0 and "(0 new)" in second.stdout

    out = runner.invoke(app, ["stats", "--db", str(db), "--json"])
    assert out.exit_code == 0, out.output
    summary = json.loads(out.stdout)
    assert (summary["attempts"], summary["arm_errors"]) == (8, 0)
    assert summary["per_arm"]["big-model"]["pass@1"]["plus"] == 0.75
    assert set(summary["per_arm"]["small-model"]) >= {"attempts", "passed", "tokens", "compute"}

    table = runner.invoke(app, ["stats", "--db", str(db), "--run", "eval-arena/toy+"])
    assert table.exit_code == 0 and "big-model" in table.stdout and "0.750" in table.stdout

    exported = runner.invoke(
        app, ["export", "--db", str(db), "--format", "jsonl", "--out", str(tmp_path / "a.jsonl")]
    )
    assert exported.exit_code == 0 and "wrote 8 attempts" in exported.stderr
    assert len(read_attempts_jsonl(tmp_path / "a.jsonl")) == 8


def test_errors_exit_2_with_a_message(app: typer.Typer, tmp_path: Path) -> None:
    runner = CliRunner()
    absent = runner.invoke(app, ["stats", "--db", str(tmp_path / "none.db"), "--json"])
    assert absent.exit_code == 2 and "no such store" in absent.stderr and absent.stdout == ""
    assert not (tmp_path / "none.db").exists()
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"model": "m", "example_id": "x", "pass1": 2}\n')
    out = runner.invoke(
        app, ["import", "eval-arena", str(bad), "--benchmark", "b", "--db", str(tmp_path / "o.db")]
    )
    assert out.exit_code == 2 and "line 1, field pass1" in out.stderr
    fmt = runner.invoke(
        app, ["export", "--db", str(tmp_path / "o.db"), "--format", "csv", "--out", "x"]
    )
    assert fmt.exit_code == 2 and "csv" in fmt.output


def test_help_of_each_command(app: typer.Typer) -> None:
    runner = CliRunner()
    for args in (["import", "eval-arena"], ["stats"], ["export"]):
        out = runner.invoke(app, [*args, "--help"])
        assert out.exit_code == 0 and "--db" in out.stdout


def test_import_real_matrix(app: typer.Typer, tmp_path: Path) -> None:
    path = OUTCOMES / "mbpp+.jsonl.gz"
    if not path.is_file():
        pytest.skip(f"eval-arena outcomes not found at {path}")
    runner = CliRunner()
    out = runner.invoke(
        app,
        [
            "import",
            "eval-arena",
            str(path),
            "--benchmark",
            "mbpp+",
            "--db",
            str(tmp_path / "o.db"),
            "--json",
        ],
    )
    assert out.exit_code == 0, out.output
    assert (json.loads(out.stdout)["models"], json.loads(out.stdout)["problems"]) == (59, 378)
