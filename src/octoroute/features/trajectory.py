"""Trajectory features: the problem and the attempts so far, for the repair decision.

A :class:`Trajectory` is the state of an episode as inference sees it: the problem's
visible-only view (:meth:`~octoroute.types.Problem.visible_only`) and one
:class:`TrajectoryStep` per attempt (the arm, its cost, and its verdicts on the *visible* tests
with the executor's feedback). Both refuse hidden information when built: a problem with hidden
tests, a reference solution or metadata, a test verdict of another tier than ``visible``, or
feedback that points at no failing visible test raise ``ValueError``. So nothing hidden can
reach :class:`TrajectoryFeaturizer`, which reads a trajectory only.

The vector is the base featurizer's vector of the problem followed by
:meth:`TrajectoryFeaturizer.trajectory_features`, in that order:

1. the last failure's kind, one-hot over ``none`` (a fresh attempt: no program judged yet) and
   every :class:`~octoroute.types.Outcome`; the last failure is that of the last *judged*
   attempt, the program a repair starts from (an arm failure judges no program);
2. its exception type, one-hot over :data:`EXCEPTION_TYPES` (zeros unless a runtime error);
3. how many visible tests that program failed, ``log2(1 + n) / 4``, and their share;
4. which arms were already tried (multi-hot over ``arms``, arm failures included);
5. the attempt index (attempts so far), ``log2(1 + k) / 3``;
6. the compute spent, ``log10(1 + spent / cost_scale) / 4``.

Each is about [0, 1] (compute up to ``1e4 x cost_scale``; the default scale is a GFLOP).

>>> from octoroute.features import LexicalFeaturizer
>>> from octoroute.types import Problem
>>> f = TrajectoryFeaturizer(LexicalFeaturizer(n_features=16), ["small", "big"])
>>> p = Problem("P/1", "demo", "def f(x):\\n    pass\\n", "f", "", ())
>>> t = Trajectory(p).with_step(TrajectoryStep("small", cost=1e9))
>>> tail = dict(zip(f.trajectory_feature_names, f.trajectory_features(t).tolist()))
>>> tail["failure_none"], tail["tried_small"], tail["tried_big"], tail["attempt"]
(1.0, 1.0, 0.0, 0.3333333333333333)
>>> f.transform_trajectory(t).shape == (f.dim,)
True
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from octoroute.exceptions import ConfigError
from octoroute.features.base import BaseFeaturizer, Featurizer, FloatArray
from octoroute.types import Feedback, Outcome, Problem, TestVerdict, Tier, Verdict

__all__ = [
    "EXCEPTION_TYPES",
    "FAILURE_KINDS",
    "Trajectory",
    "TrajectoryFeaturizer",
    "TrajectoryStep",
]

FAILURE_KINDS: tuple[str, ...] = ("none", *(o.value for o in Outcome))
"""The last failure's kinds: ``none`` for a fresh attempt, then every outcome."""

EXCEPTION_TYPES: tuple[str, ...] = (
    "AttributeError",
    "IndexError",
    "KeyError",
    "NameError",
    "RecursionError",
    "TypeError",
    "ValueError",
    "ZeroDivisionError",
    "other",
)
"""The exception types told apart (the commonest in generated code); the rest are ``other``."""

_EXCEPTION_NAME = re.compile(r"[A-Za-z_][\w.]*")


@dataclass(frozen=True, slots=True)
class TrajectoryStep:
    """One attempt as inference sees it: the arm, its cost, and what the visible tests said.

    ``judged`` is False when the arm failed (no program); then ``tests`` is empty and
    ``feedback`` None. ``tests`` are verdicts on visible tests only, and ``feedback`` (the
    executor's, on the first failing visible test) must point at a failing one of them.
    Build it from a visible-only verdict with :meth:`from_verdict`.
    """

    arm: str
    cost: float = 0.0
    judged: bool = False
    tests: tuple[TestVerdict, ...] = ()
    feedback: Feedback | None = None

    def __post_init__(self) -> None:
        hidden = [t.index for t in self.tests if t.tier is not Tier.VISIBLE]
        if hidden:
            raise ValueError(
                f"a trajectory holds visible verdicts only; tests {hidden} are hidden "
                "(judge the problem's visible_only() view)"
            )
        if not math.isfinite(self.cost) or self.cost < 0:
            raise ValueError(f"cost must be finite and non-negative, got {self.cost}")
        if not self.judged and (self.tests or self.feedback is not None):
            raise ValueError("an attempt that was not judged has no verdicts")
        if self.feedback is not None:
            failing = {t.index for t in self.tests if not t.passed}
            if self.feedback.test_index not in failing:
                raise ValueError(
                    f"feedback names test {self.feedback.test_index}, "
                    "which is not a failing visible test of this step"
                )

    @classmethod
    def from_verdict(cls, arm: str, cost: float, verdict: Verdict | None) -> TrajectoryStep:
        """The step of an attempt judged on the visible tests (``verdict`` None: arm failure)."""
        if verdict is None:
            return cls(arm, cost)
        return cls(arm, cost, judged=True, tests=verdict.tests, feedback=verdict.feedback)

    @property
    def n_failed(self) -> int:
        """How many visible tests the program failed."""
        return sum(not t.passed for t in self.tests)


