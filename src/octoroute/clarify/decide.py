"""When to ask: the decision model of the clarification router, in replay and live.

Two logistic regressions on the request's words (the lexical featurizer over the prompt with no
tests: the benchmark keeps visible tests on originals and none on the rewrites, so the test
count would tell the two apart without reading the request) predict one arm's chance of passing
when it codes at once and when it asks first; the router asks when the second, minus
``lambda_ask`` (the cost of a user's turn), beats the first. A target with one class in the
training data is predicted as its rate.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from octoroute.exceptions import ConfigError
from octoroute.features import LexicalFeaturizer
from octoroute.types import Problem

__all__ = ["AskChoice", "AskModel"]

N_FEATURES = 256
"""Hashed columns of the request's lexical features."""
EXTRA_SCALE = 5.0
"""The factor of the extra columns (see :func:`_with`)."""


@dataclass(frozen=True, slots=True)
class AskChoice:
    """One decision: ask or code, with both predictions it was made from."""

    ask: bool
    p_code: float
    p_ask: float


def request_features(problems: Sequence[Problem]) -> np.ndarray[Any, Any]:
    """The lexical features of each request's prompt (what inference sees, tests left out)."""
    featurizer = LexicalFeaturizer(n_features=N_FEATURES)
    return np.vstack([featurizer.transform_one(dataclasses.replace(p.visible_only(), tests=()))
                      for p in problems])  # fmt: skip


@dataclass
class AskModel:
    """Predicts passing after coding at once and after asking; asks when asking, minus
    ``lambda_ask``, predicts better (see the module doc)."""

    lambda_ask: float = 0.1
    _models: dict[str, Any] = field(default_factory=dict, repr=False)
    _extra: int = field(default=0, repr=False)

    def fit(
        self,
        problems: Sequence[Problem],
        code: np.ndarray[Any, Any],
        ask: np.ndarray[Any, Any],
        extra: np.ndarray[Any, Any] | None = None,
    ) -> AskModel:
        """Learn from each problem's outcomes coding at once (``code``, 0/1) and asking;
        ``extra``: more columns per problem (a candidate's consistency with the request's
        claims, :mod:`.consistency`), which :meth:`choose` then needs too."""
        from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]

        if not problems or len(problems) != len(code) or len(problems) != len(ask):
            raise ConfigError(f"the ask model needs one code and one ask outcome per problem "
                              f"({len(problems)} problems: {len(code)}, {len(ask)})")  # fmt: skip
        x = _with(request_features(problems), extra)
        self._extra = 0 if extra is None else int(np.asarray(extra).shape[1])
        self._models = {}
        for name, y in (("code", np.asarray(code, float)), ("ask", np.asarray(ask, float))):
            if len(set(y.tolist())) < 2:  # one class: its rate
                self._models[name] = float(y.mean())
            else:
                self._models[name] = LogisticRegression(C=1.0, max_iter=1000).fit(x, y)
        return self

    def _predict(self, name: str, x: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        model = self._models[name]
        if isinstance(model, float):
            return np.full(len(x), model)
        return np.asarray(model.predict_proba(x)[:, 1])

    def choose(
        self, problems: Sequence[Problem], extra: np.ndarray[Any, Any] | None = None
    ) -> list[AskChoice]:
        """The decision for each request (``extra``: as fitted); ConfigError before
        :meth:`fit` or with other extra columns than it had."""
        if not self._models:
            raise ConfigError("the ask model is not fitted")
        given = 0 if extra is None else int(np.asarray(extra).shape[1])
        if given != self._extra:
            raise ConfigError(f"the ask model was fitted with {self._extra} extra columns, "
                              f"given {given}")  # fmt: skip
        x = _with(request_features(problems), extra)
        p_code, p_ask = self._predict("code", x), self._predict("ask", x)
        return [AskChoice(bool(a - self.lambda_ask > c), float(c), float(a))
                for c, a in zip(p_code, p_ask, strict=True)]  # fmt: skip


def _with(x: np.ndarray[Any, Any], extra: np.ndarray[Any, Any] | None) -> np.ndarray[Any, Any]:
    # The few extra columns are scaled up, so the L2 penalty shared with the many hashed word
    # columns barely shrinks them (each is one direct signal, not one of hundreds of weak ones).
    return x if extra is None else np.hstack([x, EXTRA_SCALE * np.asarray(extra, dtype=float)])
