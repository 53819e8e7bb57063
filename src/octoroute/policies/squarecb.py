"""SquareCB (Foster and Rakhlin, 2020): inverse-gap weighting over a regression oracle.

The oracle is a per-arm ridge regression of the reward. With ``b`` the arm of best prediction,
every other arm gets probability ``1 / (k + gamma * (yhat_b - yhat_a))`` and ``b`` the rest:
arms that look worse are tried less, in proportion to how much worse. ``gamma`` trades
exploration for exploitation (the paper's theory sets it near ``sqrt(k T)``). Ties for the best
prediction are averaged over, so the propensities are exact.

>>> import numpy as np
>>> p = SquareCB(gamma=50.0, seed=0)
>>> d = p.choose(np.array([1.0, 0.0]), ["small", "large"])
>>> round(d.propensity, 6)
0.5
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from octoroute.policies._linear import FloatArray, RidgePolicyMixin
from octoroute.policies.base import BasePolicy

__all__ = ["SquareCB"]


class SquareCB(RidgePolicyMixin, BasePolicy):
    """SquareCB with a ridge regression oracle.

    Parameters
    ----------
    gamma:
        Learning rate of the inverse-gap weighting (larger: greedier).
    l2:
        Ridge penalty of the reward model.
    seed:
        Seed of the generator that samples the arm.
    """

    name = "squarecb"

    def __init__(self, *, gamma: float = 50.0, l2: float = 10.0, seed: int | None = 0) -> None:
        self.gamma = gamma
        self.l2 = l2
        self.seed = seed

    def _scores(self, x: FloatArray, arms: Sequence[str]) -> FloatArray:
        return self._predictions(x, arms)

    def _choose(
        self, x: FloatArray, arms: Sequence[str], scores: FloatArray
    ) -> tuple[int, FloatArray]:
        k = len(arms)
        top = scores.max()
        leaders = np.flatnonzero(scores == top)
        base = 1.0 / (k + self.gamma * (top - scores))
        probs = np.zeros(k)
        for b in leaders:  # average over the tied leaders: exact propensities
            p = base.copy()
            p[b] = 0.0
            p[b] = 1.0 - p.sum()
            probs += p
        probs /= len(leaders)
        return self._sample(probs), probs
