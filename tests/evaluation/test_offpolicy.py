"""Off-policy estimators on a synthetic contextual bandit whose true values are known exactly."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from octoroute.evaluation.offpolicy import (
    Estimate,
    doubly_robust,
    fit_reward_model,
    ips,
    one_hot,
    snips,
    target_probabilities,
)
from octoroute.policies import EpsilonGreedy, LinearThompson, LinUCB
from octoroute.types import Decision

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

K, D, M = 4, 5, 60  # arms, context features, distinct contexts
REPS = 200


@dataclass(frozen=True)
class World:
    """A contextual bandit over ``M`` equally likely contexts with Bernoulli rewards.

    ``p[m, a]`` is the success probability of arm ``a`` on context ``m`` (a logistic-linear
    model), ``target[m]`` the arm a deterministic target policy picks and ``logging[m]`` the
    greedy arm of an epsilon-greedy logging policy.
    """

    x: FloatArray
    p: FloatArray
    target: IntArray
    logging: IntArray

    @property
    def true_value(self) -> float:
        """The target's exact expected reward: contexts are uniform, so a plain mean."""
        return float(self.p[np.arange(M), self.target].mean())

    def logging_probs(self, epsilon: float) -> FloatArray:
        mu = np.full((M, K), epsilon / K)
        mu[np.arange(M), self.logging] += 1.0 - epsilon
        return mu


@dataclass(frozen=True)
class Log:
    """``n`` rounds logged by the epsilon-greedy policy."""

    ctx: IntArray
    actions: IntArray
    propensities: FloatArray
    rewards: FloatArray
    target: FloatArray


def make_world(seed: int = 0) -> World:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(M, D))
    theta = rng.normal(size=(K, D))
    p = 1.0 / (1.0 + np.exp(-(x @ theta.T)))
    # The target is a noisy copy of the best arm, the logger a different noisy rule, so the
    # two disagree often and the estimators must reweight.
    target = np.argmax(x @ theta.T + rng.normal(scale=1.5, size=(M, K)), axis=1)
    logging = np.argmax(rng.normal(size=(M, K)), axis=1)
    return World(x, p, target, logging)


def simulate(world: World, n: int, epsilon: float, rng: np.random.Generator) -> Log:
    mu = world.logging_probs(epsilon)
    ctx = rng.integers(M, size=n)
    cum = np.cumsum(mu[ctx], axis=1)
    actions = np.minimum((rng.random(n)[:, None] >= cum).sum(axis=1), K - 1)
    rewards = (rng.random(n) < world.p[ctx, actions]).astype(np.float64)
    return Log(ctx, actions, mu[ctx, actions], rewards, one_hot(world.target[ctx], K))


WORLD = make_world()


def _within_3_se(values: Sequence[float], truth: float) -> None:
    v = np.asarray(values)
    se = v.std(ddof=1) / np.sqrt(len(v))
    assert abs(v.mean() - truth) < 3 * se, (v.mean(), truth, se)


# -- unbiasedness and coverage ------------------------------------------------------------------


def test_ips_snips_dr_are_unbiased_over_replications() -> None:
    rng = np.random.default_rng(1)
    truth = WORLD.true_value
    # A deliberately wrong reward model: DR stays unbiased because the propensities are right.
    wrong_q = np.clip(WORLD.p + 0.25, 0.0, 1.0)
    runs: dict[str, list[Estimate]] = {"ips": [], "snips": [], "dr": []}
    for _ in range(REPS):
        log = simulate(WORLD, 400, epsilon=0.5, rng=rng)
        args = (log.actions, log.propensities, log.rewards, log.target)
        runs["ips"].append(ips(*args))
        runs["snips"].append(snips(*args))
        runs["dr"].append(doubly_robust(*args, wrong_q[log.ctx]))
    for name, estimates in runs.items():
        _within_3_se([e.value for e in estimates], truth)
        coverage = np.mean([e.ci[0] <= truth <= e.ci[1] for e in estimates])
        assert coverage > 0.88, (name, coverage)
        assert all(e.n == 400 and 0.0 < e.ess <= 400.0 for e in estimates)


