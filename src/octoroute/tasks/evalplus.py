"""EvalPlus's HumanEval+ and MBPP+: differential tests given as argument lists.

Each problem gets the prompt's examples as VISIBLE call tests, ``base_input`` as BASE and
``plus_input`` as PLUS call tests; expected outputs come later from running the reference.

EvalPlus's own loader and evaluator (``evalplus/data/mbpp.py``, ``evalplus/eval/__init__.py``,
``evalplus/eval/_special_oracle.py`` in the evalplus/evalplus repository) add special cases that
the release files do not carry, reproduced here:

* MBPP+ inputs went through JSON, which turned tuples (and a few sets and complex numbers) into
  lists and strings; :func:`mbpp_deserialize` restores them task by task.
* Some MBPP+ outputs are compared as sets (:data:`MBPP_SET_TASKS`), some only for ``is not None``
  (:data:`MBPP_NOT_NONE_TASKS`, whose references return a ``re.Match``), and four accept answers
  other than the reference's (:data:`MBPP_ORACLE_TASKS`).
* HumanEval+'s ``find_zero`` (HumanEval/32) is judged as a root of the polynomial.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from octoroute.fileio.records import Record, read_jsonl
from octoroute.tasks.examples import parse_examples
from octoroute.tasks.files import resolve_data_file
from octoroute.tasks.humaneval import call_compare
from octoroute.types import Compare, Problem, TestCase, TestKind, Tier, Transform

HUMANEVAL_PLUS_FILE = "HumanEvalPlus.jsonl.gz"
MBPP_PLUS_FILE = "MbppPlus.jsonl.gz"

# EvalPlus keys both lists by entry point; the task numbers are those entry points' tasks.
MBPP_SET_TASKS: frozenset[int] = frozenset(
    {
        2,  # similar_elements
        7,  # find_char_long
        111,  # common_in_nested_lists
        140,  # extract_singly
        232,  # larg_nnum
        249,  # intersection_array
        579,  # find_dissimilar
        769,  # Diff
    }
)
"""MBPP+ tasks whose output is compared as a set."""

MBPP_NOT_NONE_TASKS: frozenset[int] = frozenset(
    {
        737,  # check_str
        787,  # text_match_three
        794,  # text_starta_endb
    }
)
"""MBPP+ tasks whose output is judged only by ``is not None``."""

MBPP_ORACLE_TASKS: dict[int, Compare] = {
    164: Compare.SAME_TYPE,  # are_equivalent: EvalPlus accepts any answer
    295: Compare.EQUAL_OR_ZERO,  # sum_div: EvalPlus also accepts 0
    558: Compare.DIGIT_DISTANCE,  # digit_distance_nums: or numbers padded with zeros
    581: Compare.PYRAMID_SURFACE,  # surface_Area: or the height read as the apex's height
}
"""MBPP+ tasks with one of EvalPlus's special oracles (``_special_oracle.py``), by task number."""

Args = list[Any]


def _tuples(value: Any) -> Any:
    """Every list in ``value``, at any depth, as a tuple."""
    if isinstance(value, list):
        return tuple(_tuples(v) for v in value)
    return value


def _nth_as_tuple(*positions: int) -> Callable[[Args], Args]:
    return lambda args: [tuple(a) if i in positions else a for i, a in enumerate(args)]


def _items_as_tuples(*positions: int) -> Callable[[Args], Args]:
    """The arguments at ``positions`` are lists of sequences that should be tuples."""
    return lambda args: [[tuple(x) for x in a] if i in positions else a for i, a in enumerate(args)]


def _all_as_tuples(args: Args) -> Args:
    return [tuple(a) for a in args]


def _nested_as_tuples(args: Args) -> Args:
    """Each argument is a list of sequences: the argument and its items become tuples."""
    return [tuple(tuple(x) for x in a) for a in args]


def _each_items_as_tuples(args: Args) -> Args:
    return [[tuple(x) for x in a] for a in args]


def _task_278(args: Args) -> Args:
    # A tuple whose elements may themselves be tuples.
    return [tuple(tuple(x) if isinstance(x, list) else x for x in args[0])]


def _task_722(args: Args) -> Args:
    # A dict of name -> (height, weight).
    return [{k: tuple(v) for k, v in args[0].items()}, *args[1:]]


def _task_115(args: Args) -> Args:
    # A list of sets; JSON kept an empty one as a list, and EvalPlus restores it as ``{}``.
    return [[set(x) if isinstance(x, list) and x else {} for x in args[0]]]


def _task_124(args: Args) -> Args:
    return [float(args[0]), complex(args[1])]


def _task_252(args: Args) -> Args:
    return [complex(args[0])]


