"""Repair prompts: what they show for each failure, and how arms of either style take them."""

from __future__ import annotations

import dataclasses

import pytest

from octoroute.arms.base import PromptStyle
from octoroute.arms.prompts import completion_stops, flatten_messages
from octoroute.arms.repair import failure_report, repair_messages, repair_prompt, repair_request
from octoroute.types import Feedback, Outcome, Problem, TestCase, TestKind, Tier
from tests.fakes import Script, ScriptedArm

STUB = (
    'def add(a: int, b: int) -> int:\n    """Add two numbers.\n    >>> add(1, 2)\n    3\n    """\n'
)
HIDDEN = "assert add(40, 2) == 42"
P = Problem(
    "t/1", "test", STUB, "add", "",
    (TestCase(TestKind.CALL, Tier.VISIBLE, (2, 2), expected=4, has_expected=True),
     TestCase(TestKind.ASSERT, Tier.BASE, HIDDEN)),
)  # fmt: skip
MBPP = Problem(
    "m/1", "test", '"""\nWrite a function to add two numbers.\n"""\n', "add", "",
    (TestCase(TestKind.ASSERT, Tier.VISIBLE, "assert add(1, 2) == 3"),
     TestCase(TestKind.ASSERT, Tier.BASE, HIDDEN)),
)  # fmt: skip
STDIO = Problem("s/1", "test", "Print the sum of two numbers.", "", "", (), program_mode=True)
WRONG = "def add(a, b):\n    return a - b\n"
WRONG_ANSWER = Feedback(0, Outcome.WRONG_ANSWER, input="(2, 2)", expected="4", actual="0")
RAISED = Feedback(
    0, Outcome.RUNTIME_ERROR, input="(2, 2)", expected="4",
    actual="ZeroDivisionError: division by zero", detail="ZeroDivisionError",
    traceback='  File "<candidate>", line 2, in add\n    return a / 0\n',
)  # fmt: skip


def test_wrong_answer_report() -> None:
    assert failure_report(P, WRONG_ANSWER) == [
        "It returns a wrong answer on a visible test.",
        "Call: add(2, 2)",
        "Expected: 4",
        "Got: 0",
    ]


def test_runtime_error_report_has_the_error_and_the_traceback() -> None:
    assert failure_report(P, RAISED) == [
        "It raises an exception on a visible test.",
        "Call: add(2, 2)",
        "Expected: 4",
        "Error: ZeroDivisionError: division by zero",
        "Traceback (most recent call last, trimmed):",
        '  File "<candidate>", line 2, in add',
        "    return a / 0",
    ]


def test_syntax_error_and_missing_entry_point_are_said_without_the_test() -> None:
    syntax = Feedback(0, Outcome.SYNTAX_ERROR, "(2, 2)", "4", "x", "SyntaxError: bad (line 1)")
    assert failure_report(P, syntax) == ["It is not valid Python: SyntaxError: bad (line 1)"]
    missing = Feedback(0, Outcome.MISSING_ENTRY_POINT, "(2, 2)", "4", "add", "add")
    assert failure_report(P, missing) == ["It does not define the function `add`."]
    assert failure_report(STDIO, missing) == ["It does not run as a program."]


def test_no_visible_test_is_said() -> None:
    none = dataclasses.replace(P, tests=tuple(t for t in P.tests if not t.visible))
    assert (
        failure_report(none, None)[0]
        == "No visible test exists, so no failing example can be shown."
    )
    assert (
        P.visible_tests and failure_report(P, None)[0] == "It passes the visible tests shown below."
    )
    with pytest.raises(ValueError, match="passed"):
        failure_report(P, Feedback(0, Outcome.PASS, "(2, 2)", "4", "4"))


