"""The user problem format: valid files load, every mistake is a located DataError."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from octoroute.exceptions import DataError
from octoroute.tasks import jsonl
from octoroute.tasks.jsonl import load_problems_jsonl
from octoroute.types import TestKind as Kind
from octoroute.types import Tier

ADD: dict[str, Any] = {
    "id": "add",
    "prompt": "def add(a, b):\n    '''Add.'''\n",
    "entry_point": "add",
    "reference": "def add(a, b):\n    return a + b\n",
    "tests": [
        {"kind": "call", "input": [1, 2], "expected": 3, "tier": "visible"},
        {"kind": "call", "input": [0.1, 0.2], "atol": 1e-9},
        {"kind": "assert", "input": "assert add(-1, 1) == 0", "tier": "plus"},
    ],
}
ECHO: dict[str, Any] = {
    "id": "echo",
    "prompt": "Print what you read.",
    "mode": "stdio",
    "tests": [{"kind": "stdio", "input": "hi\n", "expected": "hi\n"}],
    "metadata": {"source": "mine"},
}


def _write(tmp_path: Path, *rows: dict[str, Any]) -> Path:
    path = tmp_path / "mine.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_valid_file(tmp_path: Path) -> None:
    add, echo = load_problems_jsonl(_write(tmp_path, ADD, ECHO))
    assert add.benchmark == "mine" and add.entry_point == "add" and not add.program_mode
    first, second, third = add.tests
    assert (first.kind, first.tier, first.input, first.expected) == (
        Kind.CALL,
        Tier.VISIBLE,
        (1, 2),
        3,
    )
    assert first.has_expected and not second.has_expected and second.atol == 1e-9
    assert (third.kind, third.tier, third.input) == (
        Kind.ASSERT,
        Tier.PLUS,
        "assert add(-1, 1) == 0",
    )
    assert echo.program_mode and echo.entry_point == "" and echo.reference == ""
    assert echo.tests[0].input == "hi\n" and echo.tests[0].expected == "hi\n"
    assert echo.metadata == {"source": "mine"}


def test_documented_example_loads(tmp_path: Path) -> None:
    doc = jsonl.__doc__ or ""
    block = re.search(r"Example::\n\n(.*?)\n\n", doc, re.DOTALL)
    assert block is not None
    line = " ".join(part.strip() for part in block.group(1).splitlines())
    path = tmp_path / "example.jsonl"
    path.write_text(line + "\n")
    (problem,) = load_problems_jsonl(path)
    assert problem.id == "add" and len(problem.tests) == 3


def _with(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    row = json.loads(json.dumps(base))
    for key, value in changes.items():
        if value is None:
            row.pop(key, None)
        else:
            row[key] = value
    return row


def _test(**fields: Any) -> dict[str, Any]:
    return _with(ADD, tests=[fields])


@pytest.mark.parametrize(
    ("row", "field", "message"),
    [
        (_with(ADD, id=None), "id", "missing required field"),
        (_with(ADD, id=7), "id", "expected a string, found an integer"),
        (_with(ADD, id=" "), "id", "non-empty"),
        (_with(ADD, prompt=None), "prompt", "missing required field"),
        (_with(ADD, entry_point=None), "entry_point", "missing required field"),
        (_with(ADD, entry_point="not ok"), "entry_point", "identifier"),
        (_with(ADD, mode="batch"), "mode", "expected one of 'function', 'stdio'"),
        (_with(ADD, tests=None), "tests", "missing required field"),
        (_with(ADD, tests=[]), "tests", "at least one test"),
        (_with(ADD, tests=[3]), "tests[0]", "expected an object"),
        (_with(ADD, expectd=1), "expectd", "unknown field"),
        (_with(ADD, metadata=[]), "metadata", "expected an object"),
        (_test(input=[1, 2]), "tests[0].kind", "missing required field"),
        (_test(kind="run", input=[1]), "tests[0].kind", "expected one of 'call'"),
        (_test(kind="call"), "tests[0].input", "missing required field"),
        (_test(kind="call", input="1, 2"), "tests[0].input", "expected an array"),
        (_test(kind="call", input=[1], tier="hidden"), "tests[0].tier", "expected one of"),
        (_test(kind="call", input=[1], atol=-1), "tests[0].atol", ">= 0"),
        (_test(kind="call", input=[1], atol="0"), "tests[0].atol", "expected a number"),
        (_test(kind="call", input=[1], expectd=2), "tests[0].expectd", "unknown field"),
        (_test(kind="stdio", input="1"), "tests[0].kind", 'need "mode": "stdio"'),
        (_test(kind="assert", input="assert ("), "tests[0].input", "not valid Python"),
        (_test(kind="assert", input="1" + "+1" * 100_000), "tests[0].input", "too long"),
        (_test(kind="assert", input="assert 1\0"), "tests[0].input", "null bytes"),
        (_test(kind="call", input=[1, "\ud800"]), "tests[0].input[1]", "surrogate pair"),
        (_test(kind="assert", input="assert 1", expected=1), "tests[0].expected", "no expected"),
        (
            _with(ADD, reference=None, tests=[{"kind": "call", "input": [1]}]),
            "tests[0].expected",
            "no reference",
        ),
        (_with(ECHO, tests=[{"kind": "call", "input": [1]}]), "tests[0].kind", "function"),
        (
            _with(ECHO, tests=[{"kind": "stdio", "input": "", "expected": 1}]),
            "tests[0].expected",
            "expected a string",
        ),
    ],
)
def test_invalid_rows(tmp_path: Path, row: dict[str, Any], field: str, message: str) -> None:
    path = _write(tmp_path, ADD | {"id": "first"}, row)
    with pytest.raises(DataError) as info:
        load_problems_jsonl(path)
    err = info.value
    assert (err.line, err.field) == (2, field)
    assert "mine.jsonl, line 2, field " + field in str(err)
    assert message in str(err)


def test_duplicate_id(tmp_path: Path) -> None:
    with pytest.raises(
        DataError, match=r"line 2, field id: duplicate id 'add' \(first on line 1\)"
    ):
        load_problems_jsonl(_write(tmp_path, ADD, ADD))


def test_not_json(tmp_path: Path) -> None:
    path = tmp_path / "mine.jsonl"
    path.write_text(json.dumps(ADD) + "\n{not json}\n")
    with pytest.raises(DataError, match=r"mine\.jsonl, line 2: not valid JSON"):
        load_problems_jsonl(path)


def test_line_nested_200000_deep(tmp_path: Path) -> None:
    path = tmp_path / "mine.jsonl"
    deep = '{"id": "d", "prompt": "", "entry_point": "f", "tests": ' + "[" * 200_000
    path.write_text(json.dumps(ADD) + "\n" + deep + "]" * 200_000 + "}\n")
    with pytest.raises(DataError) as info:
        load_problems_jsonl(path)
    assert (info.value.line, info.value.field) == (2, "tests")
    assert "mine.jsonl, line 2, field tests: nested too deeply: 200001 levels" in str(info.value)


def test_wrong_suffix(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"expected a \.jsonl"):
        load_problems_jsonl(tmp_path / "mine.json")
