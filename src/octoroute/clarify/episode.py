"""One ask-then-code episode: question, answer, code, verdict.

The asking arm sees the request (``problem.visible_only()``: for a HumanEvalComm variant, the
modified prompt without the original); the user answers from the original, which only it
reads (``problem.metadata["original_prompt"]``); the coding arm sees the request, its question
and the answer; the hidden tests grade the program.
"""

from __future__ import annotations

from dataclasses import dataclass

from octoroute.arms.base import ArmBase
from octoroute.clarify.prompts import ask_messages, code_messages
from octoroute.clarify.users import SimulatedUser
from octoroute.exceptions import ConfigError
from octoroute.sandbox import Executor
from octoroute.types import Completion, Problem, Verdict

__all__ = ["AskResult", "ask", "ask_then_code", "original_of", "write"]


@dataclass(frozen=True, slots=True)
class AskResult:
    """What an ask-then-code episode made: each turn's completion and the program's verdict.

    ``verdict`` is None when a turn failed (an arm error: nothing to judge).
    """

    question: Completion
    answer: Completion | None
    code: Completion | None
    verdict: Verdict | None

    @property
    def cost(self) -> float:
        """The system's compute: the question and the code (the user's answer stands for a
        person's turn: :attr:`user_cost`)."""
        return self.question.cost + (self.code.cost if self.code is not None else 0.0)

    @property
    def user_cost(self) -> float:
        """The simulated user's compute (none for the oracle)."""
        return self.answer.cost if self.answer is not None else 0.0

    @property
    def passed(self) -> bool:
        """Whether the program passed the hidden tests."""
        return bool(self.verdict is not None and self.verdict.passed)


def ask(asker: ArmBase, view: Problem) -> Completion:
    """The asking arm's question about the request ``view`` (what inference may see)."""
    return asker.generate(ask_messages(view.prompt))


def write(coder: ArmBase, view: Problem, question: str, answer: str) -> Completion:
    """The coding arm's program for ``view`` after ``question`` and its ``answer``."""
    messages = code_messages(view.prompt, question.strip(), answer.strip(), view.entry_point)
    return coder.generate(messages, problem=view)


def original_of(problem: Problem) -> str:
    """The original problem only a simulated user reads; ConfigError if the problem lacks it."""
    original = problem.metadata.get("original_prompt")
    if not isinstance(original, str):
        raise ConfigError(
            f"{problem.id}: a clarification episode needs the original problem (metadata "
            "original_prompt, as the humanevalcomm loader sets it)"
        )
    return original


def ask_then_code(
    problem: Problem, asker: ArmBase, user: SimulatedUser, coder: ArmBase, executor: Executor
) -> AskResult:
    """Play one episode on ``problem`` (prepared, with ``metadata["original_prompt"]``)."""
    original = original_of(problem)
    view = problem.visible_only()  # the original is gone from what the arms see
    question = ask(asker, view)
    if not question.ok:
        return AskResult(question, None, None, None)
    answer = user.answer(original, question.text.strip())
    if not answer.ok:
        return AskResult(question, answer, None, None)
    code = write(coder, view, question.text, answer.text)
    verdict = executor.check(problem, code.code) if code.ok else None
    return AskResult(question, answer, code, verdict)
