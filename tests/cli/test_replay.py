"""``octoroute replay`` end to end through the main app."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from octoroute.cli import app
from tests.evaluation.conftest import OUTCOMES, arena_rows, write_jsonl

FIELDS = {
    "policy", "mode", "pass_at_1", "ci95", "best_single_arm", "best_single_pass_at_1",
    "oracle_pass_at_1", "compute_ratio_vs_largest",
}  # fmt: skip


@pytest.fixture
def toy(tmp_path: Path) -> tuple[Path, Path]:
    """A 3-model matrix on 20 problems and their prompts."""
    table = {
        "small-1b": [float(i % 3 == 0) for i in range(20)],
        "mid-7b": [float(i % 2 == 0 or i == 1) for i in range(20)],
        "frac-3b": [0.5] * 20,
        "secret-model": [1.0] * 20,
    }
    outcomes = write_jsonl(tmp_path / "toy.jsonl", arena_rows(table))
    prompts = write_jsonl(
        tmp_path / "prompts.jsonl",
        [{"id": f"T/{i}", "prompt": f"def f{i}(x):\n    '''problem {i}'''"} for i in range(20)],
    )
    return outcomes, prompts


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["replay", *args])
    return result.exit_code, result.stdout, result.stderr


def test_json_report(toy: tuple[Path, Path], tmp_path: Path) -> None:
    outcomes, prompts = toy
    out_file = tmp_path / "report.json"
    code, stdout, _ = _run(
        "--outcomes", str(outcomes), "--problems", str(prompts), "--policy", "linucb",
        "--param", "alpha=0.5", "--mode", "cv", "--seeds", "2", "--max-params", "8",
        "--reference", "secret-model", "--json", "--out", str(out_file),
    )  # fmt: skip
    assert code == 2  # the reference has no known size, so its compute is unknown
    code, stdout, _ = _run(
        "--outcomes", str(outcomes), "--problems", str(prompts), "--policy", "linucb",
        "--param", "alpha=0.5", "--mode", "cv", "--seeds", "2", "--max-params", "8",
        "--json", "--out", str(out_file), "--sweep", "0,0.5",
    )  # fmt: skip
    assert code == 0, stdout
    data = json.loads(stdout)
    assert set(data) >= FIELDS
    assert data["params"] == {"alpha": 0.5} and data["mode"] == "cv"
    assert data["arms"] == ["frac-3b", "mid-7b", "small-1b"]
    assert data["excluded_unknown_size"] == ["secret-model"]
    # 11 by mid-7b, 3 more by small-1b (3, 9, 15), 0.5 on the 6 others (frac-3b)
    assert data["oracle_pass_at_1"] == 0.85
    assert data["best_single_arm"] == "mid-7b" and data["largest_arm"] == "mid-7b"
    assert len(data["frontier"]["policy"]["points"]) == 2
    assert "per_problem" not in data
    saved = json.loads(out_file.read_text())
    assert len(saved["per_problem"]) == 20 and saved["frontier"] == data["frontier"]


def test_table_and_models_regex(toy: tuple[Path, Path]) -> None:
    outcomes, prompts = toy
    code, stdout, stderr = _run(
        "--outcomes", str(outcomes), "--problems", str(prompts), "--policy", "random",
        "--mode", "online", "--seeds", "1", "--models", "-[0-9]+b$",
    )  # fmt: skip
    assert code == 0, stderr
    assert "random (online, 1 seeds, 20 problems, 3 arms)" in stdout
    assert "oracle" in stdout


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--mode", "batch"], "expected cv or online"),
        (["--policy", "nope"], "unknown policy"),
        (["--models", "a,b"], "unknown a, b"),
        (["--param", "alpha"], "KEY=VALUE"),
        (["--budget", "2"], "budget"),
        (["--lambda", "0.1"], "unknown for secret-model"),
        (["--sweep", "0,x"], "comma-separated numbers"),
        (["--sweep", "0.5", "--models", "secret-model,small-1b"], "unknown for secret-model"),
    ],
)
def test_errors_exit_2(toy: tuple[Path, Path], extra: list[str], message: str) -> None:
    outcomes, prompts = toy
    args = ["--outcomes", str(outcomes), "--problems", str(prompts), "--policy", "random"]
    code, _, stderr = _run(*args, *extra)
    assert code == 2 and message in stderr.replace("\n", " ")


def test_bad_files_exit_2(toy: tuple[Path, Path], tmp_path: Path) -> None:
    outcomes, prompts = toy
    bad = write_jsonl(tmp_path / "bad.jsonl", [{"id": "T/0"}])
    code, _, stderr = _run("--outcomes", str(outcomes), "--problems", str(bad),
                           "--policy", "random")  # fmt: skip
    assert code == 2 and "line 1, field prompt" in stderr
    sizes = tmp_path / "sizes.json"
    sizes.write_text('{"secret-model": "big"}')
    code, _, stderr = _run("--outcomes", str(outcomes), "--problems", str(prompts),
                           "--policy", "random", "--sizes", str(sizes))  # fmt: skip
    assert code == 2 and "field secret-model" in stderr


def test_published_matrix_with_benchmark_texts(benchmarks_dir: Path) -> None:
    path = OUTCOMES / "humaneval+.jsonl.gz"
    code, stdout, stderr = _run(
        "--outcomes", str(path), "--problems", "humaneval+", "--policy", "best_single",
        "--mode", "cv", "--seeds", "1", "--max-params", "8",
        "--reference", "deepseek-coder-33b-instruct", "--json",
    )  # fmt: skip
    assert code == 0, stderr
    data = json.loads(stdout)
    assert len(data["arms"]) == 17 and data["n_problems"] == 164
    assert data["oracle_pass_at_1"] == 0.8963
    assert data["reference"]["pass_at_1"] == 0.7622
    assert data["reference"]["compute_ratio"] < 0.25
