"""Baselines that need data beyond hyperparameters, and the oracle."""

from __future__ import annotations

import numpy as np
import pytest

from octoroute.policies import (
    BasePolicy,
    BestSingleArm,
    Cheapest,
    FixedArm,
    Largest,
    Oracle,
    RandomPolicy,
    check_policy,
)

X = np.zeros(8)


def test_fixed_arm() -> None:
    p = FixedArm(arm="m")
    d = p.choose(X, ["n", "m"])
    assert (d.arm, d.propensity) == ("m", 1.0)
    with pytest.raises(ValueError, match="not among"):
        p.choose(X, ["n"])


def test_cheapest_and_largest_skip_unknown_arms() -> None:
    costs = {"s": 1.0, "m": 7.0, "l": 33.0}
    assert Cheapest(costs=costs).choose(X, ["l", "m", "x"]).arm == "m"
    assert Largest(sizes=costs).choose(X, ["s", "m", "x"]).arm == "m"
    with pytest.raises(ValueError, match="no cheapest value"):
        Cheapest(costs=costs).choose(X, ["x"])


def test_best_single_arm_fits_on_training_data() -> None:
    rewards = np.array([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0], [1.0, 1.0, 1.0]])
    p = BestSingleArm(seed=0).fit(["a", "b", "c"], rewards)
    assert p.choose(X[:1], ["a", "b", "c"]).arm == "c"
    assert p.choose(X[:1], ["a", "b"]).arm == "a"  # judged only among the offered arms
    assert p.choose(X[:1], ["a", "new"]).arm == "new"  # no data yet: tried once first
    with pytest.raises(ValueError, match="shape"):
        BestSingleArm().fit(["a"], rewards)


def test_best_single_arm_explores_each_arm_once_under_bandit_feedback() -> None:
    # Only the chosen arm's reward is seen: the first arm tried must not be kept forever.
    p = BestSingleArm(seed=0)
    means = {"a": 0.1, "b": 0.9}
    chosen = []
    for _ in range(20):
        d = p.choose(X[:1], ["a", "b"])
        chosen.append(d.arm)
        p.update(d, X[:1], means[d.arm])
    assert set(chosen[:2]) == {"a", "b"} and chosen[2:] == ["b"] * 18


@pytest.mark.parametrize(
    "factory",
    [
        lambda: FixedArm(arm="a"),
        lambda: Cheapest(costs={"a": 1.0, "b": 2.0, "c": 3.0, "new": 0.5}),
        lambda: Largest(sizes={"a": 1.0, "b": 2.0, "c": 3.0}),
        lambda: BestSingleArm(seed=3),
    ],
    ids=["fixed", "cheapest", "largest", "best_single"],
)
def test_baselines_conform_where_the_arms_allow(factory: object) -> None:
    # FixedArm refuses a pool without its arm, so its check offers subsets through "a" only.
    p = factory()  # type: ignore[operator]
    assert isinstance(p, BasePolicy) and not p.learns
    if isinstance(p, FixedArm):
        d = p.choose(X, ["c", "a"])
        assert d.arm == "a"
        assert p.clone().load_state(p.state_dict()).choose(X, ["a"]).arm == "a"
    else:
        check_policy(factory)  # type: ignore[arg-type]


def test_random_policy_is_uniform() -> None:
    d = RandomPolicy(seed=0).choose(X, ["a", "b", "c", "d"])
    assert d.propensity == 0.25
    assert d.propensities == dict.fromkeys("abcd", 0.25)


def test_oracle_is_an_upper_bound_not_a_policy() -> None:
    rewards = np.array([[1.0, 0.0], [0.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    assert not isinstance(Oracle(), BasePolicy)
    assert Oracle().value(rewards) == 0.75
    assert Oracle().value(rewards) >= rewards.mean(axis=0).max()
    assert Oracle().choose({"a": 0.2, "b": 0.9}) == "b"
    with pytest.raises(ValueError):
        Oracle().choose({})
