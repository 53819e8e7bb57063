"""Trusted comparison of a program's output with the reference output, never looser than EvalPlus.

Both sides are plain built-in values decoded from ``marshal`` (None, bool, int, float, complex,
str, bytes, tuple, list, dict, set, frozenset, Ellipsis), so no user-defined ``__eq__`` runs here.
The rules are EvalPlus's (``unsafe_execute`` in ``evalplus/eval/__init__.py``, v0.3.1), made
stricter about types where EvalPlus lets a different type through:

1. **Equality first**: Python's ``==`` on plain data (``2 == 2.0``; NaN never equals NaN), except
   that a bool is never a number, a complex never an int or a float, and a set never a frozenset,
   at any depth (dict keys and set elements included).
2. **A tolerance only where EvalPlus applies one**: when the test has an ``atol``, or when the
   expected value is a float or a non-empty list or tuple of floats (``atol`` then 1e-6). As in
   ``np.allclose(out, exp, rtol=1e-7, atol=atol)``, a float ``out`` passes when
   ``|out - exp| <= atol + 1e-7 * |exp|``, within a rectangular array of numbers of the expected
   shape. Unlike numpy, an int expected value is never compared with a tolerance, types must match
   at every depth (list for list, float for float) and shapes never broadcast.
3. **Special oracles** (:class:`~octoroute.types.Compare`) replace or widen equality where EvalPlus
   does: sets, polynomial roots, and MBPP+ tasks whose reference is not the only right answer.

>>> judge([1.0, 2.0], [1, 2.0000001], atol=0).value
'pass'
>>> judge([1, 2.0], [1, 2.0000001], atol=0).value  # not all floats: EvalPlus compares exactly
'wrong_answer'
>>> judge(420196140727489673, 4.2019614072748966e17, atol=0).value  # fib(86) by Binet's formula
'wrong_answer'
>>> judge([1, 2], (1, 2), atol=0).value
'bad_output_type'
>>> judge(1, True, atol=0).value
'bad_output_type'
"""

from __future__ import annotations

import cmath
import math
import re
from collections.abc import Callable, Collection
from typing import Any

from octoroute.sandbox.codec import MAX_SAME_HASH
from octoroute.types import Compare, Outcome

RTOL = 1e-7
"""The relative tolerance of EvalPlus's ``np.allclose(out, exp, rtol=1e-07, atol=atol)``."""
DEFAULT_ATOL = 1e-6
"""The absolute tolerance EvalPlus enforces for float outputs when the problem gives none."""

# Python's equality lets these types stand for one another; octoroute only int and float.
_REAL = (int, float)
_NUMBERS = (bool, int, float, complex)
_SEQUENCES = (list, tuple)
_PLAIN = (bool, complex, str, bytes, type(None), type(Ellipsis))
_MISSING = object()


def _outcome(ok: bool) -> Outcome:
    return Outcome.PASS if ok else Outcome.WRONG_ANSWER


def _equal(exp: Any, act: Any) -> Outcome:
    """PASS where ``act == exp`` in Python and every value has the expected type (int and float
    interchangeable), else WRONG_ANSWER or BAD_OUTPUT_TYPE.

    >>> _equal({1: (2.0, "a")}, {1: (2, "a")}).value
    'pass'
    >>> _equal({1: 2}, {True: 2}).value
    'bad_output_type'
    """
    kind = type(exp)
    if kind in _REAL and type(act) in _REAL:
        return _outcome(exp == act)
    if type(act) is not kind:
        return Outcome.BAD_OUTPUT_TYPE
    if kind in _SEQUENCES:
        if len(exp) != len(act):
            return Outcome.WRONG_ANSWER
        for e, a in zip(exp, act, strict=True):
            if (outcome := _equal(e, a)) is not Outcome.PASS:
                return outcome
        return Outcome.PASS
    if kind is dict:
        if (outcome := _equal_members(exp, act)) is not Outcome.PASS:
            return outcome
        for key, value in exp.items():
            if (outcome := _equal(value, act[key])) is not Outcome.PASS:
                return outcome
        return Outcome.PASS
    if kind is set or kind is frozenset:
        return _equal_members(exp, act)
    if kind in _PLAIN:
        return _outcome(exp == act)
    return Outcome.BAD_OUTPUT_TYPE


def _equal_members(exp: Collection[Any], act: Collection[Any]) -> Outcome:
    """Set elements or dict keys: Python's matching by hash and ``==``, then the types checked."""
    if len(exp) != len(act):
        return Outcome.WRONG_ANSWER
    # The member of ``act`` that Python's set equality pairs with each member of ``exp``.
    members = {a: a for a in act}
    for e in exp:
        a = members.get(e, _MISSING)
        if a is _MISSING:
            return Outcome.WRONG_ANSWER
        if (outcome := _equal(e, a)) is not Outcome.PASS:
            return outcome
    return Outcome.PASS


