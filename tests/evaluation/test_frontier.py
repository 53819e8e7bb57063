"""The quality-compute frontier and its area (AIQ)."""

from __future__ import annotations

import numpy as np
import pytest

from octoroute.evaluation import aiq, arm_points, oracle_point, policy_frontier, upper_hull

from .conftest import toy_matrix


def test_aiq_by_hand() -> None:
    # One router at (0.4, 0.6): triangle 0.4 x 0.6 / 2 = 0.12, then flat 0.6 x 0.6 = 0.36.
    assert aiq([(0.4, 0.6)]) == pytest.approx(0.48)
    # A second point above the chord adds its trapezoid; a point below it adds nothing.
    assert aiq([(0.4, 0.6), (1.0, 0.9)]) == pytest.approx(0.12 + 0.6 * 1.5 / 2)
    assert aiq([(0.4, 0.6), (1.0, 0.9), (0.7, 0.7)]) == pytest.approx(0.57)
    # Spending more for less never lowers the hull: it stays flat after the best point.
    assert aiq([(0.5, 0.8), (1.0, 0.2)]) == pytest.approx(0.2 + 0.4)
    # Points beyond the largest arm's cost are clipped to 1.
    assert aiq([(2.0, 1.0)]) == pytest.approx(0.5)


def test_hull_is_concave_and_non_decreasing() -> None:
    rng = np.random.default_rng(0)
    hull = upper_hull(rng.random((30, 2)).tolist())
    c, q = np.array(hull).T
    assert c[0] == 0.0 and c[-1] == 1.0
    assert np.all(np.diff(c) > 0) and np.all(np.diff(q) >= 0)
    slopes = np.diff(q) / np.diff(c)
    assert np.all(np.diff(slopes) <= 1e-12)


def test_arm_and_oracle_points() -> None:
    matrix = toy_matrix([[1.0, 1.0], [0.0, 1.0], [0.0, 0.0], [1.0, 0.0]], sizes=(1.0, 4.0))
    arms = arm_points(matrix)
    assert [(p.compute, p.pass_at_1) for p in arms.points] == [(0.25, 0.5), (1.0, 0.5)]
    oracle = oracle_point(matrix)
    # Best arm per problem, the cheapest among ties: 1, 4, 1, 1 -> 7/4 of 4.
    assert (oracle.compute, oracle.pass_at_1) == (7 / 16, 0.75)
    assert arms.aiq < aiq([(oracle.compute, oracle.pass_at_1)])


def test_policy_frontier_one_point_per_lambda() -> None:
    rewards = [[1.0, 1.0]] * 50 + [[0.0, 1.0]] * 10 + [[0.0, 0.0]] * 40
    matrix = toy_matrix(rewards, sizes=(1.0, 10.0))
    f = policy_frontier(
        matrix,
        np.ones((100, 1)),
        "epsilon_greedy",
        params={"epsilon": 0.0},
        lambdas=(0.0, 0.5),
        seeds=1,
    )
    (free, costly) = f.points
    assert (free.lam, free.compute, free.pass_at_1) == (0.0, 1.0, 0.6)
    assert (costly.lam, costly.compute, costly.pass_at_1) == (0.5, 0.1, 0.5)
    assert f.to_json()["aiq"] == pytest.approx(aiq([(1.0, 0.6), (0.1, 0.5)]), abs=1e-4)
