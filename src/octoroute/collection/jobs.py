"""Jobs and runners: the unit of collection work, and where it runs.

A :class:`Job` is one attempt to make: an arm, a prepared problem, the sampling settings that
differ from the arm's own, and for a repair the failed parent attempt with the executor's
feedback on its first failing visible test. :func:`perform` turns a job into a judged
:class:`~octoroute.types.Attempt` (generate, then judge in the sandbox); it never writes.

A :class:`Runner` performs one arm's jobs somewhere and yields the attempts as they finish;
the caller (:func:`~octoroute.collection.collect.collect`,
:func:`~octoroute.collection.repairs.collect_repairs`, :func:`~octoroute.collection.repairs.grow`,
through :func:`record_all`) is the log's one writer and records each attempt under its key,
so a job done twice (a worker that died after generating) is still logged once.
:class:`LocalRunner` runs jobs in threads of this process; :class:`octoroute.scale.RayRunner`
runs them on a Ray cluster.
"""

from __future__ import annotations

import dataclasses
import queue
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Protocol

from octoroute.arms.base import ArmBase, Sampling
from octoroute.arms.pool import Pool
from octoroute.arms.prompts import flatten_messages
from octoroute.arms.repair import repair_request
from octoroute.sandbox import Executor
from octoroute.store import Store, hash_text
from octoroute.types import Attempt, AttemptKey, Feedback, Problem

__all__ = ["Job", "LocalRunner", "Runner", "perform", "record_all", "run_arms"]


@dataclass(frozen=True, slots=True)
class Job:
    """One attempt to make: picklable, so a job can cross to another process or machine.

    ``problem`` is the full prepared problem (its hidden tests judge; the arm is shown only its
    visible part). ``temperature``, ``seed`` and ``max_tokens`` replace the arm's own sampling
    settings. A repair carries its ``parent`` (a logged, judged attempt) and ``feedback``, the
    executor's report on the parent's first failing visible test.
    """

    run_id: str
    arm: str
    problem: Problem
    sample_index: int
    temperature: float
    seed: int
    max_tokens: int
    parent: Attempt | None = None
    feedback: Feedback | None = None

    @property
    def key(self) -> AttemptKey:
        """The key the attempt is logged under (a repair's sample index is its parent's id)."""
        if self.parent is None:
            return AttemptKey(self.problem.benchmark, self.problem.id, self.arm,
                              self.sample_index, 1)  # fmt: skip
        assert self.parent.id is not None  # a parent read from a store carries its id
        return AttemptKey(self.problem.benchmark, self.problem.id, self.arm, self.parent.id,
                          self.parent.attempt_number + 1)  # fmt: skip

    def sampling(self, base: Sampling) -> Sampling:
        """The arm's sampling settings ``base`` with this job's temperature, seed and length."""
        return dataclasses.replace(base, temperature=self.temperature, seed=self.seed,
                                   max_tokens=self.max_tokens)  # fmt: skip


def perform(job: Job, arm: ArmBase, executor: Executor) -> Attempt:
    """Make ``job``'s attempt with ``arm`` (named ``job.arm``) and judge it with ``executor``.

    A fresh attempt prompts the problem in the arm's style; a repair shows the parent's program
    and its visible feedback (:mod:`octoroute.arms.repair`), never a hidden test. An arm failure
    comes back as an attempt with its error, unjudged.
    """
    base = job.sampling(arm.sampling)
    started = time.time()
    if job.parent is None:
        sampling = base
        completion = arm.generate(job.problem, sampling)
        prompt_hash = hash_text(f"{arm.style.value}\0{job.problem.prompt}")
        parent_id = None
    else:
        view = job.problem.visible_only()  # what the repairing arm may see
        request = repair_request(view, job.parent.code, job.feedback, arm.style)
        sampling = base.with_stop(request.stop)
        completion = arm.generate(request.messages, sampling, problem=view)
        prompt_hash = hash_text(f"{arm.style.value}\0{flatten_messages(request.messages)}")
        parent_id = job.parent.id
    key = job.key
    verdict = executor.check(job.problem, completion.code) if completion.ok else None
    return Attempt.from_parts(
        job.run_id,
        job.problem,
        completion,
        verdict,
        sampling=sampling.record(),
        started_at=started,
        finished_at=time.time(),
        sample_index=key.sample_index,
        attempt_number=key.attempt_number,
        parent_attempt_id=parent_id,
        prompt_hash=prompt_hash,
    )


