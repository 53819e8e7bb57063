"""Linear probes: how well a model's hidden state over a prompt predicts an arm's success.

:func:`probe_study` fits, for each arm, a regularized logistic regression on the states of one
layer and pooling, chosen with its regularization by cross-validation *inside* each training
fold (nested cross-validation), and scores the held-out problems of the outer folds. Beside it,
in the same folds: prompt length alone, the lexical features (their regularization chosen the
same way), and the probe once prompt length is regressed out of the states (fitted on the
training fold), so that a probe that only measures length shows as one. The AUC is over every
problem's held-out score, with a bootstrap interval over problems.

A problem counts as solved by an arm when its pass probability is at least one half (the local
log's greedy attempts are 0 or 1; a published matrix may hold fractions of samples).
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from octoroute.exceptions import ConfigError
from octoroute.features.base import FloatArray

__all__ = ["ArmProbe", "ProbeStudy", "StateKey", "check_layers", "probe_study", "stack_states"]

StateKey = tuple[int, str]
"""A layer (0: the embeddings) and a pooling (``last`` or ``mean``)."""

C_GRID = (0.01, 0.1, 1.0)
INNER_FOLDS = 3
BOOTSTRAP = 1000


@dataclass(frozen=True)
class ArmProbe:
    """One arm's held-out AUCs (None where its outcomes have too few of a class to fold)."""

    arm: str
    n: int
    base_rate: float
    auc: float | None
    ci95: tuple[float, float] | None
    auc_length: float | None
    auc_lexical: float | None
    auc_residual: float | None
    chosen: dict[str, int] = field(default_factory=dict)
    """How often each ``layer/pooling`` was chosen, over the outer folds."""

    def to_json(self) -> dict[str, Any]:
        """The arm's entry of ``octoroute probes --json``."""
        return {
            "n": self.n,
            "base_rate": self.base_rate,
            "auc": self.auc,
            "ci95": None if self.ci95 is None else list(self.ci95),
            "auc_length": self.auc_length,
            "auc_lexical": self.auc_lexical,
            "auc_residual": self.auc_residual,
            "chosen": self.chosen,
        }


@dataclass(frozen=True)
class ProbeStudy:
    """Every arm's probe, read from one model's states."""

    model: str
    per_arm: dict[str, ArmProbe]
    folds: int
    seed: int
    candidates: tuple[StateKey, ...]

    @property
    def layer(self) -> str | None:
        """The ``layer/pooling`` chosen most often, over every arm and outer fold."""
        votes: Counter[str] = Counter()
        for probe in self.per_arm.values():
            votes.update(probe.chosen)
        return votes.most_common(1)[0][0] if votes else None

    def mean(self, name: str) -> float | None:
        """The mean of one AUC column over the arms that have it."""
        values = [getattr(p, name) for p in self.per_arm.values()]
        known = [v for v in values if v is not None]
        return float(np.mean(known)) if known else None

    def to_json(self) -> dict[str, Any]:
        """``octoroute probes --json``."""
        return {
            "model": self.model,
            "layer": self.layer,
            "per_arm": {arm: p.to_json() for arm, p in self.per_arm.items()},
            "mean_auc": self.mean("auc"),
            "mean_auc_length": self.mean("auc_length"),
            "mean_auc_lexical": self.mean("auc_lexical"),
            "mean_auc_residual": self.mean("auc_residual"),
            "folds": self.folds,
            "seed": self.seed,
            "candidates": [f"{layer}/{pooling}" for layer, pooling in self.candidates],
        }


