"""How well a candidate program meets the request's own claims: what its examples say it returns.

A program written from an inconsistent request (its examples contradict its text) cannot meet
every claim, and one written from an ambiguous request often misses some; a program written
from a clear request rarely does. The claims are read from the prompt the arms see
(:func:`~octoroute.tasks.examples.parse_claims`), never from a hidden test, and the candidate
runs on them in the sandbox. The share of claims met, and whether the request makes any, are
features of the ask decision (:class:`~octoroute.clarify.decide.AskModel`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from octoroute.sandbox import Executor
from octoroute.tasks.examples import parse_claims
from octoroute.types import Attempt, Problem, TestCase, TestKind, Tier

__all__ = ["claims_problem", "consistency", "consistency_features", "direct_consistency"]

ATOL = 1e-6
"""Absolute tolerance of a claimed float (a docstring rounds what it shows)."""


def claims_problem(view: Problem) -> Problem | None:
    """``view`` with its claims as its only tests (visible calls with the claimed outputs), or
    None when the request claims nothing."""
    claims = parse_claims(view.prompt, view.entry_point)
    tests = tuple(
        TestCase(TestKind.CALL, Tier.VISIBLE, args, expected, has_expected=True, atol=ATOL)
        for args, expected in claims
    )
    return dataclasses.replace(view, tests=tests) if tests else None


def consistency(executor: Executor, view: Problem, code: str) -> float | None:
    """The share of the request's claims ``code`` meets (None: the request claims nothing)."""
    claimed = claims_problem(view.visible_only())
    if claimed is None:
        return None
    verdict = executor.check(claimed, code)
    return sum(t.passed for t in verdict.tests) / len(claimed.tests)


def direct_consistency(
    executor: Executor,
    attempts: Iterable[Attempt],
    problems: Sequence[Problem],
    arm: str,
    direct_run: str,
) -> dict[str, float | None]:
    """Per problem id, the consistency of ``arm``'s greedy first attempt in ``direct_run`` (the
    program it would submit coding at once) with the request's claims."""
    by_id = {p.id: p for p in problems}
    out: dict[str, float | None] = {}
    for a in attempts:
        if (
            a.run_id == direct_run
            and a.arm == arm
            and a.greedy_first
            and a.problem_id in by_id
            and a.problem_id not in out
        ):
            out[a.problem_id] = consistency(executor, by_id[a.problem_id], a.code or "")
    return out


def consistency_features(values: Sequence[float | None]) -> np.ndarray[Any, Any]:
    """Two columns per request: the share of claims met (1/2 when none is made) and whether
    any is made."""
    return np.array([[0.5 if v is None else v, 0.0 if v is None else 1.0] for v in values])


def features_of(
    problems: Sequence[Problem], values: Mapping[str, float | None] | None
) -> np.ndarray[Any, Any] | None:
    """:func:`consistency_features` of ``problems`` from ``values`` by id (None: none given)."""
    if values is None:
        return None
    return consistency_features([values.get(p.id) for p in problems])
