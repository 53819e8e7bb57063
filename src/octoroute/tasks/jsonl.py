"""Your own problems, as JSON Lines: one problem per line.

Format
------
A ``.jsonl`` (or ``.jsonl.gz``) file holds one JSON object per line; blank lines are skipped.
Each object is a problem with these fields:

==============  ========  =================================================================
field           type      meaning
==============  ========  =================================================================
``id``          string    required; unique within the file
``prompt``      string    required; what the model is shown
``entry_point`` string    the function to call; required unless ``mode`` is ``"stdio"``
``reference``   string    a correct program; required if a call/stdio test has no expected
``harness``     string    trusted Python run before assert tests (imports, helpers)
``mode``        string    ``"function"`` (default) or ``"stdio"`` (programs run as main)
``tests``       array     required, non-empty; the test objects described below
``metadata``    object    anything else you want to keep with the problem
==============  ========  =================================================================

Each test is an object:

============  ========  ===================================================================
field         type      meaning
============  ========  ===================================================================
``kind``      string    required: ``"call"``, ``"assert"`` or ``"stdio"``
``input``     any       required: for ``call`` an array of arguments, for ``stdio`` the
                        text fed to standard input, for ``assert`` Python code
``expected``  any       ``call``: the return value; ``stdio``: the expected standard output
                        (a string). Optional: without it the reference's output is used.
                        Not allowed on ``assert`` tests, whose code holds its expectations
``tier``      string    ``"visible"`` (shown to models and routers), ``"base"`` (default)
                        or ``"plus"``; the last two are hidden and only grade
``atol``      number    absolute tolerance for floats in a ``call`` result (default 0)
============  ========  ===================================================================

``call`` and ``assert`` tests need ``"mode": "function"`` (assert code calls the entry point by
its name), ``stdio`` tests need ``"mode": "stdio"``. JSON has no tuples or sets:
``call`` arguments and expected values arrive as lists, so prefer ``assert`` tests when types
matter. Unknown fields are errors, so that a misspelt ``expected`` is not silently ignored.

Example::

    {"id": "add", "prompt": "def add(a, b):\\n    \\"\\"\\"Add a and b.\\"\\"\\"\\n",
     "entry_point": "add", "reference": "def add(a, b):\\n    return a + b\\n",
     "tests": [{"kind": "call", "input": [1, 2], "expected": 3, "tier": "visible"},
               {"kind": "call", "input": [2, 2]},
               {"kind": "assert", "input": "assert add(-1, 1) == 0"}]}

(Shown on several lines for reading; in the file each problem is on one line.)
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from octoroute.exceptions import DataError
from octoroute.fileio.records import Record, describe, read_records
from octoroute.fileio.text import PYTHON_PARSE_ERRORS, python_error
from octoroute.types import Problem, TestCase, TestKind, Tier

_PROBLEM_FIELDS = frozenset(
    {"id", "prompt", "entry_point", "reference", "harness", "mode", "tests", "metadata"}
)
_TEST_FIELDS = frozenset({"kind", "input", "expected", "tier", "atol"})
_MODES = ("function", "stdio")


def _choice(record: Record, field: str, choices: tuple[str, ...], default: str | None) -> str:
    """A string field that must be one of ``choices`` (required when ``default`` is None)."""
    value = record.get(field, str) if default is None else record.get_optional(field, str, default)
    if value not in choices:
        expected = ", ".join(map(repr, choices))
        raise record.error(f"expected one of {expected}, found {value!r}", field)
    return value


def _reject_unknown(record: Record, allowed: frozenset[str]) -> None:
    unknown = sorted(set(record.data) - allowed)
    if unknown:
        expected = ", ".join(sorted(allowed))
        raise record.error(f"unknown field (the known ones are {expected})", unknown[0])


def _non_negative(record: Record, field: str, value: float) -> float:
    if value < 0:
        raise record.error(f"expected a number >= 0, found {value}", field)
    return value


def _parse_test(test: Record, mode: str, has_reference: bool) -> TestCase:
    """Validate one test object (``test`` carries its ``tests[i].`` prefix for errors)."""
    _reject_unknown(test, _TEST_FIELDS)
    kind = TestKind(_choice(test, "kind", tuple(k.value for k in TestKind), None))
    tier = Tier(_choice(test, "tier", tuple(t.value for t in Tier), Tier.BASE.value))
    atol = _non_negative(test, "atol", test.get_optional("atol", float, 0.0))
    if "input" not in test.data:
        raise test.error("missing required field", "input")
    has_expected = "expected" in test.data
    expected = test.data.get("expected")

    wanted = "stdio" if kind is TestKind.STDIO else "function"
    if mode != wanted:
        raise test.error(f'{kind.value} tests need "mode": "{wanted}", found "{mode}"', "kind")
    test_input: Any
    if kind is TestKind.ASSERT:
        test_input = test.get("input", str)
        try:
            ast.parse(test_input)
        except PYTHON_PARSE_ERRORS as exc:
            raise test.error(python_error(exc), "input") from exc
        if has_expected:
            raise test.error("assert tests take no expected value", "expected")
    elif kind is TestKind.CALL:
        test_input = tuple(test.get("input", list))
    else:
        test_input = test.get("input", str)
        if has_expected:
            test.get("expected", str)
    if kind is not TestKind.ASSERT and not has_expected and not has_reference:
        raise test.error("no expected value, and no reference to compute it from", "expected")
    return TestCase(
        kind=kind,
        tier=tier,
        input=test_input,
        expected=expected,
        has_expected=has_expected,
        atol=atol,
    )


def problem_from_record(record: Record, benchmark: str) -> Problem:
    """Validate one line of a problems file and build its :class:`Problem`."""
    _reject_unknown(record, _PROBLEM_FIELDS)
    problem_id = record.get("id", str)
    if not problem_id.strip():
        raise record.error("expected a non-empty string, found an empty one", "id")
    prompt = record.get("prompt", str)
    mode = _choice(record, "mode", _MODES, "function")
    if mode == "function":
        entry_point = record.get("entry_point", str)
    else:
        entry_point = record.get_optional("entry_point", str, "")
    if (mode == "function" or entry_point) and not entry_point.isidentifier():
        raise record.error(
            f"expected a Python identifier, found {describe(entry_point)}", "entry_point"
        )
    reference = record.get_optional("reference", str, "")
    harness = record.get_optional("harness", str, "")
    metadata = record.get_optional("metadata", dict, {})
    raw_tests = record.get("tests", list)
    if not raw_tests:
        raise record.error("expected at least one test, found an empty array", "tests")
    tests = tuple(
        _parse_test(record.nested(raw, f"tests[{i}]"), mode, bool(reference))
        for i, raw in enumerate(raw_tests)
    )
    return Problem(
        id=problem_id,
        benchmark=benchmark,
        prompt=prompt,
        entry_point=entry_point,
        reference=reference,
        tests=tests,
        harness=harness,
        program_mode=mode == "stdio",
        metadata=metadata,
    )


def load_problems_jsonl(path: str | Path) -> list[Problem]:
    """Load your own problems from a JSONL file in the format above.

    The benchmark name of each problem is the file's name without its suffixes.
    """
    path = Path(path)
    name = path.name.removesuffix(".gz").removesuffix(".jsonl")
    if not path.name.removesuffix(".gz").endswith(".jsonl"):
        raise DataError(path, "expected a .jsonl or .jsonl.gz file")
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for record in read_records(path):
        problem = problem_from_record(record, name)
        if problem.id in seen:
            raise record.error(
                f"duplicate id {problem.id!r} (first on line {seen[problem.id]})", "id"
            )
        seen[problem.id] = record.line
        problems.append(problem)
    return problems
