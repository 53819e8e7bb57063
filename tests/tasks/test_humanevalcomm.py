"""HumanEvalComm's variants as problems: HumanEval+'s hidden tests under the variant's name,
the original prompt out of the models' sight, bad records named by file, line and field."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path

import pytest

from octoroute.exceptions import DataError
from octoroute.sandbox import Executor, prepare
from octoroute.tasks import load_benchmark
from octoroute.tasks.humanevalcomm import load_humanevalcomm
from octoroute.types import Tier


@pytest.fixture(scope="module")
def problems(shared_data: Path) -> list:  # type: ignore[type-arg]
    return load_humanevalcomm(shared_data / "humanevalcomm", plus=shared_data)


def test_every_variant_of_every_problem_with_the_original_beside(problems: list) -> None:  # type: ignore[type-arg]
    kinds = Counter(p.metadata["variant"] for p in problems)
    assert kinds["original"] == kinds["1a"] == kinds["1c"] == kinds["1p"] == 164
    assert len(problems) - kinds["original"] == 769  # distinct modified prompts (paper: 762)
    one = {p.id: p for p in problems}
    ambiguous, original = one["HumanEvalComm/0/1a"], one["HumanEvalComm/0/original"]
    assert ambiguous.entry_point == "candidate" and original.entry_point == "has_close_elements"
    # Hidden tests only for a modified prompt: its examples may be the very thing that is wrong.
    assert ambiguous.tests and all(t.tier is not Tier.VISIBLE for t in ambiguous.tests)
    assert any(t.tier is Tier.VISIBLE for t in original.tests)
    # The original is for the simulated user only: a model's view of the problem drops it.
    assert ambiguous.metadata["original_prompt"] == original.prompt
    assert ambiguous.visible_only().metadata == {} and ambiguous.visible_only().tests == ()


def test_the_hidden_tests_call_the_variants_own_function(problems: list) -> None:  # type: ignore[type-arg]
    one = {p.id: p for p in problems}
    renamed = one["HumanEvalComm/0/1a"]
    with Executor(workers=1) as ex:
        (ready,) = prepare([renamed], ex, None)
        assert not ready.metadata.get("reference_failures")
        solution = "def candidate(numbers, threshold):\n" + (
            "    return any(abs(a - b) < threshold for i, a in enumerate(numbers)"
            " for b in numbers[i + 1:])\n"
        )
        assert ex.check(ready, solution).passed
        assert not ex.check(ready, solution.replace("candidate", "has_close_elements")).passed


def test_a_bad_record_is_named_by_file_line_and_field(tmp_path: Path, shared_data: Path) -> None:
    good = {"name": "HumanEval/0", "prompt": "def f(x):\n    pass\n", "prompt1a": "no function",
            "entry_point": "f"}  # fmt: skip
    path = tmp_path / "HumanEvalComm.jsonl.gz"
    with gzip.open(path, "wt") as f:
        f.write(json.dumps({**good, "prompt1a": "def g(x): ..."}) + "\n")
        f.write(json.dumps(good) + "\n")
    with pytest.raises(DataError) as caught:
        load_humanevalcomm(path, plus=shared_data)
    assert caught.value.line == 2 and caught.value.field == "prompt1a"
    with gzip.open(path, "wt") as f:
        f.write(json.dumps({**good, "name": "HumanEval/999"}) + "\n")
    with pytest.raises(DataError, match="HumanEval/999"):
        load_humanevalcomm(path, plus=shared_data)


def test_it_is_a_named_benchmark(monkeypatch: pytest.MonkeyPatch, shared_data: Path) -> None:
    monkeypatch.setenv("OCTOROUTE_DATA_DIR", str(shared_data))
    assert len(load_benchmark("humanevalcomm")) == 933