@dataclass(frozen=True, slots=True)
class Trajectory:
    """The state of an episode as inference sees it: the visible-only problem, the steps so far.

    ``problem`` must hold nothing hidden: pass :meth:`~octoroute.types.Problem.visible_only`.
    """

    problem: Problem
    steps: tuple[TrajectoryStep, ...] = ()

    def __post_init__(self) -> None:
        p = self.problem
        if p.hidden_tests or p.reference or p.metadata:
            raise ValueError(
                f"problem {p.id} holds hidden tests, a reference or metadata: a trajectory "
                "takes what inference may see, problem.visible_only()"
            )

    def with_step(self, step: TrajectoryStep) -> Trajectory:
        """This trajectory followed by ``step``."""
        return replace(self, steps=(*self.steps, step))

    @property
    def last_judged(self) -> TrajectoryStep | None:
        """The last attempt whose program was judged: the one a repair starts from."""
        return next((s for s in reversed(self.steps) if s.judged), None)

    @property
    def arms_tried(self) -> tuple[str, ...]:
        """The arms chosen so far, each once, in order of first use."""
        return tuple(dict.fromkeys(s.arm for s in self.steps))

    @property
    def cost(self) -> float:
        """The compute spent so far (the arms' cost unit)."""
        return sum(s.cost for s in self.steps)


def _last_failure(step: TrajectoryStep) -> tuple[Outcome, str]:
    """The outcome and detail of the first failing visible test (``pass`` if none failed)."""
    if step.feedback is not None:
        return step.feedback.outcome, step.feedback.detail
    failing = next((t for t in step.tests if not t.passed), None)
    return (Outcome.PASS, "") if failing is None else (failing.outcome, failing.detail)


def _exception_type(detail: str) -> str:
    m = _EXCEPTION_NAME.match(detail.strip())
    name = m.group(0).rsplit(".", 1)[-1] if m else ""
    return name if name in EXCEPTION_TYPES else "other"


class TrajectoryFeaturizer(BaseFeaturizer):
    """The base featurizer's vector of the problem, then the trajectory's features.

    Parameters
    ----------
    base:
        Featurizes the (visible-only) problem.
    arms:
        The arms a trajectory may use, in a fixed order (the multi-hot block); a step with
        another arm raises :class:`~octoroute.exceptions.ConfigError`.
    cost_scale:
        Compute is read in units of ``cost_scale`` (default a GFLOP; about ``1e-4`` for USD).
    """

    name = "trajectory"
    version = 1

    def __init__(self, base: Featurizer, arms: Sequence[str], cost_scale: float = 1e9) -> None:
        self.base = base
        self.arms = arms
        self.cost_scale = cost_scale

    @property
    def trajectory_feature_names(self) -> tuple[str, ...]:
        """Names of the columns after the base block, in order."""
        return (
            *(f"failure_{k}" for k in FAILURE_KINDS),
            *(f"exception_{e}" for e in EXCEPTION_TYPES),
            "visible_failed",
            "visible_failed_share",
            *(f"tried_{a}" for a in self._arm_list()),
            "attempt",
            "log_compute",
        )

    @property
    def dim(self) -> int:
        """The base featurizer's dimension plus the trajectory columns."""
        return int(self.base.dim) + len(self.trajectory_feature_names)

    def get_params(self) -> dict[str, Any]:
        """JSON-safe parameters: the base featurizer as its name and parameters."""
        base = {"name": self.base.name, "params": self.base.get_params()}
        return {"base": base, "arms": list(self.arms), "cost_scale": self.cost_scale}

    def transform_one(self, problem: Problem) -> FloatArray:
        """The vector of a fresh attempt at ``problem`` (its visible-only view is read)."""
        return self.transform_trajectory(Trajectory(problem.visible_only()))

    def transform_trajectory(self, trajectory: Trajectory) -> FloatArray:
        """The vector of ``trajectory``, shape ``(dim,)``, float64."""
        base = np.asarray(self.base.transform_one(trajectory.problem), dtype=np.float64)
        return np.concatenate([base, self.trajectory_features(trajectory)])

    def trajectory_features(self, trajectory: Trajectory) -> FloatArray:
        """The columns after the base block (named by :attr:`trajectory_feature_names`)."""
        arms = self._arm_list()
        scale = self._scale()
        last = trajectory.last_judged
        failure = np.zeros(len(FAILURE_KINDS))
        exception = np.zeros(len(EXCEPTION_TYPES))
        failed = [0.0, 0.0]  # none, or no visible test to fail
        if last is None:
            failure[0] = 1.0
        else:
            outcome, detail = _last_failure(last)
            failure[FAILURE_KINDS.index(outcome.value)] = 1.0
            if outcome is Outcome.RUNTIME_ERROR:
                exception[EXCEPTION_TYPES.index(_exception_type(detail))] = 1.0
        if last is not None and last.tests:
            failed = [math.log2(1 + last.n_failed) / 4.0, last.n_failed / len(last.tests)]
        tried = np.zeros(len(arms))
        for arm in trajectory.arms_tried:
            if arm not in arms:
                raise ConfigError(
                    f"the trajectory tried arm {arm!r}; this featurizer knows {', '.join(arms)}"
                )
            tried[arms.index(arm)] = 1.0
        steps = [
            math.log2(1 + len(trajectory.steps)) / 3.0,
            math.log10(1.0 + trajectory.cost / scale) / 4.0,
        ]
        return np.concatenate([failure, exception, failed, tried, steps])

    def _arm_list(self) -> list[str]:
        if isinstance(self.arms, str):
            raise ConfigError(f"arms: expected a sequence of arm names, found {self.arms!r}")
        arms = list(self.arms)
        if not arms or not all(isinstance(a, str) and a for a in arms):
            raise ConfigError(f"arms: expected non-empty arm names, found {self.arms!r}")
        if len(set(arms)) != len(arms):
            raise ConfigError(f"arms: expected distinct names, found {arms}")
        return arms

    def _scale(self) -> float:
        s = self.cost_scale
        if isinstance(s, bool) or not isinstance(s, int | float) or not s > 0:
            raise ConfigError(f"cost_scale: expected a positive number, found {s!r}")
        return float(s)
