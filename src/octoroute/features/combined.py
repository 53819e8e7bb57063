"""Several featurizers side by side: ``lexical+probe:MODEL`` is their vectors concatenated."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from octoroute.features.base import BaseFeaturizer, Featurizer, FloatArray
from octoroute.types import Problem

__all__ = ["ConcatFeaturizer"]


class ConcatFeaturizer(BaseFeaturizer):
    """The vectors of ``parts``, in order, as one."""

    name = "concat"

    def __init__(self, parts: Sequence[Featurizer]) -> None:
        self.parts = list(parts)

    @property
    def dim(self) -> int:
        return sum(p.dim for p in self.parts)

    def get_params(self) -> dict[str, Any]:
        """Each part's name and parameters."""
        return {"parts": [{"name": p.name, **p.get_params()} for p in self.parts]}

    def transform_one(self, problem: Problem) -> FloatArray:
        return np.concatenate([p.transform_one(problem) for p in self.parts])

    def transform(self, problems: Sequence[Problem]) -> FloatArray:
        """Each part's matrix, side by side (each part featurizes in its own fast way)."""
        if not self.parts:
            return np.zeros((len(problems), 0))
        return np.hstack([np.asarray(p.transform(problems), dtype=np.float64) for p in self.parts])
