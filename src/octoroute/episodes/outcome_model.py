"""A calibrated outcome model: the probability that each arm's next attempt passes.

Each training row is one attempt: the trajectory's features before it (visible information
only, :class:`~octoroute.features.trajectory.TrajectoryFeaturizer`), the arm that made it and
whether it passed the hidden tests. :class:`OutcomeModel` is a logistic regression on the
standardized features ``x``, the arm's one-hot ``e`` and their interactions ``x * e_k``, with
one L2 penalty on every coefficient: the shared effects carry what all arms have in common,
and each arm's own intercept and slopes are shrunk towards them (per-arm models would each see
a few hundred rows at most). It is wrapped in scikit-learn's ``CalibratedClassifierCV`` whose
folds are grouped by problem, so no problem is in both a member's fit and its calibration.

:func:`evaluate_outcome_model` scores it on held-out problems (grouped folds, out-of-fold
probabilities): AUC, Brier score, log loss, expected calibration error over equal-mass bins and
the reliability table, next to a per-arm base-rate baseline. :func:`repair_dataset` builds the
rows from the parent-linked repairs of a store.

>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(400, 2))
>>> arms = np.array(["a", "b"] * 200)
>>> y = (rng.random(400) < 1 / (1 + np.exp(-2 * X[:, 0]))).astype(int)
>>> groups = np.repeat(np.arange(100), 4)
>>> m = OutcomeModel().fit(X, arms, y, groups)
>>> m.arms_, m.predict_proba(X[:3]).shape
(('a', 'b'), (3, 2))
>>> report = evaluate_outcome_model(X, arms, y, groups, folds=4)
>>> report.auc > report.baseline_auc
True
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import numpy as np

from octoroute.episodes.fixrate import VISIBLE_PASSED, failure_kind
from octoroute.episodes.tree import visible_step
from octoroute.features.trajectory import Trajectory, TrajectoryFeaturizer
from octoroute.store import Store
from octoroute.types import Attempt, Problem

__all__ = [
    "OutcomeData",
    "OutcomeModel",
    "OutcomeModelReport",
    "ReliabilityBin",
    "evaluate_outcome_model",
    "expected_calibration_error",
    "group_folds",
    "repair_dataset",
]

FloatArray = np.ndarray[Any, np.dtype[np.float64]]
Calibration = Literal["sigmoid", "isotonic"]

_EPS = 1e-15  # log loss clips probabilities here (a calibrated 0 or 1 is not infinitely wrong)


class OutcomeData(NamedTuple):
    """Rows of attempts: features ``X`` (n, d), ``arms`` (n,), outcomes ``y`` (n,), ``groups``."""

    X: FloatArray
    arms: np.ndarray[Any, np.dtype[np.str_]]
    y: np.ndarray[Any, np.dtype[np.int64]]
    groups: np.ndarray[Any, np.dtype[Any]]


def _check(features: Any, arms: Any, y: Any = None, groups: Any = None) -> OutcomeData:
    """The inputs as arrays of agreeing lengths; ``ValueError`` naming what is wrong."""
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"x: expected a non-empty 2-D array (rows, features), got {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("x: expected finite values")
    n = x.shape[0]
    a = np.asarray(arms)
    if a.shape != (n,) or not all(isinstance(v, str) and v for v in a.tolist()):
        raise ValueError(f"arms: expected {n} non-empty arm names, got shape {a.shape}")
    a = a.astype(np.str_)
    labels = np.zeros(n, dtype=np.int64)
    if y is not None:
        yy = np.asarray(y)
        if yy.shape != (n,):
            raise ValueError(f"y: expected {n} outcomes, got shape {yy.shape}")
        if yy.dtype.kind not in "biuf" or not np.all(np.isin(yy, (0, 1))):
            raise ValueError("y: expected outcomes 0 or 1 (or booleans)")
        labels = yy.astype(np.int64)
    g = np.zeros(n, dtype=np.int64) if groups is None else np.asarray(groups)
    if g.shape != (n,):
        raise ValueError(f"groups: expected {n} problem ids, got shape {g.shape}")
    return OutcomeData(x, a, labels, g)


def group_folds(
    groups: Any, folds: int, seed: int = 0
) -> list[tuple[np.ndarray[Any, np.dtype[np.intp]], np.ndarray[Any, np.dtype[np.intp]]]]:
    """(train, test) row indices of ``folds`` folds that never split a group.

    The distinct groups are shuffled with a generator seeded by ``seed`` and dealt to the folds
    in turn, so every fold holds about as many groups.

    >>> [test.tolist() for _, test in group_folds(["p", "p", "q", "r"], 3)]
    [[3], [0, 1], [2]]
    """
    g = np.asarray(groups)
    if isinstance(folds, bool) or not isinstance(folds, int) or folds < 2:
        raise ValueError(f"folds: expected an integer >= 2, found {folds!r}")
    uniq, inverse = np.unique(g, return_inverse=True)
    if len(uniq) < folds:
        raise ValueError(f"{folds} folds need as many problems (groups); found {len(uniq)}")
    order = np.random.default_rng(seed).permutation(len(uniq))
    fold_of_group = np.empty(len(uniq), dtype=np.intp)
    fold_of_group[order] = np.arange(len(uniq)) % folds
    fold = fold_of_group[inverse.reshape(-1)]
    return [(np.flatnonzero(fold != k), np.flatnonzero(fold == k)) for k in range(folds)]


def _calibrate(scores: FloatArray, member: dict[str, Any]) -> FloatArray:
    """A member's calibrated probability from its logistic scores (what scikit-learn computes)."""
    cal = member["calibrator"]
    if "a" in cal:  # Platt scaling
        out: FloatArray = 1.0 / (1.0 + np.exp(cal["a"] * scores + cal["b"]))
        return out
    # Isotonic, clipped outside the fitted range: np.interp holds the end values there.
    out = np.interp(scores, np.asarray(cal["x"]), np.asarray(cal["y"]))
    return out


