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

    def fit(
        self, problems: Sequence[Problem], code: np.ndarray[Any, Any], ask: np.ndarray[Any, Any]
    ) -> AskModel:
        """Learn from each problem's outcomes coding at once (``code``, 0/1) and asking."""
        from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]

        if not problems or len(problems) != len(code) or len(problems) != len(ask):
            raise ConfigError(f"the ask model needs one code and one ask outcome per problem "
                              f"({len(problems)} problems: {len(code)}, {len(ask)})")  # fmt: skip
        x = request_features(problems)
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

    def choose(self, problems: Sequence[Problem]) -> list[AskChoice]:
        """The decision for each request; ConfigError before :meth:`fit`."""
        if not self._models:
            raise ConfigError("the ask model is not fitted")
        x = request_features(problems)
        p_code, p_ask = self._predict("code", x), self._predict("ask", x)
        return [AskChoice(bool(a - self.lambda_ask > c), float(c), float(a))
                for c, a in zip(p_code, p_ask, strict=True)]  # fmt: skip