class Runner(Protocol):
    """Where jobs run: performs one arm's jobs and yields each attempt as it finishes.

    Every job's attempt is yielded once (an arm failure is an attempt with its error); the
    order is the order of finishing. The runner never writes to the log. A runner whose
    ``arms_at_once`` is true runs several arms' jobs at the same time (each arm on its own
    workers); otherwise one arm after the other (a local model is loaded once, then closed).
    """

    arms_at_once: bool

    def run(self, pool: Pool, arm: str, jobs: Sequence[Job]) -> Iterator[Attempt]:
        """Perform ``jobs`` (all of arm ``arm`` of ``pool``); yield their attempts."""
        ...


JOIN_WAIT = 120.0
"""Seconds an arm's thread gets to stop after the caller stopped reading (its jobs in flight)."""


def run_arms(
    runner: Runner, pool: Pool, jobs: Mapping[str, Sequence[Job]]
) -> Iterator[tuple[str, Attempt]]:
    """Every arm's jobs on ``runner``: ``(arm, attempt)`` as attempts finish, in this thread.

    Arms go one after the other, or all at once when the runner can (each arm's stream drained
    by a thread of its own into one queue; the caller, the log's writer, stays in this thread).
    The first error of any arm is raised here once the other arms have stopped.
    """
    arms = [arm for arm, todo in jobs.items() if todo]
    if not runner.arms_at_once or len(arms) < 2:
        for arm in arms:
            for attempt in runner.run(pool, arm, jobs[arm]):
                yield arm, attempt
        return
    out: queue.Queue[tuple[str, Attempt | None, BaseException | None]] = queue.Queue()
    stop = threading.Event()

    def drain(arm: str) -> None:
        try:
            for attempt in runner.run(pool, arm, jobs[arm]):
                if stop.is_set():
                    break
                out.put((arm, attempt, None))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            out.put((arm, None, exc))
        finally:
            out.put((arm, None, None))

    threads = [threading.Thread(target=drain, args=(a,), daemon=True) for a in arms]
    for t in threads:
        t.start()
    failure: BaseException | None = None
    try:
        running = len(arms)
        while running:
            arm, got, exc = out.get()
            if got is not None:
                yield arm, got
            elif exc is not None:
                failure = failure or exc
                stop.set()
            else:
                running -= 1
    finally:
        stop.set()
        for t in threads:  # each stops at its next attempt; a stuck one is left (daemon)
            t.join(timeout=JOIN_WAIT)
    if failure is not None:
        raise failure


def record_all(
    store: Store, runner: Runner, pool: Pool, jobs: Mapping[str, Sequence[Job]]
) -> Iterator[tuple[str, Attempt]]:
    """:func:`run_arms`, each attempt logged under its key in this thread (the log's one
    writer) before it is yielded as ``(arm, attempt)``."""
    for arm, attempt in run_arms(runner, pool, jobs):
        store.record_attempt(attempt)
        yield arm, attempt


@dataclass
class LocalRunner:
    """Jobs in threads of this process: the arm is built once per :meth:`run` (a local model is
    loaded once), with up to the arm's concurrency requests in flight, each program judged by
    ``executor`` as soon as it arrives. ``build`` replaces :meth:`Pool.build` (tests, benchmarks).
    """

    executor: Executor
    build: Callable[[str], ArmBase] | None = None
    arms_at_once: bool = False

    def run(self, pool: Pool, arm: str, jobs: Sequence[Job]) -> Iterator[Attempt]:
        """Perform ``jobs`` here; yield their attempts as they finish."""
        if not jobs:
            return
        built = (self.build or pool.build)(arm)
        try:
            workers = max(1, pool.spec(arm).concurrency)
            with ThreadPoolExecutor(max_workers=workers) as threads:
                futures = [threads.submit(perform, j, built, self.executor) for j in jobs]
                try:
                    for fut in as_completed(futures):
                        yield fut.result()
                finally:  # a caller that stops early does not wait for the queue to drain
                    for fut in futures:
                        fut.cancel()
        finally:
            built.close()
