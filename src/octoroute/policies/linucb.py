"""Disjoint LinUCB (Li, Chu, Langford and Schapire, 2010).

Each arm keeps a ridge regression of the reward on the context; the score is the estimate plus
``alpha`` times its standard error, ``theta_a . x + alpha * sqrt(x^T A_a^-1 x)``. The choice is
greedy on that score, so the propensity is 1 (or 1/k among k tied arms).

>>> import numpy as np
>>> p = LinUCB(alpha=1.0, seed=0)
>>> d = p.choose(np.array([1.0, 0.0]), ["small", "large"])
>>> d.propensity, sorted(d.scores)
(0.5, ['large', 'small'])
>>> p.update(d, np.array([1.0, 0.0]), 1.0).arms
('small', 'large')
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from octoroute.policies._linear import FloatArray, Ridge, RidgePolicyMixin
from octoroute.policies.base import BasePolicy

__all__ = ["LinUCB"]


class LinUCB(RidgePolicyMixin, BasePolicy):
    """Disjoint LinUCB with Sherman-Morrison updates.

    Parameters
    ----------
    alpha:
        Width of the confidence bonus (exploration).
    l2:
        Ridge penalty of the context weights (the intercept is nearly free). The default 10
        was chosen on HumanEval+ among 1, 3, 10, 30, 100 (cross-fitted replay); on MBPP+ it
        is within noise of the best.
    seed:
        Seed of the generator that breaks ties.
    """

    name = "linucb"

    def __init__(self, *, alpha: float = 1.0, l2: float = 10.0, seed: int | None = 0) -> None:
        self.alpha = alpha
        self.l2 = l2
        self.seed = seed

    def _scores(self, x: FloatArray, arms: Sequence[str]) -> FloatArray:
        out = np.empty(len(arms))
        for i, arm in enumerate(arms):
            m = self._models[arm]
            assert isinstance(m, Ridge)
            out[i] = m.predict(x) + self.alpha * np.sqrt(m.variance(x))
        return out
