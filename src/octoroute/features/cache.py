"""A per-problem feature cache, in memory and optionally on disk.

An entry is keyed by the featurizer's config (name, version, parameters), the problem id and
a hash of everything a featurizer may read (prompt, entry point, visible tests), so an edited
prompt or a new featurizer setting never returns a stale vector. With ``cache_dir`` set, the
vectors of one featurizer config live in one ``.npz`` file there, written atomically (a
temporary file in the same folder, then ``os.replace``), merged with what is already on disk.
A missing or unreadable file is treated as an empty cache.

>>> from octoroute.features import LexicalFeaturizer
>>> from octoroute.types import Problem
>>> cache = FeatureCache(LexicalFeaturizer(n_features=16))
>>> p = Problem("P/1", "demo", "def f(x):\\n    pass\\n", "f", "", ())
>>> X = cache.transform([p, p])
>>> X.shape == (2, cache.dim), (cache.hits, cache.misses)
(True, (1, 1))
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from octoroute.features.base import Featurizer, FloatArray
from octoroute.fileio.atomic import atomic_write
from octoroute.types import Problem

__all__ = ["FeatureCache", "featurizer_key", "problem_key"]

log = logging.getLogger(__name__)


def featurizer_key(featurizer: Featurizer) -> str:
    """A short stable digest of a featurizer's name, version and parameters.

    >>> from octoroute.features import LexicalFeaturizer
    >>> featurizer_key(LexicalFeaturizer()) == featurizer_key(LexicalFeaturizer())
    True
    >>> featurizer_key(LexicalFeaturizer()) == featurizer_key(LexicalFeaturizer(seed=1))
    False
    """
    config = {
        "name": featurizer.name,
        "version": getattr(featurizer, "version", 0),
        "params": featurizer.get_params(),
    }
    blob = json.dumps(config, sort_keys=True, default=repr).encode()
    return f"{featurizer.name}-{hashlib.blake2b(blob, digest_size=8).hexdigest()}"


def problem_key(problem: Problem) -> str:
    """The problem id and a digest of what a featurizer may read (never the hidden tests)."""
    h = hashlib.blake2b(digest_size=16)
    for part in (problem.id, problem.prompt, problem.entry_point):
        h.update(part.encode() + b"\0")
    for t in problem.visible_tests:
        h.update(repr((t.kind.value, t.input, t.expected)).encode() + b"\0")
    return f"{problem.id}\0{h.hexdigest()}"


class FeatureCache:
    """Wrap a featurizer so each problem is featurized once; itself a :class:`Featurizer`.

    ``hits`` and ``misses`` count problems served from the cache and computed.
    The constructor stores its arguments only; the disk file is read on first use.
    """

    def __init__(self, featurizer: Featurizer, cache_dir: str | Path | None = None) -> None:
        self.featurizer = featurizer
        self.cache_dir = cache_dir
        self.hits = 0
        self.misses = 0
        self._memory: dict[str, FloatArray] | None = None

    @property
    def name(self) -> str:  # type: ignore[override]
        """The wrapped featurizer's name."""
        return self.featurizer.name

    @property
    def dim(self) -> int:
        """The wrapped featurizer's dimension."""
        return self.featurizer.dim

    def get_params(self) -> dict[str, Any]:
        """The wrapped featurizer's parameters (the cache changes no output)."""
        return self.featurizer.get_params()

    @property
    def path(self) -> Path | None:
        """The ``.npz`` file of this featurizer config, or ``None`` when memory only."""
        if self.cache_dir is None:
            return None
        return Path(self.cache_dir) / f"{featurizer_key(self.featurizer)}.npz"

    def transform_one(self, problem: Problem) -> FloatArray:
        """The cached vector of one problem (a copy), computing and storing it on a miss."""
        row: FloatArray = self.transform([problem])[0]
        return row

    def transform(self, problems: Sequence[Problem]) -> FloatArray:
        """Vectors for ``problems``; misses are computed in one batch, then saved."""
        memory = self._entries()
        keys = [problem_key(p) for p in problems]
        todo: dict[str, Problem] = {}
        for k, p in zip(keys, problems, strict=True):
            if k not in memory and k not in todo:
                todo[k] = p
        self.misses += len(todo)
        self.hits += len(keys) - len(todo)
        if todo:
            computed = np.asarray(self.featurizer.transform(list(todo.values())), np.float64)
            for k, row in zip(todo, computed, strict=True):
                memory[k] = row
            self._save(list(todo))
        out = np.zeros((len(keys), self.dim), dtype=np.float64)
        for i, k in enumerate(keys):
            out[i] = memory[k]
        return out

    def clear(self) -> None:
        """Forget the in-memory entries (the disk file, if any, is kept)."""
        self._memory = None

    def __len__(self) -> int:
        return len(self._entries())

    def _entries(self) -> dict[str, FloatArray]:
        if self._memory is None:
            self._memory = self._read()
        return self._memory

    def _read(self) -> dict[str, FloatArray]:
        path = self.path
        if path is None or not path.is_file():
            return {}
        try:
            with np.load(path, allow_pickle=False) as data:
                keys, vectors = data["keys"], data["vectors"]
        except (OSError, ValueError, KeyError, EOFError) as exc:
            log.warning("ignoring unreadable feature cache %s: %s", path, exc)
            return {}
        if vectors.ndim != 2 or vectors.shape != (len(keys), self.dim):
            log.warning("ignoring feature cache %s: shape %s", path, vectors.shape)
            return {}
        return {str(k): v.astype(np.float64) for k, v in zip(keys, vectors, strict=True)}

    def _save(self, new_keys: list[str]) -> None:
        path = self.path
        if path is None:
            return
        memory = self._entries()
        # Merge with the file as it is now: another process may have added entries.
        merged = self._read()
        merged.update({k: memory[k] for k in new_keys})
        merged.update(memory)
        keys = sorted(merged)
        vectors = np.stack([merged[k] for k in keys]) if keys else np.zeros((0, self.dim))
        with atomic_write(path) as fh:
            np.savez(fh, keys=np.asarray(keys, dtype=np.str_), vectors=vectors)
