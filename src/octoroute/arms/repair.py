"""Repair prompts: the problem, a previous program, and what went wrong on a visible test.

A repair asks an arm for a corrected full program. What went wrong is the executor's
:class:`~octoroute.types.Feedback` on the first failing *visible* test (outcome, input, expected
and actual output, trimmed traceback): a repair prompt never shows a hidden test, because the
feedback it is built from is made from visible tests only.

A repair goes through :meth:`~octoroute.arms.base.Arm.generate` like any conversation:
:func:`repair_request` gives chat messages to a chat arm (:func:`repair_messages`), and to a
completion-style arm one message holding :func:`repair_prompt`, which the arm flattens back to
that text. The completion prompt ends where the fresh one does (the function stub, whose body
the model continues), so :func:`~octoroute.arms.prompts.extract_code` rebuilds the program the
same way; without a stub it ends with a comment, after which the model writes a whole program.

>>> from octoroute.types import Feedback, Outcome, Problem
>>> p = Problem("P/1", "demo", "def add(a, b):\\n    \\"\\"\\"Add.\\"\\"\\"\\n", "add", "", ())
>>> fb = Feedback(0, Outcome.WRONG_ANSWER, input="(1, 2)", expected="3", actual="-1")
>>> print("\\n".join(failure_report(p, fb)))
It returns a wrong answer on a visible test.
Call: add(1, 2)
Expected: 3
Got: -1
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from octoroute.arms.prompts import (
    SYSTEM_PROMPT,
    completion_prompt,
    completion_stops,
    has_stub,
    visible_examples,
)
from octoroute.arms.style import PromptStyle
from octoroute.types import Feedback, Outcome, Problem

__all__ = [
    "RepairRequest",
    "failure_report",
    "repair_messages",
    "repair_prompt",
    "repair_request",
]

# A program written after a comment (no stub to continue) may define helpers and import
# modules at the top level, so only test and demo code ends it.
_PROGRAM_STOPS = ("\nif __name__", "\nprint(", "\nassert ", "\n```")
_TRACEBACK_LINES = 8

_WHAT = {
    Outcome.WRONG_ANSWER: "It returns a wrong answer on a visible test.",
    Outcome.BAD_OUTPUT_TYPE: "It returns a value of the wrong type on a visible test.",
    Outcome.RUNTIME_ERROR: "It raises an exception on a visible test.",
    Outcome.TIMEOUT: "It runs out of time on a visible test (too slow, or it never ends).",
    Outcome.MEMORY_LIMIT: "It runs out of memory on a visible test.",
    Outcome.OUTPUT_LIMIT: "It writes too much output on a visible test.",
    Outcome.CRASH: "It crashes on a visible test.",
    Outcome.EARLY_EXIT: "It exits before finishing (sys.exit, os._exit) on a visible test.",
    Outcome.SANDBOX_VIOLATION: (
        "It does something forbidden (files, network, new processes) on a visible test."
    ),
}


@dataclass(frozen=True, slots=True)
class RepairRequest:
    """What one repair sends to an arm: chat messages, and stop sequences to add.

    ``messages`` go to :meth:`~octoroute.arms.base.Arm.generate` with the problem as context;
    ``stop`` extends the request's sampling (completion-style arms only).
    """

    messages: tuple[Mapping[str, str], ...]
    stop: tuple[str, ...] = ()


def _literal(text: str) -> Any:
    """The value a ``repr`` string stands for, or None (a trimmed repr does not parse)."""
    try:
        return ast.literal_eval(text)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None


def _test_lines(problem: Problem, feedback: Feedback) -> list[str]:
    """The failing test (a call, an assert statement or a standard input) and its outputs."""
    value = _literal(feedback.input)
    if problem.program_mode:
        lines = [f"Standard input: {feedback.input}"]
    elif isinstance(value, tuple | list):
        lines = [f"Call: {problem.entry_point}({', '.join(repr(a) for a in value)})"]
    elif isinstance(value, str):
        lines = ["Test: " + " ".join(line.strip() for line in value.strip().splitlines())]
    else:
        lines = [f"Input: {feedback.input}"]
    if feedback.expected:
        lines.append(f"Expected: {feedback.expected}")
    if feedback.outcome in (Outcome.WRONG_ANSWER, Outcome.BAD_OUTPUT_TYPE) and feedback.actual:
        # Standard output is raw text; show it as a literal, like the expected output.
        actual = repr(feedback.actual) if problem.program_mode else feedback.actual
        lines.append(f"Got: {actual}")
    elif feedback.outcome in (Outcome.RUNTIME_ERROR, Outcome.MEMORY_LIMIT) and feedback.actual:
        lines.append(f"Error: {feedback.actual}")
    if feedback.traceback.strip():
        tail = feedback.traceback.rstrip("\n").splitlines()[-_TRACEBACK_LINES:]
        lines += ["Traceback (most recent call last, trimmed):", *tail]
    return lines


def failure_report(problem: Problem, feedback: Feedback | None) -> list[str]:
    """What went wrong with a program, as plain lines for a repair prompt.

    ``feedback`` is the executor's on the first failing visible test; ``None`` means no
    visible test failed (none exists, or all pass: nothing hidden is hinted at either way). A
    syntax error or a missing entry point is said as such, without the test (it never ran).

    >>> from octoroute.types import Feedback, Outcome, Problem
    >>> p = Problem("P/1", "demo", "", "f", "", ())
    >>> failure_report(p, Feedback(0, Outcome.MISSING_ENTRY_POINT, "(1,)", "2", "f", "f"))
    ['It does not define the function `f`.']
    >>> failure_report(p, None)[0]
    'No visible test exists, so no failing example can be shown.'
    """
    if feedback is None:
        first = (
            "It passes the visible tests shown below."
            if problem.visible_tests
            else "No visible test exists, so no failing example can be shown."
        )
        return [first, "Check the program against the task carefully."]
    if feedback.outcome is Outcome.PASS:
        raise ValueError("feedback describes a failing test; this one passed")
    if feedback.outcome is Outcome.SYNTAX_ERROR:
        detail = feedback.detail or feedback.actual
        return ["It is not valid Python" + (f": {detail}" if detail else ".")]
    if feedback.outcome is Outcome.MISSING_ENTRY_POINT:
        if problem.program_mode:
            return ["It does not run as a program."]
        return [f"It does not define the function `{problem.entry_point}`."]
    return [_WHAT[feedback.outcome], *_test_lines(problem, feedback)]


def _fenced(code: str) -> str:
    return "```python\n" + code.strip("\n") + "\n```\n"


def repair_messages(
    problem: Problem, code: str, feedback: Feedback | None, system: str = SYSTEM_PROMPT
) -> list[dict[str, str]]:
    """Chat messages asking to repair ``code``: a system prompt and one user turn.

    The user turn shows the task and its visible examples (as a fresh prompt does), the
    previous program and :func:`failure_report`, and asks for the corrected complete program.
    """
    if has_stub(problem):
        ask = "Complete the following Python function."
    else:
        ask = f"Write a Python function named `{problem.entry_point}` for the following task."
    user = f"{ask}\n\n{_fenced(problem.prompt)}"
    examples = visible_examples(problem)
    if examples:
        user += "\nIt must pass these examples:\n\n" + _fenced("\n".join(examples))
    if code.strip():
        user += "\nThis program was written for it:\n\n" + _fenced(code)
    else:
        user += "\nThe previous answer held no Python code.\n"
    user += "\n" + "\n".join(failure_report(problem, feedback)) + "\n"
    user += (
        f"\nWrite a corrected version. Return the complete function `{problem.entry_point}` "
        "with its signature and any imports it needs, in one ```python code block."
    )
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def _comment(lines: list[str]) -> str:
    return "".join(f"# {line}".rstrip() + "\n" for line in lines)


def repair_prompt(problem: Problem, code: str, feedback: Feedback | None) -> str:
    """The text a completion-style model continues to repair ``code``.

    The previous program and :func:`failure_report` come first, as comments; then the fresh
    :func:`~octoroute.arms.prompts.completion_prompt` when it ends with the function stub (the
    model writes the body), else the task and a comment after which it writes the program.
    """
    if code.strip():
        head = ["A previous program for the task below:", "", *code.strip("\n").splitlines()]
    else:
        head = ["A previous answer for the task below held no Python code."]
    head += ["", *failure_report(problem, feedback), "", "A corrected program follows."]
    text = _comment(head) + "\n"
    if has_stub(problem):
        return text + completion_prompt(problem).strip("\n") + "\n"
    text += problem.prompt.rstrip("\n") + "\n"
    for example in visible_examples(problem):
        text += example.rstrip("\n") + "\n"
    return text + "\n# Corrected program:\n"


def repair_request(
    problem: Problem,
    code: str,
    feedback: Feedback | None,
    style: PromptStyle = PromptStyle.CHAT,
) -> RepairRequest:
    """The request that asks an arm of ``style`` to repair ``code`` given ``feedback``.

    ``problem`` should be the visible-only view (:meth:`~octoroute.types.Problem.visible_only`)
    used for the whole episode; only its prompt, entry point and visible tests are read.

    >>> from octoroute.types import Problem
    >>> p = Problem("P/1", "demo", "def f(x):\\n    pass\\n", "f", "", ())
    >>> chat = repair_request(p, "def f(x):\\n    return 0\\n", None)
    >>> [m["role"] for m in chat.messages], chat.stop
    (['system', 'user'], ())
    >>> req = repair_request(p, "", None, PromptStyle.COMPLETION)
    >>> req.messages[0]["content"].endswith("def f(x):\\n    pass\\n"), "\\n\\ndef " in req.stop
    (True, True)
    """
    if style.chat:  # an instruct-style arm is asked to repair in plain chat too
        return RepairRequest(tuple(repair_messages(problem, code, feedback)))
    # One message, which a completion-style arm flattens back to exactly this text.
    text = repair_prompt(problem, code, feedback)
    stop = completion_stops(problem) if has_stub(problem) else _PROGRAM_STOPS
    return RepairRequest(({"role": "user", "content": text},), tuple(stop))
