"""Calls sent ahead of their answers (``Limits.pipeline``) give one-call-at-a-time verdicts."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from octoroute.sandbox import Executor, Limits
from octoroute.types import Outcome, Problem, TestCase, TestKind, Tier

from .test_executor import _call


def _problem(tests: tuple[TestCase, ...]) -> Problem:
    return Problem(
        id="twice",
        benchmark="unit",
        prompt="def twice(x): ...",
        entry_point="twice",
        reference="def twice(x):\n    return 2 * x\n",
        tests=tests,
    )


# Twenty calls in the base tier and twenty in the plus tier; every test after the fifth of a
# tier is sent while earlier ones are still running.
MIXED = _problem(
    tuple(_call((x,), 2 * x) for x in range(20))
    + tuple(_call((x,), 2 * x, Tier.PLUS) for x in range(20))
)

PROGRAMS = (
    "def twice(x):\n    return 2 * x\n",
    # A wrong answer, an exception, an early exit and a SystemExit midway: the program stays
    # loaded (or a fresh one is started) for the calls already sent after them.
    "def twice(x):\n    return 2 * x if x != 4 else 0\n",
    "def twice(x):\n    if x == 6:\n        raise ValueError(x)\n    return 2 * x\n",
    "import os\ndef twice(x):\n    if x in (3, 11):\n        os._exit(0)\n    return 2 * x\n",
    "def twice(x):\n    if x == 7:\n        raise SystemExit(1)\n    return 2 * x\n",
    # A loop on one input: that test times out, the rest of its tier is not run, the next
    # tier is judged by a fresh candidate.
    "def twice(x):\n    while x == 5:\n        pass\n    return 2 * x\n",
    # State across calls: later calls see what earlier ones did, in order.
    "seen = []\ndef twice(x):\n    seen.append(x)\n    return 2 * x if len(seen) % 9 else -1\n",
    # Output on stdout and stderr between calls is read and dropped.
    "import sys\ndef twice(x):\n    print(x)\n    print(x, file=sys.stderr)\n    return 2 * x\n",
)


@pytest.fixture(scope="module")
def one_at_a_time() -> Iterator[Executor]:
    """An executor that sends each call only after the previous answer."""
    with Executor(workers=1, limits=Limits(pipeline=1)) as ex:
        yield ex


@pytest.mark.parametrize("program", PROGRAMS)
def test_pipelined_verdicts_equal_one_at_a_time(
    executor: Executor, one_at_a_time: Executor, program: str
) -> None:
    ahead = executor.check(MIXED, program)
    alone = one_at_a_time.check(MIXED, program)

    # Details name measured CPU seconds ("0.25s"), which a loaded machine moves by a tick.
    def seen(v: object) -> list[tuple[object, str]]:
        return [(t.outcome, re.sub(r"\d+\.\d+s", "Ns", t.detail)) for t in v.tests]  # type: ignore[attr-defined]

    assert seen(ahead) == seen(alone)
    assert ahead.passed is alone.passed


def test_a_loop_midway_times_out_once_per_tier(executor: Executor) -> None:
    v = executor.check(MIXED, PROGRAMS[5])
    outcomes = [t.outcome for t in v.tests]
    assert outcomes[:5] == [Outcome.PASS] * 5
    assert outcomes[5:20] == [Outcome.TIMEOUT] * 15  # the loop, then "not run"
    assert outcomes[20:25] == [Outcome.PASS] * 5
    assert v.tests[5].cpu_time >= 0.2  # the CPU limit's floor, measured from the call before


def test_each_answer_is_charged_its_own_cpu_time(executor: Executor) -> None:
    # One heavy call among light ones: its time is charged to it, not to its neighbours.
    program = (
        "def twice(x):\n"
        "    if x == 10:\n"
        "        sum(i * i for i in range(3_000_000))\n"
        "    return 2 * x\n"
    )
    v = executor.check(MIXED, program)
    assert v.passed
    heavy = v.tests[10].cpu_time
    light = sorted(t.cpu_time for t in v.tests if t.index != 10)
    assert heavy > 0.05
    assert light[len(light) // 2] < heavy / 10


def test_the_budget_stops_calls_as_it_does_one_at_a_time(executor: Executor) -> None:
    # Every call takes a few hundredths of a second; the check's budget (1 s) runs out midway.
    slow = tuple(
        TestCase(TestKind.CALL, Tier.BASE, (x,), 2 * x, has_expected=True, reference_cpu=0.1)
        for x in range(60)
    )
    program = "def twice(x):\n    sum(i for i in range(1_500_000))\n    return 2 * x\n"
    with Executor(workers=1, limits=Limits(budget_floor=1.0, budget_factor=0.1)) as ex:
        v = ex.check(_problem(slow), program)
    ran = [t for t in v.tests if t.outcome is Outcome.PASS]
    stopped = [t for t in v.tests if t.outcome is not Outcome.PASS]
    assert ran and stopped and [t.index for t in ran] == list(range(len(ran)))
    assert {(t.outcome, t.detail) for t in stopped} == {
        (Outcome.TIMEOUT, "not run: check budget exhausted")
    }
    # As one at a time: a call starts only while the budget is not spent, so all but the last
    # call that ran fit in it.
    assert sum(t.cpu_time for t in ran[:-1]) <= 1.0 < sum(t.cpu_time for t in ran) + 0.2
