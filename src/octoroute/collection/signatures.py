"""Behaviour signatures: what consensus selection knows of each candidate program.

For every problem, the judged programs of its episode tree run in the sandbox on the problem's
selection inputs (:func:`octoroute.episodes.inputs.selection_inputs`: the visible examples'
inputs and mutations of them, no hidden test); a program's signature is a digest of what it
did on each input, in order: the bytes of its output, or the kind of its failure (exception
type, timeout, ...). Two programs with the same signature answered every input alike. Nothing
is generated, so this runs on any log, the shipped export included.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable

from octoroute.episodes.inputs import selection_inputs
from octoroute.episodes.tree import EpisodeTree
from octoroute.sandbox import Executor, codec
from octoroute.sandbox.executor import RawResult
from octoroute.sandbox.protocol import Status
from octoroute.types import Attempt

__all__ = ["behaviour_signatures", "signable", "signature"]


def signable(tree: EpisodeTree) -> list[Attempt]:
    """The nodes of ``tree`` a signature is made for: judged programs with an id and code."""
    return [a for a in tree.nodes() if a.tests is not None and a.id is not None and a.code]


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


def behaviour_signatures(
    executor: Executor,
    trees: Iterable[EpisodeTree],
    inputs: int = 8,
    seed: int = 0,
    on_problem: Callable[[EpisodeTree], None] | None = None,
) -> dict[int, str]:
    """Attempt id -> signature, for every judged program of every tree (one batch per problem).

    A problem without a call example to run its programs on gives each of them a signature of
    its own (``#ID``): each groups alone, and a caller that signs new nodes later does not run
    the problem again.
    """
    out: dict[int, str] = {}
    for tree in trees:
        view = tree.problem.visible_only()  # the inputs come from what inference may see
        tests = selection_inputs(view, inputs, seed)
        nodes = [a for a in signable(tree) if a.id not in out]
        raws = executor.run_batch(view, [a.code for a in nodes], tests) if tests and nodes else []
        for i, a in enumerate(nodes):
            assert a.id is not None
            out[a.id] = signature(raws[i]) if raws else f"#{a.id}"
        if on_problem is not None:
            on_problem(tree)
    return out
