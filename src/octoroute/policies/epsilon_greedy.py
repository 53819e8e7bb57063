"""Epsilon-greedy over a per-arm ridge regression of the reward.

With probability ``epsilon`` a uniformly random offered arm, otherwise the arm with the best
predicted reward (ties shared uniformly). The propensities are exact.

>>> import numpy as np
>>> p = EpsilonGreedy(epsilon=0.1, seed=0)
>>> d = p.choose(np.array([1.0, 0.0]), ["small", "large"])
>>> round(d.propensity, 6)
0.5
"""

from __future__ import annotations

from collections.abc import Sequence

from octoroute.policies._linear import FloatArray, RidgePolicyMixin
from octoroute.policies.base import BasePolicy

__all__ = ["EpsilonGreedy"]


class EpsilonGreedy(RidgePolicyMixin, BasePolicy):
    """Epsilon-greedy over ridge reward predictions.

    Parameters
    ----------
    epsilon:
        Probability of exploring uniformly.
    l2:
        Ridge penalty of the reward model.
    seed:
        Seed of the generator that explores and breaks ties.
    """

    name = "epsilon_greedy"

    def __init__(self, *, epsilon: float = 0.1, l2: float = 10.0, seed: int | None = 0) -> None:
        self.epsilon = epsilon
        self.l2 = l2
        self.seed = seed

    def _scores(self, x: FloatArray, arms: Sequence[str]) -> FloatArray:
        return self._predictions(x, arms)

    def _choose(
        self, x: FloatArray, arms: Sequence[str], scores: FloatArray
    ) -> tuple[int, FloatArray]:
        best = scores == scores.max()
        k = len(arms)
        probs = self.epsilon / k + (1.0 - self.epsilon) * best / best.sum()
        return self._sample(probs), probs
