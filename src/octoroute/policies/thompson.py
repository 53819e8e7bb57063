"""Linear Thompson sampling (Agrawal and Goyal, 2013).

Each arm's parameter has the posterior ``N(theta_a, v^2 A_a^-1)`` of a ridge regression; a draw
of it is scored against the context and the best draw wins. Only ``x . theta~`` matters, so the
draw is made directly from its one-dimensional law ``N(theta_a . x, v^2 x^T A_a^-1 x)``: exact,
and O(d^2) per arm instead of a Cholesky factorization.

The propensity of the choice has no closed form; it is estimated by Monte-Carlo resampling
(``n_draws`` further draws from the policy's generator, the decisive draw counted too, so the
estimate is never 0).

>>> import numpy as np
>>> p = LinearThompson(v=0.5, seed=0)
>>> d = p.choose(np.array([1.0, 0.0]), ["small", "large"])
>>> 0.0 < d.propensity <= 1.0, round(sum(d.propensities.values()), 6)
(True, 1.0)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from octoroute.policies._linear import FloatArray, Ridge, RidgePolicyMixin
from octoroute.policies.base import BasePolicy

__all__ = ["LinearThompson"]


class LinearThompson(RidgePolicyMixin, BasePolicy):
    """Linear Thompson sampling with Sherman-Morrison updates.

    Parameters
    ----------
    v:
        Scale of the posterior (exploration).
    l2:
        Ridge penalty of the context weights (default as LinUCB's, see there).
    n_draws:
        Monte-Carlo draws used to estimate the propensities.
    seed:
        Seed of the generator that makes every draw.
    """

    name = "thompson"

    def __init__(
        self, *, v: float = 0.3, l2: float = 10.0, n_draws: int = 255, seed: int | None = 0
    ) -> None:
        self.v = v
        self.l2 = l2
        self.n_draws = n_draws
        self.seed = seed

    def _moments(self, x: FloatArray, arms: Sequence[str]) -> tuple[FloatArray, FloatArray]:
        mean = np.empty(len(arms))
        sd = np.empty(len(arms))
        for i, arm in enumerate(arms):
            m = self._models[arm]
            assert isinstance(m, Ridge)
            mean[i] = m.predict(x)
            sd[i] = self.v * np.sqrt(m.variance(x))
        return mean, sd

    def _scores(self, x: FloatArray, arms: Sequence[str]) -> FloatArray:
        """One posterior draw per arm (the draw that decides)."""
        mean, sd = self._moments(x, arms)
        self._last = (mean, sd)
        return mean + sd * self._rng.standard_normal(len(arms))

    def _choose(
        self, x: FloatArray, arms: Sequence[str], scores: FloatArray
    ) -> tuple[int, FloatArray]:
        idx, _ = self._greedy(scores)
        mean, sd = self._last
        draws = mean + sd * self._rng.standard_normal((self.n_draws, len(arms)))
        wins = np.bincount(draws.argmax(axis=1), minlength=len(arms)).astype(np.float64)
        wins[idx] += 1.0
        return idx, wins / wins.sum()
