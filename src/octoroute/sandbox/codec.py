"""Values across the sandbox boundary: a plain-data encoding, its checked decoder, bounded reprs.

A program's output leaves the sandbox as ``marshal`` data of format version 2, which has no
back-references: the decoded value is a tree whose size is bounded by the payload's size, so a
few bytes cannot stand for an exponentially large shared structure. Candidate bytes are never
handed to ``marshal.loads`` as they are: :func:`decode` first walks them with :func:`check`,
which accepts only the codes of plain built-in values (``None``, bools, ints, floats, complex,
str, bytes, tuples, lists, dicts, sets, frozensets, ``...``), checks every declared length
against the bytes that remain before anything is allocated, and bounds nesting depth and the
number of objects. Code objects, references and every other marshal type are refused.

>>> decode(encode([1, (2.5, "x"), {3: None}]))
[1, (2.5, 'x'), {3: None}]
>>> decode(b"[\\xff\\xff\\xff\\x7f")                         # a 5-byte list of 2**31 items
Traceback (most recent call last):
...
octoroute.sandbox.codec.Undecodable: list of 2147483647 items in 0 bytes
>>> bounded_repr(list(range(10**6)), 20)
'[0, 1, 2, 3, 4, 5...'
>>> bounded_repr(list(range(100)), 20)
'[0, 1, 2, 3, 4, 5...'
"""

from __future__ import annotations

import marshal
import reprlib
import struct
from typing import Any

VERSION = 2
"""The marshal format version of every value on the wire (version 3 added references)."""
MAX_DEPTH = 100
"""Containers a value may nest (the candidate side refuses deeper outputs too)."""
MAX_OBJECTS = 8_000_000
"""Objects one value may hold: bounds the memory a decoded payload takes (about 50 bytes each);
Mbpp/255's reference returns 6.4 million on one plus input."""

_INT32 = struct.Struct("<i")
# Fixed-size scalars: code -> bytes after the code.
_FIXED = {ord("N"): 0, ord("T"): 0, ord("F"): 0, ord("."): 0, ord("i"): 4, ord("g"): 8,
          ord("y"): 16}  # fmt: skip
_SIZED = {ord("u"), ord("t"), ord("s")}  # str (utf-8), interned str, bytes: <n><n bytes>
_LONG = ord("l")  # <n digits, signed><|n| 15-bit digits>
_SEQUENCES = {ord("("), ord("["), ord("<"), ord(">")}  # tuple, list, set, frozenset: <n><items>
_DICT = ord("{")  # key, value pairs until a NULL code
_NULL = ord("0")
_NAMES = {ord("("): "tuple", ord("["): "list", ord("<"): "set", ord(">"): "frozenset"}


class Undecodable(ValueError):
    """Bytes that are not a plain value in the expected encoding."""


class OutOfBounds(Undecodable):
    """A plain value larger or deeper than the decoder accepts."""


def digest(data: bytes) -> bytes:
    """A 128-bit BLAKE2b digest of encoded bytes (equal digests: the same bytes)."""
    import hashlib  # not at import time: candidates load this module too

    return hashlib.blake2b(data, digest_size=16).digest()


def encode(value: Any) -> bytes:
    """``value`` as wire bytes (raises ``ValueError`` for anything but plain built-in data)."""
    return marshal.dumps(value, VERSION)


