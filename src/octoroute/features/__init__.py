"""Featurizers: a problem (and later the trajectory so far) to a fixed-length vector.

Every featurizer follows :class:`Featurizer`; :data:`FEATURIZERS` names the built-in ones and
:func:`make_featurizer` builds one by name. :class:`FeatureCache` wraps any featurizer so each
problem is featurized once. :class:`TrajectoryFeaturizer` wraps one to add what the attempts
of an episode showed on the visible tests (a :class:`Trajectory`), for the repair decision.

>>> f = make_featurizer("lexical", n_features=256)
>>> f.dim > 256
True
>>> make_featurizer("nope")
Traceback (most recent call last):
...
octoroute.exceptions.ConfigError: unknown featurizer 'nope': expected one of lexical, minilm
"""

from __future__ import annotations

from typing import Any

from octoroute.exceptions import ConfigError
from octoroute.features.base import BaseFeaturizer, Featurizer
from octoroute.features.cache import FeatureCache, featurizer_key, problem_key
from octoroute.features.embedding import MiniLMFeaturizer
from octoroute.features.lexical import DENSE_FEATURES, KEYWORDS, LexicalFeaturizer
from octoroute.features.trajectory import (
    EXCEPTION_TYPES,
    FAILURE_KINDS,
    Trajectory,
    TrajectoryFeaturizer,
    TrajectoryStep,
)

__all__ = [
    "BaseFeaturizer",
    "DENSE_FEATURES",
    "EXCEPTION_TYPES",
    "FAILURE_KINDS",
    "FEATURIZERS",
    "FeatureCache",
    "Featurizer",
    "KEYWORDS",
    "LexicalFeaturizer",
    "MiniLMFeaturizer",
    "Trajectory",
    "TrajectoryFeaturizer",
    "TrajectoryStep",
    "featurizer_key",
    "make_featurizer",
    "problem_key",
]

FEATURIZERS: dict[str, type[BaseFeaturizer]] = {
    "lexical": LexicalFeaturizer,
    "minilm": MiniLMFeaturizer,
}
"""Built-in featurizers by name."""


def make_featurizer(name: str, **params: Any) -> BaseFeaturizer:
    """Build the featurizer registered as ``name`` with keyword hyperparameters ``params``."""
    try:
        cls = FEATURIZERS[name]
    except KeyError:
        known = ", ".join(sorted(FEATURIZERS))
        raise ConfigError(f"unknown featurizer {name!r}: expected one of {known}") from None
    try:
        return cls(**params)
    except TypeError as exc:
        raise ConfigError(f"featurizer {name!r}: {exc}") from exc
