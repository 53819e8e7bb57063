"""Problem texts for replay: benchmark names and JSONL files of id and prompt."""

from __future__ import annotations

from pathlib import Path

import pytest

from octoroute.evaluation import align_problems, load_problem_texts, read_prompts_jsonl
from octoroute.exceptions import ConfigError, DataError
from octoroute.types import Tier

from .conftest import write_jsonl


def test_prompts_jsonl(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "p.jsonl",
        [
            {
                "id": "a",
                "prompt": "def inc(x):\n    '''inc(1) == 2'''\n",
                "entry_point": "inc",
                "tests": [{"kind": "call", "input": [5], "tier": "plus"}],
            },
            {"id": "b", "prompt": "Write a function."},
        ],
    )
    a, b = read_prompts_jsonl(path)
    assert (a.id, a.benchmark, b.id) == ("a", "p", "b")
    # Only the examples the prompt shows become (visible) tests; hidden tests are never read.
    assert [t.input for t in a.tests] == [(1,)] and a.tests[0].tier is Tier.VISIBLE
    assert b.tests == ()


@pytest.mark.parametrize(
    ("rows", "line", "field"),
    [
        ([{"id": "a", "prompt": "x"}, {"id": "b"}], 2, "prompt"),
        ([{"prompt": "x"}], 1, "id"),
        ([{"id": "a", "prompt": 3}], 1, "prompt"),
        ([{"id": "a", "prompt": "x"}, {"id": "a", "prompt": "y"}], 2, "id"),
        ([{"id": " ", "prompt": "x"}], 1, "id"),
    ],
)
def test_bad_prompts_name_line_and_field(
    tmp_path: Path, rows: list[dict[str, object]], line: int, field: str
) -> None:
    with pytest.raises(DataError) as err:
        read_prompts_jsonl(write_jsonl(tmp_path / "p.jsonl", rows))
    assert (err.value.line, err.value.field) == (line, field)


def test_load_by_name_or_file(tmp_path: Path, benchmarks_dir: Path) -> None:
    problems = load_problem_texts("mbpp+")
    assert len(problems) == 378 and problems[0].id == "Mbpp/2"
    path = write_jsonl(tmp_path / "p.jsonl", [{"id": "a", "prompt": "x"}])
    assert [p.id for p in load_problem_texts(str(path))] == ["a"]
    with pytest.raises(ConfigError, match="neither a benchmark"):
        load_problem_texts("nope")


def test_align_reports_missing_texts(tmp_path: Path) -> None:
    problems = read_prompts_jsonl(write_jsonl(tmp_path / "p.jsonl", [{"id": "a", "prompt": "x"}]))
    with pytest.raises(ConfigError, match=r"2 problem\(s\) .* no text .*: b, c"):
        align_problems(["a", "b", "c"], problems)
