"""The package surface: benchmark names, load_benchmark, __all__."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import octoroute.tasks as tasks
from octoroute.exceptions import ConfigError
from octoroute.tasks import BENCHMARKS, load_benchmark


def test_all_is_sorted_and_complete() -> None:
    assert list(tasks.__all__) == sorted(tasks.__all__)
    public = {
        name
        for name, value in vars(tasks).items()
        if not name.startswith("_") and getattr(value, "__module__", "").startswith(tasks.__name__)
    }
    assert public | {"BENCHMARKS"} <= set(tasks.__all__)
    assert all(hasattr(tasks, name) for name in tasks.__all__)


def test_benchmark_names() -> None:
    assert BENCHMARKS == ("humaneval", "humaneval+", "mbpp+", "mbpp", "humanevalcomm")


@pytest.mark.parametrize("name", ["mbpp", " MBPP "])
def test_load_by_name(shared_data: Path, name: str) -> None:
    assert len(load_benchmark(name, shared_data)) == 427


def test_every_name_has_its_loader() -> None:
    assert tuple(tasks._LOADERS) == BENCHMARKS
    assert tasks._LOADERS["humaneval+"] is tasks.load_humaneval_plus
    assert tasks._LOADERS["mbpp+"] is tasks.load_mbpp_plus


def test_humaneval_by_name(shared_data: Path) -> None:
    assert len(load_benchmark("humaneval", shared_data / "HumanEval.jsonl.gz")) == 164


def test_load_a_problems_file(tmp_path: Path) -> None:
    row = {
        "id": "one",
        "prompt": "p",
        "entry_point": "f",
        "tests": [{"kind": "call", "input": [], "expected": 1}],
    }
    path = tmp_path / "own.jsonl"
    path.write_text(json.dumps(row) + "\n")
    (problem,) = load_benchmark(str(path))
    assert problem.id == "one" and problem.benchmark == "own"
    with pytest.raises(ConfigError, match="only for a named benchmark"):
        load_benchmark(str(path), tmp_path)


def test_unknown_name_lists_the_choices() -> None:
    with pytest.raises(ConfigError) as info:
        load_benchmark("humaneva")
    for name in BENCHMARKS:
        assert name in str(info.value)
