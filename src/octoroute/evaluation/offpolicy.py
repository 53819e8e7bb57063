"""Off-policy estimates of a target policy's value from logged decisions.

Every logged round ``i`` records the arm the logging policy chose, ``actions[i]`` (an index into
the ``K`` arms), the probability it had of choosing that arm, ``propensities[i]`` in (0, 1], and
the reward observed, ``rewards[i]``. The target policy is given by its probabilities over all arms
in every round, ``target[i, a]`` (a deterministic target is one-hot: :func:`one_hot`; a fitted
octoroute policy gives them through :func:`target_probabilities`). With the importance weight
``w_i = target[i, actions[i]] / propensities[i]``:

* :func:`ips`, inverse propensity scoring: ``mean(w_i r_i)``. Unbiased when every arm the
  target may choose had a positive logging propensity, but of high variance when propensities
  are small.
* :func:`snips`, self-normalized IPS: ``sum(w_i r_i) / sum(w_i)``. A weighted mean of the
  rewards, so it never leaves their range; biased by O(1/n), usually of much lower variance.
* :func:`doubly_robust`: a reward model's predictions for the target's arms, corrected by the
  importance-weighted residual of the logged arm. Unbiased when the propensities are right,
  whatever the model; of lower variance than IPS when the model is good.
  :func:`fit_reward_model` fits one by cross-fitting (no round is predicted by a model that
  saw it, which keeps the estimate unbiased).

Each returns an :class:`Estimate`: the value, its standard error, a confidence interval (normal
approximation, or a percentile bootstrap), ``n`` and the effective sample size of the importance
weights (Kish's ``(sum w)^2 / sum w^2``).

>>> import numpy as np
>>> actions = np.array([0, 1, 0, 1])
>>> propensities = np.full(4, 0.5)
>>> rewards = np.array([1.0, 0.0, 0.0, 1.0])
>>> always_0 = one_hot(np.zeros(4, dtype=int), 2)
>>> ips(actions, propensities, rewards, always_0).value
0.5
>>> snips(actions, propensities, rewards, always_0).ess
2.0
>>> q_hat = np.full((4, 2), 0.5)
>>> doubly_robust(actions, propensities, rewards, always_0, q_hat).value
0.5
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from octoroute.policies.base import Policy

__all__ = [
    "Estimate",
    "doubly_robust",
    "fit_reward_model",
    "ips",
    "one_hot",
    "snips",
    "target_probabilities",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]
Interval = Literal["normal", "bootstrap"]

_SUM_TOLERANCE = 1e-6  # target rows may carry rounding (Monte-Carlo propensities, softmax)
_BOOTSTRAP_CELLS = 2_000_000  # resampled indices held in memory at once


@dataclass(frozen=True, slots=True)
class Estimate:
    """An off-policy estimate of a target policy's mean reward.

    ``stderr`` is the standard error (the delta method for the self-normalized estimator),
    ``ci`` the interval at ``level`` (``interval`` says how it was made), ``n`` the number of
    logged rounds and ``ess`` the effective sample size of the importance weights: about how
    many rounds the estimate really rests on (``n`` when the target is the logging policy).

    >>> e = Estimate("ips", 0.5, 0.1, (0.304, 0.696), 100, 50.0)
    >>> print(e)
    ips 0.5000 ± 0.1000 (95% CI 0.3040 to 0.6960, normal; n=100, ESS=50.0)
    """

    estimator: str
    value: float
    stderr: float
    ci: tuple[float, float]
    n: int
    ess: float
    level: float = 0.95
    interval: Interval = "normal"

    def __str__(self) -> str:
        lo, hi = self.ci
        return (
            f"{self.estimator} {self.value:.4f} ± {self.stderr:.4f} "
            f"({self.level:.0%} CI {lo:.4f} to {hi:.4f}, {self.interval}; "
            f"n={self.n}, ESS={self.ess:.1f})"
        )


def ips(
    actions: npt.ArrayLike,
    propensities: npt.ArrayLike,
    rewards: npt.ArrayLike,
    target: npt.ArrayLike,
    *,
    level: float = 0.95,
    interval: Interval = "normal",
    n_boot: int = 1000,
    seed: int | None = 0,
) -> Estimate:
    """Inverse propensity scoring: ``mean(w_i r_i)``.

    ``actions`` (integer arm indices), ``propensities`` and ``rewards`` have one entry per
    logged round; ``target`` is ``(n, K)``, the target policy's probability of every arm in
    every round. ``interval="bootstrap"`` replaces the normal interval by a percentile
    bootstrap over rounds (``n_boot`` resamples drawn from a generator seeded by ``seed``).

    >>> ips([0, 1], [0.5, 0.5], [1.0, 1.0], [[1.0, 0.0], [1.0, 0.0]]).value
    1.0
    """
    a, p, r, t = _check_logged(actions, propensities, rewards, target)
    w = _weights(a, p, t)
    return _estimate("ips", w * r, np.ones_like(w), w, level, interval, n_boot, seed)


def snips(
    actions: npt.ArrayLike,
    propensities: npt.ArrayLike,
    rewards: npt.ArrayLike,
    target: npt.ArrayLike,
    *,
    level: float = 0.95,
    interval: Interval = "normal",
    n_boot: int = 1000,
    seed: int | None = 0,
) -> Estimate:
    """Self-normalized IPS: ``sum(w_i r_i) / sum(w_i)``; arguments as for :func:`ips`.

    Raises ``ValueError`` when the target gives probability 0 to every logged action (the
    estimate is then 0/0: the log says nothing about the target).

    >>> snips([0, 1], [0.5, 0.5], [1.0, 0.0], [[1.0, 0.0], [1.0, 0.0]]).value
    1.0
    """
    a, p, r, t = _check_logged(actions, propensities, rewards, target)
    w = _weights(a, p, t)
    if not w.sum() > 0.0:
        raise ValueError(
            "SNIPS is undefined: the target gives probability 0 to every logged action"
        )
    return _estimate("snips", w * r, w, w, level, interval, n_boot, seed)


def doubly_robust(
    actions: npt.ArrayLike,
    propensities: npt.ArrayLike,
    rewards: npt.ArrayLike,
    target: npt.ArrayLike,
    q_hat: npt.ArrayLike,
    *,
    level: float = 0.95,
    interval: Interval = "normal",
    n_boot: int = 1000,
    seed: int | None = 0,
) -> Estimate:
    """Doubly robust: ``mean(sum_a target[i, a] q_hat[i, a] + w_i (r_i - q_hat[i, a_i]))``.

    ``q_hat`` is ``(n, K)``: a reward model's prediction for every arm in every round (from
    :func:`fit_reward_model`, or any model that did not see round ``i``'s reward); the other
    arguments are as for :func:`ips`.

    >>> doubly_robust([0, 1], [0.5, 0.5], [1.0, 0.0], [[1.0, 0.0], [1.0, 0.0]],
    ...               [[1.0, 0.0], [1.0, 0.0]]).value
    1.0
    """
    a, p, r, t = _check_logged(actions, propensities, rewards, target)
    q = _as_float(q_hat, "q_hat")
    if q.shape != t.shape:
        raise ValueError(f"q_hat must have the target's shape {t.shape}, got {q.shape}")
    if not np.all(np.isfinite(q)):
        raise ValueError("q_hat has non-finite values")
    w = _weights(a, p, t)
    logged_q = q[np.arange(len(a)), a]
    terms = (t * q).sum(axis=1) + w * (r - logged_q)
    return _estimate("dr", terms, np.ones_like(w), w, level, interval, n_boot, seed)


def fit_reward_model(
    contexts: npt.ArrayLike,
    actions: npt.ArrayLike,
    rewards: npt.ArrayLike,
    n_arms: int,
    *,
    model: Literal["ridge", "logistic"] = "ridge",
    alpha: float = 1.0,
    folds: int = 2,
    seed: int | None = 0,
) -> FloatArray:
    """Cross-fitted per-arm reward predictions ``q_hat`` of shape ``(n, n_arms)``.

    Rounds are split into ``folds`` random folds (a generator seeded by ``seed``); the rows of a
    fold are predicted by models fitted on the other folds only, one model per arm on the
    rounds where that arm was logged. ``model="ridge"`` is a ridge regression (penalty
    ``alpha``), its predictions clipped to the range of the training rewards;
    ``model="logistic"`` is an L2 logistic regression (``C = 1 / alpha``) for rewards in
    {0, 1}. An arm without training rounds, or with a single reward value, is predicted by a
    constant (the training rounds' mean reward, or that single value).

    >>> X = np.array([[0.0], [1.0], [0.0], [1.0]])
    >>> q_hat = fit_reward_model(X, [0, 0, 0, 0], [0.0, 1.0, 0.0, 1.0], 2, alpha=1e-6, folds=4)
    >>> q_hat[:, 0].round(2)  # arm 0: fitted on the three other rounds
    array([0., 1., 0., 1.])
    >>> q_hat[:, 1].round(2)  # arm 1, never logged: their mean reward
    array([0.67, 0.33, 0.67, 0.33])
    """
    # Lazy: scikit-learn takes over a second to import and most callers never fit a model.
    from sklearn.linear_model import (  # type: ignore[import-untyped]
        LogisticRegression,
        Ridge,
    )

    x = _as_float(contexts, "contexts")
    if x.ndim != 2:
        raise ValueError(f"contexts must be an (n, d) matrix, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("contexts have non-finite values")
    n = x.shape[0]
    if isinstance(n_arms, bool) or not isinstance(n_arms, int) or n_arms < 1:
        raise ValueError(f"n_arms must be a positive integer, got {n_arms!r}")
    a = _check_actions(actions, n, n_arms)
    r = _check_rewards(rewards, n)
    if model not in ("ridge", "logistic"):
        raise ValueError(f"model must be 'ridge' or 'logistic', got {model!r}")
    if model == "logistic" and not np.all((r == 0.0) | (r == 1.0)):
        raise ValueError("the logistic reward model needs rewards in {0, 1}; use model='ridge'")
    if not (np.isfinite(alpha) and alpha > 0):
        raise ValueError(f"alpha must be positive, got {alpha}")
    if isinstance(folds, bool) or not isinstance(folds, int) or not 2 <= folds <= n:
        raise ValueError(f"folds must be an integer in [2, n={n}], got {folds!r}")

    fold = np.empty(n, dtype=np.intp)
    fold[np.random.default_rng(seed).permutation(n)] = np.arange(n) % folds
    q = np.empty((n, n_arms), dtype=np.float64)
    for f in range(folds):
        test, train = fold == f, fold != f
        lo, hi = float(r[train].min()), float(r[train].max())
        for arm in range(n_arms):
            rows = train & (a == arm)
            ys = r[rows]
            if len(ys) == 0 or np.all(ys == ys[0]):
                q[test, arm] = ys[0] if len(ys) else r[train].mean()
            elif model == "ridge":
                fitted = Ridge(alpha=alpha).fit(x[rows], ys)
                # A linear fit can leave the reward range; clipping only lowers the error and,
                # the model being fitted out of fold, keeps the DR estimate unbiased.
                q[test, arm] = np.clip(fitted.predict(x[test]), lo, hi)
            else:
                fitted = LogisticRegression(C=1.0 / alpha, max_iter=1000)
                fitted.fit(x[rows], ys.astype(np.intp))
                q[test, arm] = fitted.predict_proba(x[test])[:, 1]
    return q


def target_probabilities(
    policy: Policy, contexts: npt.ArrayLike, arms: Sequence[str]
) -> FloatArray:
    """The probability a policy gives each of ``arms`` on each context, shape ``(n, K)``.

    The policy's ``choose`` is asked on a deep copy, because choosing may advance the policy's
    generator and registers unseen arms: the policy itself is left exactly as it was (no
    update is ever made). Each row holds the :class:`~octoroute.types.Decision`'s
    ``propensities`` (Monte-Carlo estimates for Thompson sampling); a policy whose decisions
    carry none raises ``ValueError``.

    >>> from octoroute.policies import EpsilonGreedy
    >>> policy = EpsilonGreedy(epsilon=0.2, seed=0).update("b", np.ones(2), 1.0)
    >>> target_probabilities(policy, np.ones((1, 2)), ["a", "b"])
    array([[0.1, 0.9]])
    """
    x = _as_float(contexts, "contexts")
    if x.ndim != 2:
        raise ValueError(f"contexts must be an (n, d) matrix, got shape {x.shape}")
    arms = list(arms)
    if not arms:
        raise ValueError("no arm given")
    probe = copy.deepcopy(policy)
    out = np.zeros((x.shape[0], len(arms)), dtype=np.float64)
    for i, row in enumerate(x):
        decision = probe.choose(row, arms)
        if decision.propensities is None:
            name = decision.policy or type(policy).__name__
            raise ValueError(f"policy {name!r} does not report the propensity of every arm")
        out[i] = [float(decision.propensities.get(arm, 0.0)) for arm in arms]
    _check_target(out, x.shape[0])
    return out


def one_hot(choices: npt.ArrayLike, n_arms: int) -> FloatArray:
    """The ``(n, n_arms)`` probabilities of a deterministic target choosing ``choices[i]``.

    >>> one_hot([2, 0], 3)
    array([[0., 0., 1.],
           [1., 0., 0.]])
    """
    if isinstance(n_arms, bool) or not isinstance(n_arms, int) or n_arms < 1:
        raise ValueError(f"n_arms must be a positive integer, got {n_arms!r}")
    idx = _check_actions(choices, None, n_arms, name="choices")
    out = np.zeros((len(idx), n_arms), dtype=np.float64)
    out[np.arange(len(idx)), idx] = 1.0
    return out


# -- validation -----------------------------------------------------------------------------


def _as_float(value: npt.ArrayLike, name: str) -> FloatArray:
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric: {exc}") from None


def _check_actions(actions: Any, n: int | None, k: int, name: str = "actions") -> IntArray:
    a = np.asarray(actions)
    if a.ndim != 1 or (n is not None and a.shape[0] != n):
        want = f"({n},)" if n is not None else "(n,)"
        raise ValueError(f"{name} must have shape {want}, got {a.shape}")
    if a.size and not np.issubdtype(a.dtype, np.integer):
        raise ValueError(f"{name} must be integer arm indices, got dtype {a.dtype}")
    a = a.astype(np.intp)
    bad = np.flatnonzero((a < 0) | (a >= k))
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"{name}[{i}] = {a[i]} is not an arm index in [0, {k})")
    return a


def _check_rewards(rewards: npt.ArrayLike, n: int) -> FloatArray:
    r = _as_float(rewards, "rewards")
    if r.shape != (n,):
        raise ValueError(f"rewards must have shape ({n},), got {r.shape}")
    if not np.all(np.isfinite(r)):
        raise ValueError("rewards have non-finite values")
    return r


def _check_target(t: FloatArray, n: int) -> None:
    if t.ndim != 2 or t.shape[0] != n or t.shape[1] < 1:
        raise ValueError(f"target must have shape ({n}, K), got {t.shape}")
    if not np.all(np.isfinite(t)):
        raise ValueError("target has non-finite probabilities")
    bad = np.flatnonzero((t < -_SUM_TOLERANCE).any(axis=1) | (t > 1 + _SUM_TOLERANCE).any(axis=1))
    if bad.size:
        raise ValueError(f"target row {int(bad[0])} has probabilities outside [0, 1]")
    sums = t.sum(axis=1)
    bad = np.flatnonzero(np.abs(sums - 1.0) > _SUM_TOLERANCE)
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"target row {i} sums to {sums[i]:.6g}, not 1")


def _check_logged(
    actions: npt.ArrayLike,
    propensities: npt.ArrayLike,
    rewards: npt.ArrayLike,
    target: npt.ArrayLike,
) -> tuple[IntArray, FloatArray, FloatArray, FloatArray]:
    p = _as_float(propensities, "propensities")
    if p.ndim != 1:
        raise ValueError(f"propensities must be a 1-D array, got shape {p.shape}")
    n = p.shape[0]
    if n < 2:
        raise ValueError(f"need at least 2 logged rounds for a standard error, got {n}")
    bad = np.flatnonzero(~((p > 0.0) & (p <= 1.0)))  # also catches NaN
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"propensities[{i}] = {p[i]} is not in (0, 1]")
    r = _check_rewards(rewards, n)
    t = _as_float(target, "target")
    _check_target(t, n)
    a = _check_actions(actions, n, t.shape[1])
    # Rounding within the tolerance must not make a weight negative.
    return a, p, r, np.clip(t, 0.0, 1.0)


# -- the estimate ---------------------------------------------------------------------------


def _weights(a: IntArray, p: FloatArray, t: FloatArray) -> FloatArray:
    w: FloatArray = t[np.arange(len(a)), a] / p
    return w


def _estimate(
    name: str,
    num: FloatArray,
    den: FloatArray,
    w: FloatArray,
    level: float,
    interval: Interval,
    n_boot: int,
    seed: int | None,
) -> Estimate:
    """The ratio ``sum(num) / sum(den)`` (a plain mean when ``den`` is all ones)."""
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    n = len(num)
    value = float(num.sum() / den.sum())
    # Linearization of the ratio (the delta method); for den = 1 it is std(num, ddof=1)/sqrt(n).
    resid = num - value * den
    stderr = float(np.sqrt(n / (n - 1) * np.sum(resid**2)) / den.sum())
    if interval == "normal":
        z = NormalDist().inv_cdf(0.5 + level / 2.0)
        ci = (value - z * stderr, value + z * stderr)
    elif interval == "bootstrap":
        ci = _bootstrap_ci(num, den, level, n_boot, seed)
    else:
        raise ValueError(f"interval must be 'normal' or 'bootstrap', got {interval!r}")
    sw, sw2 = float(w.sum()), float(np.sum(w**2))
    ess = sw * sw / sw2 if sw2 > 0.0 else 0.0
    return Estimate(name, value, stderr, ci, n, ess, level, interval)


def _bootstrap_ci(
    num: FloatArray, den: FloatArray, level: float, n_boot: int, seed: int | None
) -> tuple[float, float]:
    if isinstance(n_boot, bool) or not isinstance(n_boot, int) or n_boot < 10:
        raise ValueError(f"n_boot must be an integer of at least 10, got {n_boot!r}")
    rng = np.random.default_rng(seed)
    n = len(num)
    stats = np.empty(n_boot, dtype=np.float64)
    chunk = max(1, _BOOTSTRAP_CELLS // n)
    for start in range(0, n_boot, chunk):
        idx = rng.integers(0, n, size=(min(chunk, n_boot - start), n))
        d = den[idx].sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            # A resample without a positive weight has no SNIPS value: it is left out.
            stats[start : start + len(idx)] = np.where(d > 0, num[idx].sum(axis=1) / d, np.nan)
    stats = stats[np.isfinite(stats)]
    if stats.size == 0:
        raise ValueError("no bootstrap resample has a defined value")
    tail = (1.0 - level) / 2.0
    lo, hi = np.quantile(stats, [tail, 1.0 - tail])
    return float(lo), float(hi)
