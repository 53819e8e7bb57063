"""Frames: kinds and sizes are checked on the header, before a payload is read."""

from __future__ import annotations

import os

import pytest

from octoroute.sandbox.protocol import (
    CANDIDATE_CAPS,
    HEADER,
    FrameReader,
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


def test_frames_of_accepted_kinds_are_read_one_at_a_time() -> None:
    reader = _reader(encode(Kind.LOADED) + encode(Kind.RESULT, b"T"), CANDIDATE_CAPS)
    reader.fill()
    assert reader.pop() == (Kind.LOADED, b"")
    assert reader.pop() is None  # fill stops after one whole frame
    reader.fill()
    assert reader.pop() == (Kind.RESULT, b"T")


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
