"""Verdicts of the real executor on small problems of every test style."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from octoroute.sandbox import Executor, Layer, prepare
from octoroute.sandbox.isolation import DEFAULT_LAYERS
from octoroute.types import Outcome, Problem, TestCase, TestKind, Tier


def _call(args: tuple[object, ...], expected: object, tier: Tier = Tier.BASE) -> TestCase:
    return TestCase(TestKind.CALL, tier, args, expected, has_expected=True, reference_cpu=0.001)


ADD = Problem(
    id="add",
    benchmark="unit",
    prompt="def add(a, b): ...",
    entry_point="add",
    reference="def add(a, b):\n    return a + b\n",
    tests=(
        _call((1, 2), 3, Tier.VISIBLE),
        _call((2, 2), 4),
        _call((10**20, 1), 10**20 + 1),
        _call((0.1, 0.2), 0.30000000000000004, Tier.PLUS),
    ),
)

STDIO = Problem(
    id="sum-lines",
    benchmark="unit",
    prompt="Read two integers, print their sum.",
    entry_point="",
    reference="a, b = map(int, input().split())\nprint(a + b)\n",
    program_mode=True,
    tests=(
        TestCase(TestKind.STDIO, Tier.VISIBLE, "1 2\n", "3\n", has_expected=True),
        TestCase(TestKind.STDIO, Tier.BASE, "40 2\n", "42", has_expected=True),
    ),
)

ASSERTS = Problem(
    id="double",
    benchmark="unit",
    prompt="def double(x): ...",
    entry_point="double",
    reference="def double(x):\n    return 2 * x\n",
    harness="import math\n",
    tests=(
        TestCase(TestKind.ASSERT, Tier.VISIBLE, "assert double(2) == 4"),
        TestCase(TestKind.ASSERT, Tier.BASE, "assert candidate(3) == 6"),
        TestCase(
            TestKind.ASSERT,
            Tier.BASE,
            "for i in range(5):\n    assert math.isclose(double(i), 2 * i)",
        ),
    ),
)


@pytest.mark.parametrize(
    ("code", "outcome", "detail"),
    [
        ("def add(a, b):\n    return a + b\n", Outcome.PASS, ""),
        ("def add(a, b):\n    return a - b\n", Outcome.WRONG_ANSWER, ""),
        ("def add(a, b):\n    return str(a + b)\n", Outcome.BAD_OUTPUT_TYPE, ""),
        ("def add(a, b) return a\n", Outcome.SYNTAX_ERROR, "line 1"),
        ("def plus(a, b):\n    return a + b\n", Outcome.MISSING_ENTRY_POINT, ""),
        ("def add(a, b):\n    return {}[a]\n", Outcome.RUNTIME_ERROR, "KeyError"),
        ("def add(a, b):\n    while True:\n        pass\n", Outcome.TIMEOUT, ""),
        ("def add(a, b):\n    return bytearray(4 << 30)\n", Outcome.MEMORY_LIMIT, ""),
        ("def add(a, b):\n    return 'x' * (40 << 20)\n", Outcome.OUTPUT_LIMIT, ""),
        ("import os, signal\ndef add(a, b):\n    os.kill(os.getpid(), signal.SIGSEGV)\n", Outcome.CRASH, "SIGSEGV"),
        ("import sys\ndef add(a, b):\n    sys.exit(0)\n", Outcome.EARLY_EXIT, ""),
        ("import socket\ndef add(a, b):\n    return socket.socket()\n", Outcome.SANDBOX_VIOLATION, ""),
    ],
)  # fmt: skip
def test_call_verdicts(executor: Executor, code: str, outcome: Outcome, detail: str) -> None:
    v = executor.check(ADD, code)
    assert {t.outcome for t in v.tests} == {outcome}, v.counts()
    assert detail in v.tests[0].detail
    assert v.passed is (outcome is Outcome.PASS)
    assert v.reward == (1.0 if outcome is Outcome.PASS else 0.0)


def test_remaining_tests_get_a_verdict_after_a_crash(executor: Executor) -> None:
    code = "import os, signal\ndef add(a, b):\n    if a == 2:\n        os.kill(os.getpid(), signal.SIGKILL)\n    return a + b\n"
    v = executor.check(ADD, code)
    assert [t.outcome for t in v.tests] == [Outcome.PASS, Outcome.CRASH, Outcome.PASS, Outcome.PASS]


def test_a_system_exit_in_a_call_fails_that_test_and_the_program_stays_loaded(
    executor: Executor,
) -> None:
    # Like any exception: no restart (the state a call left is the next call's, as always).
    code = "calls = 0\ndef add(a, b):\n    global calls\n    calls += 1\n    if a == 2:\n        raise SystemExit(a)\n    return a + b if calls < 3 else calls\n"
    v = executor.check(ADD, code)
    assert [t.outcome for t in v.tests] == [
        Outcome.PASS,
        Outcome.EARLY_EXIT,
        Outcome.WRONG_ANSWER,
        Outcome.WRONG_ANSWER,
    ]
    assert "2" in v.tests[1].detail


def test_tiers_are_reported_separately(executor: Executor) -> None:
    code = "def add(a, b):\n    return round(a + b, 1) if isinstance(a, float) else a + b\n"
    v = executor.check(ADD, code)
    assert v.tier_passed(Tier.VISIBLE) and v.tier_passed(Tier.BASE)
    assert v.tier_passed(Tier.PLUS)  # 0.3 is within the default float tolerance
    v = executor.check(ADD, "def add(a, b):\n    return a + b if a < 1 else -1\n")
    assert v.tier_passed(Tier.PLUS) and not v.tier_passed(Tier.BASE) and not v.passed


def test_feedback_names_the_first_failing_visible_test_only(executor: Executor) -> None:
    v = executor.check(ADD, "def add(a, b):\n    if a == 1:\n        return 1 / 0\n    return 0\n")
    assert v.feedback is not None
    assert v.feedback.test_index == 0 and v.feedback.input == "(1, 2)"
    assert v.feedback.expected == "3" and "ZeroDivisionError" in v.feedback.actual
    assert "1 / 0" in v.feedback.traceback
    # A program that fails only hidden tests gets no feedback: hidden contents never leave.
    v = executor.check(ADD, "def add(a, b):\n    return 3 if a == 1 else 0\n")
    assert not v.passed and v.feedback is None


def test_stdio_programs(executor: Executor) -> None:
    assert executor.check(STDIO, STDIO.reference).passed
    v = executor.check(STDIO, "import sys\nprint(sum(map(int, sys.stdin.read().split())) + 1)\n")
    assert {t.outcome for t in v.tests} == {Outcome.WRONG_ANSWER}
    v = executor.check(STDIO, "raise SystemExit(3)\n")
    assert {t.outcome for t in v.tests} == {Outcome.RUNTIME_ERROR}


def test_assert_tests_run_against_a_proxy(executor: Executor) -> None:
    assert executor.check(ASSERTS, ASSERTS.reference).passed
    v = executor.check(ASSERTS, "def double(x):\n    return 2 * x if x < 3 else 0\n")
    assert [t.outcome for t in v.tests] == [
        Outcome.PASS,
        Outcome.WRONG_ANSWER,
        Outcome.WRONG_ANSWER,
    ]
    v = executor.check(ASSERTS, "def double(x):\n    raise KeyError(x)\n")
    assert {(t.outcome, t.detail) for t in v.tests} == {(Outcome.RUNTIME_ERROR, "KeyError")}
    # The candidate's own AssertionError is its runtime error, not the test's assertion failing
    # (as the same call made as a call test is judged).
    v = executor.check(ASSERTS, "def double(x):\n    assert x < 0\n")
    assert {(t.outcome, t.detail) for t in v.tests} == {(Outcome.RUNTIME_ERROR, "AssertionError")}
    always = "class A:\n    def __eq__(self, o): return True\ndef double(x):\n    return A()\n"
    v = executor.check(ASSERTS, always)
    assert {t.outcome for t in v.tests} == {Outcome.BAD_OUTPUT_TYPE}


def test_same_program_same_verdict(executor: Executor) -> None:
    code = "import random\ndef add(a, b):\n    return a + b if random.random() < 0.5 else 0\n"
    first = [t.outcome for t in executor.check(ADD, code).tests]
    for _ in range(3):
        assert [t.outcome for t in executor.check(ADD, code).tests] == first


def test_subclasses_of_builtins_arrive_as_plain_values(executor: Executor) -> None:
    p = dataclasses.replace(ADD, tests=(_call((1, 2), {"a": 1}),))
    code = "from collections import Counter\ndef add(a, b):\n    return Counter('a')\n"
    assert executor.check(p, code).passed


def test_static_flags_are_information(executor: Executor) -> None:
    code = "import ctypes, gc\ndef add(a, b):\n    return a + b\n"
    v = executor.check(ADD, code)
    assert v.passed and {"uses_ctypes", "uses_gc"} <= set(v.flags)


def test_every_layer_is_reported(executor: Executor) -> None:
    v = executor.check(ADD, ADD.reference)
    cgroup = executor.memory_bound.startswith("memory cgroup")
    wanted = DEFAULT_LAYERS | ({Layer.MEMORY_CGROUP} if cgroup else set())
    assert set(v.isolation) == {layer.value for layer in wanted}


def test_fewer_layers_on_request() -> None:
    with Executor(workers=1, layers=[Layer.RLIMITS, Layer.SECCOMP, Layer.DEADLINE]) as ex:
        v = ex.check(ADD, "import os\ndef add(a, b):\n    return a + b\n")
        assert v.passed and set(v.isolation) == {"rlimits", "seccomp", "wall_deadline"}


def test_an_output_with_the_references_bytes_passes_undecoded(
    executor: Executor, tmp_path: Path
) -> None:
    ref = "def f(x):\n    return [1, 2.0, 'a'] if x else float('nan')\n"
    p = Problem("fast", "unit", "def f(x): ...", "f", ref, (_call((1,), None), _call((0,), None)))
    p = dataclasses.replace(
        p, tests=tuple(dataclasses.replace(t, has_expected=False) for t in p.tests)
    )
    [prepared] = prepare([p], executor, tmp_path)
    same, nan = prepared.tests
    # A value that holds a NaN is not equal to itself: no byte shortcut for it.
    assert same.expected_digest is not None and nan.expected_digest is None
    assert [t.outcome for t in executor.check(prepared, ref).tests] == [
        Outcome.PASS,
        Outcome.WRONG_ANSWER,  # NaN is never equal, as compare.judge has it
    ]
    # Other bytes go the long way: equal as numbers passes, a bool for a number does not.
    other = "def f(x):\n    return [True, 2, 'a'] if x else 0.0\n"
    assert executor.check(prepared, other).tests[0].outcome is Outcome.BAD_OUTPUT_TYPE
    ints = "def f(x):\n    return [1, 2, 'a'] if x else 0.0\n"
    assert executor.check(prepared, ints).tests[0].outcome is Outcome.PASS


def test_the_broker_matches_the_references_bytes_and_raw_runs_keep_them(
    executor: Executor, humaneval_plus: dict[str, Problem]
) -> None:
    from octoroute.sandbox import codec
    from octoroute.sandbox.protocol import Status

    fib = humaneval_plus["HumanEval/55"]
    digested = [t for t in fib.tests if t.expected_digest is not None]
    assert digested
    assert executor.check(fib, fib.reference).passed
    wrong = fib.reference.replace("a, b, = b, a + b", "a, b, = b, a + b + 1")
    assert wrong != fib.reference and not executor.check(fib, wrong).passed
    # A raw run is never matched: its caller wants the outputs themselves.
    raws = executor.run_raw(fib, fib.reference, digested)
    assert {r[0] for r in raws} == {Status.VALUE}
    assert [codec.digest(r[2]) for r in raws] == [t.expected_digest for t in digested]


def test_a_match_reported_for_a_test_without_a_digest_is_a_violation() -> None:
    from octoroute.sandbox.executor import _judge_raw
    from octoroute.sandbox.protocol import Status

    judged = _judge_raw(ADD, ADD.tests[0], Status.SAME, "", b"")
    assert judged.outcome is Outcome.SANDBOX_VIOLATION


def test_a_problem_without_reference_keeps_its_expected_values(executor: Executor) -> None:
    """The JSONL format lets tests carry their expected values instead of a reference:
    preparing such a problem keeps every test (nothing to measure), and it is judged on them."""
    tests = (
        TestCase(TestKind.CALL, Tier.VISIBLE, (1, 2), expected=3, has_expected=True),
        TestCase(TestKind.ASSERT, Tier.BASE, "assert add(20, 22) == 42"),
    )
    (ready,) = prepare([Problem("add", "user", "", "add", "", tests)], executor, None)
    assert ready.tests == tests and "reference_failures" not in ready.metadata
    assert executor.check(ready, "def add(a, b):\n    return a + b\n").passed
    assert not executor.check(ready, "def add(a, b):\n    return a - b\n").passed
