"""``octoroute probes`` end to end: a real local model reads the prompts of a small matrix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from octoroute.cli import app
from tests.evaluation.conftest import arena_rows, write_jsonl
from tests.local_model import require

require("smollm2-135m", ("xllamacpp", "local"), ("gguf", "probes"))

N = 20


@pytest.fixture(scope="module")
def states_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache folder for the module: states computed by one test are found by the next."""
    return tmp_path_factory.mktemp("cache")


def _matrix(tmp_path: Path, short: str) -> tuple[Path, Path]:
    """Two models on 20 problems: ``lists-7b`` solves the problems about lists, ``short``
    the short ones."""
    kinds = ["list" if i % 2 else "string" for i in range(N)]
    table = {
        "lists-7b": [float(k == "list") for k in kinds],
        short: [float(i < N // 2) for i in range(N)],
    }
    outcomes = write_jsonl(tmp_path / "outcomes.jsonl", arena_rows(table))
    prompts = write_jsonl(tmp_path / "prompts.jsonl", [
        {"id": f"T/{i}", "prompt": f"def f{i}(x):\n    '''Return the {k} x, reversed.'''\n"
         + "    # more words\n" * (i // 2)}
        for i, k in enumerate(kinds)
    ])  # fmt: skip
    return outcomes, prompts


@pytest.fixture
def matrix(tmp_path: Path) -> tuple[Path, Path]:
    """A published-style matrix: neither model is local."""
    return _matrix(tmp_path, "short-1b")


def test_probes_reports_every_arm_beside_its_baselines(
    matrix: tuple[Path, Path], states_home: Path
) -> None:
    outcomes, prompts = matrix
    args = ["probes", "--outcomes", str(outcomes), "--problems", str(prompts),
            "--model", "smollm2-135m", "--layers", "0,15,30", "--folds", "2",
            "--cache", str(states_home / "states"), "--json"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["model"] == "smollm2-135m" and data["n_problems"] == N
    assert data["computed"] == N
    assert set(data["per_arm"]) == {"lists-7b", "short-1b"}
    for arm in data["per_arm"].values():
        assert {"auc", "auc_length", "auc_lexical", "auc_residual", "base_rate"} <= set(arm)
        assert 0.0 <= arm["auc"] <= 1.0
    # Success that is the prompt's length: length alone predicts it perfectly.
    assert data["per_arm"]["short-1b"]["auc_length"] > 0.9
    assert data["layer"] in data["candidates"]
    # Again: every state comes from the cache.
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0 and json.loads(again.stdout)["computed"] == 0


def test_probes_refuses_a_layer_the_model_does_not_have(
    matrix: tuple[Path, Path], tmp_path: Path
) -> None:
    outcomes, prompts = matrix
    result = CliRunner().invoke(app, [
        "probes", "--outcomes", str(outcomes), "--problems", str(prompts),
        "--model", "smollm2-135m", "--layers", "99", "--cache", str(tmp_path / "s"),
    ])  # fmt: skip
    assert result.exit_code != 0
    assert "layers 0 to 30" in result.stderr


def test_replay_routes_on_lexical_and_probe_features(
    matrix: tuple[Path, Path], states_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OCTOROUTE_CACHE_DIR", str(states_home))
    outcomes, prompts = matrix
    spec = "lexical+probe:smollm2-135m@15/last"
    result = CliRunner().invoke(app, [
        "replay", "--outcomes", str(outcomes), "--problems", str(prompts), "--policy",
        "linucb", "--seeds", "2", "--folds", "2", "--featurizer", spec, "--json",
    ])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["featurizer"]["name"] == spec
    parts = data["featurizer"]["parts"]
    assert [p["name"] for p in parts] == ["lexical", "probe"]
    assert parts[1]["layer"] == 15 and parts[1]["pooling"] == "last"
    assert 0.0 <= data["pass_at_1"] <= 1.0


def test_report_routes_on_probe_features(
    matrix: tuple[Path, Path], states_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OCTOROUTE_CACHE_DIR", str(states_home))
    outcomes, prompts = matrix
    out = tmp_path / "report.html"
    result = CliRunner().invoke(app, [
        "report", "--outcomes", str(outcomes), "--problems", str(prompts), "--policies",
        "linucb,best_single", "--seeds", "1", "--featurizer", "probe:smollm2-135m@15/last",
        "--out", str(out),
    ])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert out.read_text().startswith("<!doctype html>") and "linucb" in result.stdout


def test_a_bad_probe_spec_is_refused(matrix: tuple[Path, Path]) -> None:
    outcomes, prompts = matrix
    result = CliRunner().invoke(app, [
        "replay", "--outcomes", str(outcomes), "--problems", str(prompts), "--policy",
        "linucb", "--featurizer", "lexical+probe:smollm2-135m@x/top",
    ])  # fmt: skip
    assert result.exit_code != 0 and "LAYER/POOLING" in result.stderr


def test_probes_of_each_local_arm_on_its_own_states(tmp_path: Path, states_home: Path) -> None:
    """``--model own``: a local arm is probed on its own model; a published one is skipped."""
    outcomes, prompts = _matrix(tmp_path, "smollm2-135m")
    result = CliRunner().invoke(app, [
        "probes", "--outcomes", str(outcomes), "--problems", str(prompts), "--model", "own",
        "--layers", "0,15", "--folds", "2", "--cache", str(states_home / "states"), "--json",
    ])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["model"] == "own" and set(data["per_arm"]) == {"smollm2-135m"}
    assert "not a local arm" in data["skipped"]["lists-7b"]
    assert data["per_arm"]["smollm2-135m"]["auc_length"] > 0.9
