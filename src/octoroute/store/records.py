"""Rows of the outcome log other than attempts (those are :class:`~octoroute.types.Attempt`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ArmRecord", "DecisionRecord", "Feedback", "RunRecord"]


@dataclass(frozen=True, slots=True)
class RunRecord:
    """A run: a named set of attempts made with one configuration.

    ``config`` holds the settings that determine the outcomes (pool, benchmark, sampling);
    resuming a run with another config is refused. ``created`` is a Unix time.
    """

    id: str
    created: float
    command: str = ""
    config: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ArmRecord:
    """An arm as logged: which backend serves which model, and the unit its cost is in.

    ``cost_unit`` is ``"flops"``, ``"usd"`` or ``"none"`` (published outcomes).
    """

    name: str
    backend: str
    model: str
    cost_unit: str
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    """One routing decision: what a policy saw, how it scored every arm, and what it chose.

    ``step`` numbers the decisions of one episode (0 for the first arm chosen, then one per
    repair). ``scores`` and ``propensities`` map every available arm to its score and to the
    probability the policy had of choosing it. ``attempt_id`` is the attempt the choice led to.

    >>> d = DecisionRecord("run", "humaneval", "HumanEval/0", policy="greedy", chosen_arm="a",
    ...                    propensities={"a": 0.9, "b": 0.1})
    >>> d.propensity
    0.9
    """

    run_id: str
    benchmark: str
    problem_id: str
    policy: str
    chosen_arm: str
    step: int = 0
    features_hash: str = ""
    scores: Mapping[str, float] = field(default_factory=dict)
    propensities: Mapping[str, float] = field(default_factory=dict)
    attempt_id: int | None = None
    created: float = 0.0
    id: int | None = None

    @property
    def propensity(self) -> float | None:
        """The probability the policy had of choosing the arm it chose, if recorded."""
        return self.propensities.get(self.chosen_arm)


@dataclass(frozen=True, slots=True)
class Feedback:
    """A reward reported after the fact for a decision (``decision_id``: its row), stored
    once per ``idempotency_key``; ``new`` is False when the key had been seen before."""

    id: int
    decision_id: int
    reward: float
    idempotency_key: str
    created: float
    new: bool = True
