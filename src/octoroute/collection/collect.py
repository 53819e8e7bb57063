"""Collection: every arm of a pool on every problem, K samples each, judged and logged.

This is one of the two modules that know every package (with :mod:`octoroute.cli`): it takes
arms from :mod:`octoroute.arms`, judges their code with the :mod:`octoroute.sandbox` executor and
logs each attempt in the :mod:`octoroute.store` outcome log.

The jobs run on a :class:`~octoroute.collection.jobs.Runner` (threads here by default, or a
Ray cluster); this loop records every attempt as it comes back, so the log has one writer.
Resumable by construction: each attempt is written in its own transaction under a unique key
(run, benchmark, problem, arm, sample), and a run skips the keys it already holds, so a run
killed at any point and started again finishes with every attempt present exactly once.
Arm failures (refused connections, 5xx, timeouts, garbage) are logged as arm errors, never as
wrong code, and are retried when the run is started again. A run has one writer at a time: a
second process collecting the same run of the same log is refused at once
(:meth:`~octoroute.store.Store.claim_run`), while other runs may be collected beside it.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from octoroute.arms.base import ArmBase
from octoroute.arms.pool import Pool, register_arms
from octoroute.collection.jobs import Job, LocalRunner, Runner, record_all
from octoroute.sandbox import Executor
from octoroute.store import Store
from octoroute.types import ArmErrorKind, Problem

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CollectConfig:
    """What a collection run does; a resumed run must use the same configuration.

    Sample 0 of every (problem, arm) is greedy; samples 1..K-1 use ``temperature`` with the
    sample index as seed, so a resumed run draws the same samples.
    """

    benchmark: str
    samples: int = 1
    temperature: float = 0.8
    max_tokens: int = 512

    def job(self, run_id: str, arm: str, problem: Problem, sample_index: int) -> Job:
        """The job of one sample: greedy for sample 0, else at temperature with its index as
        seed."""
        greedy = sample_index == 0
        return Job(run_id, arm, problem, sample_index,
                   temperature=0.0 if greedy else self.temperature,
                   seed=0 if greedy else sample_index, max_tokens=self.max_tokens)  # fmt: skip


@dataclass(frozen=True, slots=True)
class ArmProgress:
    """One finished attempt, as reported to a progress callback."""

    arm: str
    problem_id: str
    passed: bool
    error: ArmErrorKind | None
    completion_tokens: int


@dataclass
class CollectSummary:
    """What a call of :func:`collect` did."""

    run_id: str
    planned: int = 0
    skipped: int = 0
    recorded: int = 0
    arm_errors: int = 0
    generation_seconds: dict[str, float] = dataclasses.field(default_factory=dict)
    """Per arm: the summed latency of its requests (model loading excluded)."""
    completion_tokens: dict[str, int] = dataclasses.field(default_factory=dict)

    def tokens_per_second(self) -> dict[str, float]:
        """Generated tokens per second of request latency, per arm."""
        return {
            arm: self.completion_tokens.get(arm, 0) / secs
            for arm, secs in self.generation_seconds.items()
            if secs > 0
        }


def _register(
    store: Store, run_id: str, pool: Pool, cfg: CollectConfig, problems: Sequence[Problem]
) -> None:
    config = {
        "kind": "collect",
        "pool": pool.source,
        **dataclasses.asdict(cfg),
    }
    store.add_run(run_id, config=config, command="collect")
    register_arms(store, pool)
    store.add_problems(problems)


def collect(
    store: Store,
    executor: Executor,
    pool: Pool,
    problems: Sequence[Problem],
    cfg: CollectConfig,
    run_id: str,
    on_planned: Callable[[str, int], None] | None = None,
    on_attempt: Callable[[ArmProgress], None] | None = None,
    build: Callable[[str], ArmBase] | None = None,
    runner: Runner | None = None,
) -> CollectSummary:
    """Run (or resume) a collection; return what was done.

    ``problems`` must be prepared (expected outputs known). The jobs run on ``runner`` (default:
    a :class:`~octoroute.collection.jobs.LocalRunner` on ``executor``, with ``build`` making the
    arms: one arm at a time, a local model loaded once, then closed before the next; a Ray
    runner takes every arm at once), and this call records each attempt as it arrives: the log
    has one writer. ``on_planned(arm, n)`` is called for every arm, before any starts, with how
    many attempts it will make.
    """
    store.claim_run(run_id)
    _register(store, run_id, pool, cfg, problems)
    store.delete_arm_errors(run_id)  # arm failures of an earlier try are retried
    done = store.done_keys(run_id)
    summary = CollectSummary(run_id=run_id)
    where = runner or LocalRunner(executor, build)
    jobs: dict[str, list[Job]] = {}
    for spec in pool.specs:
        planned = (cfg.job(run_id, spec.name, p, k) for p in problems for k in range(cfg.samples))
        jobs[spec.name] = [j for j in planned if j.key not in done]
        summary.planned += len(jobs[spec.name])
        summary.skipped += len(problems) * cfg.samples - len(jobs[spec.name])
        if on_planned is not None:
            on_planned(spec.name, len(jobs[spec.name]))
    # An arm that cannot start (a missing model, a dead endpoint) answers every request
    # with an arm error: it is logged as such and does not stop the other arms.
    for name, attempt in record_all(store, where, pool, jobs):
        summary.recorded += 1
        summary.arm_errors += attempt.error is not None
        summary.completion_tokens[name] = (
            summary.completion_tokens.get(name, 0) + attempt.completion_tokens
        )
        summary.generation_seconds[name] = (
            summary.generation_seconds.get(name, 0.0) + attempt.latency
        )
        if on_attempt is not None:
            on_attempt(ArmProgress(name, attempt.problem_id, bool(attempt.passed), attempt.error,
                                   attempt.completion_tokens))  # fmt: skip
    return summary