def test_dr_has_lower_variance_than_ips_with_a_good_reward_model() -> None:
    rng = np.random.default_rng(2)
    ips_values, dr_values = [], []
    for _ in range(100):
        log = simulate(WORLD, 300, epsilon=0.5, rng=rng)
        args = (log.actions, log.propensities, log.rewards, log.target)
        ips_values.append(ips(*args).value)
        dr_values.append(doubly_robust(*args, WORLD.p[log.ctx]).value)
    _within_3_se(dr_values, WORLD.true_value)
    assert np.var(dr_values) < 0.5 * np.var(ips_values)


def test_cross_fitted_ridge_model_keeps_dr_unbiased_and_tighter_than_ips() -> None:
    rng = np.random.default_rng(3)
    dr_values, dr_se, ips_se = [], [], []
    for rep in range(60):
        log = simulate(WORLD, 400, epsilon=0.5, rng=rng)
        args = (log.actions, log.propensities, log.rewards, log.target)
        q_hat = fit_reward_model(WORLD.x[log.ctx], log.actions, log.rewards, K, seed=rep)
        assert q_hat.shape == (400, K) and q_hat.min() >= 0.0 and q_hat.max() <= 1.0
        dr = doubly_robust(*args, q_hat)
        dr_values.append(dr.value)
        dr_se.append(dr.stderr)
        ips_se.append(ips(*args).stderr)
    _within_3_se(dr_values, WORLD.true_value)
    assert np.mean(dr_se) < 0.7 * np.mean(ips_se)


def test_logistic_reward_model_predicts_probabilities() -> None:
    log = simulate(WORLD, 600, epsilon=0.5, rng=np.random.default_rng(4))
    q_hat = fit_reward_model(WORLD.x[log.ctx], log.actions, log.rewards, K, model="logistic")
    assert q_hat.shape == (600, K) and np.all((q_hat > 0.0) & (q_hat < 1.0))
    # Better than a constant guess of the success probabilities.
    truth = WORLD.p[log.ctx]
    assert np.mean((q_hat - truth) ** 2) < np.mean((truth - truth.mean()) ** 2)


def test_snips_stays_within_the_reward_range_when_propensities_are_small() -> None:
    rng = np.random.default_rng(5)
    ips_values, snips_values = [], []
    for _ in range(100):
        # epsilon 0.04 over 4 arms: propensity 0.01 whenever the target leaves the logger's arm.
        log = simulate(WORLD, 1000, epsilon=0.04, rng=rng)
        args = (log.actions, log.propensities, log.rewards, log.target)
        ips_values.append(ips(*args).value)
        snips_values.append(snips(*args).value)
    assert max(ips_values) > 1.0  # IPS leaves [0, 1]...
    assert all(0.0 <= v <= 1.0 for v in snips_values)  # ...SNIPS never does
    assert np.var(snips_values) < np.var(ips_values)


def test_logging_policy_as_target_gives_the_sample_mean_and_full_ess() -> None:
    log = simulate(WORLD, 500, epsilon=1.0, rng=np.random.default_rng(6))
    uniform = np.full((500, K), 1.0 / K)
    for estimator in (ips, snips):
        e = estimator(log.actions, log.propensities, log.rewards, uniform)
        assert e.value == pytest.approx(log.rewards.mean())
        assert e.ess == pytest.approx(500.0)
        assert e.stderr == pytest.approx(log.rewards.std(ddof=1) / np.sqrt(500))


