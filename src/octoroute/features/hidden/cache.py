"""Hidden states on disk: one compact file per model and prompt, every layer and pooling in it.

The key is the model file's SHA-256 (which fixes its weights, chat template and tokenizer) and a
prompt id, the caller's digest of everything that makes the prompt (for an arm: its style and the
problem's visible part, :func:`prompt_id`), so that states can be looked up, and shipped, without
running the model's server; a lookup then names the layer and the pooling it wants. States are
stored as float16 (half the bytes; the probes standardise their inputs, and float16 keeps three
significant digits), written atomically (a temporary file in the same folder, then ``os.replace``).
A missing or unreadable file is a miss.

>>> import numpy as np, tempfile
>>> from octoroute.features.hidden.transformer import HiddenStates
>>> cache = StateCache(tempfile.mkdtemp())
>>> s = HiddenStates(last=np.ones((3, 2), np.float32), mean=np.zeros((3, 2), np.float32), tokens=4)
>>> cache.put("ab" * 32, "p1", s)
>>> cache.get("ab" * 32, "p1").layer(2, "last").tolist(), cache.get("ab" * 32, "p2")
([1.0, 1.0], None)
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from octoroute.features.cache import problem_key
from octoroute.features.hidden.transformer import HiddenStates
from octoroute.fileio.atomic import atomic_write
from octoroute.types import Problem

__all__ = ["StateCache", "prompt_id", "state_key"]


def prompt_id(style: str, problem: Problem) -> str:
    """What an arm's prompt is made of: its style and the problem's visible part (prompt,
    entry point, visible tests; never a hidden test).

    >>> p = Problem("P/1", "demo", "def f(x): ...", "f", "", ())
    >>> a, b = prompt_id("instruct", p), prompt_id("chat", p)
    >>> a == prompt_id("instruct", p), a == b
    (True, False)
    """
    return f"{style}-{problem_key(problem.visible_only())}"


def state_key(model_sha256: str, prompt: str) -> str:
    """The cache key of a model (its file's SHA-256) reading the prompt ``prompt`` names."""
    h = hashlib.blake2b(digest_size=16)
    h.update(model_sha256.encode() + b"\0" + prompt.encode())
    return f"{model_sha256[:16]}-{h.hexdigest()}"


class StateCache:
    """Hidden states of prompts, one ``.npz`` file per (model, prompt) under ``root``."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def _path(self, model_sha256: str, prompt: str) -> Path:
        key = state_key(model_sha256, prompt)
        return self.root / key[:16] / f"{key}.npz"

    def get(self, model_sha256: str, prompt: str) -> HiddenStates | None:
        """The cached states, or None (never raises for a bad file: it is a miss)."""
        path = self._path(model_sha256, prompt)
        try:
            with np.load(path) as data:
                return HiddenStates(
                    last=data["last"].astype(np.float32),
                    mean=data["mean"].astype(np.float32),
                    tokens=int(data["tokens"]),
                )
        except (OSError, ValueError, KeyError):
            return None

    def put(self, model_sha256: str, prompt: str, states: HiddenStates) -> None:
        """Store ``states`` atomically."""
        with atomic_write(self._path(model_sha256, prompt)) as f:
            np.savez(
                f,
                last=states.last.astype(np.float16),
                mean=states.mean.astype(np.float16),
                tokens=np.int64(states.tokens),
            )