ARM_SCALE = 10.0
"""The arms' one-hot columns are scaled by this, so their intercepts are barely penalized.

The arms' base rates differ by an order of magnitude (0.02 to 0.6 on HumanEval for the default
pool); under the shared L2 penalty an unscaled one-hot shrank them together, and the model
ranked worse than the per-arm base rate it must beat."""


class OutcomeModel:
    """Calibrated logistic regression: P(an attempt by arm k passes | trajectory features).

    Parameters
    ----------
    C:
        Inverse L2 strength of the logistic regression (scikit-learn's ``C``), on shared and
        per-arm coefficients alike: smaller shrinks the arms' own effects harder.
    calibration:
        ``"sigmoid"`` (Platt; steady on a few hundred rows) or ``"isotonic"``.
    cv:
        Calibration folds, grouped by problem; the model averages the ``cv`` members.
    seed:
        Seeds the assignment of problems to calibration folds.

    Learned state round-trips through the JSON-safe :meth:`state_dict` / :meth:`load_state`
    (coefficients, standardization and calibration maps; scikit-learn is needed to fit only).
    """

    def __init__(
        self,
        *,
        C: float = 0.01,  # noqa: N803 - scikit-learn's name
        calibration: Calibration = "sigmoid",
        cv: int = 3,
        seed: int = 0,
    ) -> None:
        self.C = C
        self.calibration = calibration
        self.cv = cv
        self.seed = seed

    # -- fitting -------------------------------------------------------------------------
    def fit(self, x: Any, arms: Any, y: Any, groups: Any) -> OutcomeModel:
        """Fit on attempts: features ``x`` (n, d), their ``arms``, outcomes ``y``, problems.

        Raises ``ValueError`` on bad shapes or labels, outcomes of one class only, or a
        calibration fold whose training part holds one class only.
        """
        from sklearn.calibration import CalibratedClassifierCV  # type: ignore[import-untyped]
        from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]

        if self.calibration not in ("sigmoid", "isotonic"):
            raise ValueError(
                f"calibration: expected 'sigmoid' or 'isotonic', found {self.calibration!r}"
            )
        if not (isinstance(self.C, int | float) and self.C > 0):
            raise ValueError(f"C: expected a positive number, found {self.C!r}")
        data = _check(x, arms, y, groups)
        if len(np.unique(data.y)) < 2:
            raise ValueError("y: both outcomes (0 and 1) are needed to fit")
        arm_names = tuple(sorted(set(data.arms.tolist())))
        mean = data.X.mean(axis=0)
        scale = data.X.std(axis=0)
        # A constant column carries nothing; dividing by 1 keeps it at 0 instead of NaN.
        scale = np.where(scale > 1e-12, scale, 1.0)
        self._arms = arm_names
        self._mean, self._scale = mean, scale
        z = self._design(data.X, data.arms)
        splits = group_folds(data.groups, self.cv, self.seed)
        for train, _ in splits:
            if len(np.unique(data.y[train])) < 2:
                raise ValueError(
                    "a calibration fold's training part holds one outcome only; "
                    "more problems (or fewer folds, cv) are needed"
                )
        base = LogisticRegression(C=float(self.C), max_iter=2000)
        model = CalibratedClassifierCV(base, method=self.calibration, cv=splits)
        model.fit(z, data.y)
        self._sklearn = model  # kept for inspection; predictions use the extracted state
        self._members = [self._member(c) for c in model.calibrated_classifiers_]
        return self

    def _member(self, calibrated: Any) -> dict[str, Any]:
        est = calibrated.estimator
        (cal,) = calibrated.calibrators
        out: dict[str, Any] = {
            "coef": [float(v) for v in est.coef_.ravel()],
            "intercept": float(est.intercept_[0]),
        }
        if self.calibration == "sigmoid":
            out["calibrator"] = {"a": float(cal.a_), "b": float(cal.b_)}
        else:
            out["calibrator"] = {
                "x": [float(v) for v in cal.X_thresholds_],
                "y": [float(v) for v in cal.y_thresholds_],
            }
        return out

    def _design(self, features: FloatArray, arms: np.ndarray[Any, Any]) -> FloatArray:
        """[x, one-hot(arm), x * one-hot(arm)] with ``x`` standardized on the training rows."""
        x = (features - self._mean) / self._scale
        unknown = sorted(set(arms.tolist()) - set(self._arms))
        if unknown:
            raise ValueError(f"arms {unknown} were not seen in fit; known: {list(self._arms)}")
        onehot = (arms[:, None] == np.asarray(self._arms)[None, :]).astype(np.float64)
        inter = (x[:, None, :] * onehot[:, :, None]).reshape(len(x), -1)
        return np.hstack([x, ARM_SCALE * onehot, inter])

    # -- predicting ----------------------------------------------------------------------
    @property
    def arms_(self) -> tuple[str, ...]:
        """The training arms, sorted: the columns of :meth:`predict_proba`."""
        self._fitted()
        return self._arms

    def _fitted(self) -> None:
        if not hasattr(self, "_members"):
            raise ValueError("this OutcomeModel is not fitted: call fit() or load_state()")

    def predict_attempt(self, x: Any, arms: Any) -> FloatArray:
        """Shape (n,): the probability that row i's own arm ``arms[i]`` passes."""
        self._fitted()
        data = _check(x, arms)
        if data.X.shape[1] != len(self._mean):
            raise ValueError(f"x: expected {len(self._mean)} features, got {data.X.shape[1]}")
        z = self._design(data.X, data.arms)
        probs = np.zeros(len(z))
        for m in self._members:
            probs += _calibrate(z @ np.asarray(m["coef"]) + m["intercept"], m)
        return np.clip(probs / len(self._members), 0.0, 1.0)

    def predict_proba(self, x: Any, arms: Sequence[str] | None = None) -> FloatArray:
        """Shape (n, K): for each row, the probability that each arm's next attempt passes.

        Every arm of ``arms`` (default :attr:`arms_`, the columns' order) is scored on the same
        features.
        """
        self._fitted()
        cols = self._arms if arms is None else tuple(arms)
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2:
            raise ValueError(f"x: expected a 2-D array (rows, features), got {x.shape}")
        out = [self.predict_attempt(x, np.full(len(x), a, dtype=object)) for a in cols]
        return np.stack(out, axis=1) if out else np.zeros((len(x), 0))

    # -- state ---------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """JSON-safe learned state: arms, standardization, members' coefficients and maps."""
        self._fitted()
        return {
            "arms": list(self._arms),
            "mean": [float(v) for v in self._mean],
            "scale": [float(v) for v in self._scale],
            "calibration": self.calibration,
            "members": [dict(m) for m in self._members],
        }

    def load_state(self, state: dict[str, Any]) -> OutcomeModel:
        """Restore what :meth:`state_dict` returned (then predict without refitting)."""
        self._arms = tuple(str(a) for a in state["arms"])
        self._mean = np.asarray(state["mean"], dtype=np.float64)
        self._scale = np.asarray(state["scale"], dtype=np.float64)
        self.calibration = state["calibration"]
        self._members = [dict(m) for m in state["members"]]
        return self


