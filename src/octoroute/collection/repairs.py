"""Cross-arm repairs: every arm of a pool repairs failed fresh attempts of a logged run.

With :mod:`.collect` and :mod:`octoroute.episodes.router`, one of the modules that know every
package. The *failures* are the judged fresh attempts (``attempt_number`` 1, greedy sample 0)
of ``source_run`` that fail the hidden tests and that a deployed episode would repair: a
visible test failed, or the problem has no visible test. A program that passes every visible
test but fails a hidden one is left out (no episode repairs it, and no visible feedback exists
to show); :attr:`RepairSummary.visible_passed` counts them.

With ``per_cell`` set, a budgeted sample is drawn: for each source arm, up to ``per_cell``
failures, stratified by failure kind (:func:`~octoroute.episodes.fixrate.failure_kind`, read
from the logged visible verdicts) with proportional allocation (largest remainders), drawn
with a generator seeded by ``seed`` within each stratum. Every arm of the pool then repairs
every sampled failure, so each (source, repairer) cell holds the same failures.

The repair prompt (:mod:`octoroute.arms.repair`) shows the failed program and the executor's
feedback on its first failing *visible* test, obtained by running the program again on
:meth:`~octoroute.types.Problem.visible_only`: a hidden test never reaches a prompt. The repair
is then judged on the full problem (the hidden tests grade) and logged with ``attempt_number``
2 and ``parent_attempt_id`` the failed attempt's id. The schema's ``parent_attempt_id`` refers
to any attempt's id, whatever its run, so the parent stays in the source run and is referenced
directly (nothing is copied).

Resumable: a repair's key is (benchmark, problem, repairing arm, ``sample_index`` = the parent's
attempt id, ``attempt_number`` 2), unique per (failure, repairer); a run skips the keys it
holds, and arm errors are retried. Arms are the outer loop (a local model is loaded once).
"""

from __future__ import annotations

import dataclasses
import random
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from octoroute.arms.base import ArmBase
from octoroute.arms.pool import Pool, register_arms
from octoroute.collection.collect import CollectConfig
from octoroute.collection.jobs import Job, LocalRunner, Runner, record_all
from octoroute.episodes.fixrate import VISIBLE_PASSED, failure_kind
from octoroute.episodes.tree import NodeRequest
from octoroute.exceptions import ConfigError
from octoroute.sandbox import Executor
from octoroute.store import Store
from octoroute.types import Attempt, Feedback, Problem

__all__ = ["Failure", "GrowSummary", "RepairConfig", "RepairProgress", "RepairSummary",
           "collect_repairs", "grow", "sample_failures"]  # fmt: skip


@dataclass(frozen=True, slots=True)
class RepairConfig:
    """What a repair run does; a resumed run should use the same configuration.

    ``per_cell`` caps the failures repaired per source arm (None: all of them); ``seed`` seeds
    the sample; repairs are greedy (temperature 0, seed 0) with ``max_tokens`` tokens.
    """

    per_cell: int | None = None
    seed: int = 0
    max_tokens: int = 512

    def __post_init__(self) -> None:
        if self.per_cell is not None and (
            isinstance(self.per_cell, bool) or not isinstance(self.per_cell, int)
            or self.per_cell < 1
        ):  # fmt: skip
            raise ConfigError(f"per_cell: expected a positive integer or None, found "
                              f"{self.per_cell!r}")  # fmt: skip
        if self.max_tokens < 1:
            raise ConfigError(f"max_tokens: expected a positive integer, found {self.max_tokens}")

    def job(self, run_id: str, arm: str, problem: Problem, parent: Attempt,
            feedback: Feedback | None) -> Job:  # fmt: skip
        """The job of ``arm`` repairing ``parent`` (greedy) from its visible ``feedback``."""
        return Job(run_id, arm, problem, sample_index=0, temperature=0.0, seed=0,
                   max_tokens=self.max_tokens, parent=parent, feedback=feedback)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Failure:
    """A failed fresh attempt chosen for repair, with its failure kind."""

    attempt: Attempt
    kind: str

    @property
    def id(self) -> int:
        """The failed attempt's id (every repair of it points there)."""
        assert self.attempt.id is not None  # attempts read from a store carry their id
        return self.attempt.id


