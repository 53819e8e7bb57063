"""Length-prefixed frames between the trusted process, the fork server and sandboxed children.

A frame is ``<u32 length><u8 kind><payload>``. Readers check the kind and cap the length as
soon as the five header bytes arrive, before reading or allocating the payload, so a hostile
child can neither make its reader allocate without bound nor slip in a kind the reader does not
expect at that point. What a candidate may send is data only: a frame's kind says which
*question* it answers (loaded, a value, an exception...), never how a test is judged; statuses
(:class:`Status`) are chosen by the broker from what it observed.
"""

from __future__ import annotations

import enum
import errno
import os
import select
import struct
from collections.abc import Mapping

HEADER = struct.Struct("<IB")
REPLY_CAP = 64 << 20
"""Bytes of one encoded output a candidate may send: Mbpp/255's reference needs 54 MiB on one
plus input (in marshal format 2, which repeats what format 4 would share), and returns 1.1 GB
on another, which is dropped as the reference's own failure."""
NOTE_CAP = 64 << 10
"""Bytes of any other candidate frame (an exception, a syntax error, a type name)."""


def reply_cap(expected_size: int | None) -> int:
    """Bytes a reply to a call test may take: twice what the reference's output took, and
    64 KiB more (an equal value may be encoded larger, 2.0 for 2), never above
    :data:`REPLY_CAP`; :data:`REPLY_CAP` where no reference output is known.

    >>> reply_cap(5), reply_cap(None) == REPLY_CAP
    (65546, True)
    """
    if expected_size is None:
        return REPLY_CAP
    return min(REPLY_CAP, 2 * expected_size + (64 << 10))


class Kind(enum.IntEnum):
    """Frame kinds. Values avoid the first bytes of marshal data and ASCII letters."""

    # trusted <-> fork server
    JOB = 0xA1
    TEST_RESULTS = 0xA2
    READY = 0xA3
    FAILED = 0xA4
    JOB_DONE = 0xA5
    # fork server -> candidate
    PROGRAM = 0xB1
    CALL = 0xB2
    # candidate -> fork server (and relayed to the harness)
    LOADED = 0xC1
    RESULT = 0xC2
    EXCEPTION = 0xC3
    BAD_TYPE = 0xC4
    SYNTAX = 0xC5
    NO_ENTRY = 0xC6
    EXIT = 0xC7
    # harness <-> fork server
    TEST = 0xD1
    PROXY_CALL = 0xD2
    PROXY_REPLY = 0xD3
    PROXY_DEAD = 0xD4
    TEST_DONE = 0xD5
    SETUP = 0xD6


CANDIDATE_CAPS: Mapping[Kind, int] = {
    Kind.LOADED: 0,
    Kind.RESULT: REPLY_CAP,
    Kind.EXCEPTION: NOTE_CAP,
    Kind.BAD_TYPE: NOTE_CAP,
    Kind.SYNTAX: NOTE_CAP,
    Kind.NO_ENTRY: NOTE_CAP,
    Kind.EXIT: NOTE_CAP,
}
"""Every kind a candidate may ever send, with the largest payload each may carry."""


class Status(enum.StrEnum):
    """What the broker observed on one test: the only statuses that cross into the verdict.

    The passing observations are tied to a test kind (``value`` to a call test, ``stdout`` to a
    program run, ``ok`` to an assert test run to its end in the harness); the trusted side
    refuses any other pairing.
    """

    VALUE = "value"
    """A call returned; the payload is the encoded output."""
    SAME = "same"
    """A call returned the expected output's own bytes (the broker matched the digest the job
    gave for the test); no payload."""
    STDOUT = "stdout"
    """A program ran to its end; the payload is its standard output."""
    OK = "ok"
    """An assert test's code ran to its end in the harness."""
    ASSERT = "assert"
    TEST_ERROR = "test_error"
    EXCEPTION = "exc"
    """The program raised; the payload is the encoded ``(name, message, traceback)``."""
    SYNTAX = "syntax"
    """The program did not compile; the payload is the encoded ``(message, line)``."""
    NO_ENTRY = "noentry"
    BAD_TYPE = "badtype"
    EARLY_EXIT = "early_exit"
    TIMEOUT = "timeout"
    BUDGET = "budget"
    OUTPUT_LIMIT = "output_limit"
    MEMORY_LIMIT = "memory_limit"
    CRASH = "crash"
    VIOLATION = "violation"
    HARNESS = "harness"


class FrameTooLarge(Exception):
    """A peer announced a frame above the reader's cap."""


class ProtocolError(Exception):
    """A peer sent something that is not a frame of a kind the reader accepts."""


def encode(kind: Kind, payload: bytes = b"") -> bytes:
    """One frame as bytes."""
    return HEADER.pack(len(payload) + 1, int(kind)) + payload


def write_frame(fd: int, kind: Kind, payload: bytes = b"") -> None:
    """Write a whole frame to a blocking file descriptor."""
    data = memoryview(encode(kind, payload))
    while data:
        try:
            n = os.write(fd, data)
        except InterruptedError:
            continue
        data = data[n:]


