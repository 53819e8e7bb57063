"""Fixtures for the executor tests: one real sandbox session shared by the module's tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from octoroute.sandbox import Executor, prepare
from octoroute.tasks import load_benchmark
from octoroute.types import Problem


@pytest.fixture(scope="session")
def executor() -> Iterator[Executor]:
    """A started executor with every isolation layer."""
    with Executor(workers=2) as ex:
        yield ex


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private cache for reference outputs."""
    return tmp_path_factory.mktemp("cache")


# The first problems, and fib (HumanEval/55), whose large ints tell exact answers from close ones.
PROBLEMS = ("HumanEval/0", "HumanEval/1", "HumanEval/2", "HumanEval/55")


@pytest.fixture(scope="session")
def humaneval(executor: Executor, cache_dir: Path) -> dict[str, Problem]:
    """A few HumanEval problems (assert-style hidden tests), prepared."""
    problems = [p for p in load_benchmark("humaneval") if p.id in PROBLEMS]
    return {p.id: p for p in prepare(problems, executor, cache_dir)}


@pytest.fixture(scope="session")
def humaneval_plus(executor: Executor, cache_dir: Path, shared_data: Path) -> dict[str, Problem]:
    """A few HumanEval+ problems (call-style tests with base and plus tiers), prepared."""
    problems = [p for p in load_benchmark("humaneval+", shared_data) if p.id in PROBLEMS]
    return {p.id: p for p in prepare(problems, executor, cache_dir)}
