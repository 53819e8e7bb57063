"""Simulated users: who answers a clarifying question, knowing the original problem.

Two kinds, reported apart: :class:`OracleUser` answers any question with the original
description (the most a user could say), :class:`ArmUser` is an arm of the pool answering
from the original problem (a plausible user, who may answer badly). Only these read the
original; the asking and coding arms never do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from octoroute.arms.base import ArmBase
from octoroute.clarify.prompts import answer_messages, rate_messages
from octoroute.types import Completion

__all__ = ["ArmUser", "OracleUser", "SimulatedUser"]


class SimulatedUser(Protocol):
    """Answers a question about a request, knowing the ``original`` problem."""

    @property
    def name(self) -> str:
        """Who answers (``oracle``, or the answering arm)."""
        ...

    def answer(self, original: str, question: str) -> Completion:
        """The answer (a completion: its text, tokens and cost; an arm failure as its error)."""
        ...


@dataclass
class OracleUser:
    """Answers every question with the original description (no model, no cost)."""

    name: str = "oracle"

    def answer(self, original: str, question: str) -> Completion:
        """The original problem, as it was written."""
        text = f"Here is the complete, correct description:\n\n```python\n{original}```"
        return Completion(arm=self.name, model=self.name, text=text, code="")


@dataclass
class ArmUser:
    """An arm of the pool answering from the original problem."""

    arm: ArmBase

    @property
    def name(self) -> str:
        """The answering arm's name."""
        return f"user {self.arm.name}"

    def answer(self, original: str, question: str) -> Completion:
        """The arm's answer to ``question``, prompted with the original problem."""
        return self.arm.generate(answer_messages(original, question))

    def rate(self, original: str, prompt: str, question: str) -> Completion:
        """The arm's rating of ``question`` (asked about ``prompt``), 1 to 3, as text."""
        return self.arm.generate(rate_messages(original, prompt, question))
