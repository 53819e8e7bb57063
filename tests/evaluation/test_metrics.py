"""Bootstrap intervals, arm shares, regret curves, ratios."""

from __future__ import annotations

import numpy as np
import pytest

from octoroute.evaluation import arm_shares, bootstrap_ci, cumulative_regret, paired_bootstrap_ci
from octoroute.evaluation.metrics import cluster_bootstrap_ci, ratio


def test_bootstrap_interval_contains_the_mean_and_is_seeded() -> None:
    values = np.random.default_rng(1).random(200)
    lo, hi = bootstrap_ci(values)
    assert lo < values.mean() < hi
    assert (lo, hi) == bootstrap_ci(values)
    assert bootstrap_ci(values, seed=1) != (lo, hi)
    # About 2 standard errors either side.
    se = values.std() / np.sqrt(len(values))
    assert hi - lo == pytest.approx(2 * 1.96 * se, rel=0.15)


def test_bootstrap_of_a_constant_is_a_point() -> None:
    assert bootstrap_ci(np.ones(10)) == (1.0, 1.0)
    with pytest.raises(ValueError, match="one value per problem"):
        bootstrap_ci(np.ones((2, 2)))


def test_paired_interval_is_narrower_than_unpaired() -> None:
    rng = np.random.default_rng(0)
    base = rng.random(300)
    better = np.clip(base + 0.05 + 0.01 * rng.standard_normal(300), 0, 1)
    lo, hi = paired_bootstrap_ci(better, base)
    assert 0.0 < lo < hi < 0.1


def test_arm_shares_and_regret() -> None:
    assert arm_shares(np.array([[2, 2], [0, 2]]), ("a", "b", "c")) == {
        "a": 0.25,
        "b": 0.0,
        "c": 0.75,
    }
    oracle = np.array([1.0, 1.0, 0.0])
    passed = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    order = np.array([[0, 1, 2], [2, 1, 0]])
    # seed 0: gaps 0, 1, 0 -> 0, 1, 1; seed 1: gaps 0, 1, 1 -> 0, 1, 2
    assert cumulative_regret(oracle, passed, order).tolist() == [0.0, 1.0, 1.5]


def test_ratio() -> None:
    assert ratio(3.0, 6.0) == 0.5
    assert ratio(1.0, 0.0) is None


def test_resampling_whole_groups_widens_the_interval_of_alike_values() -> None:
    """Ten tasks of five alike variants each: the interval is the ten tasks', not fifty."""
    task_means = np.random.default_rng(1).random(10).round()
    values = np.repeat(task_means, 5)
    groups = [f"t{i}" for i in range(10) for _ in range(5)]
    lo, hi = cluster_bootstrap_ci(values, groups, seed=0)
    plain_lo, plain_hi = bootstrap_ci(values, seed=0)
    assert lo <= values.mean() <= hi and hi - lo > 1.5 * (plain_hi - plain_lo)
    assert cluster_bootstrap_ci(values, groups, seed=0) == (lo, hi)  # seeded
    with pytest.raises(ValueError, match="one group per item"):
        cluster_bootstrap_ci(values, groups[:-1])
