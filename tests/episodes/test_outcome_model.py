"""The outcome model on synthetic data of known probabilities, and rows read from a store."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from octoroute.episodes import outcome_model as om
from octoroute.episodes.outcome_model import (
    OutcomeModel,
    evaluate_outcome_model,
    expected_calibration_error,
    group_folds,
    repair_dataset,
)
from octoroute.features import LexicalFeaturizer
from octoroute.features.trajectory import Trajectory, TrajectoryFeaturizer, TrajectoryStep
from octoroute.store import Store, open_store
from octoroute.types import ArmErrorKind, Attempt, Outcome, Problem, TestVerdict, Tier

ARMS = ("a", "b", "c", "d")
# Arm-specific intercepts and slopes on two features: the arms rank differently per row.
BIAS = {"a": -0.5, "b": 0.0, "c": 0.3, "d": -1.0}
SLOPE = {"a": (2.0, 0.0), "b": (0.5, 1.5), "c": (-1.0, 1.0), "d": (1.5, -1.5)}


def _synthetic(
    problems: int = 60, rows: int = 5, seed: int = 0
) -> tuple[np.ndarray[Any, Any], ...]:
    """``problems`` x 4 arms x ``rows`` attempts; the true pass probability is returned too."""
    rng = np.random.default_rng(seed)
    n = problems * len(ARMS) * rows
    groups = np.repeat(np.arange(problems), len(ARMS) * rows)
    problem_x = rng.normal(size=(problems, 2))
    x = problem_x[groups] + 0.5 * rng.normal(size=(n, 2))
    arms = np.tile(np.repeat(np.array(ARMS), rows), problems)
    logit = np.array([BIAS[a] + np.dot(SLOPE[a], xi) for a, xi in zip(arms, x, strict=True)])
    p = 1.0 / (1.0 + np.exp(-logit))
    y = (rng.random(n) < p).astype(int)
    return x, arms, y, groups, p


def test_held_out_auc_beats_the_base_rate_and_is_calibrated() -> None:
    x, arms, y, groups, p = _synthetic()
    # A few strong features: a light penalty (the default suits ~190 weak lexical ones).
    report = evaluate_outcome_model(x, arms, y, groups, folds=5, seed=0, C=1.0)
    assert report.auc is not None and report.baseline_auc is not None
    assert report.auc > 0.75
    assert report.auc > report.baseline_auc + 0.1
    assert report.brier < report.baseline_brier
    assert report.log_loss < report.baseline_log_loss
    assert report.ece < 0.08
    # Out-of-fold probabilities near the true ones, not only ranked well.
    assert float(np.mean(np.abs(np.asarray(report.oof) - p))) < 0.08
    assert sum(b.count for b in report.reliability) == report.n == len(y)
    assert len(report.reliability) == 10 and report.problems == 60
    data = report.to_json()
    assert json.loads(json.dumps(data)) == data
    assert set(data["baseline"]) == {"auc", "brier", "log_loss", "ece"}


@pytest.mark.parametrize("calibration", ["sigmoid", "isotonic"])
def test_predict_proba_scores_every_arm_and_the_state_round_trips(calibration: str) -> None:
    x, arms, y, groups, _ = _synthetic(problems=40, rows=3)
    model = OutcomeModel(calibration=calibration, seed=1)  # type: ignore[arg-type]
    model.fit(x, arms, y, groups)
    probs = model.predict_proba(x[:7])
    assert probs.shape == (7, 4) and model.arms_ == ARMS
    assert np.all((probs >= 0) & (probs <= 1))
    # A row's column for its own arm is predict_attempt's value.
    own = model.predict_attempt(x[:7], arms[:7])
    cols = [ARMS.index(a) for a in arms[:7]]
    np.testing.assert_allclose(probs[np.arange(7), cols], own)
    # The extracted state reproduces scikit-learn's own calibrated ensemble.
    sk = model._sklearn.predict_proba(model._design(x, arms.astype(np.str_)))[:, 1]
    np.testing.assert_allclose(model.predict_attempt(x, arms), sk, atol=1e-9)
    state = json.loads(json.dumps(model.state_dict()))
    restored = OutcomeModel().load_state(state)
    np.testing.assert_allclose(restored.predict_proba(x), model.predict_proba(x))
    np.testing.assert_allclose(model.predict_proba(x[:3], ["d", "a"]), probs[:3, [3, 0]])


def test_no_problem_is_both_fitted_and_evaluated(monkeypatch: pytest.MonkeyPatch) -> None:
    x, arms, y, groups, _ = _synthetic(problems=30, rows=2)
    splits_seen: list[tuple[np.ndarray[Any, Any], list[Any]]] = []
    fitted_groups: list[set[int]] = []
    real_folds, real_fit = om.group_folds, OutcomeModel.fit

    def folds_spy(g: Any, folds: int, seed: int = 0) -> list[Any]:
        out = real_folds(g, folds, seed)
        splits_seen.append((np.asarray(g), out))
        return out

    def fit_spy(self: OutcomeModel, *args: Any) -> OutcomeModel:
        fitted_groups.append(set(np.asarray(args[3]).tolist()))
        return real_fit(self, *args)

    monkeypatch.setattr(om, "group_folds", folds_spy)
    monkeypatch.setattr(OutcomeModel, "fit", fit_spy)
    evaluate_outcome_model(x, arms, y, groups, folds=3)
    # The outer split first, then each fit's calibration split: none shares a problem.
    assert len(splits_seen) == 1 + 3
    for g, splits in splits_seen:
        for train, test in splits:
            assert not set(g[train].tolist()) & set(g[test].tolist())
            assert len(train) + len(test) == len(g)
    (_, outer), *_ = splits_seen
    for (_, test), seen in zip(outer, fitted_groups, strict=True):
        assert not seen & set(groups[test].tolist())


def test_seeded_and_deterministic() -> None:
    x, arms, y, groups, _ = _synthetic(problems=30, rows=2)
    a = evaluate_outcome_model(x, arms, y, groups, folds=3, seed=4)
    b = evaluate_outcome_model(x, arms, y, groups, folds=3, seed=4)
    c = evaluate_outcome_model(x, arms, y, groups, folds=3, seed=5)
    assert a == b
    assert a.oof != c.oof
    assert [t.tolist() for _, t in group_folds(groups, 3, 4)] == [
        t.tolist() for _, t in group_folds(groups, 3, 4)
    ]


def test_clear_errors_on_bad_input() -> None:
    x, arms, y, groups, _ = _synthetic(problems=10, rows=1)
    with pytest.raises(ValueError, match="2-D"):
        OutcomeModel().fit(x[:, 0], arms, y, groups)
    with pytest.raises(ValueError, match="arms"):
        OutcomeModel().fit(x, arms[:-1], y, groups)
    with pytest.raises(ValueError, match="0 or 1"):
        OutcomeModel().fit(x, arms, y * 2, groups)
    with pytest.raises(ValueError, match="y: expected"):
        OutcomeModel().fit(x, arms, y[:-1], groups)
    with pytest.raises(ValueError, match="groups"):
        OutcomeModel().fit(x, arms, y, groups[:-1])
    with pytest.raises(ValueError, match="both outcomes"):
        OutcomeModel().fit(x, arms, np.zeros_like(y), groups)
    with pytest.raises(ValueError, match="calibration"):
        OutcomeModel(calibration="beta").fit(x, arms, y, groups)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not fitted"):
        OutcomeModel().predict_proba(x)
    with pytest.raises(ValueError, match="folds"):
        evaluate_outcome_model(x, arms, y, groups, folds=1)
    with pytest.raises(ValueError, match="problems"):
        evaluate_outcome_model(x, arms, y, groups, folds=11)
    x2, arms2, y2, groups2, _ = _synthetic(problems=30, rows=2)
    model = OutcomeModel().fit(x2, arms2, y2, groups2)
    with pytest.raises(ValueError, match="not seen"):
        model.predict_attempt(x2[:2], ["a", "zzz"])
    with pytest.raises(ValueError, match="features"):
        model.predict_proba(x2[:, :1])


def test_expected_calibration_error_bins_equal_mass() -> None:
    ece, table = expected_calibration_error(np.linspace(0, 1, 100), np.ones(100), bins=10)
    assert [b.count for b in table] == [10] * 10
    assert ece == pytest.approx(0.5)
    assert expected_calibration_error([0.5, 0.5], [0, 1], bins=1)[0] == 0.0


# -- repair_dataset -----------------------------------------------------------------------

V, B = Tier.VISIBLE, Tier.BASE
PASS, WA, RE = Outcome.PASS, Outcome.WRONG_ANSWER, Outcome.RUNTIME_ERROR


def _attempt(
    run: str, pid: str, arm: str, visible: Outcome | None, hidden: Outcome, **kw: Any
) -> Attempt:
    tests = [] if visible is None else [TestVerdict(0, V, visible, "ZeroDivisionError")]
    tests.append(TestVerdict(len(tests), B, hidden, "KeyError"))
    passed = hidden is PASS
    return Attempt(run, "toy", pid, arm, tests=tuple(tests), passed=passed,
                   reward=float(passed), cost=2e9, **kw)  # fmt: skip


def _store() -> Store:
    store = open_store(":memory:")
    for run, kind in (("src", "collect"), ("rep", "repair")):
        store.add_run(run, config={"kind": kind})
    for arm in ("a", "b"):
        store.add_arm(arm, backend="openai", model=arm, cost_unit="flops")
    store.add_problems([Problem(f"P{i}", "toy", "def f(x):", "f", "", ()) for i in (1, 2, 3, 4)])
    for a in (
        _attempt("src", "P1", "a", WA, WA),
        _attempt("src", "P2", "a", RE, RE),
        _attempt("src", "P3", "b", PASS, WA),  # visible passed: no repairable failure
        _attempt("src", "P4", "a", WA, WA),  # its problem is not passed to repair_dataset
    ):
        assert store.record_attempt(a)
    ids = {a.problem_id: a.id or 0 for a in store.attempts("src")}

    def repair(pid: str, arm: str, hidden: Outcome | None) -> Attempt:
        parent = ids[pid]
        if hidden is None:
            return Attempt("rep", "toy", pid, arm, sample_index=parent, attempt_number=2,
                           parent_attempt_id=parent, error=ArmErrorKind.TIMEOUT)  # fmt: skip
        return _attempt("rep", pid, arm, PASS, hidden, sample_index=parent, attempt_number=2,
                        parent_attempt_id=parent)  # fmt: skip

    for r in (
        repair("P1", "a", WA),
        repair("P1", "b", PASS),
        repair("P2", "b", PASS),
        repair("P2", "a", None),  # an arm error: not judged, left out
        repair("P3", "a", PASS),
        repair("P4", "b", PASS),
    ):
        assert store.record_attempt(r)
    return store


def test_repair_dataset_reads_visible_verdicts_of_the_parent() -> None:
    featurizer = TrajectoryFeaturizer(LexicalFeaturizer(n_features=8), ["a", "b"])
    problems = [Problem(f"P{i}", "toy", "def f(x):", "f", "", ()) for i in (1, 2, 3)]
    with _store() as store:
        data = repair_dataset(store, "rep", featurizer, problems)
    assert data.arms.tolist() == ["a", "b", "b"]
    assert data.y.tolist() == [0, 1, 1]
    assert data.groups.tolist() == ["P1", "P1", "P2"]
    assert data.X.shape == (3, featurizer.dim)
    names = featurizer.trajectory_feature_names
    tail = data.X[:, -len(names) :]
    col = {n: i for i, n in enumerate(names)}
    assert tail[:, col["failure_wrong_answer"]].tolist() == [1.0, 1.0, 0.0]
    assert tail[2, col["failure_runtime_error"]] == 1.0
    # The visible test's exception, never the hidden test's KeyError.
    assert tail[2, col["exception_ZeroDivisionError"]] == 1.0
    assert tail[:, col["exception_KeyError"]].tolist() == [0.0, 0.0, 0.0]
    assert tail[:, col["tried_a"]].tolist() == [1.0, 1.0, 1.0]
    # Equal to the trajectory built by hand from the visible verdict only.
    step = TrajectoryStep(
        "a", 2e9, judged=True, tests=(TestVerdict(0, V, WA, "ZeroDivisionError"),)
    )
    expected = featurizer.transform_trajectory(Trajectory(problems[0]).with_step(step))
    np.testing.assert_allclose(data.X[0], expected)
