"""Re-judging a logged run against HumanEval+'s stronger tests, in the real sandbox."""

from __future__ import annotations

from pathlib import Path

import pytest

from octoroute.exceptions import ConfigError
from octoroute.rejudge import rejudge
from octoroute.sandbox import Executor, prepare
from octoroute.store import open_store
from octoroute.tasks import load_benchmark
from octoroute.types import ArmErrorKind, Attempt, Completion

# Rounding to 3 decimals passes HumanEval/2's three original asserts (3.5, 1.33, 123.456) but
# not HumanEval+'s inputs with more decimals.
TRUNCATE_WEAK = "def truncate_number(number: float) -> float:\n    return round(number % 1.0, 3)\n"
TRUNCATE_OK = "def truncate_number(number: float) -> float:\n    return number % 1.0\n"


def _log(store, executor, problem, arm: str, code: str, error=None) -> Attempt:  # type: ignore[no-untyped-def]
    code = "" if error is not None else code
    completion = Completion(arm=arm, model=arm, text=code, code=code, completion_tokens=7,
                            cost=14.0, error=error)  # fmt: skip
    verdict = executor.check(problem, code) if error is None else None
    attempt = Attempt.from_parts("collect/humaneval", problem, completion, verdict,
                                 prompt_hash="h", sampling={"temperature": 0.8, "seed": 5},
                                 sample_index=2)  # fmt: skip
    store.record_attempt(attempt)
    return attempt


def test_rejudge_regrades_every_program_on_the_new_tests(tmp_path: Path, shared_data: Path) -> None:
    with Executor(workers=1) as ex, open_store(tmp_path / "log.db") as store:
        (he2,) = prepare([load_benchmark("humaneval")[2]], ex, tmp_path / "cache")
        store.add_run("collect/humaneval", config={}, command="collect")
        store.add_problems([he2])
        for arm in ("weak", "good", "dead"):
            store.add_arm(arm, backend="llamacpp", model=arm, cost_unit="flops")
        weak = _log(store, ex, he2, "weak", TRUNCATE_WEAK)
        _log(store, ex, he2, "good", TRUNCATE_OK)
        _log(store, ex, he2, "dead", "", error=ArmErrorKind.TIMEOUT)
        assert weak.passed  # the original three asserts cannot tell

        plus = prepare([load_benchmark("humaneval+", shared_data)[2]], ex, tmp_path / "cache")
        summary = rejudge(store, ex, "collect/humaneval", plus)
        assert (summary.recorded, summary.skipped, summary.run_id) == (3, 0, "rejudge/humaneval+")
        new = {a.arm: a for a in store.attempts("rejudge/humaneval+")}
        assert new["weak"].pass_base == 1.0 and new["weak"].pass_plus == 0.0
        assert not new["weak"].passed
        assert new["good"].passed and new["good"].pass_plus == 1.0
        assert new["dead"].error is ArmErrorKind.TIMEOUT and not new["dead"].judged
        # What the arm produced and cost is carried over unchanged.
        w = new["weak"]
        assert (w.code, w.cost, w.completion_tokens, w.prompt_hash) == (TRUNCATE_WEAK, 14.0, 7, "h")
        assert (w.sampling, w.seed, w.sample_index, w.benchmark) == (
            {"temperature": 0.8, "seed": 5}, 5, 2, "humaneval+")  # fmt: skip

        again = rejudge(store, ex, "collect/humaneval", plus)
        assert (again.recorded, again.skipped) == (1, 2)  # only the arm error is copied again
        assert store.count_attempts("rejudge/humaneval+") == 3


def test_rejudge_refuses_an_empty_or_identical_run(tmp_path: Path) -> None:
    with Executor(workers=1) as ex, open_store(tmp_path / "log.db") as store:
        (he0,) = prepare([load_benchmark("humaneval")[0]], ex, tmp_path / "cache")
        with pytest.raises(ConfigError, match="has no attempts"):
            rejudge(store, ex, "collect/humaneval", [he0])
        with pytest.raises(ConfigError, match="must differ"):
            rejudge(store, ex, "x", [he0], run_id="x")
