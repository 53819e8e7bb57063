"""Fixtures for evaluation: the published outcome matrices, toy matrices and outcome logs."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from octoroute.evaluation import OutcomeMatrix, load_outcomes
from octoroute.store import open_store
from octoroute.types import Attempt

# The shared data beside the project (read-only, never copied into it).
SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
OUTCOMES = SHARED / "outcomes"
BENCHMARKS = SHARED / "benchmarks"


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"shared data not found at {path}")
    return path


@pytest.fixture(scope="session")
def humaneval_full() -> OutcomeMatrix:
    """The published HumanEval+ matrix (49 models)."""
    return load_outcomes(_need(OUTCOMES / "humaneval+.jsonl.gz"))


@pytest.fixture(scope="session")
def mbpp_full() -> OutcomeMatrix:
    """The published MBPP+ matrix (59 models)."""
    return load_outcomes(_need(OUTCOMES / "mbpp+.jsonl.gz"))


@pytest.fixture(scope="session")
def humaneval_small(humaneval_full: OutcomeMatrix) -> OutcomeMatrix:
    """HumanEval+ restricted to the models of at most 8B parameters."""
    return humaneval_full.select(max_params=8)[0]


@pytest.fixture
def benchmarks_dir(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point OCTOROUTE_DATA_DIR at the shared benchmark files."""
    monkeypatch.setenv("OCTOROUTE_DATA_DIR", str(_need(BENCHMARKS)))
    return BENCHMARKS


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> Path:
    """Write ``rows`` one JSON object a line."""
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def arena_rows(table: dict[str, list[float]], benchmark: str = "toy+") -> list[dict[str, Any]]:
    """eval-arena rows from ``{model: [pass1 of p0, p1, ...]}``."""
    return [
        {"benchmark_id": benchmark, "model": m, "example_id": f"T/{i}", "pass1": v}
        for m, values in table.items()
        for i, v in enumerate(values)
    ]


def toy_matrix(rewards: list[list[float]], sizes: tuple[float, ...] = (1.0, 7.0)) -> OutcomeMatrix:
    """A complete matrix of arms ``arm0-{size}b``... with cost = size (params_b)."""
    r = np.asarray(rewards, dtype=np.float64)
    arms = tuple(f"arm{j}-{s:g}b" for j, s in enumerate(sizes))
    cost = np.tile(np.asarray(sizes, dtype=np.float64), (len(r), 1))
    ids = tuple(f"T/{i}" for i in range(len(r)))
    return OutcomeMatrix(ids, arms, r, cost, "params_b", dict(zip(arms, sizes, strict=True)))


def own_attempt(
    problem: str,
    arm: str,
    sample: int,
    passed: bool | None,
    *,
    run: str = "collect/toy",
    tokens: int = 100,
    params: float = 1.5e9,
) -> Attempt:
    """An attempt as octoroute logs it (judged unless ``passed`` is None: an arm error)."""
    judged: dict[str, Any] = {}
    if passed is not None:
        judged = {"passed": passed, "reward": float(passed), "pass_base": float(passed)}
    return Attempt(
        run_id=run,
        benchmark="toy",
        problem_id=problem,
        arm=arm,
        sample_index=sample,
        prompt_tokens=tokens,
        completion_tokens=tokens,
        cost=2.0 * params * 2 * tokens,
        cost_unit="flops",
        **judged,
    )


def write_store(path: Path, attempts: list[Attempt]) -> Path:
    """An outcome log holding ``attempts``."""
    with open_store(path) as store:
        for run in sorted({a.run_id for a in attempts}):
            store.add_run(run, config={}, command="test")
        for arm in sorted({a.arm for a in attempts}):
            store.add_arm(arm, backend="fake", model=arm, cost_unit="flops")
        store.add_problem_ids("toy", sorted({a.problem_id for a in attempts}))
        store.record_attempts(attempts)
    return path
