"""A small reader of GGUF headers: metadata key-value pairs and tensor infos, no tensor data.

It reads what the cost model needs (the parameter count, the sum of every tensor's element
count) and what a check shows (architecture, name, context length), without llama.cpp.

Layout (little-endian): ``b"GGUF"``, version (u32), tensor count (u64), metadata count (u64),
then the metadata pairs (key string, value type u32, value), then one info per tensor (name
string, dimension count u32, dimensions u64 each, type u32, data offset u64). Strings are a u64
length and UTF-8 bytes; arrays are an element type (u32), a count (u64) and the elements.

>>> import io, struct
>>> def s(t): return struct.pack("<Q", len(t)) + t
>>> blob = b"GGUF" + struct.pack("<IQQ", 3, 1, 1)
>>> blob += s(b"general.architecture") + struct.pack("<I", 8) + s(b"llama")
>>> blob += s(b"w") + struct.pack("<I", 2) + struct.pack("<QQ", 3, 4) + struct.pack("<IQ", 0, 0)
>>> info = read_gguf(io.BytesIO(blob))
>>> info.architecture, info.parameters, info.tensor_count
('llama', 12, 1)
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from octoroute.exceptions import DataError

MAGIC = b"GGUF"
# Arrays longer than this (tokenizer vocabularies, merges) are skipped, not kept in memory.
_KEEP_ARRAY_MAX = 64
# No header field is this long, nor nested this deep, nor has a tensor this many dimensions.
_MAX_READ = 1 << 32
_MAX_DEPTH = 16
_MAX_DIMS = 16

# value type -> struct format of a scalar
_SCALARS: dict[int, str] = {
    0: "<B",  # uint8
    1: "<b",  # int8
    2: "<H",  # uint16
    3: "<h",  # int16
    4: "<I",  # uint32
    5: "<i",  # int32
    6: "<f",  # float32
    7: "<?",  # bool
    10: "<Q",  # uint64
    11: "<q",  # int64
    12: "<d",  # float64
}
_STRING = 8
_ARRAY = 9


@dataclass(frozen=True, slots=True)
class TensorInfo:
    """One tensor's name, shape and ggml type (its data is not read)."""

    name: str
    shape: tuple[int, ...]
    ggml_type: int

    @property
    def elements(self) -> int:
        """The number of elements (parameters) of the tensor."""
        return math.prod(self.shape)


@dataclass(frozen=True, slots=True)
class GGUFInfo:
    """What a GGUF header says: version, metadata (short arrays only) and tensor infos."""

    version: int
    metadata: dict[str, Any]
    tensors: tuple[TensorInfo, ...] = field(repr=False)

    @property
    def tensor_count(self) -> int:
        """How many tensors the file holds."""
        return len(self.tensors)

    @property
    def parameters(self) -> int:
        """The parameter count: the sum of every tensor's element count."""
        return sum(t.elements for t in self.tensors)

    @property
    def architecture(self) -> str:
        """``general.architecture`` (e.g. ``llama``, ``gemma3``, ``qwen2``), or ``""``."""
        return str(self.metadata.get("general.architecture", ""))

    @property
    def name(self) -> str:
        """``general.name``, or ``""``."""
        return str(self.metadata.get("general.name", ""))

    @property
    def context_length(self) -> int | None:
        """The training context length (``<architecture>.context_length``), if stated."""
        value = self.metadata.get(f"{self.architecture}.context_length")
        return int(value) if value is not None else None


class _Reader:
    """Sequential little-endian reads from a binary file, with a clear error on truncation."""

    def __init__(self, f: BinaryIO, source: str) -> None:
        self.f = f
        self.source = source

    def take(self, n: int) -> bytes:
        if n > _MAX_READ:  # a damaged length: never ask read() to allocate it
            raise DataError(self.source, f"implausible GGUF length {n} (truncated or damaged?)")
        data = self.f.read(n)
        if len(data) != n:
            raise DataError(self.source, "truncated GGUF header")
        return data

    def scalar(self, fmt: str) -> Any:
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def string(self) -> str:
        n = self.scalar("<Q")
        if n > 1 << 24:
            raise DataError(self.source, f"implausible GGUF string length {n}")
        return self.take(n).decode("utf-8", errors="replace")

    def value(self, vtype: int, depth: int = 0) -> Any:
        if depth > _MAX_DEPTH:
            raise DataError(self.source, f"GGUF arrays nested more than {_MAX_DEPTH} deep")
        if vtype in _SCALARS:
            return self.scalar(_SCALARS[vtype])
        if vtype == _STRING:
            return self.string()
        if vtype == _ARRAY:
            etype = self.scalar("<I")
            count = self.scalar("<Q")
            if etype in _SCALARS and count > _KEEP_ARRAY_MAX:
                # Skip fixed-size elements in one seek-free read.
                self.take(count * struct.calcsize(_SCALARS[etype]))
                return None
            items = [self.value(etype, depth + 1) for _ in range(count)]
            return items if count <= _KEEP_ARRAY_MAX else None
        raise DataError(self.source, f"unknown GGUF value type {vtype}")


def read_gguf(f: BinaryIO, source: str = "<gguf>") -> GGUFInfo:
    """Read the header of a GGUF file open in binary mode (positioned at its start)."""
    r = _Reader(f, source)
    if r.take(4) != MAGIC:
        raise DataError(source, "not a GGUF file (bad magic)")
    version = r.scalar("<I")
    if version < 2:
        raise DataError(source, f"GGUF version {version} is not supported (need 2 or later)")
    n_tensors = r.scalar("<Q")
    n_kv = r.scalar("<Q")
    metadata: dict[str, Any] = {}
    for _ in range(n_kv):
        key = r.string()
        metadata[key] = r.value(r.scalar("<I"))
    tensors = []
    for _ in range(n_tensors):
        name = r.string()
        n_dims = r.scalar("<I")
        if n_dims > _MAX_DIMS:
            raise DataError(source, f"tensor {name!r} has {n_dims} dimensions (damaged header?)")
        shape = tuple(r.scalar("<Q") for _ in range(n_dims))
        ggml_type = r.scalar("<I")
        r.scalar("<Q")  # data offset: not needed
        tensors.append(TensorInfo(name, shape, ggml_type))
    return GGUFInfo(version=version, metadata=metadata, tensors=tuple(tensors))


def read_gguf_file(path: str | Path) -> GGUFInfo:
    """Read the header of the GGUF file at ``path``."""
    try:
        with open(path, "rb") as f:
            return read_gguf(f, str(path))
    except OSError as e:
        raise DataError(path, f"cannot read: {e.strerror or e}") from e
