"""Asking in the server: a routed request may come back as a clarifying question.

Ask is an action beside the arms. For the first turn of a conversation (one user message, a
system message allowed) sent to the router, the ask model (:class:`~octoroute.clarify.decide.
AskModel`, fitted on a clarification log for one arm) decides from the request's words; when
it asks, that arm writes one clarifying question, which is the answer (``action`` ``ask``).
The client's next turn, the conversation with the question as the assistant's message and the
user's reply after it, continues the episode: the same arm writes the code from the request,
the question and the reply (``action`` ``code``). The turns are logged as one chain per
episode (the question, attempt 1; each reply, attempt 2 under arm ``user``; the code written
after it, attempt 3), each reply and its code numbered by the replies before it, so a reply
sent again is logged again, never lost.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from octoroute.arms.pool import ArmRegistry
from octoroute.clarify.decide import AskChoice, AskModel
from octoroute.store import hash_text
from octoroute.types import Problem

__all__ = ["ASK", "CODE", "USER", "Asking", "Continuation", "Question", "register_user"]

USER = "user"
"""The arm name under which a user's reply to a question is logged."""
ASK = "ask"
"""The policy name of a decision to ask."""
CODE = "ask/code"
"""The policy name of the code turn that follows a reply."""


def register_user(registry: ArmRegistry) -> None:
    """Register the arm users' replies are logged under (idempotent)."""
    registry.add_arm(USER, backend=USER, model="a user's reply", cost_unit="flops")


_DEF = re.compile(r"^\s*def\s+([A-Za-z_]\w*)\s*\(", re.MULTILINE)


@dataclass(slots=True)
class Question:
    """A question the server asked: the episode (its problem id), the question's attempt, and
    how many replies to it were logged (the next one's number)."""

    problem_id: str
    attempt_id: int
    replies: int = 0


@dataclass(frozen=True, slots=True)
class Continuation:
    """A turn that answers a question: the request, the question, the user's reply."""

    question: Question
    request: str
    text: str
    reply: str

    @property
    def entry_point(self) -> str | None:
        """The function the request defines (its last ``def``), if it shows one."""
        names = _DEF.findall(self.request)
        return names[-1] if names else None


@dataclass
class Asking:
    """The ask model, the arm that asks and codes, and the questions asked so far (by the hash
    of the request and the question), which a continuation must quote as the assistant's
    message after the user's request."""

    model: AskModel
    arm: str
    asked: dict[str, Question] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def first_turn(self, messages: Sequence[Mapping[str, str]]) -> str | None:
        """The request of a first turn (one user message, any system messages), else None."""
        users = [m for m in messages if m["role"] == "user"]
        if len(users) != 1 or any(m["role"] not in ("user", "system") for m in messages):
            return None
        return users[0]["content"]

    def choose(self, request: str) -> AskChoice:
        """Ask or code, for a first turn's request."""
        problem = Problem("request", "chat", request, "", "", ())
        return self.model.choose([problem])[0]

    def remember(self, request: str, text: str, question: Question) -> None:
        """Keep a question asked about ``request``, so that a reply quoting both continues its
        episode (the same request and question again: the same episode)."""
        with self._lock:
            self.asked.setdefault(_key(request, text), question)

    def next_reply(self, question: Question) -> int:
        """The number of the reply now being logged to ``question`` (0 for the first)."""
        with self._lock:
            number = question.replies
            question.replies += 1
            return number

    def continuation(self, messages: Sequence[Mapping[str, str]]) -> Continuation | None:
        """The turn answering a question this server asked: the last message is the user's
        reply, the one before it the question, and before that the user's request."""
        if len(messages) < 3 or messages[-1]["role"] != "user":
            return None
        said, request = messages[-2], messages[-3]
        if said["role"] != "assistant" or request["role"] != "user":
            return None
        with self._lock:
            question = self.asked.get(_key(request["content"], said["content"]))
        if question is None:
            return None
        return Continuation(question, request["content"], said["content"].strip(),
                            messages[-1]["content"])  # fmt: skip


def _key(request: str, question: str) -> str:
    return hash_text(f"{request.strip()}\0{question.strip()}")
