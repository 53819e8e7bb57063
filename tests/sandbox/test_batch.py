"""Many candidates of one problem: check_batch gives check's verdicts, run_batch the outputs."""

from __future__ import annotations

from typing import Any

import pytest

from octoroute.exceptions import SandboxError
from octoroute.sandbox import Executor
from octoroute.sandbox import executor as executor_module
from octoroute.types import Outcome, Problem, TestCase, TestKind, Tier

from .test_executor import ADD, ASSERTS

ADD_PROGRAMS = (
    "def add(a, b):\n    return a + b\n",
    "def add(a, b):\n    return a - b\n",
    "import os\ndef add(a, b):\n    os._exit(0)\n",
    "def add(a, b) return a\n",
    "calls = []\ndef add(a, b):\n    calls.append(a)\n    return a + b if len(calls) < 3 else 0\n",
    "def add(a, b):\n    raise SystemExit(2)\n",
    "def add(a, b):\n    while True:\n        pass\n",
    "import os, signal\ndef add(a, b):\n    os.kill(os.getpid(), signal.SIGSEGV)\n",
)
ASSERT_PROGRAMS = (
    "def double(x):\n    return 2 * x\n",
    "def double(x):\n    return x + x if x < 3 else 0\n",
    "import random\ndef double(x):\n    return 2 * x + random.random() // 0.5\n",
)


def _outcomes(v: Any) -> list[Outcome]:
    return [t.outcome for t in v.tests]


@pytest.mark.parametrize(("problem", "programs"), [(ADD, ADD_PROGRAMS), (ASSERTS, ASSERT_PROGRAMS)])
def test_check_batch_gives_what_check_gives(
    executor: Executor, problem: Problem, programs: tuple[str, ...]
) -> None:
    one_by_one = [executor.check(problem, code) for code in programs]
    batch = executor.check_batch(problem, programs)
    assert [_outcomes(v) for v in batch] == [_outcomes(v) for v in one_by_one]
    assert [v.passed for v in batch] == [v.passed for v in one_by_one]
    assert [v.feedback for v in batch] == [v.feedback for v in one_by_one]
    assert batch[0].passed


def test_check_batch_of_one_tier(executor: Executor) -> None:
    batch = executor.check_batch(ADD, ADD_PROGRAMS[:2], tiers=[Tier.VISIBLE])
    assert [_outcomes(v) for v in batch] == [[Outcome.PASS], [Outcome.WRONG_ANSWER]]


def test_run_batch_returns_every_candidates_outputs(executor: Executor) -> None:
    # Inputs with no expected output, as consensus selection makes them.
    inputs = [TestCase(TestKind.CALL, Tier.VISIBLE, (a, 1), reference_cpu=0.001) for a in range(4)]
    programs = ["def add(a, b):\n    return a + b\n", "def add(a, b):\n    return b + a\n",
                "def add(a, b):\n    return a * b\n", "def add(a, b):\n    return 1 / a\n"]  # fmt: skip
    raws = executor.run_batch(ADD, programs, inputs)
    from octoroute.sandbox import codec

    values = [[codec.decode(r[2]) if r[0] == "value" else r[0] for r in rs] for rs in raws]
    assert values[0] == values[1] == [1, 2, 3, 4]
    assert values[2] == [0, 1, 2, 3]
    assert values[3] == ["exc", 1.0, 0.5, 1 / 3]


def test_a_worker_failure_costs_only_the_program_it_happened_in(
    executor: Executor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Failure injection: the worker dies after two results of the third program."""
    real = executor_module._Worker.run
    calls = {"n": 0}
    n_tests = len(ADD.tests)

    def dying(self: Any, job: dict[str, Any], backstop: float, on_result: Any) -> None:
        calls["n"] += 1
        if calls["n"] > 1:
            return real(self, job, backstop, on_result)
        seen = {"n": 0}

        def relay(index: int, raw: Any) -> None:
            on_result(index, raw)
            seen["n"] += 1
            if seen["n"] == 2 * n_tests + 2:
                raise SandboxError("injected: the worker died")

        return real(self, job, backstop, relay)

    with Executor(workers=1) as ex:
        monkeypatch.setattr(executor_module._Worker, "run", dying)
        programs = ["def add(a, b):\n    return a + b\n"] * 5
        batch = ex.check_batch(ADD, programs)
    outcomes = [_outcomes(v) for v in batch]
    assert outcomes[2][:2] == [Outcome.PASS, Outcome.PASS]
    assert set(outcomes[2][2:]) == {Outcome.SANDBOX_VIOLATION}
    for k in (0, 1, 3, 4):
        assert batch[k].passed, (k, outcomes[k])
    assert calls["n"] == 2  # the programs after the failure ran again, on a fresh worker
