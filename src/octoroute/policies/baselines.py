"""Baselines every learned policy is judged against, and the oracle (an upper bound).

* :class:`RandomPolicy`: a uniformly random offered arm.
* :class:`FixedArm`: always the same arm.
* :class:`BestSingleArm`: the arm of most mean reward on the training data (the honest
  baseline: chosen on the data a policy could see), then always that arm.
* :class:`Cheapest` and :class:`Largest`: by a known cost or size per arm.
* :class:`Oracle`: *not a policy*. It sees every arm's reward for the problem and picks the
  best, which no deployable router can do; its value bounds what routing can reach.

>>> import numpy as np
>>> x = np.zeros(2)
>>> Cheapest(costs={"small": 1.5, "large": 33.0}).choose(x, ["small", "large"]).arm
'small'
>>> Largest(sizes={"small": 1.5, "large": 33.0}).choose(x, ["small", "large"]).arm
'large'
>>> Oracle().value(np.array([[1.0, 0.0], [0.0, 0.0], [0.0, 1.0]]))
0.6666666666666666
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Self

import numpy as np

from octoroute.policies.base import ArmModel, BasePolicy, FloatArray

__all__ = ["BestSingleArm", "Cheapest", "FixedArm", "Largest", "Oracle", "RandomPolicy"]


class _Mean:
    """Running mean reward of one arm."""

    __slots__ = ("n", "total")

    def __init__(self, n: int = 0, total: float = 0.0) -> None:
        self.n = n
        self.total = total

    def to_state(self) -> dict[str, Any]:
        return {"n": self.n, "total": self.total}


class _Baseline(BasePolicy):
    """Baselines keep a running mean per arm (only :class:`BestSingleArm` uses it to choose)."""

    learns = False

    def _new_model(self, dim: int) -> ArmModel:
        return _Mean()

    def _model_from_state(self, data: dict[str, Any]) -> ArmModel:
        return _Mean(int(data["n"]), float(data["total"]))

    def _update_model(self, model: ArmModel, x: FloatArray, reward: float) -> None:
        assert isinstance(model, _Mean)
        model.n += 1
        model.total += reward


class RandomPolicy(_Baseline):
    """A uniformly random offered arm (propensity ``1/k``)."""

    name = "random"

    def __init__(self, *, seed: int | None = 0) -> None:
        self.seed = seed

    def _scores(self, x: FloatArray, arms: Sequence[str]) -> FloatArray:
        return np.zeros(len(arms))


class FixedArm(_Baseline):
    """Always ``arm``; raises ``ValueError`` when it is not offered."""

    name = "fixed"

    def __init__(self, *, arm: str, seed: int | None = 0) -> None:
        self.arm = arm
        self.seed = seed

    def _scores(self, x: FloatArray, arms: Sequence[str]) -> FloatArray:
        if self.arm not in arms:
            raise ValueError(f"fixed arm {self.arm!r} is not among the offered arms {list(arms)}")
        return np.array([1.0 if a == self.arm else 0.0 for a in arms])


class BestSingleArm(_Baseline):
    """The arm of most mean reward in the data seen (by :meth:`fit` or ``update``).

    Arms without data score ``+inf``, so in a bandit loop (only the chosen arm's reward seen)
    every offered arm is tried once before the means decide: without that, the first arm tried
    would be kept forever. Ties are broken by the generator.

    >>> p = BestSingleArm().fit(["a", "b"], np.array([[1.0, 0.0], [0.0, 0.0], [1.0, 1.0]]))
    >>> p.choose(np.zeros(1), ["a", "b"]).arm
    'a'
    """

    name = "best_single"

    def __init__(self, *, seed: int | None = 0) -> None:
        self.seed = seed

    def fit(
        self,
        arms: Sequence[str],
        rewards: np.ndarray[Any, Any],
        contexts: np.ndarray[Any, Any] | None = None,
    ) -> Self:
        """Learn from a training matrix: ``rewards[i, j]`` is arm ``arms[j]``'s reward on
        problem ``i`` (full information). ``contexts`` (one row per problem) is optional."""
        r = np.asarray(rewards, dtype=np.float64)
        if r.ndim != 2 or r.shape[1] != len(arms):
            raise ValueError(f"rewards must have shape (n, {len(arms)}), got {r.shape}")
        if contexts is None:
            self._ensure_state()
            x = np.zeros((len(r), self._dim or 1))
        else:
            x = np.asarray(contexts, dtype=np.float64)
        for i in range(len(r)):
            for j, arm in enumerate(arms):
                self.update(arm, x[i], float(r[i, j]))
        return self

    def _scores(self, x: FloatArray, arms: Sequence[str]) -> FloatArray:
        out = np.full(len(arms), np.inf)
        for i, arm in enumerate(arms):
            m = self._models[arm]
            assert isinstance(m, _Mean)
            if m.n:
                out[i] = m.total / m.n
        return out


class _ByAttribute(_Baseline):
    """Greedy on a known number per arm; arms with no number are skipped."""

    def _values(self) -> Mapping[str, float]:
        raise NotImplementedError

    def _scores(self, x: FloatArray, arms: Sequence[str]) -> FloatArray:
        values = self._values()
        known = [a for a in arms if a in values]
        if not known:
            raise ValueError(f"no {self.name} value is known for any of the arms {list(arms)}")
        return np.array([float(values[a]) if a in values else -np.inf for a in arms])


class Cheapest(_ByAttribute):
    """The offered arm of least ``costs[arm]`` (arms of unknown cost are never chosen)."""

    name = "cheapest"

    def __init__(self, *, costs: Mapping[str, float], seed: int | None = 0) -> None:
        self.costs = costs
        self.seed = seed

    def _values(self) -> Mapping[str, float]:
        return {a: -float(c) for a, c in self.costs.items()}


class Largest(_ByAttribute):
    """The offered arm of most ``sizes[arm]`` (parameters; arms of unknown size never chosen)."""

    name = "largest"

    def __init__(self, *, sizes: Mapping[str, float], seed: int | None = 0) -> None:
        self.sizes = sizes
        self.seed = seed

    def _values(self) -> Mapping[str, float]:
        return {a: float(s) for a, s in self.sizes.items()}


class Oracle:
    """An upper bound, **not a policy**: it is given every arm's reward and takes the best.

    No router can see the rewards before choosing; the oracle's value is what a perfect router
    would reach on the same pool, and regret is measured against it.

    >>> Oracle().choose({"small": 0.0, "large": 1.0})
    'large'
    """

    def choose(self, rewards: Mapping[str, float]) -> str:
        """The arm of best reward in a full reward row (the first one on ties)."""
        if not rewards:
            raise ValueError("no arm offered")
        return max(rewards, key=lambda a: rewards[a])

    def value(self, rewards: np.ndarray[Any, Any]) -> float:
        """Mean over problems of the best reward (``rewards[i, j]``: arm ``j`` on problem ``i``)."""
        r = np.asarray(rewards, dtype=np.float64)
        if r.ndim != 2 or r.shape[1] == 0:
            raise ValueError(f"rewards must be an (n, k) matrix, got shape {r.shape}")
        return float(r.max(axis=1).mean())
