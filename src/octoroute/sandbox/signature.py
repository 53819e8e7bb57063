"""A program's behaviour signature: a digest of what it did on a list of inputs.

Consensus selection (:mod:`octoroute.episodes.selection`) groups candidate programs that did
the same on every selection input; the digest is made here, beside the executor whose raw
results it reads, so the live router and a collection over a log sign alike.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from octoroute.sandbox import codec
from octoroute.sandbox.executor import Executor, RawResult
from octoroute.sandbox.protocol import Status
from octoroute.types import Problem, TestCase

__all__ = ["sign_programs", "signature"]


def signature(results: Iterable[RawResult]) -> str:
    """The digest of one program's raw results on the selection inputs, in order.

    An answer counts by its bytes (a returned value's encoding, a program's output); a raised
    exception by its type only (its message and traceback hold the program's own lines); any
    other failure (timeout, crash, syntax error, ...) by its status alone, not its measured
    detail. So programs that fail alike on an input agree there.
    """
    h = hashlib.blake2b(digest_size=12)
    for status, _detail, payload, _cpu in results:
        h.update(status.encode() + b"\0")
        if status in (Status.VALUE, Status.STDOUT):
            h.update(payload)
        elif status == Status.EXCEPTION:
            h.update(_exception_name(payload).encode())
        h.update(b"\0")
    return h.hexdigest()


def _exception_name(payload: bytes) -> str:
    """The exception type in an encoded ``(name, message, traceback)`` report ("?" if not)."""
    try:
        report = codec.decode(payload)
    except (codec.Undecodable, TypeError, ValueError):
        return "?"
    if isinstance(report, tuple) and report and isinstance(report[0], str):
        return report[0][:100]
    return "?"


def sign_programs(
    executor: Executor, view: Problem, codes: Sequence[str], inputs: Sequence[TestCase]
) -> list[str] | None:
    """Each program's :func:`signature` on ``inputs`` (run on ``view``, what inference sees),
    in one batch; None when there is nothing to run (no program, or no input: the caller
    lets each program stand alone)."""
    if not codes or not inputs:
        return None
    return [signature(raw) for raw in executor.run_batch(view, list(codes), tuple(inputs))]
