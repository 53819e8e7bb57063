"""Trajectory features: shape, names, determinism, and that nothing hidden can get in."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from octoroute.exceptions import ConfigError
from octoroute.features import (
    EXCEPTION_TYPES,
    FAILURE_KINDS,
    Featurizer,
    LexicalFeaturizer,
    Trajectory,
    TrajectoryFeaturizer,
    TrajectoryStep,
    featurizer_key,
)
from octoroute.types import Feedback, Outcome, TestCase, TestKind, TestVerdict, Tier, Verdict
from tests.features.conftest import make_problem

ARMS = ("small", "big")
HIDDEN = (TestCase(TestKind.CALL, Tier.BASE, (40, 2), expected=42, has_expected=True),)
PROBLEM = make_problem(hidden=HIDDEN)
VIEW = PROBLEM.visible_only()


def _featurizer(cost_scale: float = 1e9) -> TrajectoryFeaturizer:
    return TrajectoryFeaturizer(LexicalFeaturizer(n_features=32), ARMS, cost_scale)


def _raised(arm: str = "small", cost: float = 2e9) -> TrajectoryStep:
    verdict = Verdict(
        VIEW.id,
        (TestVerdict(0, Tier.VISIBLE, Outcome.RUNTIME_ERROR, "ValueError"),),
        isolation=(),
        feedback=Feedback(0, Outcome.RUNTIME_ERROR, "(1, 2)", "3", "ValueError: x", "ValueError"),
    )
    return TrajectoryStep.from_verdict(arm, cost, verdict)


def _tail(f: TrajectoryFeaturizer, t: Trajectory) -> dict[str, float]:
    return dict(zip(f.trajectory_feature_names, f.trajectory_features(t).tolist(), strict=True))


def test_shape_and_names() -> None:
    f = _featurizer()
    assert isinstance(f, Featurizer)
    names = f.trajectory_feature_names
    assert len(names) == len(FAILURE_KINDS) + len(EXCEPTION_TYPES) + 2 + len(ARMS) + 2
    assert f.dim == f.base.dim + len(names) and len(set(names)) == len(names)
    t = Trajectory(VIEW).with_step(_raised())
    x = f.transform_trajectory(t)
    assert x.shape == (f.dim,) and x.dtype == np.float64 and np.all(np.isfinite(x))
    assert np.array_equal(x[: f.base.dim], f.base.transform_one(VIEW))
    assert f.transform([PROBLEM, make_problem(pid="demo/1")]).shape == (2, f.dim)


def test_fresh_attempt() -> None:
    f = _featurizer()
    tail = _tail(f, Trajectory(VIEW))
    assert tail["failure_none"] == 1.0 and sum(tail[f"failure_{k}"] for k in FAILURE_KINDS) == 1.0
    assert tail["attempt"] == tail["log_compute"] == tail["visible_failed"] == 0.0
    assert not any(tail[f"tried_{a}"] for a in ARMS)
    # The problem alone is a fresh trajectory of its visible-only view.
    assert np.array_equal(f.transform_one(PROBLEM), f.transform_trajectory(Trajectory(VIEW)))


def test_failure_arms_attempts_and_compute() -> None:
    f = _featurizer()
    one = Trajectory(VIEW).with_step(_raised())
    tail = _tail(f, one)
    assert tail["failure_runtime_error"] == 1.0 and tail["failure_none"] == 0.0
    assert (
        tail["exception_ValueError"] == 1.0
        and sum(tail[f"exception_{e}"] for e in EXCEPTION_TYPES) == 1.0
    )
    assert tail["visible_failed"] == 0.25 and tail["visible_failed_share"] == 1.0
    assert (tail["tried_small"], tail["tried_big"]) == (1.0, 0.0)
    assert tail["attempt"] == pytest.approx(1 / 3)
    assert tail["log_compute"] == pytest.approx(np.log10(3.0) / 4)
    # An arm failure next: the failure is still the last judged program's; both arms tried.
    two = one.with_step(TrajectoryStep.from_verdict("big", 0.0, None))
    tail2 = _tail(f, two)
    assert tail2["failure_runtime_error"] == 1.0 and tail2["tried_big"] == 1.0
    assert tail2["attempt"] > tail["attempt"] and tail2["log_compute"] == tail["log_compute"]


def test_other_exceptions_and_outcomes() -> None:
    f = _featurizer()
    tests = (TestVerdict(0, Tier.VISIBLE, Outcome.RUNTIME_ERROR, "mylib.CustomError"),)
    step = TrajectoryStep("small", judged=True, tests=tests)
    assert _tail(f, Trajectory(VIEW).with_step(step))["exception_other"] == 1.0
    tests = (TestVerdict(0, Tier.VISIBLE, Outcome.TIMEOUT, "cpu 2.00s"),)
    tail = _tail(f, Trajectory(VIEW).with_step(TrajectoryStep("big", judged=True, tests=tests)))
    assert tail["failure_timeout"] == 1.0 and not any(
        tail[f"exception_{e}"] for e in EXCEPTION_TYPES
    )


def test_deterministic_and_rebuildable() -> None:
    t = Trajectory(VIEW).with_step(_raised())
    a, b = _featurizer(), _featurizer()
    assert np.array_equal(a.transform_trajectory(t), b.transform_trajectory(t))
    params = a.get_params()
    assert json.loads(json.dumps(params)) == params
    assert params["base"] == {"name": "lexical", "params": a.base.get_params()}
    assert featurizer_key(a) == featurizer_key(b) != featurizer_key(_featurizer(cost_scale=1.0))


def test_hidden_tests_change_nothing() -> None:
    f = _featurizer()
    other = make_problem(hidden=(dataclasses.replace(HIDDEN[0], expected=-1),))
    assert np.array_equal(f.transform_one(PROBLEM), f.transform_one(other))
    assert np.array_equal(f.transform_one(PROBLEM), f.transform_one(make_problem()))


def test_nothing_hidden_gets_in() -> None:
    with pytest.raises(ValueError, match="visible_only"):
        Trajectory(PROBLEM)  # hidden tests and a reference
    with pytest.raises(ValueError, match="hidden"):
        TrajectoryStep("small", judged=True, tests=(TestVerdict(1, Tier.BASE, Outcome.PASS),))
    full = Verdict(
        PROBLEM.id,
        (TestVerdict(0, Tier.VISIBLE, Outcome.PASS), TestVerdict(1, Tier.BASE, Outcome.PASS)),
        isolation=(),
    )
    with pytest.raises(ValueError, match="hidden"):
        TrajectoryStep.from_verdict("small", 0.0, full)
    fb = Feedback(1, Outcome.WRONG_ANSWER, "(40, 2)", "42", "0")
    passing = (TestVerdict(0, Tier.VISIBLE, Outcome.PASS),)
    with pytest.raises(ValueError, match="not a failing visible test"):
        TrajectoryStep("small", judged=True, tests=passing, feedback=fb)
    with pytest.raises(ValueError, match="not judged"):
        TrajectoryStep("small", tests=passing)
    with pytest.raises(ValueError, match="cost"):
        TrajectoryStep("small", cost=float("nan"))


def test_configuration_errors() -> None:
    t = Trajectory(VIEW).with_step(TrajectoryStep("medium"))
    with pytest.raises(ConfigError, match="medium"):
        _featurizer().transform_trajectory(t)
    for arms in ("small", (), ("a", "a")):
        with pytest.raises(ConfigError, match="arms"):
            _ = TrajectoryFeaturizer(LexicalFeaturizer(), arms).dim
    with pytest.raises(ConfigError, match="cost_scale"):
        _featurizer(cost_scale=0).transform_one(VIEW)
