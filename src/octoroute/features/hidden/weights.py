"""A GGUF model's weights, dequantized to float32 numpy arrays, and its shape.

Reads the file with the ``gguf`` package (numpy only; the ``probes`` extra), imported when a
model is loaded. Only the decoder architectures whose forward pass
:mod:`octoroute.features.hidden.transformer` implements are accepted (Qwen2 and Llama style:
RMSNorm, rotary positions, grouped-query attention, a gated SiLU MLP).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from octoroute.exceptions import DataError, MissingDependencyError

__all__ = ["SUPPORTED", "ModelWeights", "load_weights"]

# Architectures whose forward pass the transformer module runs, with their rotary layout:
# "neox" rotates the two halves of a head, "normal" interleaved pairs (llama.cpp's names).
SUPPORTED = {"qwen2": "neox", "llama": "normal"}

FloatArray = np.ndarray[Any, np.dtype[np.float32]]


@dataclass
class ModelWeights:
    """What a forward pass needs: the shape of the model and its tensors by GGUF name."""

    path: Path
    architecture: str
    n_layers: int
    n_heads: int
    n_kv_heads: int
    eps: float
    rope_base: float
    rope: str
    tensors: dict[str, FloatArray] = field(repr=False)

    @property
    def width(self) -> int:
        """The hidden size."""
        return int(self.tensors["token_embd.weight"].shape[1])

    def get(self, name: str) -> FloatArray | None:
        """The tensor ``name``, or None when the file has none (a bias, say)."""
        return self.tensors.get(name)


def _field(reader: Any, key: str, path: Path) -> Any:
    f = reader.fields.get(key)
    if f is None or not f.data:
        raise DataError(path, f"GGUF metadata {key} missing")
    value = f.parts[f.data[0]]
    if f.types and f.types[0].name == "STRING":
        return bytes(value).decode()
    return value.tolist()[0] if hasattr(value, "tolist") else value


def load_weights(path: str | Path) -> ModelWeights:
    """Read and dequantize every tensor of the GGUF file at ``path`` (float32).

    Raises :class:`MissingDependencyError` without the ``gguf`` package, and
    :class:`DataError` for an architecture the forward pass does not run.
    """
    try:
        from gguf import GGUFReader
        from gguf.quants import dequantize
    except ImportError as e:
        raise MissingDependencyError("gguf", "probes") from e
    path = Path(path)
    reader = GGUFReader(path)
    arch = _field(reader, "general.architecture", path)
    if arch not in SUPPORTED:
        raise DataError(path, f"architecture {arch!r}: hidden states support {sorted(SUPPORTED)}")
    tensors = {
        t.name: np.ascontiguousarray(dequantize(t.data, t.tensor_type), dtype=np.float32)
        for t in reader.tensors
    }
    if "output.weight" not in tensors:  # tied embeddings
        tensors["output.weight"] = tensors["token_embd.weight"]
    return ModelWeights(
        path=path,
        architecture=arch,
        n_layers=int(_field(reader, f"{arch}.block_count", path)),
        n_heads=int(_field(reader, f"{arch}.attention.head_count", path)),
        n_kv_heads=int(_field(reader, f"{arch}.attention.head_count_kv", path)),
        eps=float(_field(reader, f"{arch}.attention.layer_norm_rms_epsilon", path)),
        rope_base=float(_field(reader, f"{arch}.rope.freq_base", path)),
        rope=SUPPORTED[arch],
        tensors=tensors,
    )
