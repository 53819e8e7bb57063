"""Frames: kinds and sizes are checked on the header, before a payload is read."""

from __future__ import annotations

import contextlib
import os

import pytest

from octoroute.sandbox.protocol import (
    CANDIDATE_CAPS,
    HEADER,
    FrameReader,
    FrameStream,
    FrameTooLarge,
    Kind,
    ProtocolError,
    encode,
)


def _reader(data: bytes, caps: dict[Kind, int] | int) -> FrameReader:
    r, w = os.pipe()
    os.write(w, data)
    os.close(w)
    os.set_blocking(r, False)
    return FrameReader(r, caps)


def test_frames_in_a_row_are_read_in_one_chunk_and_checked_when_popped() -> None:
    reader = _reader(
        encode(Kind.LOADED) + encode(Kind.RESULT, b"T") + encode(Kind.READY), CANDIDATE_CAPS
    )
    reader.fill()
    assert reader.pop() == (Kind.LOADED, b"")
    assert reader.pop() == (Kind.RESULT, b"T")  # read by the same fill
    with pytest.raises(ProtocolError, match="not expected"):
        reader.pop()  # a kind the reader does not take is refused on its header


def test_a_flood_is_read_no_further_than_the_frame_owed_and_one_chunk() -> None:
    r, w = os.pipe()
    os.set_blocking(w, False)
    os.write(w, encode(Kind.RESULT, b"T"))
    flood = 0
    with contextlib.suppress(BlockingIOError):
        while flood < 1 << 20:
            flood += os.write(w, b"\0" * 4096)
    os.set_blocking(r, False)
    reader = FrameReader(r, CANDIDATE_CAPS)
    reader.fill()
    assert reader.pop() == (Kind.RESULT, b"T")
    assert len(reader.buf) <= FrameStream.CHUNK


def test_a_frame_stream_reads_frames_in_order_then_eof() -> None:
    r, w = os.pipe()
    os.write(w, encode(Kind.CALL, b"a") + encode(Kind.CALL, b"b" * 30_000))
    os.close(w)
    stream = FrameStream(r)
    assert stream.next() == (Kind.CALL, b"a")
    assert stream.next() == (Kind.CALL, b"b" * 30_000)
    with pytest.raises(EOFError):
        stream.next()


@pytest.mark.parametrize("kind", [Kind.TEST_DONE, Kind.PROXY_REPLY, Kind.JOB_DONE, Kind.READY])
def test_a_kind_the_reader_does_not_take_is_refused(kind: Kind) -> None:
    reader = _reader(encode(kind, b"T"), CANDIDATE_CAPS)
    with pytest.raises(ProtocolError, match="not expected"):
        reader.fill()


def test_unknown_kinds_and_empty_frames_are_refused() -> None:
    with pytest.raises(ProtocolError, match="unknown"):
        _reader(HEADER.pack(2, 0x42) + b"x", 100).fill()
    with pytest.raises(ProtocolError, match="empty"):
        _reader(HEADER.pack(0, int(Kind.RESULT)), 100).fill()


def test_an_oversized_frame_is_refused_on_its_header() -> None:
    # Only the header is sent: the reader must refuse it without waiting for 4 GiB.
    reader = _reader(HEADER.pack(0xFFFFFFFF, int(Kind.RESULT)), CANDIDATE_CAPS)
    with pytest.raises(FrameTooLarge):
        reader.fill()
    note = encode(Kind.EXCEPTION, b"x" * (CANDIDATE_CAPS[Kind.EXCEPTION] + 1))
    with pytest.raises(FrameTooLarge, match="EXCEPTION"):
        _reader(note[: HEADER.size], CANDIDATE_CAPS).fill()