def check(data: bytes, max_depth: int = MAX_DEPTH, max_objects: int = MAX_OBJECTS) -> None:
    """Raise :class:`Undecodable` unless ``data`` is exactly one plain value within the bounds.

    Runs in time linear in ``len(data)`` and allocates nothing that depends on a declared
    length. Sets, frozensets and dict keys with many entries are also checked for colliding
    hashes (ints that differ by multiples of 2**61 - 1 share a hash, and so do crafted
    frozensets), which would make building them quadratic: at most
    :data:`MAX_SAME_HASH` entries of one container may share a hash.
    """
    end = len(data)
    pos = 0
    objects = 0
    rehashed = 0
    # One frame per open container: items still expected (-1: a dict wants a key or its end,
    # -2: a dict wants a value), and for sets and dicts the offsets where their entries start.
    remaining: list[int] = []
    starts: list[list[int] | None] = []
    while True:
        if pos >= end:
            raise Undecodable("truncated value")
        code = data[pos]
        tracked = starts[-1] if starts else None
        if tracked is not None:
            tracked.append(pos)
        pos += 1
        opened = 0  # items of a container that starts here
        if remaining and remaining[-1] == -1 and code == _NULL:  # a dict ends where a key would
            remaining.pop()
            entries = starts.pop() or []  # key and value offsets, then this NULL's
            rehashed += _check_hashes(data, entries[0:-1:2], entries[1::2])
        else:
            objects += 1
            if objects > max_objects:
                raise OutOfBounds(f"more than {max_objects} objects")
            if code in _FIXED:
                pos += _FIXED[code]
            elif code in _SIZED:
                pos += 4 + _length(data, pos, end)
            elif code == _LONG:
                pos += 4 + 2 * abs(_length(data, pos, end, signed=True))
            elif code in _SEQUENCES:
                if len(remaining) >= max_depth:
                    raise OutOfBounds(f"nested deeper than {max_depth}")
                opened = _length(data, pos, end)
                pos += 4
                if opened > end - pos:  # every item takes at least one byte
                    raise Undecodable(f"{_NAMES[code]} of {opened} items in {end - pos} bytes")
                if opened and code in _PLAIN_RUNS:
                    skipped = _skip_run(data, pos, opened)
                    if skipped:
                        objects += opened
                        if objects > max_objects:
                            raise OutOfBounds(f"more than {max_objects} objects")
                        pos, opened = skipped, 0
            elif code == _DICT:
                if len(remaining) >= max_depth:
                    raise OutOfBounds(f"nested deeper than {max_depth}")
                opened = -1
            else:
                raise Undecodable(f"type code {code:#04x} at byte {pos - 1} is not plain data")
            if pos > end:
                raise Undecodable(f"value cut short at byte {end}")
            if opened:
                remaining.append(opened)
                starts.append([] if code in _HASHED or code == _DICT else None)
                continue
        # One object is complete: count it against its container, closing the finished ones.
        while remaining:
            top = remaining[-1]
            if top < 0:  # a dict's key was read (its value comes next), or the reverse
                remaining[-1] = -3 - top
                break
            if top > 1:
                remaining[-1] = top - 1
                break
            remaining.pop()  # the last item of a set, list or tuple: it is complete
            items = starts.pop()
            if items is not None:
                rehashed += _check_hashes(data, items, [*items[1:], pos])
        if rehashed > 4 * end + 4096:
            raise OutOfBounds("sets nested too deeply to check")
        if not remaining:
            break
    if pos != end:
        raise Undecodable(f"{end - pos} bytes after the value")


MAX_SAME_HASH = 8
"""Entries of one set or dict that may share a hash value."""
_HASH_CHECKED = 32  # smaller containers cannot be slow to build, whatever their hashes
_HASHED = {ord("<"), ord(">")}  # sets and frozensets; dicts are tracked by their own code
_PLAIN_RUNS = {ord("("), ord("[")}  # where a run of same-size scalars is skipped in one step


def _skip_run(data: bytes, pos: int, n: int) -> int:
    """The end of ``n`` scalars of one fixed-size code starting at ``pos``, or 0 if not so.

    A long list of ints or floats is checked with one strided comparison in C instead of a
    Python step per item.
    """
    size = _FIXED.get(data[pos])
    if size is None:
        return 0
    stride = size + 1
    stop = pos + n * stride
    if stop > len(data) or data[pos:stop:stride] != bytes([data[pos]]) * n:
        return 0
    return stop


