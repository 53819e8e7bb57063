"""Behaviour signatures: what consensus selection knows of each candidate program.

For every problem, the judged programs of its episode tree run in the sandbox on the problem's
selection inputs (:func:`octoroute.episodes.inputs.selection_inputs`: the visible examples'
inputs and mutations of them, no hidden test); a program's signature is a digest of what it
did on each input, in order: the bytes of its output, or the kind of its failure (exception
type, timeout, ...). Two programs with the same signature answered every input alike. Nothing
is generated, so this runs on any log, the shipped export included.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from octoroute.episodes.inputs import selection_inputs
from octoroute.episodes.tree import EpisodeTree
from octoroute.sandbox import Executor
from octoroute.sandbox.signature import sign_programs
from octoroute.types import Attempt

__all__ = ["behaviour_signatures", "signable"]


def signable(tree: EpisodeTree) -> list[Attempt]:
    """The nodes of ``tree`` a signature is made for: judged programs with an id and code."""
    return [a for a in tree.nodes() if a.tests is not None and a.id is not None and a.code]


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
        signed = sign_programs(executor, view, [a.code for a in nodes], tests)
        for i, a in enumerate(nodes):
            assert a.id is not None
            out[a.id] = signed[i] if signed is not None else f"#{a.id}"
        if on_problem is not None:
            on_problem(tree)
    return out