def probe_study(
    model: str,
    states: Mapping[StateKey, FloatArray],
    length: FloatArray,
    lexical: FloatArray,
    outcomes: Mapping[str, FloatArray],
    folds: int = 5,
    seed: int = 0,
) -> ProbeStudy:
    """Nested cross-validated probes of every arm in ``outcomes`` (pass probabilities per
    problem, NaN: none) from ``states`` (one ``(problems, width)`` matrix per layer and
    pooling), beside ``length`` (tokens per prompt) and the ``lexical`` features."""
    if not states:
        raise ConfigError("probes: no hidden states to read")
    n = len(length)
    for key, matrix in states.items():
        if matrix.shape[0] != n:
            raise ConfigError(f"probes: states {key} have {matrix.shape[0]} rows, expected {n}")
    per_arm: dict[str, ArmProbe] = {}
    for arm, rewards in outcomes.items():
        per_arm[arm] = _arm_probe(arm, states, length, lexical, np.asarray(rewards), folds, seed)
    return ProbeStudy(model, per_arm, folds, seed, tuple(states))


def _arm_probe(
    arm: str,
    states: Mapping[StateKey, FloatArray],
    length: FloatArray,
    lexical: FloatArray,
    rewards: FloatArray,
    folds: int,
    seed: int,
) -> ArmProbe:
    from sklearn.model_selection import StratifiedKFold  # type: ignore[import-untyped]

    rows = np.flatnonzero(~np.isnan(rewards))
    y = (rewards[rows] >= 0.5).astype(int)
    base = float(y.mean()) if len(y) else float("nan")
    if len(y) == 0 or min(int(y.sum()), int(len(y) - y.sum())) < folds:
        return ArmProbe(arm, len(y), base, None, None, None, None, None)
    log_length = np.log1p(np.asarray(length, dtype=np.float64)[rows])[:, None]
    scores = {name: np.zeros(len(y)) for name in ("probe", "length", "lexical", "residual")}
    chosen: Counter[str] = Counter()
    outer = StratifiedKFold(folds, shuffle=True, random_state=seed)
    for train, test in outer.split(rows, y):
        key, c = _choose(states, rows, y, train, seed)
        chosen[f"{key[0]}/{key[1]}"] += 1
        x = states[key][rows]
        scores["probe"][test] = _fit_score(x[train], y[train], x[test], c)
        scores["length"][test] = _fit_score(log_length[train], y[train], log_length[test], 1.0)
        lex = lexical[rows]
        c_lex = _best_c(lex[train], y[train], seed)
        scores["lexical"][test] = _fit_score(lex[train], y[train], lex[test], c_lex)
        resid_train, resid_test = _without_length(x, log_length, train, test)
        scores["residual"][test] = _fit_score(resid_train, y[train], resid_test, c)
    auc = _auc(y, scores["probe"])
    return ArmProbe(
        arm=arm,
        n=len(y),
        base_rate=base,
        auc=auc,
        ci95=_bootstrap_ci(y, scores["probe"], seed),
        auc_length=_auc(y, scores["length"]),
        auc_lexical=_auc(y, scores["lexical"]),
        auc_residual=_auc(y, scores["residual"]),
        chosen=dict(chosen),
    )


def _choose(
    states: Mapping[StateKey, FloatArray],
    rows: np.ndarray,
    y: np.ndarray,
    train: np.ndarray,
    seed: int,
) -> tuple[StateKey, float]:
    """The layer, pooling and regularization with the best inner cross-validated AUC."""
    best: tuple[float, StateKey, float] | None = None
    for key, matrix in states.items():
        x = matrix[rows][train]
        for c in C_GRID:
            score = _inner_auc(x, y[train], c, seed)
            if best is None or score > best[0]:
                best = (score, key, c)
    assert best is not None
    return best[1], best[2]


def _best_c(x: FloatArray, y: np.ndarray, seed: int) -> float:
    return max(C_GRID, key=lambda c: _inner_auc(x, y, c, seed))


