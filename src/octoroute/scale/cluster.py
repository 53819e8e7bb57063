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


PROBLEMS_KEPT = 16
"""Full problems a worker keeps deserialized (the jobs of one problem tend to come together)."""


class ArmWorker:
    """One arm and one sandbox on a cluster node (made a Ray actor by :class:`RayRunner`)."""

    def __init__(self, pool: Pool, arm: str, sandbox_workers: int) -> None:
        from octoroute.sandbox import Executor

        self.arm = pool.build(arm)
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
    unit of a local model's resource, one per node for an endpoint arm); each actor has
    ``sandbox_workers`` sandbox workers and takes up to the arm's concurrency jobs at a time.
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

    def _actors(self, ray: Any, pool: Pool, arm: str) -> list[Any]:
        spec = pool.spec(arm)
        resource = model_resource(spec)
        if resource is None:
            nodes = sum(1 for n in ray.nodes() if n.get("Alive"))
            count = self.workers or max(1, nodes)
            needs: dict[str, Any] = {"scheduling_strategy": "SPREAD"}
        else:
            units = int(ray.cluster_resources().get(resource, 0))
            if units < 1:
                raise ConfigError(
                    f"arm {arm}: no node of the Ray cluster offers {resource!r}; start the node "
                    f"that holds the model with ray start --resources='{{\"{resource}\": 1}}'"
                )
            count = min(units, self.workers or units)
            needs = {"resources": {resource: 1}}
        remote = ray.remote(ArmWorker).options(
            num_cpus=0, max_restarts=-1, max_task_retries=0,
            max_concurrency=max(1, spec.concurrency), **needs,
        )  # fmt: skip
        return [remote.remote(pool, arm, self.sandbox_workers) for _ in range(count)]

    def run(self, pool: Pool, arm: str, jobs: Sequence[Job]) -> Iterator[Attempt]:
        """Perform ``jobs`` on the cluster; yield their attempts as they arrive."""
        if not jobs:
            return
        ray = self.connect(pool)
        self.actors[arm] = actors = self._actors(ray, pool, arm)
        lost = (ray.exceptions.RayActorError, ray.exceptions.WorkerCrashedError)

        def result(ref: Any) -> Attempt:
            try:
                attempt: Attempt = ray.get(ref)
            except lost as exc:
                raise WorkerLost(
                    str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                ) from exc
            return attempt

        def wait(refs: list[Any]) -> list[Any]:
            ready, _ = ray.wait(refs, num_returns=1)
            return list(ready)

        def submit(actor: Any, job: Job) -> Any:
            # The full problem (hidden tests can weigh 100 MB) goes to the object store once
            # per run and reaches each node once; the job itself carries the visible part.
            key = (job.problem.benchmark, job.problem.id)
            if key not in self._problems:
                self._problems[key] = ray.put(job.problem)
            slim = dataclasses.replace(job, problem=job.problem.visible_only())
            return actor.perform.remote(slim, [self._problems[key]])

        try:
            yield from dispatch(
                jobs, actors, submit, wait, result,
                capacity=max(1, pool.spec(arm).concurrency), max_losses=self.max_losses,
            )  # fmt: skip
        finally:
            for actor in actors:
                # A dead actor has nothing left to close; kill it all the same.
                with contextlib.suppress(Exception):
                    ray.get(actor.close.remote(), timeout=30)
                ray.kill(actor)
            self.actors.pop(arm, None)