def test_bootstrap_interval_agrees_with_the_normal_one_and_is_seeded() -> None:
    log = simulate(WORLD, 2000, epsilon=0.5, rng=np.random.default_rng(7))
    args = (log.actions, log.propensities, log.rewards, log.target)
    for estimator in (ips, snips):
        normal = estimator(*args)
        boot = estimator(*args, interval="bootstrap", n_boot=400, seed=1)
        assert boot.interval == "bootstrap" and boot.value == normal.value
        width = normal.ci[1] - normal.ci[0]
        assert abs(boot.ci[0] - normal.ci[0]) < 0.2 * width
        assert abs(boot.ci[1] - normal.ci[1]) < 0.2 * width
        assert estimator(*args, interval="bootstrap", n_boot=400, seed=1) == boot


def test_level_sets_the_interval_width() -> None:
    log = simulate(WORLD, 300, epsilon=0.5, rng=np.random.default_rng(8))
    args = (log.actions, log.propensities, log.rewards, log.target)
    e95, e50 = ips(*args), ips(*args, level=0.5)
    assert e50.ci[1] - e50.ci[0] < e95.ci[1] - e95.ci[0]
    assert e95.ci[1] - e95.value == pytest.approx(1.959964 * e95.stderr)
    assert "ips" in str(e95) and "95% CI" in str(e95)


# -- target probabilities from a policy ---------------------------------------------------------


def _fitted(policy: Any) -> Any:
    rng = np.random.default_rng(9)
    for i in range(40):
        m = int(rng.integers(M))
        arm = f"arm{i % K}"
        policy.update(arm, WORLD.x[m], float(WORLD.p[m, i % K] > 0.5))
    return policy


def test_target_probabilities_leave_the_policy_untouched() -> None:
    policy = _fitted(EpsilonGreedy(epsilon=0.2, seed=3))
    before = copy.deepcopy(policy.state_dict())
    arms = [f"arm{a}" for a in range(K)] + ["new"]
    probs = target_probabilities(policy, WORLD.x[:10], arms)
    assert probs.shape == (10, K + 1)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    assert policy.state_dict() == before  # generator not advanced, "new" not registered
    probe = copy.deepcopy(policy)
    for row, x in zip(probs, WORLD.x[:10], strict=True):
        d = probe.choose(x, arms)
        assert d.propensities is not None
        np.testing.assert_allclose(row, [d.propensities[a] for a in arms])


def test_target_probabilities_of_greedy_and_thompson_policies() -> None:
    arms = [f"arm{a}" for a in range(K)]
    greedy = target_probabilities(_fitted(LinUCB(alpha=0.0)), WORLD.x, arms)
    assert set(np.unique(greedy)) <= {0.0, 1.0}
    thompson = target_probabilities(_fitted(LinearThompson(seed=0)), WORLD.x[:5], arms)
    np.testing.assert_allclose(thompson.sum(axis=1), 1.0)


class _NoPropensities:
    def choose(self, context: Any, arms: Sequence[str]) -> Decision:
        return Decision(arms[0], {a: 0.0 for a in arms}, 1.0, None, "blind")

    def update(self, decision_or_arm: Any, context: Any, reward: float) -> _NoPropensities:
        return self


def test_target_probabilities_need_every_arm_propensity() -> None:
    with pytest.raises(ValueError, match="'blind' does not report the propensity"):
        target_probabilities(_NoPropensities(), WORLD.x[:2], ["a", "b"])
    with pytest.raises(ValueError, match=r"contexts must be an \(n, d\) matrix"):
        target_probabilities(EpsilonGreedy(), WORLD.x[0], ["a"])


# -- input validation ---------------------------------------------------------------------------