# -- evaluation --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReliabilityBin:
    """One equal-mass bin: its ``count`` rows' mean prediction and observed pass rate."""

    count: int
    predicted: float
    observed: float

    def to_json(self) -> dict[str, Any]:
        """Plain JSON data."""
        return {"count": self.count, "predicted": round(self.predicted, 4),
                "observed": round(self.observed, 4)}  # fmt: skip


def expected_calibration_error(
    p: Any, y: Any, bins: int = 10
) -> tuple[float, tuple[ReliabilityBin, ...]]:
    """ECE over ``bins`` equal-mass bins of the sorted predictions, and the bins.

    The count-weighted mean of ``|mean prediction - observed rate|`` per bin.

    >>> ece, table = expected_calibration_error([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1], bins=2)
    >>> round(ece, 4), [b.count for b in table]
    (0.15, [2, 2])
    """
    pp = np.asarray(p, dtype=np.float64)
    yy = np.asarray(y, dtype=np.float64)
    if pp.shape != yy.shape or pp.ndim != 1 or len(pp) == 0:
        raise ValueError(f"expected matching non-empty 1-D arrays, got {pp.shape}, {yy.shape}")
    order = np.argsort(pp, kind="stable")
    table = tuple(
        ReliabilityBin(len(idx), float(pp[idx].mean()), float(yy[idx].mean()))
        for idx in np.array_split(order, min(bins, len(pp)))
    )
    ece = sum(b.count * abs(b.predicted - b.observed) for b in table) / len(pp)
    return float(ece), table


