"""Metrics of a replay: pass@1 with bootstrap intervals, regret, arm shares, compute.

Arrays follow one convention: ``passed[s, i]`` is the probability that the arm chosen in seed
``s`` for problem ``i`` passes (the matrix's pass rate, not a sampled 0/1: scoring with the
probability gives the same mean with less variance), ``choices[s, i]`` the index of that arm.

>>> passed = np.array([[1.0, 0.0, 1.0, 1.0], [1.0, 1.0, 0.0, 1.0]])
>>> per_problem = passed.mean(axis=0)
>>> float(per_problem.mean()), bootstrap_ci(per_problem, seed=0)
(0.75, (0.5, 1.0))
>>> arm_shares(np.array([[0, 1], [1, 1]]), ("a", "b"))
{'a': 0.25, 'b': 0.75}
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "arm_shares",
    "bootstrap_ci",
    "cluster_bootstrap_ci",
    "cumulative_regret",
    "paired_bootstrap_ci",
    "ratio",
]

FloatArray = np.ndarray[Any, np.dtype[np.float64]]

N_RESAMPLES = 2000
"""Bootstrap resamples of the problems."""


def bootstrap_ci(
    values: FloatArray, *, n_resamples: int = N_RESAMPLES, level: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values`` (one value per problem).

    Problems are the unit resampled: the interval says how much the pass@1 would move on
    another draw of problems like these. Seeded, so a report is reproducible.
    """
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1 or len(v) == 0:
        raise ValueError(f"expected one value per problem, got shape {v.shape}")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(v), size=(n_resamples, len(v)))
    means = v[idx].mean(axis=1)
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(means, [alpha, 1.0 - alpha])
    return float(lo), float(hi)


def cluster_bootstrap_ci(
    values: FloatArray,
    groups: Sequence[str],
    *,
    n_resamples: int = N_RESAMPLES,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values``, resampling whole groups.

    For values that are not independent within a group (the rewrites of one task share its
    tests and most of its text): a resample draws groups with replacement and takes the mean
    of all their values, so the interval is as wide as the number of groups warrants.

    >>> lo, hi = cluster_bootstrap_ci(np.array([1.0, 1.0, 0.0, 0.0]), ["a", "a", "b", "b"])
    >>> (lo, hi)
    (0.0, 1.0)
    """
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1 or len(v) == 0 or len(groups) != len(v):
        raise ValueError(f"expected one value and one group per item, got {v.shape} values "
                         f"and {len(groups)} groups")  # fmt: skip
    names = sorted(set(groups))
    index = {g: i for i, g in enumerate(names)}
    of = np.array([index[g] for g in groups])
    sums = np.bincount(of, weights=v, minlength=len(names))
    counts = np.bincount(of, minlength=len(names)).astype(np.float64)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(names), size=(n_resamples, len(names)))
    means = sums[draws].sum(axis=1) / counts[draws].sum(axis=1)
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(means, [alpha, 1.0 - alpha])
    return float(lo), float(hi)


def paired_bootstrap_ci(
    a: FloatArray, b: FloatArray, *, n_resamples: int = N_RESAMPLES, seed: int = 0
) -> tuple[float, float]:
    """Interval of ``mean(a) - mean(b)`` resampling problems jointly (paired: same problems).

    >>> paired_bootstrap_ci(np.array([1.0, 1.0, 0.0]), np.array([0.0, 1.0, 0.0]))[1]
    1.0
    """
    return bootstrap_ci(
        np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64),
        n_resamples=n_resamples,
        seed=seed,
    )


def arm_shares(choices: np.ndarray[Any, Any], arms: Sequence[str]) -> dict[str, float]:
    """The share of decisions that went to each arm (over seeds and problems)."""
    counts = np.bincount(np.asarray(choices).ravel(), minlength=len(arms))
    total = max(int(counts.sum()), 1)
    return {a: float(c) / total for a, c in zip(arms, counts, strict=True)}


def cumulative_regret(
    oracle: FloatArray, passed: FloatArray, order: np.ndarray[Any, Any]
) -> FloatArray:
    """Mean over seeds of the regret against the oracle summed along the routing order.

    ``order[s, t]`` is the problem decided at step ``t`` of seed ``s``; the result has one
    value per step (its last value is ``n x (oracle - pass@1)``).

    >>> cumulative_regret(np.array([1.0, 1.0]), np.array([[0.0, 1.0]]), np.array([[1, 0]]))
    array([0., 1.])
    """
    order = np.asarray(order)
    rows = np.arange(order.shape[0])[:, None]
    gap = oracle[order] - passed[rows, order]
    return np.asarray(np.cumsum(gap, axis=1).mean(axis=0), dtype=np.float64)


def ratio(numerator: float, denominator: float) -> float | None:
    """``numerator / denominator``, or None when either is unknown or the denominator is 0.

    >>> ratio(1.0, 4.0), ratio(1.0, float("nan"))
    (0.25, None)
    """
    if not (np.isfinite(numerator) and np.isfinite(denominator)) or denominator == 0:
        return None
    return float(numerator / denominator)