A = np.array([0, 1, 1])
P = np.array([0.5, 0.5, 0.5])
R = np.array([1.0, 0.0, 1.0])
T = one_hot([0, 0, 1], 2)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"propensities": [0.5, 0.0, 0.5]}, r"propensities\[1\] = 0.0 is not in \(0, 1\]"),
        ({"propensities": [0.5, 1.5, 0.5]}, r"propensities\[1\] = 1.5 is not in \(0, 1\]"),
        ({"propensities": [0.5, np.nan, 0.5]}, r"propensities\[1\] = nan"),
        ({"propensities": [[0.5, 0.5, 0.5]]}, "propensities must be a 1-D array"),
        ({"actions": [0, 1]}, r"actions must have shape \(3,\), got \(2,\)"),
        ({"actions": [0, 2, 1]}, r"actions\[1\] = 2 is not an arm index in \[0, 2\)"),
        ({"actions": [0.0, 1.0, 1.0]}, "actions must be integer arm indices"),
        ({"rewards": [1.0, 0.0]}, r"rewards must have shape \(3,\)"),
        ({"rewards": [1.0, np.inf, 0.0]}, "rewards have non-finite values"),
        ({"target": [[1.0, 0.0]] * 2}, r"target must have shape \(3, K\), got \(2, 2\)"),
        ({"target": [[0.5, 0.4]] * 3}, "target row 0 sums to 0.9, not 1"),
        ({"target": [[1.5, -0.5]] * 3}, r"target row 0 has probabilities outside \[0, 1\]"),
        (
            {"actions": [0], "propensities": [0.5], "rewards": [1.0], "target": [[1.0, 0.0]]},
            "need at least 2 logged rounds",
        ),
    ],
)
def test_invalid_logs_are_rejected_with_a_clear_message(
    kwargs: dict[str, Any], message: str
) -> None:
    args: dict[str, Any] = {"actions": A, "propensities": P, "rewards": R, "target": T}
    args.update(kwargs)
    for estimator in (ips, snips):
        with pytest.raises(ValueError, match=message):
            estimator(**args)
    with pytest.raises(ValueError, match=message):
        doubly_robust(**args, q_hat=np.zeros((len(np.asarray(args["target"])), 2)))


def test_other_invalid_arguments() -> None:
    with pytest.raises(ValueError, match=r"q_hat must have the target's shape \(3, 2\)"):
        doubly_robust(A, P, R, T, np.zeros((3, 3)))
    with pytest.raises(ValueError, match="q_hat has non-finite values"):
        doubly_robust(A, P, R, T, np.full((3, 2), np.nan))
    with pytest.raises(ValueError, match="SNIPS is undefined"):
        snips(A, P, R, one_hot([1, 0, 0], 2))
    with pytest.raises(ValueError, match="interval must be 'normal' or 'bootstrap'"):
        ips(A, P, R, T, interval="exact")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"level must be in \(0, 1\)"):
        ips(A, P, R, T, level=95)
    with pytest.raises(ValueError, match="n_boot must be an integer of at least 10"):
        ips(A, P, R, T, interval="bootstrap", n_boot=5)
    with pytest.raises(ValueError, match="n_arms must be a positive integer"):
        one_hot([0], 0)


def test_reward_model_arguments_are_checked() -> None:
    x = np.zeros((4, 2))
    with pytest.raises(ValueError, match=r"logistic reward model needs rewards in \{0, 1\}"):
        fit_reward_model(x, [0, 0, 1, 1], [0.5, 1.0, 0.0, 1.0], 2, model="logistic")
    with pytest.raises(ValueError, match=r"folds must be an integer in \[2, n=4\]"):
        fit_reward_model(x, [0, 0, 1, 1], [0.0, 1.0, 0.0, 1.0], 2, folds=5)
    with pytest.raises(ValueError, match=r"contexts must be an \(n, d\) matrix"):
        fit_reward_model(np.zeros(4), [0, 0, 1, 1], [0.0, 1.0, 0.0, 1.0], 2)
    with pytest.raises(ValueError, match=r"actions\[2\] = 3 is not an arm index"):
        fit_reward_model(x, [0, 0, 3, 1], [0.0, 1.0, 0.0, 1.0], 2)
    with pytest.raises(ValueError, match="model must be 'ridge' or 'logistic'"):
        fit_reward_model(x, [0, 0, 1, 1], [0.0, 1.0, 0.0, 1.0], 2, model="forest")  # type: ignore[arg-type]