def _scores(p: FloatArray, y: np.ndarray[Any, Any]) -> tuple[float | None, float, float]:
    """AUC (None with one class), Brier score and log loss."""
    from sklearn.metrics import roc_auc_score  # type: ignore[import-untyped]

    auc = float(roc_auc_score(y, p)) if len(np.unique(y)) == 2 else None
    brier = float(np.mean((p - y) ** 2))
    q = np.clip(p, _EPS, 1 - _EPS)
    log_loss = float(-np.mean(y * np.log(q) + (1 - y) * np.log(1 - q)))
    return auc, brier, log_loss


@dataclass(frozen=True, slots=True)
class OutcomeModelReport:
    """Out-of-fold quality of :class:`OutcomeModel` on held-out problems.

    ``auc``, ``brier``, ``log_loss`` and ``ece`` score the out-of-fold probability of each
    attempt's own arm; ``reliability`` is the equal-mass table behind ``ece``. The
    ``baseline_*`` scores are those of each arm's pass rate on the training folds.
    """

    n: int
    problems: int
    folds: int
    base_rate: float
    auc: float | None
    brier: float
    log_loss: float
    ece: float
    reliability: tuple[ReliabilityBin, ...]
    baseline_auc: float | None
    baseline_brier: float
    baseline_log_loss: float
    baseline_ece: float
    arms: tuple[str, ...] = ()
    oof: tuple[float, ...] = ()
    """The out-of-fold probabilities, in row order."""

    def to_json(self) -> dict[str, Any]:
        """Plain JSON data (the out-of-fold probabilities left out)."""

        def r(v: float | None) -> float | None:
            return None if v is None else round(v, 4)

        return {
            "n": self.n, "problems": self.problems, "folds": self.folds, "arms": list(self.arms),
            "base_rate": r(self.base_rate), "auc": r(self.auc), "brier": r(self.brier),
            "log_loss": r(self.log_loss), "ece": r(self.ece),
            "reliability": [b.to_json() for b in self.reliability],
            "baseline": {"auc": r(self.baseline_auc), "brier": r(self.baseline_brier),
                         "log_loss": r(self.baseline_log_loss), "ece": r(self.baseline_ece)},
        }  # fmt: skip


