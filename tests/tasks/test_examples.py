"""Example calls found in prompts: the inputs of the visible tests."""

from __future__ import annotations

import pytest

from octoroute.tasks.examples import parse_claims, parse_examples
from octoroute.types import Problem


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (">>> f(1, 2)\n3", [(1, 2)]),
        (">>> f([1,\n...    2])\n[2, 1]", [([1, 2],)]),
        (">>> round(f([1, 2]), 2)\n-0.5", [([1, 2],)]),
        ("assert f((1, 2), 'a') == 3", [((1, 2), "a")]),
        ("assert set(f((3, 4), (4, 5))) == set((4,))", [((3, 4), (4, 5))]),
        ("assert math.isclose(f(0, 1j), 1.57, rel_tol=0.001)", [(0, 1j)]),
        ('f("abc") ➞ True', [("abc",)]),
        ("f([1, 2]) == [2, 1]", [([1, 2],)]),
        ("f(3) => 9", [(3,)]),
        ("f(-3) -> 9", [(-3,)]),
        ("f({'a': 1}) returns 1", [({"a": 1},)]),
        ("f(')(') = False", [(")(",)]),
    ],
)
def test_forms(text: str, expected: list[tuple[object, ...]]) -> None:
    assert parse_examples(text, "f") == expected


def test_only_literal_calls_to_the_entry_point() -> None:
    text = """
    def f(xs, k=1):
        '''
        >>> f(xs)
        >>> g(1)
        >>> obj.f(2)
        >>> f([1], k=2)
        >>> f(*[1])
        >>> ff(3)
        >>> f(float('inf'))
        >>> f([5])
        '''
    """
    assert parse_examples(text, "f") == [([5],)]


def test_deduplicates_keeping_order_and_types() -> None:
    text = "f(2)\nf(1)\nf(2)\nf(True)\nf(1.0)\nf(1)"
    assert parse_examples(text, "f") == [(2,), (1,), (True,), (1.0,)]
    assert [type(a[0]) for a in parse_examples(text, "f")] == [int, int, bool, float]


def test_arity_of_the_prompt_def() -> None:
    text = "def f(a, b=0):\n    '''Call f() like f(1) or f(1, 2), not f(1, 2, 3).'''\n"
    assert parse_examples(text, "f") == [(1,), (1, 2)]


def test_no_examples() -> None:
    assert parse_examples("Return the sum.", "f") == []
    assert parse_examples("f(1)", "not an identifier") == []


def test_humaneval_prompts_with_examples(humaneval: dict[str, Problem]) -> None:
    with_examples = [p for p in humaneval.values() if parse_examples(p.prompt, p.entry_point)]
    assert len(humaneval) == 164
    assert len(with_examples) == 141
    assert parse_examples(humaneval["HumanEval/0"].prompt, "has_close_elements") == [
        ([1.0, 2.0, 3.0], 0.5),
        ([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3),
    ]


def test_every_mbpp_plus_prompt_has_an_example(mbpp_plus: dict[str, Problem]) -> None:
    assert len(mbpp_plus) == 378
    assert all(parse_examples(p.prompt, p.entry_point) for p in mbpp_plus.values())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (">>> f(1, 2)\n3\n", [((1, 2), 3)]),
        ("f([1]) == [1, 2]", [(([1],), [1, 2])]),
        ("f('a') ➞ 'b'.", [(("a",), "b")]),
        ("f(3) returns True", [((3,), True)]),
        ("f(19) -> 19 - 5 - 6 = 8", []),  # arithmetic, not a claimed literal
        (">>> f(2)\n>>> f(3)\n9", [((3,), 9)]),  # a doctest line is no output
        ("f(x) is odd", []),
    ],
)
def test_claims(text: str, expected: list[tuple[object, object]]) -> None:
    assert parse_claims(text, "f") == expected


def test_humaneval_prompts_claim_outputs(humaneval: dict[str, Problem]) -> None:
    claimed = {pid: parse_claims(p.prompt, p.entry_point) for pid, p in humaneval.items()}
    assert sum(bool(c) for c in claimed.values()) >= 120
    assert claimed["HumanEval/0"][0] == (([1.0, 2.0, 3.0], 0.5), False)
