"""Sanitized MBPP (``sanitized-mbpp.json``): 427 problems tested by assert statements.

The prompt is built as MBPP+ builds its own: a docstring holding the task text and the first
assert as an example. That assert is also the one VISIBLE test; every assert (the first one
included) is a BASE test. The asserts call the function by name, so the executor binds the
entry point to the candidate.
"""

from __future__ import annotations

import ast
import builtins
from pathlib import Path

from octoroute.fileio.records import Record, read_json_array
from octoroute.fileio.text import PYTHON_PARSE_ERRORS, python_error
from octoroute.tasks.evalplus import MBPP_NOT_NONE_TASKS
from octoroute.tasks.files import resolve_data_file
from octoroute.types import Problem, TestCase, TestKind, Tier, Transform

BENCHMARK = "mbpp"
FILENAME = "sanitized-mbpp.json"


def called_function(assert_source: str, code: str) -> str | None:
    """The function an assert tests: the first one it calls that ``code`` defines.

    Without such a definition, the first called name that is not a builtin.

    >>> called_function("assert set(f(1)) == {2}", "def f(x): return [x + 1]")
    'f'
    """
    try:
        calls = [
            node.func.id
            for node in ast.walk(ast.parse(assert_source))
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
        ]
    except PYTHON_PARSE_ERRORS:
        return None
    try:
        defined = {
            node.name
            for node in ast.parse(code).body
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        }
    except PYTHON_PARSE_ERRORS:
        defined = set()
    for name in calls:
        if name in defined:
            return name
    return next((name for name in calls if not hasattr(builtins, name)), None)


def _imports_of(code: str) -> list[str]:
    """The top-level import statements of ``code``."""
    try:
        module = ast.parse(code)
    except PYTHON_PARSE_ERRORS:
        return []
    return [ast.unparse(n) for n in module.body if isinstance(n, ast.Import | ast.ImportFrom)]


def problem_from_record(record: Record) -> Problem:
    """Build one MBPP :class:`Problem` from an item of ``sanitized-mbpp.json``."""
    task_id = record.get("task_id", int)
    text = record.get("prompt", str)
    code = record.get("code", str)
    imports = record.get_list("test_imports", str)
    asserts = record.get_list("test_list", str)
    if not asserts:
        raise record.error("expected at least one assert", "test_list")
    for i, source in enumerate(asserts):
        try:
            ast.parse(source)
        except PYTHON_PARSE_ERRORS as exc:
            raise record.error(python_error(exc), f"test_list[{i}]") from exc
    entry_point = called_function(asserts[0], code)
    if entry_point is None:
        raise record.error("the first assert calls no function", "test_list[0]")
    # The same three tasks as MBPP+'s: the reference returns a ``re.Match`` and the asserts
    # only test its truth, so the candidate's answer crosses the sandbox as ``is not None``.
    transform = Transform.NOT_NONE if task_id in MBPP_NOT_NONE_TASKS else Transform.NONE
    tests = [TestCase(TestKind.ASSERT, Tier.VISIBLE, asserts[0], transform=transform)]
    tests += [TestCase(TestKind.ASSERT, Tier.BASE, s, transform=transform) for s in asserts]
    return Problem(
        id=f"mbpp/{task_id}",
        benchmark=BENCHMARK,
        prompt=f'"""\n{text}\n{asserts[0]}\n"""\n',
        entry_point=entry_point,
        reference=code,
        tests=tuple(tests),
        # MBPP ran its asserts after the solution, so a few lean on its imports (mbpp/596 uses
        # ``sys``); the candidate's own namespace is not the harness's, so repeat them.
        harness="\n".join(dict.fromkeys(imports + _imports_of(code))),
    )


def load_mbpp(path: str | Path | None = None) -> list[Problem]:
    """Load sanitized MBPP: ``path`` (the file or its folder) or ``OCTOROUTE_DATA_DIR``."""
    source = resolve_data_file(path, FILENAME)
    return [problem_from_record(record) for record in read_json_array(source)]