def _read_exact(fd: int, n: int) -> bytes:
    chunks = []
    while n:
        try:
            chunk = os.read(fd, min(n, 1 << 20))
        except InterruptedError:
            continue
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def _header(length: int, kind: int, caps: Mapping[Kind, int] | int) -> Kind:
    """The kind of a frame header, or an error if the reader does not take it."""
    if length < 1:
        raise ProtocolError("empty frame")
    k = _KINDS.get(kind)  # a dict lookup: Kind(kind) costs more than the rest of a header
    if k is None:
        raise ProtocolError(f"unknown frame kind {kind:#x}")
    cap = caps if isinstance(caps, int) else caps.get(k)
    if cap is None:
        raise ProtocolError(f"a {k.name} frame is not expected here")
    if length - 1 > cap:
        raise FrameTooLarge(f"{k.name} frame of {length - 1} bytes (at most {cap})")
    return k


_KINDS = {k.value: k for k in Kind}


def read_frame(fd: int, caps: Mapping[Kind, int] | int = 1 << 30) -> tuple[Kind, bytes]:
    """Read one frame from a blocking descriptor; ``EOFError`` at end of stream.

    ``caps`` is one cap for every kind, or the accepted kinds with their caps.
    """
    length, kind = HEADER.unpack(_read_exact(fd, HEADER.size))
    k = _header(length, kind, caps)
    return k, _read_exact(fd, length - 1) if length > 1 else b""


class FrameStream:
    """Frames from a blocking descriptor of a trusted peer, read in chunks: one system call
    brings several small frames (calls sent ahead of their answers) instead of two each."""

    CHUNK = 1 << 16

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buf = bytearray()

    def next(self, caps: Mapping[Kind, int] | int = 1 << 30) -> tuple[Kind, bytes]:
        """The next frame, as :func:`read_frame` reads it; ``EOFError`` at end of stream."""
        while True:
            want = HEADER.size
            if len(self.buf) >= HEADER.size:
                length, kind = HEADER.unpack_from(self.buf)
                k = _header(length, kind, caps)
                want = HEADER.size - 1 + length
                if len(self.buf) >= want:
                    payload = bytes(self.buf[HEADER.size : want])
                    del self.buf[:want]
                    return k, payload
            try:
                chunk = os.read(self.fd, max(self.CHUNK, min(want - len(self.buf), 1 << 20)))
            except InterruptedError:
                continue
            if not chunk:
                raise EOFError
            self.buf += chunk


class FrameReader:
    """Incremental, non-blocking reader of frames from an untrusted peer."""

    def __init__(self, fd: int, caps: Mapping[Kind, int] | int) -> None:
        self.fd = fd
        self.caps = caps
        self.buf = bytearray()
        self.eof = False

    def fill(self) -> None:
        """Read what is available now (the descriptor is non-blocking).

        Stops reading once a whole frame is buffered, so a peer that floods its pipe is
        read no further than the frame it owes and one chunk (the next header is checked
        when that frame is popped). Chunks are read whole so that answers sent in a row cost
        one system call, not two each.
        """
        while True:
            if len(self.buf) >= HEADER.size:
                length, kind = HEADER.unpack_from(self.buf)
                _header(length, kind, self.caps)
                if len(self.buf) >= HEADER.size - 1 + length:
                    return
                want = HEADER.size - 1 + length - len(self.buf)
            else:
                want = HEADER.size - len(self.buf)
            try:
                chunk = os.read(self.fd, max(FrameStream.CHUNK, min(want, 1 << 20)))
            except BlockingIOError:
                return
            except InterruptedError:
                continue
            except OSError as e:
                if e.errno == errno.EAGAIN:
                    return
                raise
            if not chunk:
                self.eof = True
                return
            self.buf += chunk

    def pop(self) -> tuple[Kind, bytes] | None:
        """The next complete frame, or None. Raises on an oversized or unexpected frame."""
        if len(self.buf) < HEADER.size:
            return None
        length, kind = HEADER.unpack_from(self.buf)
        k = _header(length, kind, self.caps)
        if len(self.buf) < HEADER.size - 1 + length:
            return None
        payload = bytes(self.buf[HEADER.size : HEADER.size - 1 + length])
        del self.buf[: HEADER.size - 1 + length]
        return k, payload


def wait_writable(fd: int, timeout: float) -> bool:
    """Whether ``fd`` can be written to (or is closed) within ``timeout`` seconds."""
    poller = select.poll()
    poller.register(fd, select.POLLOUT | select.POLLERR | select.POLLHUP)
    try:
        return bool(poller.poll(max(0, int(timeout * 1000))))
    except InterruptedError:
        return False


def wait_readable(fds: list[int], timeout: float) -> list[int]:
    """The descriptors among ``fds`` that are readable (or closed) within ``timeout`` seconds."""
    poller = select.poll()
    for fd in fds:
        poller.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
    try:
        events = poller.poll(max(0, int(timeout * 1000)))
    except InterruptedError:
        return []
    return [fd for fd, _ in events]
