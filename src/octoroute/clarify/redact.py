"""What a clarification log's export leaves out: the simulated users' words.

A user's answer is made from the original problem (the oracle's *is* the original
description), so an export meant to be committed or shared would copy the benchmark's text.
:func:`redact` keeps every turn's place in its episode (keys, parents, costs, verdicts) and
replaces an answer's text with :data:`REDACTED` and a rating's with its digit, which is all
the replay (:mod:`.replay`) and the ask model read of them. A resumed collection that meets a
redacted answer whose code is missing makes the answer again, in memory (:mod:`.collect`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable

from octoroute.store.records import RunRecord
from octoroute.types import Attempt

__all__ = ["REDACTED", "is_redacted", "redact", "redactor"]

REDACTED = "[redacted: a simulated user's answer, made from the original problem]"
"""The text of a redacted answer."""

ANSWER, RATING = 2, 4
"""The attempt numbers of a user's turns in an ask episode (see :mod:`.collect`)."""


def is_redacted(turn: Attempt) -> bool:
    """Whether ``turn``'s text was left out by :func:`redact`."""
    return turn.completion == REDACTED


def redact(turn: Attempt) -> Attempt:
    """``turn`` without the user's words (an answer or a rating); other turns unchanged."""
    if turn.attempt_number == ANSWER:
        return dataclasses.replace(turn, completion=REDACTED, code="")
    if turn.attempt_number == RATING:
        digit = next((ch for ch in turn.completion if ch in "123"), "")
        return dataclasses.replace(turn, completion=digit, code="")
    return turn


def redactor(runs: Iterable[RunRecord]) -> Callable[[Attempt], Attempt]:
    """:func:`redact` for the attempts of the clarification runs among ``runs`` (made by
    ``clarify-collect``, or imported under its run name, ``clarify/...``: an imported run
    keeps its name but not its config until resumed), the identity for every other attempt (a
    repair's second attempt is not an answer)."""
    asks = frozenset(
        r.id for r in runs if r.config.get("kind") == "clarify" or r.id.startswith("clarify/")
    )
    return lambda a: redact(a) if a.run_id in asks else a
