"""Fixtures of the clarification tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from octoroute.sandbox import Executor, prepare
from octoroute.tasks.humanevalcomm import load_humanevalcomm
from octoroute.types import Problem


@pytest.fixture(scope="module")
def problems(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Problem]:
    """HumanEvalComm's first two prompts of problem 2, prepared in the real sandbox (a module
    may define its own)."""
    loaded = load_humanevalcomm(shared_data / "humanevalcomm", plus=shared_data)
    chosen = [p for p in loaded if p.id.startswith("HumanEvalComm/2/")][:2]
    with Executor(workers=1) as ex:
        return prepare(chosen, ex, tmp_path_factory.mktemp("cache"))
