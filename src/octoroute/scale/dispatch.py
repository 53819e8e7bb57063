"""The work split: jobs kept flowing to a set of workers, each job's attempt yielded once.

Independent of Ray (its tests run in-process): a worker is anything ``submit`` can hand a job
to, and a submitted job is a *ticket* that ``wait`` reports ready and ``result`` redeems. A
worker that dies mid-job makes ``result`` raise :class:`WorkerLost`; the job goes back to the
front of the queue for the next free worker (Ray restarts a dead actor, on its node or on
another that offers its resources). A job lost ``max_losses`` times is given up as an arm
failure, logged like any other and tried again when the run is resumed, so one program that
kills its worker cannot stall the run.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Hashable, Iterator, Sequence
from typing import TypeVar

from octoroute.collection.jobs import Job
from octoroute.types import ArmErrorKind, Attempt, Completion

__all__ = ["WorkerLost", "dispatch", "lost_attempt"]

W = TypeVar("W")
T = TypeVar("T", bound=Hashable)


class WorkerLost(Exception):
    """The worker performing a job died before answering (the job is not lost: it is retried)."""


def lost_attempt(job: Job, why: str) -> Attempt:
    """The arm failure logged for a job whose workers kept dying (retried on resume)."""
    completion = Completion(arm=job.arm, model="", text="", code="",
                            error=ArmErrorKind.UNAVAILABLE, error_detail=why)  # fmt: skip
    key = job.key
    return Attempt.from_parts(
        job.run_id, job.problem, completion, None,
        sample_index=key.sample_index, attempt_number=key.attempt_number,
        parent_attempt_id=None if job.parent is None else job.parent.id,
    )  # fmt: skip


def dispatch(
    jobs: Sequence[Job],
    workers: Sequence[W],
    submit: Callable[[W, Job], T],
    wait: Callable[[list[T]], list[T]],
    result: Callable[[T], Attempt],
    capacity: int = 1,
    max_losses: int = 3,
) -> Iterator[Attempt]:
    """Perform ``jobs`` on ``workers`` (``capacity`` jobs in flight each); yield each attempt.

    ``wait(tickets)`` blocks until at least one of them is ready and returns the ready ones;
    ``result(ticket)`` returns its attempt or raises :class:`WorkerLost`. Every job yields
    exactly one attempt: its own, or after ``max_losses`` lost workers an arm failure
    (:func:`lost_attempt`). A caller that stops iterating leaves the remaining jobs undone.
    """
    if not workers and jobs:
        raise ValueError("dispatch needs at least one worker")
    queue = deque(jobs)
    flying: dict[T, tuple[int, Job]] = {}
    load = [0] * len(workers)
    losses: Counter[int] = Counter()  # job (by identity) -> how many workers it lost
    lost_on: dict[int, set[int]] = {}  # job (by identity) -> the workers that died on it
    while queue or flying:
        while (placed := _place(queue, load, capacity, lost_on, len(workers))) is not None:
            job, w = placed
            flying[submit(workers[w], job)] = (w, job)
            load[w] += 1
        for ticket in wait(list(flying)):
            w, job = flying.pop(ticket)
            load[w] -= 1
            try:
                attempt = result(ticket)
            except WorkerLost as lost:
                lost_on.setdefault(id(job), set()).add(w)
                losses[id(job)] += 1
                if losses[id(job)] >= max_losses:
                    yield lost_attempt(job, f"worker lost {losses[id(job)]} times: {lost}")
                else:
                    queue.appendleft(job)
                continue
            yield attempt


def _place(
    queue: deque[Job], load: list[int], capacity: int, lost_on: dict[int, set[int]], n: int
) -> tuple[Job, int] | None:
    """Take the first queued job that may go to a free worker; None when none can go now.

    A job goes to the least loaded free worker that has not died on it; a job that every
    worker has died on may go to any. So a retried job waits for another worker rather than
    going back to the one that just died on it.
    """
    free = [w for w in range(n) if load[w] < capacity]
    if not free:
        return None
    for job in queue:
        avoid = lost_on.get(id(job), set())
        allowed = free if len(avoid) >= n else [w for w in free if w not in avoid]
        if allowed:
            queue.remove(job)
            return job, min(allowed, key=load.__getitem__)
    return None