def _check_hashes(data: bytes, begins: list[int], ends: list[int]) -> int:
    """Refuse a set or dict whose entries crowd onto few hash values; return bytes decoded.

    Each entry (a set's items, a dict's keys) spans ``begins[i]:ends[i]`` and is decoded
    alone, which is safe: :func:`check` has already accepted its bytes (an entry is complete
    before its container is).
    """
    if len(begins) < _HASH_CHECKED:
        return 0
    counts: dict[int, int] = {}
    size = 0
    for a, b in zip(begins, ends, strict=True):
        size += b - a
        try:
            h = hash(marshal.loads(data[a:b]))
        except (ValueError, TypeError, EOFError, OverflowError, MemoryError) as e:
            raise Undecodable(f"{type(e).__name__}: {e}") from None
        # Hash values are ints below 2**61, which hash to themselves: this dict cannot crowd.
        counts[h] = counts.get(h, 0) + 1
        if counts[h] > MAX_SAME_HASH:
            raise Undecodable(f"more than {MAX_SAME_HASH} entries of one set share a hash")
    return size


def _length(data: bytes, pos: int, end: int, signed: bool = False) -> int:
    if pos + 4 > end:
        raise Undecodable("truncated length")
    (n,) = _INT32.unpack_from(data, pos)
    if n < 0 and not signed:
        raise Undecodable(f"negative length {n}")
    return int(n)


def decode(data: bytes, max_depth: int = MAX_DEPTH, max_objects: int = MAX_OBJECTS) -> Any:
    """The plain value encoded in ``data``, or :class:`Undecodable`.

    ``marshal.loads`` only ever sees bytes that :func:`check` accepted; what it may still
    refuse (a digit out of range, invalid UTF-8, an unhashable set item) becomes
    :class:`Undecodable` too.
    """
    check(data, max_depth, max_objects)
    try:
        return marshal.loads(data)
    except (ValueError, TypeError, EOFError, OverflowError, MemoryError, SystemError) as e:
        raise Undecodable(f"{type(e).__name__}: {e}") from None


class _Repr(reprlib.Repr):
    """A ``reprlib.Repr`` that also bounds ints, strings and bytes and never raises."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.maxlevel = 6
        self.maxtuple = self.maxlist = self.maxarray = 50
        self.maxdict = self.maxset = self.maxfrozenset = 30
        self.maxstring = self.maxother = max(20, limit)
        self.maxlong = min(400, max(40, limit))

    def repr_int(self, x: int, level: int) -> str:
        # str() of a huge int is quadratic (and refused past 4300 digits): say its size instead.
        if x.bit_length() > 4 * self.maxlong:
            return f"<int of {x.bit_length()} bits>"
        return super().repr_int(x, level)

    def repr_bytes(self, x: bytes, level: int) -> str:
        return repr(x[: self.maxstring])[: self.maxstring + 3]


_EXACT_NODES = 10_000  # values up to this many objects are shown as ``repr`` shows them
_EXACT_INT_BITS = 4_000


def _small(value: Any) -> bool:
    """Whether ``value`` has few enough objects (and small enough ints) for a whole ``repr``.

    Walks at most :data:`_EXACT_NODES` objects, so it is cheap on anything.
    """
    todo = [value]
    seen = 0
    while todo:
        x = todo.pop()
        seen += 1
        if seen > _EXACT_NODES:
            return False
        if isinstance(x, int) and x.bit_length() > _EXACT_INT_BITS:
            return False
        if isinstance(x, str | bytes) and len(x) > _EXACT_NODES:
            return False  # its repr alone could take several times its size
        if isinstance(x, dict):
            todo.extend(x.keys())
            todo.extend(x.values())
        elif isinstance(x, list | tuple | set | frozenset):
            todo.extend(x)
    return True


def bounded_repr(value: Any, limit: int = 300) -> str:
    """A repr of ``value`` of at most ``limit`` characters, built in bounded time.

    A value of modest size is shown as ``repr`` shows it, cut at ``limit`` (what repair prompts
    have always shown); a large one is rendered by ``reprlib``, cut after a few dozen items and
    a few levels, so a huge structure is never rendered whole before it is trimmed.
    """
    try:
        text = repr(value) if _small(value) else _Repr(limit).repr(value)
    except Exception:  # noqa: BLE001 - plain data, but a repr must never break a verdict
        text = f"<unprintable {type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."
