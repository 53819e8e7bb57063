"""The hidden states of the prompts one local model reads, computed on demand and cached.

:class:`PromptStates` looks a problem's states up in the :class:`~.cache.StateCache` (by the
model file and the prompt's makings, so shipped states need no server), and otherwise asks its
``tokenize`` callable for the token ids the model reads (an arm's
:meth:`~octoroute.arms.llamacpp.LlamaCppArm.prompt_tokens`, wired by the caller: features do not
import arms) and runs the forward pass on the model's weights, loaded once, on first need.
Only the problem's visible part ever reaches ``tokenize``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from octoroute.exceptions import ConfigError
from octoroute.features.base import FloatArray
from octoroute.features.hidden.cache import StateCache, prompt_id
from octoroute.features.hidden.shipped import ShippedStates
from octoroute.features.hidden.transformer import HiddenStates, forward
from octoroute.features.hidden.weights import ModelWeights, load_weights
from octoroute.types import Problem

__all__ = ["PromptStates", "Tokenize"]

MEMO = 256
"""Prompts whose states are kept in memory (the most recently read, about 45 MB for the 0.5B
model; the disk cache holds them all)."""

Tokenize = Callable[[Problem], Sequence[int]]
"""A problem (its visible part) to the token ids a model reads for it."""


class PromptStates:
    """Hidden states of one model reading the prompts of one arm style."""

    def __init__(
        self,
        model_path: str | Path,
        model_sha256: str,
        style: str,
        tokenize: Tokenize | None = None,
        cache: StateCache | None = None,
        shipped: ShippedStates | None = None,
    ) -> None:
        self.model_path = Path(model_path)
        self.model_sha256 = model_sha256
        self.style = style
        self.tokenize = tokenize
        self.cache = cache
        self.shipped = shipped
        self._weights: ModelWeights | None = None
        self._memo: OrderedDict[str, HiddenStates] = OrderedDict()
        self.computed = 0
        """Prompts run through the model so far (not found in the cache)."""

    def weights(self) -> ModelWeights:
        """The model's weights, loaded on first use."""
        if self._weights is None:
            self._weights = load_weights(self.model_path)
        return self._weights

    def vector(self, problem: Problem, layer: int, pooling: str) -> FloatArray:
        """One layer's vector under one pooling: from the shipped bundle when it has it, else
        from :meth:`get`."""
        if self.shipped is not None:
            found = self.shipped.vector(
                self.model_sha256, prompt_id(self.style, problem), layer, pooling
            )
            if found is not None:
                return found
        states = self.get(problem)
        if layer >= states.last.shape[0]:
            raise ConfigError(
                f"layer {layer}: {self.model_path.name} has layers 0 to {states.last.shape[0] - 1}"
            )
        return np.asarray(states.layer(layer, "last" if pooling == "last" else "mean"), np.float64)

    def token_count(self, problem: Problem) -> int:
        """The prompt's length in the model's tokens (what its forward pass costs), from the
        shipped bundle when it has the prompt, else from :meth:`get`."""
        if self.shipped is not None:
            found = self.shipped.token_count(self.model_sha256, prompt_id(self.style, problem))
            if found is not None:
                return found
        return self.get(problem).tokens

    def get(self, problem: Problem) -> HiddenStates:
        """The states of ``problem``'s prompt: cached, or computed and cached.

        Raises ConfigError when they are not cached and no ``tokenize`` was given.
        """
        key = prompt_id(self.style, problem)
        found = self._memo.get(key)
        if found is None and self.cache is not None:
            found = self.cache.get(self.model_sha256, key)
        if found is None:
            if self.tokenize is None:
                raise ConfigError(
                    f"{problem.id}: no hidden states cached for {self.model_path.name} "
                    f"({self.style} prompt), and no tokenizer to compute them"
                )
            found = forward(self.weights(), self.tokenize(problem.visible_only()))
            self.computed += 1
            if self.cache is not None:
                self.cache.put(self.model_sha256, key, found)
        self._memo[key] = found
        self._memo.move_to_end(key)
        if len(self._memo) > MEMO:  # a long-running server reads ever new prompts
            self._memo.popitem(last=False)
        return found
