"""The outcome matrix: published matrices, octoroute logs and exports, selection."""

from __future__ import annotations

import dataclasses
import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from octoroute.evaluation import OutcomeMatrix, from_attempts, load_outcomes, replay
from octoroute.exceptions import ConfigError, DataError
from octoroute.store import export_jsonl, open_store
from octoroute.types import Attempt

from .conftest import arena_rows, own_attempt, write_jsonl, write_store

UNKNOWN_HUMANEVAL = {
    "claude-3-haiku-20240307",
    "claude-3-opus-20240229",
    "claude-3-sonnet-20240229",
    "gpt-3.5-turbo",
    "mistral-large-latest",
    "xdan-l1-chat",
}


def _best(matrix: OutcomeMatrix) -> tuple[str, float]:
    means = matrix.per_arm_mean()
    arm = max(means, key=lambda a: means[a])
    return arm, round(means[arm], 3)


def test_humaneval_small_pool(humaneval_full: OutcomeMatrix) -> None:
    pool, unknown = humaneval_full.select(max_params=8)
    assert len(humaneval_full.arms) == 49 and len(pool.problem_ids) == 164
    assert len(pool.arms) == 17
    assert set(unknown) == UNKNOWN_HUMANEVAL
    assert _best(pool) == ("deepseek-coder-6.7b-instruct", 0.720)
    assert round(pool.oracle(), 3) == 0.896
    assert "microsoft--Phi-3-mini-4k-instruct" in pool.arms and "octocoder" not in pool.arms
    assert pool.cost_unit == "params_b"
    j = pool.arms.index("deepseek-coder-6.7b-instruct")
    assert np.all(pool.cost[:, j] == 6.7)


def test_mbpp_small_pool(mbpp_full: OutcomeMatrix) -> None:
    pool, unknown = mbpp_full.select(max_params=8)
    assert len(pool.arms) == 26 and len(pool.problem_ids) == 378
    assert {"CohereForAI--c4ai-command-r-plus", "databricks--dbrx-instruct"} <= set(unknown)
    assert _best(pool) == ("opencodeinterpreter-ds-6.7b", 0.669)
    assert round(pool.oracle(), 3) == 0.831
    assert "dolphin-2.6" in pool.arms


def test_select_by_list_and_regex(humaneval_full: OutcomeMatrix) -> None:
    pool, _ = humaneval_full.select(models=["phi-2", "openchat"])
    assert pool.arms == ("phi-2", "openchat")
    pool, _ = humaneval_full.select(models="^deepseek-coder", max_params=8)
    assert pool.arms == (
        "deepseek-coder-1.3b-instruct",
        "deepseek-coder-6.7b-instruct",
        "deepseek-coder-7b-instruct-v1.5",
    )
    with pytest.raises(ConfigError, match="unknown nope"):
        humaneval_full.select(models=["phi-2", "nope"])
    with pytest.raises(ConfigError, match="matches none"):
        humaneval_full.select(models="^nothing")
    with pytest.raises(ConfigError, match="no model left"):
        humaneval_full.select(max_params=0.1)


def test_sizes_given_to_select_change_costs(humaneval_full: OutcomeMatrix) -> None:
    pool, unknown = humaneval_full.select(
        models="xdan|phi-2", max_params=8, sizes={"xdan-l1-chat": 7.0}
    )
    assert pool.arms == ("phi-2", "xdan-l1-chat") and unknown == []
    assert np.all(pool.cost[:, 1] == 7.0)


def test_missing_cells_drop_problems(tmp_path: Path) -> None:
    rows = arena_rows({"a-1b": [1, 0, 1], "b-7b": [0, 1, 1]})
    rows = [r for r in rows if not (r["model"] == "b-7b" and r["example_id"] == "T/1")]
    m = load_outcomes(write_jsonl(tmp_path / "m.jsonl", rows))
    assert not m.complete and np.isnan(m.rewards[1, 1])
    pool, _ = m.select()
    assert pool.problem_ids == ("T/0", "T/2") and pool.dropped_problems == ("T/1",)
    only_a, _ = m.select(models=["a-1b"])
    assert only_a.problem_ids == ("T/0", "T/1", "T/2")


def test_no_common_problem_is_an_error(tmp_path: Path) -> None:
    rows = [
        {"model": "a-1b", "example_id": "T/0", "pass1": 1},
        {"model": "b-7b", "example_id": "T/1", "pass1": 0},
    ]
    m = load_outcomes(write_jsonl(tmp_path / "m.jsonl", rows))
    with pytest.raises(ConfigError, match="no problem has an outcome for every"):
        m.select()


