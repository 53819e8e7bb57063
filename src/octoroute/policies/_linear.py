"""Per-arm ridge regression with Sherman-Morrison updates of the inverse Gram matrix.

Shared by the linear policies (LinUCB, linear Thompson sampling, epsilon-greedy, SquareCB):
an update costs O(d^2) and never inverts a matrix.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

FloatArray = np.ndarray[Any, np.dtype[np.float64]]


INTERCEPT_L2 = 1e-2
"""Prior precision of the intercept: weak, so an arm's base rate is learned almost unshrunk."""
PRIOR_MEAN = 0.5
"""Prior mean of the intercept: an untried arm is expected to pass half the time, so a greedy
policy tries it whenever the known arms look worse than that (never if its prior were 0)."""


class Ridge:
    """Ridge regression of the reward on the context with an intercept:
    ``A = diag(l2, ..., l2, INTERCEPT_L2) + sum z z^T`` and ``b = b0 + sum r z`` for
    ``z = (x, 1)``, where ``b0`` puts the intercept's prior mean at :data:`PRIOR_MEAN`.

    Without the intercept every prediction would be shrunk toward 0 rather than toward the
    arm's mean reward, and on a new problem (little overlap with the training contexts) arms
    would be compared by noise instead of by how often they pass.

    >>> m = Ridge.fresh(2, l2=1.0)
    >>> for _ in range(10):
    ...     m.update(np.array([1.0, 0.0]), 1.0)
    ...     m.update(np.array([0.0, 1.0]), 0.0)
    >>> round(m.predict(np.array([1.0, 0.0])), 2), round(m.predict(np.array([0.5, 0.5])), 2)
    (0.95, 0.5)
    """

    __slots__ = ("a_inv", "b", "n", "theta")

    def __init__(self, a_inv: FloatArray, b: FloatArray, theta: FloatArray, n: int) -> None:
        self.a_inv = a_inv
        self.b = b
        self.theta = theta
        self.n = n

    @classmethod
    def fresh(cls, dim: int, l2: float) -> Ridge:
        """The prior: no data, ``A = diag(l2, ..., l2, INTERCEPT_L2)`` over ``dim + 1``."""
        precision = np.full(dim + 1, float(l2))
        precision[-1] = INTERCEPT_L2
        b = np.zeros(dim + 1)
        b[-1] = INTERCEPT_L2 * PRIOR_MEAN
        a_inv = np.diag(1.0 / precision)
        return cls(a_inv, b, a_inv @ b, 0)

    @staticmethod
    def _z(x: FloatArray) -> FloatArray:
        return np.append(x, 1.0)

    def predict(self, x: FloatArray) -> float:
        """The ridge estimate of the reward."""
        return float(self.theta[:-1] @ x + self.theta[-1])

    def variance(self, x: FloatArray) -> float:
        """``z^T A^-1 z``: the estimate's uncertainty (up to the noise scale)."""
        z = self._z(x)
        return max(float(z @ (self.a_inv @ z)), 0.0)

    def update(self, x: FloatArray, reward: float) -> None:
        """Add one observation (Sherman-Morrison rank-one update of ``A^-1``)."""
        z = self._z(x)
        az = self.a_inv @ z
        self.a_inv -= np.outer(az, az) / (1.0 + float(z @ az))
        self.b += reward * z
        self.theta = self.a_inv @ self.b
        self.n += 1

    def to_state(self) -> dict[str, Any]:
        """JSON-safe state (floats round-trip exactly through JSON)."""
        return {"a_inv": self.a_inv.tolist(), "b": self.b.tolist(), "n": self.n}

    @classmethod
    def from_state(cls, data: dict[str, Any]) -> Ridge:
        """Rebuild from :meth:`to_state`."""
        a_inv = np.asarray(data["a_inv"], dtype=np.float64)
        b = np.asarray(data["b"], dtype=np.float64)
        return cls(a_inv, b, a_inv @ b, int(data["n"]))


class RidgePolicyMixin:
    """The model hooks of a policy whose per-arm model is :class:`Ridge` (hyperparameter ``l2``)."""

    l2: float

    def _new_model(self, dim: int) -> Ridge:
        return Ridge.fresh(dim, self.l2)

    def _model_from_state(self, data: dict[str, Any]) -> Ridge:
        return Ridge.from_state(data)

    def _update_model(self, model: Any, x: FloatArray, reward: float) -> None:
        model.update(x, reward)

    def _predict(self, x: FloatArray, arms: Sequence[str]) -> FloatArray:
        return self._predictions(x, arms)

    def _predictions(self, x: FloatArray, arms: Sequence[str]) -> FloatArray:
        """Each arm's predicted reward for context ``x``."""
        models: dict[str, Any] = getattr(self, "_models")  # noqa: B009 - set by BasePolicy
        return np.array([models[arm].predict(x) for arm in arms], dtype=float)
