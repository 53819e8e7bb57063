"""The :class:`~octoroute.collection.jobs.Runner` whose workers are Ray actors.

Each actor builds one arm and a sandbox of its own, on the node Ray places it on: a local
model's arm on a node that advertises its ``model:NAME`` resource (:mod:`.placement`), an
endpoint arm anywhere, spread over the nodes. Jobs travel to the actors and attempts back to
the driver (:mod:`.dispatch` keeps every actor busy); the driver records them, so the log
keeps one writer and every key is logged once. A dead actor is restarted by Ray (on any node
with its resources) and its jobs are handed out again; a killed driver takes its actors with
it, and a restarted driver skips what the log holds.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from octoroute.arms.pool import Pool
from octoroute.collection.jobs import Job
from octoroute.exceptions import ConfigError
from octoroute.scale.dispatch import WorkerLost, dispatch
from octoroute.scale.placement import model_resource, node_resources
from octoroute.types import Attempt, Problem

__all__ = ["LOCAL", "RayRunner"]

LOCAL = "local"
"""The address that starts a Ray instance on this machine (its models as resources)."""


def _ray() -> Any:
    try:
        import ray
    except ImportError as exc:  # the extra is missing
        raise ConfigError(
            "--ray needs Ray: pip install 'octoroute[ray]' (on the driver and every node)"
        ) from exc
    return ray


WAIT_CHECK = 30.0
"""Seconds without any finished job after which the runner checks that its workers can exist."""
CLOSE_WAIT = 10.0
"""Seconds an arm's actors get to unload their model and stop their sandbox."""
PROBLEMS_KEPT = 16
"""Full problems a worker keeps deserialized (the jobs of one problem tend to come together)."""


class ArmWorker:
    """One arm and one sandbox on a cluster node (made a Ray actor by :class:`RayRunner`)."""

    def __init__(self, pool: Pool, arm: str, sandbox_workers: int) -> None:
        from octoroute.arms.models import model_path
        from octoroute.sandbox import Executor

        spec = pool.spec(arm)
        # A default-pool model is found where this node installed it, not where the driver did.
        self.arm = pool.build(arm, **({"path": model_path(spec.local_model)} if spec.local_model
                                      else {}))  # fmt: skip
        self.executor = Executor(workers=sandbox_workers).start()
        self.problems: OrderedDict[tuple[str, str], Problem] = OrderedDict()

    def perform(self, job: Job, full: list[Any]) -> Attempt:
        """Make and judge one job's attempt here.

        ``job`` arrives with the problem's visible part only; ``full`` holds the reference of
        the full problem in the object store, fetched (once per node, by Ray) and deserialized
        only when this worker does not hold it yet.
        """
        import ray

        from octoroute.collection.jobs import perform

        key = (job.problem.benchmark, job.problem.id)
        problem = self.problems.pop(key, None)
        if problem is None:
            problem = ray.get(full[0])
        self.problems[key] = problem
        while len(self.problems) > PROBLEMS_KEPT:
            self.problems.popitem(last=False)
        return perform(dataclasses.replace(job, problem=problem), self.arm, self.executor)

    def pid(self) -> int:
        """This worker's process id (the tests kill it)."""
        return os.getpid()

    def close(self) -> None:
        """Unload the arm and stop the sandbox."""
        self.arm.close()
        self.executor.close()