# How each MBPP+ task's JSON arguments become the Python values the task takes, by task number.
_MBPP_CONVERSION_GROUPS: tuple[tuple[tuple[int, ...], Callable[[Args], Args]], ...] = (
    (
        (2, 116, 132, 143, 222, 261, 273, 394, 399, 421, 424, 429, 470, 560, 579, 596, 616),
        _all_as_tuples,
    ),
    ((630, 726, 740, 744, 809), _all_as_tuples),
    (
        (63, 64, 70, 94, 120, 237, 272, 299, 400, 409, 417, 438, 473, 614, 780),
        _each_items_as_tuples,
    ),
    ((75, 413, 444, 753), _items_as_tuples(0)),
    ((106, 750), _nth_as_tuple(1)),
    ((250, 307, 405, 446, 617, 720, 763, 808), _nth_as_tuple(0)),
    ((259, 401, 445), _nested_as_tuples),
    ((580, 615, 791), lambda args: list(_tuples(args))),
    ((115,), _task_115),
    ((124,), _task_124),
    ((252,), _task_252),
    ((278,), _task_278),
    ((722,), _task_722),
)
_MBPP_CONVERSIONS = {n: convert for numbers, convert in _MBPP_CONVERSION_GROUPS for n in numbers}


def mbpp_task_number(task_id: str) -> int:
    """The number of an MBPP task id such as ``"Mbpp/2"`` (-1 if it has none)."""
    tail = task_id.rsplit("/", 1)[-1]
    return int(tail) if tail.isdigit() else -1


def mbpp_deserialize(task_id: str, args: list[Any]) -> tuple[Any, ...]:
    """Turn one MBPP+ input, as JSON decoded it, into the argument tuple the task takes.

    >>> mbpp_deserialize("Mbpp/2", [[3, 4], [5, 4]])
    ((3, 4), (5, 4))
    >>> mbpp_deserialize("Mbpp/3", [[3, 4]])
    ([3, 4],)
    """
    convert = _MBPP_CONVERSIONS.get(mbpp_task_number(task_id))
    return tuple(convert(args) if convert is not None else args)


def _inputs(record: Record, name: str) -> list[list[Any]]:
    value = record.get(name, object)
    # One MBPP+ row (Mbpp/793) stores its empty plus_input as {} rather than [].
    if value == {}:
        return []
    return [
        record.check(v, list, f"{name}[{i}]") for i, v in enumerate(record.check(value, list, name))
    ]


def _call_tests(
    tier: Tier,
    inputs: list[tuple[Any, ...]],
    atol: float,
    compare: Compare,
    transform: Transform = Transform.NONE,
) -> list[TestCase]:
    return [
        TestCase(
            kind=TestKind.CALL,
            tier=tier,
            input=args,
            atol=atol,
            compare=compare,
            transform=transform,
        )
        for args in inputs
    ]


def _humaneval_plus_problem(record: Record) -> Problem:
    task_id = record.get("task_id", str)
    prompt = record.get("prompt", str)
    entry_point = record.get("entry_point", str)
    compare, atol = call_compare(task_id, record.get("atol", float))
    tests = _call_tests(Tier.VISIBLE, parse_examples(prompt, entry_point), atol, compare)
    for tier, name in ((Tier.BASE, "base_input"), (Tier.PLUS, "plus_input")):
        inputs = [tuple(args) for args in _inputs(record, name)]
        tests += _call_tests(tier, inputs, atol, compare)
    return Problem(
        id=task_id,
        benchmark="humaneval+",
        prompt=prompt,
        entry_point=entry_point,
        reference=prompt + record.get("canonical_solution", str),
        tests=tuple(tests),
    )


def _mbpp_plus_problem(record: Record) -> Problem:
    task_id = record.get("task_id", str)
    prompt = record.get("prompt", str)
    entry_point = record.get("entry_point", str)
    atol = record.get("atol", float)
    number = mbpp_task_number(task_id)
    compare = (
        Compare.SET if number in MBPP_SET_TASKS else MBPP_ORACLE_TASKS.get(number, Compare.EXACT)
    )
    transform = Transform.NOT_NONE if number in MBPP_NOT_NONE_TASKS else Transform.NONE
    tests = _call_tests(Tier.VISIBLE, parse_examples(prompt, entry_point), atol, compare, transform)
    for tier, name in ((Tier.BASE, "base_input"), (Tier.PLUS, "plus_input")):
        try:
            inputs = [mbpp_deserialize(task_id, args) for args in _inputs(record, name)]
        except (TypeError, ValueError, AttributeError, IndexError) as exc:
            raise record.error(
                f"input does not fit the task's argument types: {exc}", name
            ) from exc
        tests += _call_tests(tier, inputs, atol, compare, transform)
    return Problem(
        id=task_id,
        benchmark="mbpp+",
        prompt=prompt,
        entry_point=entry_point,
        # The MBPP+ prompt is only a docstring; the solution is a whole program.
        reference=record.get("canonical_solution", str),
        tests=tuple(tests),
    )


def load_humaneval_plus(path: str | Path | None = None) -> list[Problem]:
    """Load HumanEval+ (``HumanEvalPlus.jsonl.gz``): ``path`` (file or folder) or the data dir."""
    source = resolve_data_file(path, HUMANEVAL_PLUS_FILE)
    return [_humaneval_plus_problem(record) for record in read_jsonl(source)]


def load_mbpp_plus(path: str | Path | None = None) -> list[Problem]:
    """Load MBPP+ (``MbppPlus.jsonl.gz``): ``path`` (file or folder) or the data dir."""
    source = resolve_data_file(path, MBPP_PLUS_FILE)
    return [_mbpp_plus_problem(record) for record in read_jsonl(source)]
