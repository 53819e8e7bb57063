"""Shipped hidden states: chosen layers of one model over the bundled benchmarks' prompts.

Computing states on 2 CPU cores takes seconds a prompt, so the package ships, for its bundled
benchmarks, the vectors the probes use: a few (layer, pooling) pairs of one model, float16, in
one ``.npz`` per model under ``octoroute/data/states`` (written by :func:`write_bundle`, from
the states cache, by ``octoroute states --bundle``). A bundle is keyed like the cache (the model
file's SHA-256 and the prompt id), so it answers only for the very model file and prompt it was
computed from; anything else is computed on demand.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from pathlib import Path

import numpy as np

from octoroute.exceptions import ConfigError
from octoroute.features.hidden.cache import StateCache
from octoroute.fileio.atomic import atomic_write

__all__ = ["ShippedStates", "bundle_path", "write_bundle"]


def bundle_path(model: str) -> Path:
    """Where the package keeps ``model``'s bundle (it may not exist)."""
    return Path(str(resources.files("octoroute") / "data" / "states" / f"{model}.npz"))


class ShippedStates:
    """A read-only bundle of vectors by (prompt id, layer, pooling), for one model file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            with np.load(self.path, allow_pickle=False) as data:
                self.model_sha256 = str(data["model_sha256"])
                pairs = zip(data["layers"], data["poolings"], strict=True)
                keys = [(int(layer), str(pooling)) for layer, pooling in pairs]
                self.vectors = data["vectors"]
                self.tokens = data["tokens"]
                prompts = [str(x) for x in data["prompt_ids"]]
        except (OSError, KeyError, ValueError) as e:
            raise ConfigError(f"{self.path}: not a hidden-state bundle ({e})") from e
        self.keys = {key: k for k, key in enumerate(keys)}
        self.rows = {prompt: i for i, prompt in enumerate(prompts)}

    def vector(self, model_sha256: str, prompt: str, layer: int, pooling: str) -> np.ndarray | None:
        """The shipped vector, or None (another model file, prompt, layer or pooling)."""
        if model_sha256 != self.model_sha256:
            return None
        row = self.rows.get(prompt)
        col = self.keys.get((layer, pooling))
        if row is None or col is None:
            return None
        return np.asarray(self.vectors[row, col], dtype=np.float64)

    def token_count(self, model_sha256: str, prompt: str) -> int | None:
        """How many tokens the model read for ``prompt``, or None (not shipped)."""
        row = self.rows.get(prompt) if model_sha256 == self.model_sha256 else None
        return None if row is None else int(self.tokens[row])


def write_bundle(
    out: str | Path,
    cache: StateCache,
    model_sha256: str,
    prompts: Sequence[str],
    keys: Sequence[tuple[int, str]],
) -> int:
    """Write the bundle of ``prompts`` (ids, all in ``cache``) at ``keys``; the rows written.

    Raises ConfigError for a prompt whose states are not cached.
    """
    unique = list(dict.fromkeys(prompts))
    rows = []
    tokens = []
    for prompt in unique:
        states = cache.get(model_sha256, prompt)
        if states is None:
            raise ConfigError(f"bundle: prompt {prompt} has no cached states; compute them first")
        rows.append([states.last[layer] if pooling == "last" else states.mean[layer]
                     for layer, pooling in keys])  # fmt: skip
        tokens.append(states.tokens)
    with atomic_write(out, permissions=0o644) as f:  # a reader never sees half a bundle
        np.savez_compressed(
            f,
            model_sha256=np.array(model_sha256),
            layers=np.array([k[0] for k in keys]),
            poolings=np.array([k[1] for k in keys]),
            prompt_ids=np.array(unique),
            vectors=np.asarray(rows, dtype=np.float16),
            tokens=np.asarray(tokens, dtype=np.int32),
        )
    return len(unique)