@dataclass(frozen=True, slots=True)
class RepairProgress:
    """One finished repair, as reported to a progress callback."""

    arm: str
    source_arm: str
    problem_id: str
    passed: bool
    error: str | None


@dataclass
class RepairSummary:
    """What a call of :func:`collect_repairs` did.

    ``failures`` counts the repairable failures of the source run per source arm, ``sampled``
    those chosen; ``by_kind`` the sampled ones per failure kind.
    """

    run_id: str
    source_run: str
    failures: dict[str, int] = dataclasses.field(default_factory=dict)
    sampled: dict[str, int] = dataclasses.field(default_factory=dict)
    by_kind: dict[str, int] = dataclasses.field(default_factory=dict)
    visible_passed: int = 0
    missing_problems: int = 0
    planned: int = 0
    skipped: int = 0
    recorded: int = 0
    passed: int = 0
    arm_errors: int = 0


def _allocate(sizes: Mapping[str, int], budget: int, rng: random.Random) -> dict[str, int]:
    """Split ``budget`` over strata in proportion to their sizes (largest remainders).

    Strata tied on their remainder are ordered at random (``rng``), so a small budget does not
    always favour the same kind.

    >>> _allocate({"a": 5, "b": 3, "c": 2}, 4, random.Random(0))
    {'a': 2, 'b': 1, 'c': 1}
    """
    total = sum(sizes.values())
    if total <= budget:
        return dict(sizes)
    # Integer arithmetic: remainders compare exactly (no float ties broken by rounding).
    out = {k: budget * n // total for k, n in sizes.items()}
    rest = {k: budget * n % total for k, n in sizes.items()}
    tie = {k: rng.random() for k in sorted(sizes)}
    order = sorted(sizes, key=lambda k: (-rest[k], tie[k]))
    for k in order[: budget - sum(out.values())]:
        out[k] += 1
    return out


def sample_failures(
    attempts: Sequence[Attempt], per_cell: int | None, seed: int = 0
) -> tuple[list[Failure], dict[str, int], int]:
    """The repairable failures of a run's attempts, sampled per source arm.

    Returns the sample, how many repairable failures each source arm has, and how many judged
    failures passed every visible test (left out).

    Deterministic for a given log and seed (strata are sorted by attempt id before drawing).
    """
    strata: dict[str, dict[str, list[Attempt]]] = defaultdict(lambda: defaultdict(list))
    visible_passed = 0
    for a in attempts:
        if a.attempt_number != 1 or a.sample_index != 0 or a.id is None:
            continue
        kind = failure_kind(a)
        if kind is None:
            continue
        if kind == VISIBLE_PASSED:
            visible_passed += 1
            continue
        strata[a.arm][kind].append(a)
    chosen: list[Failure] = []
    for arm in sorted(strata):
        kinds = strata[arm]
        quota = (
            {k: len(v) for k, v in kinds.items()}
            if per_cell is None
            else _allocate(
                {k: len(v) for k, v in kinds.items()}, per_cell, random.Random(f"{seed}\0{arm}")
            )
        )
        for kind in sorted(kinds):
            pool = sorted(kinds[kind], key=lambda a: a.id or 0)
            # One generator per (arm, kind): a stratum's draw does not depend on the others.
            rng = random.Random(f"{seed}\0{arm}\0{kind}")
            picked = rng.sample(pool, quota[kind])
            chosen.extend(Failure(a, kind) for a in sorted(picked, key=lambda a: a.id or 0))
    available = {arm: sum(len(v) for v in kinds.values()) for arm, kinds in strata.items()}
    return chosen, available, visible_passed


def _register(store: Store, run_id: str, source_run: str, pool: Pool, cfg: RepairConfig,
              problems: Sequence[Problem]) -> None:  # fmt: skip
    config = {"kind": "repair", "source_run": source_run, "pool": pool.source,
              **dataclasses.asdict(cfg)}  # fmt: skip
    store.add_run(run_id, config=config, command="repair-collect")
    register_arms(store, pool)
    store.add_problems(problems)


def collect_repairs(
    store: Store,
    executor: Executor,
    pool: Pool,
    problems: Sequence[Problem],
    source_run: str,
    run_id: str,
    cfg: RepairConfig,
    on_planned: Callable[[str, int], None] | None = None,
    on_repair: Callable[[RepairProgress], None] | None = None,
    build: Callable[[str], ArmBase] | None = None,
    runner: Runner | None = None,
) -> RepairSummary:
    """Run (or resume) a repair collection; return what was done (see the module doc).

    ``problems`` are the full, prepared problems; failures on problems not among them are
    skipped (counted in ``missing_problems``). ``on_planned(arm, n)`` is called before an arm
    starts with how many repairs it will make, ``on_repair`` after each one.
    """
    store.check_run(source_run)
    store.claim_run(run_id)
    by_id = {(p.benchmark, p.id): p for p in problems}

    def problem_of(f: Failure) -> Problem:
        return by_id[(f.attempt.benchmark, f.attempt.problem_id)]

    failures, available, visible_passed = sample_failures(
        list(store.attempts(source_run)), cfg.per_cell, cfg.seed
    )
    summary = RepairSummary(run_id, source_run, failures=available, visible_passed=visible_passed)
    kept: list[Failure] = []
    for f in failures:
        if (f.attempt.benchmark, f.attempt.problem_id) not in by_id:
            summary.missing_problems += 1
            continue
        kept.append(f)
        summary.sampled[f.attempt.arm] = summary.sampled.get(f.attempt.arm, 0) + 1
        summary.by_kind[f.kind] = summary.by_kind.get(f.kind, 0) + 1
    _register(store, run_id, source_run, pool, cfg, [by_id[k] for k in sorted(by_id)])
    store.delete_arm_errors(run_id)  # arm failures of an earlier try are retried
    done = store.done_keys(run_id)
    feedback: dict[int, Feedback | None] = {}
    where = runner or LocalRunner(executor, build)
    jobs: dict[str, list[Job]] = {}
    source = {f.id: f.attempt.arm for f in kept}
    for spec in pool.specs:
        planned = (cfg.job(run_id, spec.name, problem_of(f), f.attempt, None) for f in kept)
        todo = [j for j in planned if j.key not in done]
        summary.planned += len(todo)
        summary.skipped += len(kept) - len(todo)
        if on_planned is not None:
            on_planned(spec.name, len(todo))
        jobs[spec.name] = [_shown(executor, j, feedback) for j in todo]
    for name, attempt in record_all(store, where, pool, jobs):
        summary.recorded += 1
        summary.passed += bool(attempt.passed)
        summary.arm_errors += attempt.error is not None
        if on_repair is not None:
            error = None if attempt.error is None else attempt.error.value
            assert attempt.parent_attempt_id is not None  # every job here is a repair
            parent_arm = source[attempt.parent_attempt_id]
            on_repair(RepairProgress(name, parent_arm, attempt.problem_id,
                                     bool(attempt.passed), error))  # fmt: skip
    return summary


def _shown(executor: Executor, job: Job, cache: dict[int, Feedback | None]) -> Job:
    """``job`` with the feedback its repair prompt shows (its parent's first failing visible
    test, computed once per parent via ``cache``); a fresh job as it is."""
    if job.parent is None:
        return job
    shown = _visible_feedback(executor, job.problem, job.parent, cache)
    return dataclasses.replace(job, feedback=shown)


def _visible_feedback(
    executor: Executor, problem: Problem, parent: Attempt, cache: dict[int, Feedback | None]
) -> Feedback | None:
    """The executor's feedback on ``parent``'s first failing *visible* test (its program run
    again on :meth:`~octoroute.types.Problem.visible_only`), once per parent via ``cache``."""
    assert parent.id is not None  # a parent read from a store carries its id
    if parent.id not in cache:
        cache[parent.id] = executor.check(problem.visible_only(), parent.code).feedback
    return cache[parent.id]


@dataclass
class GrowSummary:
    """What a call of :func:`grow` did: nodes asked for, already there, made, passed, failed."""

    run_id: str
    requested: int = 0
    skipped: int = 0
    recorded: int = 0
    passed: int = 0
    arm_errors: int = 0
    per_arm: dict[str, int] = dataclasses.field(default_factory=dict)


def grow(
    store: Store,
    executor: Executor,
    pool: Pool,
    problems: Sequence[Problem],
    requests: Sequence[NodeRequest],
    run_id: str,
    cfg: RepairConfig,
    temperature: float = 0.8,
    on_planned: Callable[[str, int], None] | None = None,
    on_node: Callable[[Attempt], None] | None = None,
    build: Callable[[str], ArmBase] | None = None,
    runner: Runner | None = None,
) -> GrowSummary:
    """Generate the missing episode-tree nodes ``requests`` and log them in ``run_id``.

    A repair node is keyed like :func:`collect_repairs` keys one (``sample_index`` the parent's id,
    ``attempt_number`` one more than the parent's), so either command's repairs serve every replay;
    the feedback shown is the parent's first failing *visible* test. A fresh node ``sample_index`` k
    is greedy for k = 0 and at ``temperature`` with seed k after
    (:class:`~octoroute.collection.collect.CollectConfig`). Resumable: nodes already in the run are
    skipped, arm errors are retried. Raises :class:`ConfigError` for an arm outside the pool, a
    problem outside ``problems`` or a parent the store does not hold.
    """
    store.claim_run(run_id)
    by_key = {(p.benchmark, p.id): p for p in problems}
    names = set(pool.names)
    parents: dict[int, Attempt] = {}
    for r in requests:
        if r.arm not in names:
            raise ConfigError(f"node {r}: arm {r.arm!r} is not in the pool ({sorted(names)})")
        if (r.benchmark, r.problem_id) not in by_key:
            raise ConfigError(f"node {r}: problem {r.benchmark}/{r.problem_id} is not loaded")
        if r.parent_id is not None and r.parent_id not in parents:
            parent = store.get_attempt(r.parent_id)
            if parent is None or parent.tests is None:
                raise ConfigError(f"node {r}: parent attempt {r.parent_id} is not a judged "
                                  f"attempt of {store.path}")  # fmt: skip
            parents[r.parent_id] = parent
    config = {"kind": "grow", "pool": pool.source,
              "temperature": temperature, **dataclasses.asdict(cfg)}  # fmt: skip
    store.add_run(run_id, config=config, command="episodes --grow")
    register_arms(store, pool)
    store.add_problems([by_key[k] for k in sorted(by_key)])
    store.delete_arm_errors(run_id)

    fresh_cfg = CollectConfig("", temperature=temperature, max_tokens=cfg.max_tokens)

    def job_of(r: NodeRequest) -> Job:
        """The request's job (a repair's feedback is added once it is to be made)."""
        problem = by_key[(r.benchmark, r.problem_id)]
        if r.parent_id is None:
            return fresh_cfg.job(run_id, r.arm, problem, r.sample_index)
        return cfg.job(run_id, r.arm, problem, parents[r.parent_id], None)

    done = store.done_keys(run_id)
    unique = list(dict.fromkeys(requests))
    summary = GrowSummary(run_id, requested=len(unique))
    feedback: dict[int, Feedback | None] = {}
    where = runner or LocalRunner(executor, build)
    jobs: dict[str, list[Job]] = {}
    for spec in pool.specs:
        mine = [job_of(r) for r in unique if r.arm == spec.name]
        todo = [j for j in mine if j.key not in done]
        summary.skipped += len(mine) - len(todo)
        if on_planned is not None:
            on_planned(spec.name, len(todo))
        jobs[spec.name] = [_shown(executor, j, feedback) for j in todo]
    for name, attempt in record_all(store, where, pool, jobs):
        summary.recorded += 1
        summary.passed += bool(attempt.passed)
        summary.arm_errors += attempt.error is not None
        summary.per_arm[name] = summary.per_arm.get(name, 0) + 1
        if on_node is not None:
            on_node(attempt)
    return summary
