"""The checked decoder of values from the sandbox, and bounded reprs."""

from __future__ import annotations

import contextlib
import marshal
import random
import struct
import time

import pytest

from octoroute.sandbox import codec

PLAIN = [
    None, True, False, ..., 0, -1, 2**31, -(2**100), 1.5, float("inf"), -0.0, 1 + 2j, "", "é\ud800",
    b"\x00", (), [], {}, set(), frozenset(), (1, "a", [2.5, {3: (None,)}]), {"k": {1, 2}},
    {frozenset({1}): [b"x"]}, list(range(1000)), [1.5] * 100, [[i, str(i)] for i in range(50)],
    set(range(100)), {i: -i for i in range(100)},
]  # fmt: skip


@pytest.mark.parametrize("value", PLAIN, ids=lambda v: type(v).__name__)
def test_plain_values_round_trip(value: object) -> None:
    assert codec.decode(codec.encode(value)) == value


def test_only_plain_data_in_version_2_is_accepted() -> None:
    refused = {
        "code": marshal.dumps((lambda: 0).__code__),
        "version 4 refs": marshal.dumps(["ab", "ab"] * 3, 4),
        "short ascii": marshal.dumps("abc", 4),
        "StopIteration": marshal.dumps(StopIteration),
        "NULL": b"0",
        "int64": b"I" + struct.pack("<q", 5),
        "text float": b"f\x031.5",
    }
    for name, data in refused.items():
        with pytest.raises(codec.Undecodable):
            codec.decode(data)
        assert name


def test_lengths_are_checked_before_anything_is_allocated() -> None:
    for data in (
        b"[\xff\xff\xff\x7f",  # a list of 2**31 - 1 items in 5 bytes
        b"(\xff\xff\xff\x7fN",
        b"u\xff\xff\xff\x7fab",
        b"l\xff\xff\xff\x7f",
        b"<\x00\x00\x00\x80",  # negative
    ):
        started = time.monotonic()
        with pytest.raises(codec.Undecodable):
            codec.decode(data)
        assert time.monotonic() - started < 0.1


def test_bounds_are_out_of_bounds_not_malformed() -> None:
    deep: object = None
    for _ in range(codec.MAX_DEPTH + 1):
        deep = [deep]
    with pytest.raises(codec.OutOfBounds):
        codec.decode(codec.encode(deep))
    with pytest.raises(codec.OutOfBounds):
        codec.decode(codec.encode([None] * 100), max_objects=50)
    with pytest.raises(codec.OutOfBounds):
        codec.decode(codec.encode([[None] * 10] * 10), max_objects=50)


def test_hash_floods_are_refused_before_a_set_is_built() -> None:
    p = 2**61 - 1  # ints that differ by multiples of it share a hash
    flood = b"<" + codec.encode([k * p for k in range(1, 100_000)])[1:]
    started = time.monotonic()
    with pytest.raises(codec.Undecodable, match="share a hash"):
        codec.decode(flood)
    assert time.monotonic() - started < 2
    keys = b"{" + b"".join(codec.encode(k * p) + b"N" for k in range(1, 1000)) + b"0"
    with pytest.raises(codec.Undecodable, match="share a hash"):
        codec.decode(keys)
    # A few shared hashes are fine: real data has them (-1 and -2 hash alike).
    assert codec.decode(codec.encode({-1, -2, *range(100)})) == {-1, -2, *range(100)}


def test_random_bytes_give_a_value_or_undecodable() -> None:
    """Mutations of real payloads: the decoder never raises anything but Undecodable."""
    rng = random.Random(0)
    seeds = [codec.encode(v) for v in PLAIN]
    for _ in range(20_000):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 4)):
            op = rng.random()
            if op < 0.5 and data:
                data[rng.randrange(len(data))] = rng.randrange(256)
            elif op < 0.75:
                data.insert(rng.randrange(len(data) + 1), rng.randrange(256))
            elif data:
                del data[rng.randrange(len(data))]
        with contextlib.suppress(codec.Undecodable):
            codec.decode(bytes(data))


def test_bounded_repr() -> None:
    assert codec.bounded_repr([1, 2]) == "[1, 2]"
    assert codec.bounded_repr(10**5000) == "<int of 16610 bits>"
    shared: object = []
    for _ in range(60):
        shared = [shared, shared]
    started = time.monotonic()
    text = codec.bounded_repr(shared, 100)
    assert len(text) <= 100 and time.monotonic() - started < 0.1
    assert len(codec.bounded_repr("x" * 10**6, 50)) <= 50
    assert len(codec.bounded_repr({i: b"y" * 1000 for i in range(1000)})) <= 300
