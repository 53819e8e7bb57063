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
from octoroute.sandbox import Executor
from octoroute.sandbox.executor import RawResult

__all__ = ["behaviour_signatures", "signature"]


def signature(results: Iterable[RawResult]) -> str:
    """The digest of one program's raw results on the selection inputs, in order."""
    h = hashlib.blake2b(digest_size=12)
    for status, detail, payload, _cpu in results:
        h.update(status.encode())
        # The output's bytes when it answered; else the failure's kind (its first word: the
        # exception type), not its message, which may hold addresses or timings.
        h.update(payload if payload else detail.split(":", 1)[0][:60].encode())
        h.update(b"\0")
    return h.hexdigest()


def behaviour_signatures(
    executor: Executor,
    trees: Iterable[EpisodeTree],
    inputs: int = 8,
    seed: int = 0,
    on_problem: Callable[[EpisodeTree], None] | None = None,
) -> dict[int, str]:
    """Attempt id -> signature, for every judged program of every tree (one batch per problem)."""
    out: dict[int, str] = {}
    for tree in trees:
        tests = selection_inputs(tree.problem, inputs, seed)
        nodes = [a for a in tree.nodes() if a.tests is not None and a.id is not None and a.code]
        if tests and nodes:
            view = tree.problem.visible_only()
            raws = executor.run_batch(view, [a.code for a in nodes], tests)
            for a, raw in zip(nodes, raws, strict=True):
                assert a.id is not None
                out[a.id] = signature(raw)
        if on_problem is not None:
            on_problem(tree)
    return out