def evaluate_outcome_model(
    x: Any,
    arms: Any,
    y: Any,
    groups: Any,
    folds: int = 5,
    seed: int = 0,
    *,
    C: float = 0.01,  # noqa: N803 - scikit-learn's name
    calibration: Calibration = "sigmoid",
    bins: int = 10,
) -> OutcomeModelReport:
    """Fit on all problems but one fold's, predict that fold's attempts; score the whole.

    Folds are grouped by problem (:func:`group_folds`, seeded): no problem is in both a fit
    and its evaluation. Raises ``ValueError`` when a test fold holds an arm unseen in training.
    """
    data = _check(x, arms, y, groups)
    oof = np.zeros(len(data.y))
    base = np.zeros(len(data.y))
    for k, (train, test) in enumerate(group_folds(data.groups, folds, seed)):
        model = OutcomeModel(C=C, calibration=calibration, seed=seed + k)
        model.fit(data.X[train], data.arms[train], data.y[train], data.groups[train])
        oof[test] = model.predict_attempt(data.X[test], data.arms[test])
        rates = {a: float(data.y[train][data.arms[train] == a].mean()) for a in model.arms_}
        base[test] = [rates[a] for a in data.arms[test].tolist()]
    auc, brier, ll = _scores(oof, data.y)
    ece, table = expected_calibration_error(oof, data.y, bins)
    b_auc, b_brier, b_ll = _scores(base, data.y)
    b_ece, _ = expected_calibration_error(base, data.y, bins)
    return OutcomeModelReport(
        n=len(data.y),
        problems=len(np.unique(data.groups)),
        folds=folds,
        base_rate=float(data.y.mean()),
        auc=auc,
        brier=brier,
        log_loss=ll,
        ece=ece,
        reliability=table,
        baseline_auc=b_auc,
        baseline_brier=b_brier,
        baseline_log_loss=b_ll,
        baseline_ece=b_ece,
        arms=tuple(sorted(set(data.arms.tolist()))),
        oof=tuple(float(v) for v in oof),
    )


# -- data from a store --------------------------------------------------------------------


def repair_dataset(
    store: Store,
    repair_run: str,
    featurizer: TrajectoryFeaturizer,
    problems: Iterable[Problem],
) -> OutcomeData:
    """Rows of the judged parent-linked repairs of ``repair_run``.

    For each repair, ``X`` is the trajectory before it featurized: the problem's visible-only
    view and one step, the failed parent (its arm, its cost, its logged visible verdicts;
    hidden verdicts are dropped before the step is built). ``arms`` is the repairing arm,
    ``y`` whether the repair passed the hidden tests, ``groups`` the problem id. Repairs the
    arm failed to produce (not judged), whose parent is missing or is no repairable failure,
    or whose problem is not in ``problems`` are left out.
    """
    by_key = {(p.benchmark, p.id): p for p in problems}
    rows: list[FloatArray] = []
    arms: list[str] = []
    ys: list[int] = []
    groups: list[str] = []
    parents: dict[int, Attempt | None] = {}
    for r in store.attempts(repair_run):
        if r.parent_attempt_id is None or not r.judged:
            continue
        pid = r.parent_attempt_id
        if pid not in parents:
            parents[pid] = store.get_attempt(pid)
        parent = parents[pid]
        problem = by_key.get((r.benchmark, r.problem_id))
        # A parent that passed its visible tests is no failure an episode would repair.
        if parent is None or failure_kind(parent) in (None, VISIBLE_PASSED) or problem is None:
            continue
        step = visible_step(parent)
        trajectory = Trajectory(problem.visible_only()).with_step(step)
        rows.append(featurizer.transform_trajectory(trajectory))
        arms.append(r.arm)
        ys.append(int(bool(r.passed)))
        groups.append(r.problem_id)
    features = np.vstack(rows) if rows else np.zeros((0, featurizer.dim))
    return OutcomeData(
        features, np.asarray(arms, dtype=np.str_), np.asarray(ys, dtype=np.int64),
        np.asarray(groups, dtype=np.str_),
    )  # fmt: skip