def test_fractional_pass1_is_a_probability(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl.gz"
    with gzip.open(path, "wt") as f:
        for r in arena_rows({"a-1b": [0.25, 1.0], "b-7b": [0.5, 0.0]}):
            f.write(json.dumps(r) + "\n")
    m = load_outcomes(path)
    assert m.rewards.tolist() == [[0.25, 0.5], [1.0, 0.0]]
    assert m.oracle() == 0.75


def test_problems_sort_naturally(tmp_path: Path) -> None:
    rows = [{"model": "a-1b", "example_id": f"T/{i}", "pass1": 1} for i in (10, 9, 100)]
    assert load_outcomes(write_jsonl(tmp_path / "m.jsonl", rows)).problem_ids == (
        "T/9",
        "T/10",
        "T/100",
    )


def test_bad_arena_row_names_line_and_field(tmp_path: Path) -> None:
    rows = arena_rows({"a-1b": [1, 0]})
    rows[1]["pass1"] = "yes"
    with pytest.raises(DataError) as err:
        load_outcomes(write_jsonl(tmp_path / "m.jsonl", rows))
    assert (err.value.line, err.value.field) == (2, "pass1")


def test_unknown_file_kinds(tmp_path: Path) -> None:
    with pytest.raises(DataError) as err:
        load_outcomes(write_jsonl(tmp_path / "m.jsonl", [{"id": "x", "prompt": "y"}]))
    assert err.value.line == 1
    with pytest.raises(DataError, match="unknown outcome file type"):
        load_outcomes(tmp_path / "m.csv")
    with pytest.raises(DataError, match="no rows"):
        load_outcomes(write_jsonl(tmp_path / "e.jsonl", []))
    with pytest.raises(ConfigError, match="octoroute logs only"):
        load_outcomes(write_jsonl(tmp_path / "a.jsonl", arena_rows({"a": [1]})), run="r")


def _own_attempts() -> list[Attempt]:
    # qwen-0.5b passes P/0 in one of two samples; "mystery" has no size in its name.
    return [
        own_attempt("P/0", "qwen-0.5b", 0, True, params=0.5e9),
        own_attempt("P/0", "qwen-0.5b", 1, False, params=0.5e9),
        own_attempt("P/1", "qwen-0.5b", 0, False, params=0.5e9),
        own_attempt("P/1", "qwen-0.5b", 1, False, params=0.5e9),
        own_attempt("P/0", "mystery", 0, True, params=3e9, tokens=50),
        own_attempt("P/1", "mystery", 0, True, params=3e9, tokens=150),
        own_attempt("P/1", "mystery", 1, None, params=3e9),  # an arm error: not judged
    ]


def test_outcome_log_and_export_aggregate_samples(tmp_path: Path) -> None:
    db = write_store(tmp_path / "log.db", _own_attempts())
    m = load_outcomes(db)
    assert m.arms == ("mystery", "qwen-0.5b") and m.problem_ids == ("P/0", "P/1")
    assert m.rewards.tolist() == [[1.0, 0.5], [1.0, 0.0]]
    assert m.cost_unit == "flops"
    assert m.cost[0, 1] == pytest.approx(2 * 0.5e9 * 200)
    assert m.sizes == {"mystery": 3.0, "qwen-0.5b": 0.5}  # mystery's from its FLOPs
    with open_store(db) as store:
        export_jsonl(store, tmp_path / "attempts.jsonl.gz")
    exported = load_outcomes(tmp_path / "attempts.jsonl.gz")
    assert exported.rewards.tolist() == m.rewards.tolist()
    assert exported.cost.tolist() == m.cost.tolist()


def test_several_runs_need_a_choice(tmp_path: Path) -> None:
    attempts = [*_own_attempts(), own_attempt("P/0", "qwen-0.5b", 0, True, run="other")]
    db = write_store(tmp_path / "log.db", attempts)
    with pytest.raises(ConfigError, match=r"several runs.*--run"):
        load_outcomes(db)
    assert load_outcomes(db, run="other").arms == ("qwen-0.5b",)
    with pytest.raises(DataError, match="no judged attempt in run nope"):
        load_outcomes(db, run="nope")


def test_imported_outcomes_cost_by_size() -> None:
    imported = [dataclasses.replace(own_attempt("P/0", "phi-2", 0, True), cost_unit="none")]
    m = from_attempts(imported, "log")
    assert m.cost_unit == "params_b" and m.cost.tolist() == [[2.7]]


def test_reference_column_and_restrict(humaneval_full: OutcomeMatrix) -> None:
    pool, _ = humaneval_full.select(max_params=8)
    rewards, cost = humaneval_full.restrict(pool.problem_ids[:3]).column(
        "deepseek-coder-33b-instruct"
    )
    assert len(rewards) == 3 and np.all(cost == 33.0)
    with pytest.raises(ConfigError, match="no model"):
        pool.column("deepseek-coder-33b-instruct")
    with pytest.raises(ConfigError, match="no outcomes for problem"):
        pool.restrict(["HumanEval/999"])


def test_one_models_arms_are_ordered_by_cost_and_largest_picks_the_costlier() -> None:
    """Two prompt styles of one model have one size: the longer prompt is the larger arm, for
    the largest arm and the ``largest`` baseline alike."""
    arms = ("m-1.5b", "m-1.5b-completion", "s-0.5b")
    rewards = np.array([[1.0, 0.0, 0.0], [1.0, 0.0, 1.0]])
    cost = np.array([[9.0, 4.0, 1.0], [9.0, 4.0, 1.0]])
    matrix = OutcomeMatrix(("p1", "p2"), arms, rewards, cost, "flops",
                           {"m-1.5b": 1.5, "m-1.5b-completion": 1.5, "s-0.5b": 0.5})  # fmt: skip
    assert matrix.size_order() == ["s-0.5b", "m-1.5b-completion", "m-1.5b"]
    assert matrix.largest_arm() == "m-1.5b"
    result = replay(matrix, np.ones((2, 1)), "largest", mode="online", seeds=1)
    assert result.to_json()["arm_shares"]["m-1.5b"] == 1.0
