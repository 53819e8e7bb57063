"""The work split and the one writer, in-process: workers are threads, a lost worker is one
whose result raises WorkerLost. Real problems, the real sandbox, the real log; the arms are
scripted (no model), so the tests check the bookkeeping, not a model."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from octoroute.arms.base import PromptStyle
from octoroute.arms.pool import Pool
from octoroute.collection.collect import CollectConfig, collect
from octoroute.collection.jobs import Job, perform
from octoroute.sandbox import Executor, prepare
from octoroute.scale import WorkerLost, dispatch
from octoroute.store import open_store
from octoroute.tasks import load_benchmark
from octoroute.types import ArmErrorKind, Attempt, Problem
from tests.fakes import Script, ScriptedArm, scripted_pool

ANSWER = "def f():\n    return 1\n"


@pytest.fixture(scope="module")
def problems(tmp_path_factory: pytest.TempPathFactory) -> list[Problem]:
    with Executor(workers=1) as ex:
        return prepare(load_benchmark("humaneval")[:6], ex, tmp_path_factory.mktemp("cache"))


@dataclass
class Workers:
    """Thread workers that perform jobs with scripted arms; ``dies`` says which die, when."""

    executor: Executor
    dies: set[int] = field(default_factory=set)
    performed: Counter[tuple[int, str]] = field(default_factory=Counter)
    flying: Counter[int] = field(default_factory=Counter)
    peak: Counter[int] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.threads = ThreadPoolExecutor(max_workers=8)

    def submit(self, worker: int, job: Job) -> Future[Attempt]:
        with self.lock:
            self.flying[worker] += 1
            self.peak[worker] = max(self.peak[worker], self.flying[worker])

        def work() -> Attempt:
            try:
                arm = ScriptedArm(job.arm, PromptStyle.CHAT, Script([ANSWER]))
                attempt = perform(job, arm, self.executor)  # the work is done...
                with self.lock:
                    self.performed[(worker, job.problem.id)] += 1
                if worker in self.dies:  # ...and the worker dies before answering
                    raise WorkerLost(f"worker {worker} died")
                return attempt
            finally:
                with self.lock:
                    self.flying[worker] -= 1

        return self.threads.submit(work)

    @staticmethod
    def wait(futures: list[Future[Attempt]]) -> list[Future[Attempt]]:
        done, _ = wait(futures, return_when=FIRST_COMPLETED)
        return list(done)

    @staticmethod
    def result(future: Future[Attempt]) -> Attempt:
        return future.result()

    def run(self, jobs: Sequence[Job], n: int, capacity: int, **kw: int) -> list[Attempt]:
        return list(dispatch(jobs, list(range(n)), self.submit, self.wait, self.result,
                             capacity=capacity, **kw))  # fmt: skip


def _jobs(problems: list[Problem]) -> list[Job]:
    return [CollectConfig("humaneval").job("r", "a", p, 0) for p in problems]


def test_jobs_spread_over_the_workers_each_attempt_once(problems: list[Problem]) -> None:
    with Executor(workers=2) as ex:
        w = Workers(ex)
        attempts = w.run(_jobs(problems), n=3, capacity=2)
    assert sorted(a.problem_id for a in attempts) == sorted(p.id for p in problems)
    assert {worker for worker, _ in w.performed} == {0, 1, 2}
    assert max(w.peak.values()) <= 2
    assert all(a.error is None and a.tests is not None for a in attempts)


def test_a_dead_workers_jobs_go_to_the_others(problems: list[Problem]) -> None:
    with Executor(workers=2) as ex:
        w = Workers(ex, dies={0})
        attempts = w.run(_jobs(problems), n=2, capacity=1)
    assert sorted(a.problem_id for a in attempts) == sorted(p.id for p in problems)
    assert all(a.error is None for a in attempts)
    assert sum(n for (worker, _), n in w.performed.items() if worker == 1) == len(problems)


def test_a_job_whose_workers_keep_dying_is_an_arm_failure(problems: list[Problem]) -> None:
    with Executor(workers=1) as ex:
        w = Workers(ex, dies={0, 1})
        attempts = w.run(_jobs(problems[:2]), n=2, capacity=1, max_losses=3)
    assert len(attempts) == 2
    assert all(a.error is ArmErrorKind.UNAVAILABLE and a.tests is None for a in attempts)
    assert "worker lost 3 times" in attempts[0].error_detail
    assert sum(w.performed.values()) == 6


@dataclass
class FlakyRunner:
    """A runner on in-process workers of which the first dies after each job it performs (so
    every job it takes is performed twice); ``stop_after`` kills the driver after N attempts."""

    executor: Executor
    stop_after: int | None = None
    arms_at_once: bool = False

    def run(self, pool: Pool, arm: str, jobs: Sequence[Job]) -> Iterator[Attempt]:
        w = Workers(self.executor, dies={0})
        for i, attempt in enumerate(dispatch(jobs, [0, 1], w.submit, w.wait, w.result)):
            if self.stop_after is not None and i == self.stop_after:
                raise KeyboardInterrupt  # the driver is killed here
            yield attempt


@pytest.mark.parametrize("at_once", [False, True], ids=["arm by arm", "arms at once"])
def test_the_writer_logs_every_key_once_through_lost_workers_and_a_killed_driver(
    problems: list[Problem], tmp_path: Path, at_once: bool
) -> None:
    pool = scripted_pool({"a": PromptStyle.CHAT, "b": PromptStyle.COMPLETION})
    cfg = CollectConfig("humaneval", samples=2)
    planned = len(problems) * 2 * len(pool.specs)
    with Executor(workers=2) as ex, open_store(tmp_path / "log.db") as store:
        killed = FlakyRunner(ex, stop_after=5, arms_at_once=at_once)
        with pytest.raises(KeyboardInterrupt):
            collect(store, ex, pool, problems, cfg, "r", runner=killed)
        before = store.count_attempts("r")
        assert 5 <= before < planned
        runner = FlakyRunner(ex, arms_at_once=at_once)
        summary = collect(store, ex, pool, problems, cfg, "r", runner=runner)
        assert (summary.recorded, summary.skipped) == (planned - before, before)
        keys = [a.key for a in store.attempts("r")]
        assert len(keys) == len(set(keys)) == planned
        assert {a.arm for a in store.attempts("r")} == {"a", "b"}
        again = collect(store, ex, pool, problems, cfg, "r", runner=runner)
        assert (again.recorded, again.skipped) == (0, planned)