def _inner_auc(x: FloatArray, y: np.ndarray, c: float, seed: int) -> float:
    from sklearn.model_selection import StratifiedKFold  # type: ignore[import-untyped]

    k = min(INNER_FOLDS, int(y.sum()), int(len(y) - y.sum()))
    if k < 2:
        return 0.5
    scores = np.zeros(len(y))
    for tr, te in StratifiedKFold(k, shuffle=True, random_state=seed).split(x, y):
        scores[te] = _fit_score(x[tr], y[tr], x[te], c)
    return _auc(y, scores) or 0.5


def _fit_score(x_train: FloatArray, y_train: np.ndarray, x_test: FloatArray, c: float) -> Any:
    """Standardize on the training rows, fit an L2 logistic regression, score the test rows."""
    from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]

    mean = x_train.mean(axis=0)
    scale = x_train.std(axis=0)
    scale[scale == 0] = 1.0
    # liblinear: on a few hundred problems it fits in a twentieth of lbfgs's time; its dual
    # form where there are more columns than rows.
    from sklearn.exceptions import ConvergenceWarning  # type: ignore[import-untyped]

    n, d = x_train.shape
    model = LogisticRegression(C=c, solver="liblinear", dual=d > n, max_iter=2000)
    with warnings.catch_warnings():
        # Weakly regularized fits on separable folds stop at the iteration cap: their scores
        # still rank, and the inner cross-validation judges them by that.
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit((x_train - mean) / scale, y_train)
    return model.decision_function((x_test - mean) / scale)


def _without_length(
    x: FloatArray, log_length: FloatArray, train: np.ndarray, test: np.ndarray
) -> tuple[FloatArray, FloatArray]:
    """The states minus their least-squares fit on log length, fitted on the training rows."""
    design = np.hstack([np.ones((len(x), 1)), log_length])
    coef, *_ = np.linalg.lstsq(design[train], x[train], rcond=None)
    resid = x - design @ coef
    return resid[train], resid[test]


def _auc(y: np.ndarray, score: np.ndarray) -> float | None:
    """The ROC AUC (ties count half), by ranks: the Mann-Whitney statistic, scaled."""
    from scipy.stats import rankdata  # type: ignore[import-untyped]

    positives = int(y.sum())
    negatives = len(y) - positives
    if positives == 0 or negatives == 0:
        return None
    ranks = rankdata(score)
    return float((ranks[y == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def _bootstrap_ci(y: np.ndarray, score: np.ndarray, seed: int) -> tuple[float, float] | None:
    rng = np.random.default_rng(seed)
    values: list[float] = []
    for _ in range(BOOTSTRAP):
        pick = rng.integers(0, len(y), len(y))
        auc = _auc(y[pick], score[pick])
        if auc is not None:
            values.append(auc)
    if not values:
        return None
    low, high = np.quantile(values, [0.025, 0.975])
    return float(low), float(high)


def stack_states(
    per_problem: Sequence[tuple[np.ndarray, np.ndarray]], layers: Sequence[int] | None
) -> dict[StateKey, FloatArray]:
    """Per-problem ``(last, mean)`` tables of shape ``(layers + 1, width)`` as one matrix per
    layer and pooling, for the ``layers`` asked (all when None)."""
    if not per_problem:
        raise ConfigError("probes: no problems")
    depth = per_problem[0][0].shape[0]
    wanted = list(range(depth)) if layers is None else list(layers)
    check_layers(depth, wanted)
    out: dict[StateKey, FloatArray] = {}
    for layer in wanted:
        for pooling, which in (("last", 0), ("mean", 1)):
            out[layer, pooling] = np.stack(
                [np.asarray(p[which][layer], dtype=np.float64) for p in per_problem]
            )
    return out


def check_layers(depth: int, layers: Sequence[int] | None) -> None:
    """Raise ConfigError unless every one of ``layers`` is among a model's ``depth`` tables
    (its embeddings and each layer's output)."""
    bad = [layer for layer in layers or () if not 0 <= layer < depth]
    if bad:
        raise ConfigError(f"probes: layer {bad[0]}: the model has layers 0 to {depth - 1}")