def test_assert_and_stdin_tests_are_shown_as_such() -> None:
    fb = Feedback(0, Outcome.WRONG_ANSWER, input="'assert add(1, 2) == 3'", expected="", actual="")
    assert failure_report(MBPP, fb)[1:] == ["Test: assert add(1, 2) == 3"]
    fb = Feedback(0, Outcome.WRONG_ANSWER, input="'1 2\\n'", expected="'3\\n'", actual="4\n")
    assert failure_report(STDIO, fb)[1:] == [
        "Standard input: '1 2\\n'",
        "Expected: '3\\n'",
        "Got: '4\\n'",
    ]
    timeout = Feedback(0, Outcome.TIMEOUT, input="(2, 2)", expected="4", actual="cpu 2.00s")
    assert failure_report(P, timeout) == [
        "It runs out of time on a visible test (too slow, or it never ends).",
        "Call: add(2, 2)",
        "Expected: 4",
    ]


def test_chat_messages_show_task_examples_program_and_failure() -> None:
    system, user = repair_messages(P, WRONG, WRONG_ANSWER)
    assert system["role"] == "system" and user["role"] == "user"
    text = user["content"]
    assert text.startswith("Complete the following Python function.\n\n```python\n" + STUB)
    parts = [
        "It must pass these examples:",
        "assert add(2, 2) == 4",
        "This program was written for it:\n\n```python\n" + WRONG + "```",
        "It returns a wrong answer on a visible test.\nCall: add(2, 2)\nExpected: 4\nGot: 0\n",
        "Write a corrected version. Return the complete function `add`",
    ]
    positions = [text.index(part) for part in parts]
    assert positions == sorted(positions)
    assert HIDDEN not in text  # the prompt reads visible tests only, even of a full problem


def test_empty_program_is_said() -> None:
    missing = Feedback(0, Outcome.MISSING_ENTRY_POINT, "(2, 2)", "4", "add", "add")
    text = repair_messages(MBPP, "", missing)[1]["content"]
    assert text.startswith("Write a Python function named `add`")
    assert "The previous answer held no Python code." in text and "```python\n\n```" not in text
    assert "It does not define the function `add`." in text


def test_completion_prompt_ends_with_the_stub_and_comments_the_rest() -> None:
    text = repair_prompt(P, WRONG, WRONG_ANSWER)
    head, _, tail = text.partition("\n\n# assert add(2, 2) == 4\n")
    assert tail == STUB  # the model continues the body, as in a fresh prompt
    assert all(line.startswith("#") for line in head.splitlines())
    assert "#     return a - b" in head and "# Got: 0" in head and HIDDEN not in text
    request = repair_request(P, WRONG, WRONG_ANSWER, PromptStyle.COMPLETION)
    assert request.stop == completion_stops(P)
    assert flatten_messages(request.messages) == text  # what a completion arm is sent


def test_completion_prompt_without_stub_asks_for_a_whole_program() -> None:
    fb = Feedback(0, Outcome.WRONG_ANSWER, input="'assert add(1, 2) == 3'", expected="", actual="")
    text = repair_prompt(MBPP, WRONG, fb)
    assert text.endswith(MBPP.prompt + "assert add(1, 2) == 3\n\n# Corrected program:\n")
    request = repair_request(MBPP, WRONG, fb, PromptStyle.COMPLETION)
    # A whole program may define helpers after the function: no stop at a new definition.
    assert "\n\ndef " not in request.stop and "\nif __name__" in request.stop
    assert repair_request(MBPP, WRONG, fb).stop == ()


@pytest.mark.parametrize(
    ("style", "answer", "program"),
    [
        (PromptStyle.CHAT, "Fixed:\n```python\ndef add(a, b):\n    return a + b\n```", None),
        (PromptStyle.COMPLETION, "    return a + b\n", STUB + "    return a + b\n"),
    ],
)
def test_arms_take_a_repair_through_generate(
    style: PromptStyle, answer: str, program: str | None
) -> None:
    script = Script([answer])
    arm = ScriptedArm("a", style, script)
    request = repair_request(P, WRONG, WRONG_ANSWER, style)
    completion = arm.generate(request.messages, arm.sampling.with_stop(request.stop), problem=P)
    ((_, payload, sampling),) = script.requests
    if style is PromptStyle.CHAT:
        assert payload == list(request.messages)
        assert completion.code == "def add(a, b):\n    return a + b\n"
    else:
        assert payload == repair_prompt(P, WRONG, WRONG_ANSWER) and sampling.stop == request.stop
        assert completion.code == program  # the stub completed with the body