def _is_floats(value: Any) -> bool:
    """EvalPlus's ``is_floats``: a float, or a non-empty list or tuple of floats."""
    if type(value) is float:
        return True
    return type(value) in _SEQUENCES and bool(value) and all(type(v) is float for v in value)


def _shape(value: Any) -> tuple[int, ...] | None:
    """The shape numpy gives ``value`` as an array of numbers; None if it cannot be one.

    >>> _shape([(1.0, 2), [3.0, 4.0]])
    (2, 2)
    >>> _shape([1.0, [2.0]]) is None, _shape([1.5, "a"]) is None
    (True, True)
    """
    if type(value) in _NUMBERS:
        return ()
    if type(value) not in _SEQUENCES:
        return None
    shapes = {_shape(v) for v in value}
    if None in shapes or len(shapes) > 1:
        return None
    inner = shapes.pop() if shapes else ()
    return None if inner is None else (len(value), *inner)


def _within(exp: float | complex, act: float | complex, atol: float) -> bool:
    """numpy's ``isclose`` for one finite expected value (an infinite one must be equal)."""
    return cmath.isfinite(exp) and abs(act - exp) <= atol + RTOL * abs(exp)


def _close(exp: Any, act: Any, atol: float) -> bool:
    """EvalPlus's tolerance check (type, length, ``np.allclose``), types checked at every depth.

    >>> _close([1.0, 2], [1.0000001, 2], 1e-6), _close([1.0, 2], [1.0, 2.0000001], 1e-6)
    (True, False)
    """
    # numpy raises on anything but a rectangular array of numbers, and EvalPlus then fails.
    return type(act) is type(exp) and _shape(exp) is not None and _close_at(exp, act, atol)


def _close_at(exp: Any, act: Any, atol: float) -> bool:
    if type(exp) in _SEQUENCES:
        return (
            type(act) is type(exp)
            and len(act) == len(exp)
            and all(_close_at(e, a, atol) for e, a in zip(exp, act, strict=True))
        )
    if _equal(exp, act) is Outcome.PASS:
        return True
    # Only a float for a float (a complex for a complex): never an int, exact or not.
    kind = type(exp)
    return kind in (float, complex) and type(act) is kind and _within(exp, act, atol)


def _pyramid_surface(base_edge: float, height: float) -> int:
    """EvalPlus's oracle for Mbpp/581: ``height`` read as the apex's height, not the slant."""
    slant = math.sqrt((base_edge / 2) ** 2 + height**2)
    return round(base_edge**2 + 4 * (base_edge * slant) / 2)


def _digit_distance(a: int, b: int) -> int:
    """EvalPlus's oracle for Mbpp/558: the shorter number is padded with leading zeros."""
    width = max(len(str(a)), len(str(b)))
    return sum(
        abs(int(x) - int(y)) for x, y in zip(str(a).zfill(width), str(b).zfill(width), strict=True)
    )


def _judge_set(expected: Any, actual: Any, atol: float, args: Any) -> Outcome:
    # EvalPlus calls set() on any output (a string, a dict's keys); octoroute wants a collection.
    if type(actual) not in (list, tuple, set, frozenset):
        return Outcome.BAD_OUTPUT_TYPE
    if _crowded(actual):
        return Outcome.WRONG_ANSWER
    return _equal(set(expected), set(actual))


def _crowded(items: Collection[Any]) -> bool:
    """Whether more than :data:`~octoroute.sandbox.codec.MAX_SAME_HASH` items share a hash:
    building a set of them would take quadratic time (ints that differ by multiples of
    2**61 - 1 all hash alike), and no real answer crowds so."""
    counts: dict[int, int] = {}
    for x in items:
        h = hash(x)
        counts[h] = counts.get(h, 0) + 1
        if counts[h] > MAX_SAME_HASH:
            return True
    return False


def _judge_same_type(expected: Any, actual: Any, atol: float, args: Any) -> Outcome:
    # EvalPlus accepts any value at all; octoroute still wants the reference output's type.
    return Outcome.PASS if type(actual) is type(expected) else Outcome.BAD_OUTPUT_TYPE


def _judge_or_zero(expected: Any, actual: Any, atol: float, args: Any) -> Outcome:
    outcome = _equal(expected, actual)
    if outcome is not Outcome.PASS and type(actual) in _REAL and actual == 0:
        return Outcome.PASS
    return outcome


def _judge_digit_distance(expected: Any, actual: Any, atol: float, args: Any) -> Outcome:
    outcome = _equal(expected, actual)
    if outcome is not Outcome.PASS and _equal(_digit_distance(*args), actual) is Outcome.PASS:
        return Outcome.PASS
    return outcome


def _judge_pyramid_surface(expected: Any, actual: Any, atol: float, args: Any) -> Outcome:
    outcome = _equal(expected, actual)
    # EvalPlus's own rule for this oracle: within the problem's atol (0 in MBPP+ v0.2.0).
    if (
        outcome is not Outcome.PASS
        and type(actual) in _REAL
        and abs(actual - _pyramid_surface(*args)) <= atol
    ):
        return Outcome.PASS
    return outcome


