"""Probe features: one layer of a local model's hidden state over the prompt, as a vector.

``ProbeFeaturizer(model, layer, pooling)`` reads the states of :class:`~octoroute.features.
hidden.states.PromptStates`, which the caller binds (:meth:`ProbeFeaturizer.bind`: the model's
file and the tokenizer of the arm whose prompt it reads live with the arms, which features do
not import). Like every featurizer it sees only the problem's visible part.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from octoroute.exceptions import ConfigError
from octoroute.features.base import BaseFeaturizer, FloatArray
from octoroute.features.hidden.states import PromptStates
from octoroute.types import Problem

__all__ = ["POOLINGS", "ProbeFeaturizer", "parse_key"]

POOLINGS = ("last", "mean")


def parse_key(text: str) -> tuple[int, str]:
    """``LAYER/POOLING`` as a layer and a pooling.

    >>> parse_key("16/last")
    (16, 'last')
    """
    layer, _, pooling = text.strip().partition("/")
    if not layer.isdigit() or pooling not in POOLINGS:
        raise ConfigError(f"expected LAYER/POOLING ({' or '.join(POOLINGS)}), found {text!r}")
    return int(layer), pooling


class ProbeFeaturizer(BaseFeaturizer):
    """A model's hidden state at ``layer`` (0: embeddings), last prompt token or mean."""

    name = "probe"

    def __init__(self, model: str, layer: int, pooling: str = "last", width: int = 0) -> None:
        if pooling not in POOLINGS:
            raise ConfigError(f"probe pooling {pooling!r}: expected one of {', '.join(POOLINGS)}")
        if layer < 0:
            raise ConfigError(f"probe layer {layer}: expected 0 or more")
        self.model = model
        self.layer = layer
        self.pooling = pooling
        self.width = width
        self.states: PromptStates | None = None

    def bind(self, states: PromptStates) -> ProbeFeaturizer:
        """Read from ``states`` (the model's weights or cache, and its tokenizer)."""
        self.states = states
        return self

    @property
    def dim(self) -> int:
        if self.width:
            return self.width
        if self.states is None:
            raise ConfigError(f"probe:{self.model} is not bound to a model's states")
        return self.states.weights().width

    def transform(self, problems: Sequence[Problem]) -> FloatArray:
        """Stack :meth:`transform_one` (the width comes from the vectors, so shipped or
        cached states never need the model's weights loaded)."""
        if not problems:
            return np.zeros((0, self.dim))
        return np.stack([self.transform_one(p) for p in problems])

    def transform_one(self, problem: Problem) -> FloatArray:
        if self.states is None:
            raise ConfigError(f"probe:{self.model} is not bound to a model's states")
        # Shipped, cached or computed; only the problem's visible part is ever prompted.
        return self.states.vector(problem, self.layer, self.pooling)
