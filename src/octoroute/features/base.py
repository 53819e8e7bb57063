"""The featurizer protocol: a problem to a fixed-length vector.

A featurizer may read only what a router may see before it decides: the prompt, the entry
point and the *visible* tests. Hidden tests, the reference solution and the grading harness
are off limits (``tests/features`` checks this with a problem that has none of them).

:class:`~octoroute.features.trajectory.TrajectoryFeaturizer` also takes the attempts so far (for
repair decisions); it keeps :meth:`Featurizer.transform_one` for the problem alone, so policies
can rely on it.

>>> from octoroute.features import LexicalFeaturizer
>>> isinstance(LexicalFeaturizer(), Featurizer)
True
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from octoroute.types import Problem

__all__ = ["BaseFeaturizer", "Featurizer"]

FloatArray = npt.NDArray[np.float64]


@runtime_checkable
class Featurizer(Protocol):
    """Problems to vectors of a fixed length ``dim``.

    Constructors are cheap (they store hyperparameters only, scikit-learn's contract) and
    ``get_params()`` returns them, so a featurizer can be rebuilt and cached by its config.
    Output is deterministic: the same problem gives the same vector in any process.
    """

    name: str
    """Short registry name, for example ``"lexical"``."""

    @property
    def dim(self) -> int:
        """Length of every vector."""
        ...

    def get_params(self) -> dict[str, Any]:
        """The constructor's keyword arguments, JSON-safe."""
        ...

    def transform_one(self, problem: Problem) -> FloatArray:
        """One problem to a vector of shape ``(dim,)``."""
        ...

    def transform(self, problems: Sequence[Problem]) -> FloatArray:
        """Problems to a matrix of shape ``(len(problems), dim)``."""
        ...


class BaseFeaturizer:
    """A small template: subclasses implement ``dim`` and ``transform_one``.

    ``get_params`` reads the constructor's signature (so ``__init__`` must store each
    argument under its own name) and ``transform`` stacks ``transform_one``.
    """

    name: str = ""
    version: int = 1
    """Bumped when the output changes for the same parameters (invalidates caches)."""

    @property
    def dim(self) -> int:
        raise NotImplementedError

    def get_params(self) -> dict[str, Any]:
        """The constructor's keyword arguments, read back from the attributes of the same name."""
        sig = inspect.signature(type(self).__init__)
        names = [p for p in sig.parameters if p != "self"]
        return {n: _json_safe(getattr(self, n)) for n in names}

    def transform_one(self, problem: Problem) -> FloatArray:
        raise NotImplementedError

    def transform(self, problems: Sequence[Problem]) -> FloatArray:
        """Stack :meth:`transform_one` over ``problems``; shape ``(n, dim)`` even when empty."""
        out = np.zeros((len(problems), self.dim), dtype=np.float64)
        for i, p in enumerate(problems):
            out[i] = self.transform_one(p)
        return out

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"


def _json_safe(value: Any) -> Any:
    """Tuples become lists so params survive a JSON round trip unchanged in meaning."""
    if isinstance(value, tuple | list):
        return [_json_safe(v) for v in value]
    return value
