"""Re-judge logged programs against another benchmark's tests, without generating again.

EvalPlus's point is that a benchmark's original tests are too weak: HumanEval+ adds hundreds of
inputs per problem to HumanEval's. Generation is the expensive part of a collection, so the
programs of a logged run can be executed again, as they are, against a stronger test suite with
the same problem ids (``humaneval`` to ``humaneval+``). The result is a new run in the same log:
every attempt keeps its completion, code, tokens, cost, sampling and prompt hash (the prompt the
arm really saw), and gets fresh verdicts on the new tests. Arm errors are copied as arm errors.

Resumable like :func:`octoroute.collect.collect`: attempts already present are skipped.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from octoroute.exceptions import ConfigError
from octoroute.sandbox import Executor
from octoroute.store import Store
from octoroute.types import Attempt, AttemptKey, Problem

__all__ = ["RejudgeSummary", "rejudge"]


@dataclass
class RejudgeSummary:
    """What a call of :func:`rejudge` did."""

    run_id: str
    source_run: str
    recorded: int = 0
    skipped: int = 0
    missing_problems: int = 0
    """Source attempts whose problem id the target benchmark does not have."""
    passed_before: int = 0
    passed_after: int = 0


def rejudge(
    store: Store,
    executor: Executor,
    source_run: str,
    problems: Sequence[Problem],
    run_id: str | None = None,
    on_attempt: Callable[[Attempt], None] | None = None,
) -> RejudgeSummary:
    """Judge every attempt of ``source_run`` again on ``problems`` (prepared), as a new run.

    The new run is ``run_id`` (default ``rejudge/<benchmark>``). Only first attempts of an
    episode are re-judged (repairs depend on the feedback of their parent's tests).
    """
    if not problems:
        raise ConfigError("rejudge: no problems to judge against")
    benchmark = problems[0].benchmark
    run_id = run_id or f"rejudge/{benchmark}"
    if run_id == source_run:
        raise ConfigError(f"rejudge: the new run must differ from the source run {source_run!r}")
    store.claim_run(run_id)
    source = [a for a in store.attempts(source_run) if a.attempt_number == 1]
    if not source:
        raise ConfigError(f"rejudge: run {source_run!r} has no attempts in {store!r}")
    store.add_run(
        run_id,
        config={"kind": "rejudge", "source_run": source_run, "benchmark": benchmark},
        command="rejudge",
    )
    store.add_problems(problems)
    store.delete_arm_errors(run_id)  # copied again from the source, which may have retried them
    by_id = {p.id: p for p in problems}
    done = store.done_keys(run_id)
    summary = RejudgeSummary(run_id=run_id, source_run=source_run)
    for old in source:
        problem = by_id.get(old.problem_id)
        if problem is None:
            summary.missing_problems += 1
            continue
        if AttemptKey(benchmark, old.problem_id, old.arm, old.sample_index, 1) in done:
            summary.skipped += 1
            continue
        started = time.time()
        verdict = executor.check(problem, old.code) if old.error is None else None
        new = old.rejudged(run_id, problem, verdict, started, time.time())
        store.record_attempt(new)
        summary.recorded += 1
        summary.passed_before += bool(old.passed)
        summary.passed_after += bool(new.passed)
        if on_attempt is not None:
            on_attempt(new)
    return summary