def _judge_exact(expected: Any, actual: Any, atol: float, args: Any) -> Outcome:
    return _equal(expected, actual)


_Rule = Callable[[Any, Any, float, Any], Outcome]
_RULES: dict[Compare, _Rule] = {
    Compare.EXACT: _judge_exact,
    Compare.SET: _judge_set,
    Compare.SAME_TYPE: _judge_same_type,
    Compare.EQUAL_OR_ZERO: _judge_or_zero,
    Compare.DIGIT_DISTANCE: _judge_digit_distance,
    Compare.PYRAMID_SURFACE: _judge_pyramid_surface,
}


def _judge_root(args: Any, actual: Any, atol: float) -> Outcome:
    if type(actual) not in _REAL:
        return Outcome.BAD_OUTPUT_TYPE
    # EvalPlus's ``_poly``: a plain left-to-right sum of ``c * math.pow(x, i)``.
    value = sum(c * math.pow(actual, i) for i, c in enumerate(args[0]))
    return _outcome(abs(value) <= atol)


def judge(
    expected: Any, actual: Any, atol: float, mode: Compare = Compare.EXACT, args: Any = ()
) -> Outcome:
    """PASS, WRONG_ANSWER or BAD_OUTPUT_TYPE for ``actual`` against ``expected``.

    ``atol`` is the problem's absolute tolerance (0 for none), ``mode`` the comparison or special
    oracle, ``args`` the test's input (trusted data, for the oracles that recompute an answer).

    >>> judge(1.0, 1.00000009, atol=0).value, judge(10**6, 1000000.09, atol=0).value
    ('pass', 'wrong_answer')
    >>> judge(5, 5.00001, atol=1e-4).value  # an int is exact even where the problem has an atol
    'wrong_answer'
    >>> judge(float("nan"), float("nan"), atol=0).value
    'wrong_answer'
    >>> judge(1, True, atol=0).value, judge(1, True, atol=0, mode=Compare.PYTHON_EQ).value
    ('bad_output_type', 'pass')
    """
    try:
        if mode is Compare.PYTHON_EQ:
            # The assert it stands for compared the candidate's output first, as here.
            return _outcome(bool(actual == expected))
        if mode is Compare.POLY_ROOT:
            return _judge_root(args, actual, atol)
        outcome = _RULES[mode](expected, actual, atol, args)
        if outcome is Outcome.PASS:
            return outcome
        tolerance = atol or (DEFAULT_ATOL if _is_floats(expected) else 0.0)
        if tolerance and _close(expected, actual, tolerance):
            return Outcome.PASS
        return outcome
    except (RecursionError, TypeError, ValueError, OverflowError):
        return Outcome.WRONG_ANSWER


# Numbers as a program prints them: ASCII digits only (``int()`` and ``float()`` also take
# "٧", "1_0", " 7", "inf"), and no int beyond Python's 4,300-digit conversion limit is parsed.
_INT_TOKEN = re.compile(r"-?[0-9]+", re.ASCII)
_DECIMAL_TOKEN = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]{1,3})?", re.ASCII)


def _tokens_match(exp: str, act: str) -> bool:
    if exp == act:
        return True
    # An integer is compared as written: "7" wants "7" (not "07", "7.0" or "1e3").
    if _INT_TOKEN.fullmatch(exp):
        return False
    # A tolerance only where the expected token is a decimal float, and never for inf or nan.
    if not (_DECIMAL_TOKEN.fullmatch(exp) and _DECIMAL_TOKEN.fullmatch(act)):
        return False
    e, a = float(exp), float(act)
    return math.isfinite(e) and math.isfinite(a) and _within(e, a, DEFAULT_ATOL)


def judge_stdout(expected: str, actual: str) -> Outcome:
    """Judge a stdin/stdout program: lines compared with trailing spaces and blank lines ignored,
    tokens compared as written, but within 1e-6 where the expected token is a decimal float and
    the program's a decimal number.

    >>> judge_stdout("0.5\\n", "0.5000001").value, judge_stdout("7\\n", "7.0000001").value
    ('pass', 'wrong_answer')
    """

    def lines(text: str) -> list[str]:
        out = [ln.rstrip() for ln in text.replace("\r\n", "\n").split("\n")]
        while out and not out[-1]:
            out.pop()
        return out

    exp, act = lines(expected), lines(actual)
    if exp == act:
        return Outcome.PASS
    if len(exp) != len(act):
        return Outcome.WRONG_ANSWER
    for e_line, a_line in zip(exp, act, strict=True):
        e_tok, a_tok = e_line.split(), a_line.split()
        if len(e_tok) != len(a_tok):
            return Outcome.WRONG_ANSWER
        if not all(_tokens_match(e, a) for e, a in zip(e_tok, a_tok, strict=True)):
            return Outcome.WRONG_ANSWER
    return Outcome.PASS
