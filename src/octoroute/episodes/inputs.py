"""Inputs for consensus selection, made from the visible examples only.

Execution-based consensus runs an episode's candidate programs on the same inputs and groups
those that answer alike. The inputs are the visible tests' own and new ones made by mutating
them: a seeded, type-preserving change of one argument (an integer moved by a little, a
character dropped or repeated, a list reversed or shortened, ...). No hidden test and no
reference solution is read: the inputs carry no expected output, and a mutated input that
breaks the problem's preconditions only makes the candidates fail alike.

>>> from octoroute.types import TestKind
>>> t = TestCase(TestKind.CALL, Tier.VISIBLE, ([3, 1, 2], "ab"))
>>> p = Problem("P/1", "demo", "def f(xs, s):\\n", "f", "", (t,))
>>> made = selection_inputs(p, 4)
>>> len(made), made[0].input == t.input, all(m.tier is Tier.VISIBLE for m in made)
(5, True, True)
>>> [m.input for m in made] == [m.input for m in selection_inputs(p, 4)]  # seeded
True
"""

from __future__ import annotations

import random
from typing import Any

from octoroute.types import Problem, TestCase, TestKind, Tier

__all__ = ["selection_inputs"]

_TRIES = 8  # draws per wanted input before giving up (small domains repeat themselves)


def selection_inputs(problem: Problem, n: int = 8, seed: int = 0) -> tuple[TestCase, ...]:
    """The visible call tests' inputs, then up to ``n`` distinct mutations of them.

    Only CALL tests are used (the visible examples of HumanEval and MBPP+ are all calls); a
    problem without one gets no input, and consensus falls back on the visible verdicts.
    """
    calls = [t for t in problem.visible_tests if t.kind is TestKind.CALL]
    if not calls:
        return ()
    seen = {repr(t.input) for t in calls}
    # The output transform of the examples (a visible-test property) goes with each input.
    made = [TestCase(TestKind.CALL, Tier.VISIBLE, t.input, transform=t.transform) for t in calls]
    rng = random.Random(f"{seed}\0{problem.benchmark}\0{problem.id}")
    for _ in range(n * _TRIES):
        if len(made) >= len(calls) + n:
            break
        example = rng.choice(calls)
        base = example.input
        args = list(base) if isinstance(base, (list, tuple)) else [base]
        if not args:
            continue
        which = range(len(args)) if rng.random() < 0.25 else [rng.randrange(len(args))]
        for i in which:
            args[i] = _mutate(args[i], rng)
        new = tuple(args) if isinstance(base, (list, tuple)) else args[0]
        if repr(new) not in seen:
            seen.add(repr(new))
            made.append(TestCase(TestKind.CALL, Tier.VISIBLE, new, transform=example.transform))
    return tuple(made)


def _mutate(v: Any, rng: random.Random, depth: int = 0) -> Any:
    """A value of the same type as ``v``, slightly changed."""
    if isinstance(v, bool):
        return not v
    if isinstance(v, int):
        return v + rng.choice((-2, -1, 1, 2, v, -2 * v or 3))
    if isinstance(v, float):
        return v * rng.choice((0.5, 1.5, -1.0)) + rng.choice((0.0, 0.25))
    if isinstance(v, str):
        return _mutate_str(v, rng)
    if isinstance(v, list):
        return _mutate_seq(list(v), rng, depth)
    if isinstance(v, tuple):
        return tuple(_mutate_seq(list(v), rng, depth, keep_length=True))
    if isinstance(v, dict) and v:
        out = dict(v)
        key = rng.choice(list(out))
        if rng.random() < 0.3 and len(out) > 1:
            del out[key]
        else:
            out[key] = _mutate(out[key], rng, depth + 1)
        return out
    return v


def _mutate_str(s: str, rng: random.Random) -> str:
    if not s:
        return rng.choice("ab ")
    i = rng.randrange(len(s))
    op = rng.randrange(5)
    if op == 0:
        return s[:i] + s[i + 1 :]
    if op == 1:
        return s[:i] + s[i] + s[i:]
    if op == 2:
        return s[::-1]
    if op == 3:
        return s.swapcase() if s.swapcase() != s else s + s[i]
    return s + rng.choice(s)


def _mutate_seq(
    xs: list[Any], rng: random.Random, depth: int, keep_length: bool = False
) -> list[Any]:
    if not xs:
        return xs
    op = rng.randrange(3 if keep_length or depth > 1 else 6)
    i = rng.randrange(len(xs))
    if op == 0:
        xs[i] = _mutate(xs[i], rng, depth + 1)
    elif op == 1:
        xs.reverse()
    elif op == 2:
        rng.shuffle(xs)
    elif op == 3:
        del xs[i]
    elif op == 4:
        xs.insert(i, xs[i])
    else:
        xs.append(_mutate(xs[i], rng, depth + 1))
    return xs