@dataclass
class RayRunner:
    """Performs an arm's jobs on the Ray cluster at ``address``.

    ``address`` is a cluster's address (``HOST:PORT``, or ``auto`` for the cluster this node
    belongs to) or :data:`LOCAL`, which starts Ray on this machine with one ``model:NAME`` unit
    for each local model installed here. ``workers`` caps the actors per arm (default: one per
    unit of a local model's resource; for an endpoint arm its concurrency, at most one per CPU
    of the cluster); each actor has ``sandbox_workers`` sandbox workers.
    """

    address: str = LOCAL
    workers: int | None = None
    sandbox_workers: int = 1
    max_losses: int = 3
    arms_at_once: bool = True
    """Every arm's jobs at the same time, each arm on its own actors."""
    actors: dict[str, list[Any]] = field(default_factory=dict, init=False, repr=False)
    """The actors of each arm being run."""
    _problems: dict[tuple[str, str], Any] = field(default_factory=dict, init=False, repr=False)
    _joined: bool = field(default=False, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def connect(self, pool: Pool) -> Any:
        """Join (or start) the cluster once; the ``ray`` module."""
        ray = _ray()
        with self._lock:  # arms run at once start together: one of them joins
            self._join(ray, pool)
        return ray

    def _join(self, ray: Any, pool: Pool) -> None:
        if not ray.is_initialized():
            quiet: dict[str, Any] = {"log_to_driver": False, "logging_level": "ERROR",
                                     "configure_logging": False}  # fmt: skip
            if self.address == LOCAL:
                ray.init(resources=node_resources(pool), include_dashboard=False, **quiet)
            else:
                try:
                    ray.init(address=self.address, **quiet)
                except ConnectionError as exc:
                    raise ConfigError(f"--ray {self.address}: no Ray cluster answers there "
                                      f"({exc})") from exc  # fmt: skip
            self._joined = True

    def close(self) -> None:
        """Leave the cluster this runner joined (a local instance it started stops)."""
        self._problems.clear()
        if self._joined:
            _ray().shutdown()
            self._joined = False

    def _actors(self, ray: Any, pool: Pool, arm: str) -> tuple[list[Any], int]:
        """The arm's actors and the jobs each takes at a time.

        An endpoint arm gets as many one-job actors as its concurrency allows (at most one per
        CPU of the cluster), spread over the nodes: the endpoint sees no more requests at
        once than its ``concurrency`` says, and each answer is judged by its own actor. A local
        model's arm gets one actor per unit of its resource, each taking up to the arm's
        concurrency jobs (llama.cpp's slots queue them), as a local collection does.
        """
        spec = pool.spec(arm)
        resource = model_resource(spec)
        if resource is None:
            cpus = int(ray.cluster_resources().get("CPU", 1))
            count = self.workers or max(1, min(spec.concurrency, cpus))
            needs: dict[str, Any] = {"scheduling_strategy": "SPREAD"}
            capacity = 1
        else:
            units = int(ray.cluster_resources().get(resource, 0))
            if units < 1 and self.address == LOCAL:
                raise ConfigError(f"arm {arm}: its model is not installed on this machine "
                                  f"({spec.path}): octoroute models install, or name a cluster "
                                  "whose nodes hold it with --ray HOST:PORT")  # fmt: skip
            if units < 1:
                raise ConfigError(
                    f"arm {arm}: no node of the Ray cluster offers {resource!r}; start the node "
                    f"that holds the model with ray start --resources='{{\"{resource}\": 1}}'"
                )
            count = min(units, self.workers or units)
            needs = {"resources": {resource: 1}}
            capacity = max(1, spec.concurrency)
        remote = ray.remote(ArmWorker).options(
            num_cpus=0, max_restarts=-1, max_task_retries=0, max_concurrency=capacity, **needs,
        )  # fmt: skip
        return [remote.remote(pool, arm, self.sandbox_workers) for _ in range(count)], capacity

    def run(self, pool: Pool, arm: str, jobs: Sequence[Job]) -> Iterator[Attempt]:
        """Perform ``jobs`` on the cluster; yield their attempts as they arrive.

        Raises :class:`ConfigError` when the arm's workers cannot start (the cause in full),
        or when no node offers a local model's resource any more while jobs wait for it.
        """
        if not jobs:
            return
        ray = self.connect(pool)
        actors, capacity = self._actors(ray, pool, arm)
        self.actors[arm] = actors
        resource = model_resource(pool.spec(arm))
        lost = (ray.exceptions.RayActorError, ray.exceptions.WorkerCrashedError)

        def result(ref: Any) -> Attempt:
            try:
                attempt: Attempt = ray.get(ref)
            except lost as exc:
                text = str(exc) or type(exc).__name__
                if "creation task" in text:  # the constructor raised: no restart will cure it
                    raise ConfigError(f"arm {arm}: its worker could not start on the Ray "
                                      f"cluster: {text}") from exc  # fmt: skip
                raise WorkerLost(text.splitlines()[0]) from exc
            return attempt

        def wait(refs: list[Any]) -> list[Any]:
            while True:
                ready, _ = ray.wait(refs, num_returns=1, timeout=WAIT_CHECK)
                if ready:
                    return list(ready)
                # Nothing finished for a while: jobs of a local model wait for a node that
                # offers it; if none is left they would wait for ever.
                if resource is not None and ray.cluster_resources().get(resource, 0) < 1:
                    raise ConfigError(f"arm {arm}: no node of the Ray cluster offers "
                                      f"{resource!r} any more (the nodes holding the model "
                                      "left); start one and run the command again")  # fmt: skip

        def submit(actor: Any, job: Job) -> Any:
            # The full problem (hidden tests can weigh 100 MB) goes to the object store once
            # per run and reaches each node once; the job itself carries the visible part.
            key = (job.problem.benchmark, job.problem.id)
            with self._lock:  # arms run at once share the problems
                if key not in self._problems:
                    self._problems[key] = ray.put(job.problem)
                full = self._problems[key]
            slim = dataclasses.replace(job, problem=job.problem.visible_only())
            return actor.perform.remote(slim, [full])

        try:
            yield from dispatch(jobs, actors, submit, wait, result, capacity=capacity,
                                max_losses=self.max_losses)  # fmt: skip
        finally:
            # Close every actor at once (a dead one has nothing to close), then kill them all.
            closing = [actor.close.remote() for actor in actors]
            with contextlib.suppress(Exception):
                ray.wait(closing, num_returns=len(closing), timeout=CLOSE_WAIT)
            for actor in actors:
                ray.kill(actor)
            self.actors.pop(arm, None)
