"""Re-judge logged programs against another benchmark's tests, without generating again.

EvalPlus's point is that a benchmark's original tests are too weak: HumanEval+ adds hundreds of
inputs per problem to HumanEval's. Generation is the expensive part of a collection, so the
programs of a logged run can be executed again, as they are, against a stronger test suite with
the same problem ids (``humaneval`` to ``humaneval+``). The result is a new run in the same log:
every attempt keeps its completion, code, tokens, cost, sampling and prompt hash (the prompt the
arm really saw), and gets fresh verdicts on the new tests. Arm errors are copied as arm errors.

Resumable like :func:`octoroute.collection.collect.collect`: attempts already present are skipped.

:func:`rejudge_log` is the other use: an exported log (the shipped recorded log, for one)
judged again in place by a newer executor, every attempt on its own benchmark, repairs
included, with every verdict that changed reported.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from octoroute.exceptions import ConfigError
from octoroute.sandbox import Executor
from octoroute.store import Store, attempt_from_dict, attempt_to_dict
from octoroute.store.export import slim_dict
from octoroute.types import Attempt, AttemptKey, Outcome, Problem, Tier

__all__ = ["Judgement", "LogRejudge", "RejudgeSummary", "rejudge", "rejudge_log"]


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
    orphans: int = 0
    """Repairs left out because their parent has no copy on the new benchmark yet."""
    stale: int = 0
    """Repairs left out because their parent's copy is another program or shows other visible
    verdicts on the new benchmark (its prompt would differ), and the repairs below them."""


def rejudge(
    store: Store,
    executor: Executor,
    source_run: str,
    problems: Sequence[Problem],
    run_id: str | None = None,
    on_attempt: Callable[[Attempt], None] | None = None,
) -> RejudgeSummary:
    """Judge every attempt of ``source_run`` again on ``problems`` (prepared), as a new run.

    The new run is ``run_id`` (default ``rejudge/<benchmark>``). A first attempt keeps its key
    on the new benchmark. A repair is carried over under its parent's copy on the new benchmark
    (found in any run of the log, this one included: re-judge the parents' run first): its
    prompt showed the parent's feedback on the *visible* tests, which two benchmarks with the
    same prompts share, so the same repair stands on the new tests. A repair whose parent has
    no copy yet, or whose parent's visible verdicts differ on the new benchmark (its prompt
    would differ), is left out and counted (``orphans``, ``stale``).
    """
    if not problems:
        raise ConfigError("rejudge: no problems to judge against")
    benchmark = problems[0].benchmark
    run_id = run_id or f"rejudge/{benchmark}"
    if run_id == source_run:
        raise ConfigError(f"rejudge: the new run must differ from the source run {source_run!r}")
    store.claim_run(run_id)
    # Parents first. First attempts and repairs only: an attempt without a parent numbered
    # after 1 (a live router's later fresh start) has no key of its own on a new benchmark.
    source = sorted((a for a in store.attempts(source_run)
                     if (a.parent_attempt_id is None) == (a.attempt_number == 1)),
                    key=lambda a: a.id or 0)  # fmt: skip
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
    # Every attempt of the new benchmark, by key (the first logged wins, as in the trees), to
    # find a repair's parent's copy; and each source attempt's own copy, as it is made.
    copies: dict[tuple[str, str, int, int], Attempt] = {}
    for a in sorted(store.attempts(benchmark=benchmark), key=lambda a: a.id or 0):
        copies.setdefault((a.problem_id, a.arm, a.sample_index, a.attempt_number), a)
    originals: dict[int, Attempt] = {a.id: a for a in source if a.id is not None}
    copy_of: dict[int, Attempt] = {}
    stale: set[int] = set()

    def parent_of(old: Attempt) -> Attempt | None:
        """The attempt ``old`` repairs (in the source run, or any other run of the log)."""
        assert old.parent_attempt_id is not None
        return originals.get(old.parent_attempt_id) or store.get_attempt(old.parent_attempt_id)

    def copied(old: Attempt) -> Attempt | None:
        """The copy of ``old`` on the new benchmark, if there is one."""
        if old.id in copy_of:
            return copy_of[old.id]
        if old.parent_attempt_id is None:
            return copies.get((old.problem_id, old.arm, old.sample_index, old.attempt_number))
        parent = parent_of(old)
        new_parent = None if parent is None else copied(parent)
        if new_parent is None or new_parent.id is None:
            return None
        return copies.get((old.problem_id, old.arm, new_parent.id, old.attempt_number))

    for old in source:
        problem = by_id.get(old.problem_id)
        if problem is None:
            summary.missing_problems += 1
            continue
        parent_copy: Attempt | None = None
        if old.parent_attempt_id is not None:
            if old.parent_attempt_id in stale:  # under a stale repair: stale as well
                stale.add(old.id or -1)
                summary.stale += 1
                continue
            parent = parent_of(old)
            parent_copy = None if parent is None else copied(parent)
            if parent is None or parent_copy is None or parent_copy.id is None:
                summary.orphans += 1
                continue
            # The copy must be the same program, shown with the same visible feedback.
            if parent_copy.code != parent.code or _shown(parent) != _shown(parent_copy):
                stale.add(old.id or -1)
                summary.stale += 1
                continue
            key = AttemptKey(benchmark, old.problem_id, old.arm, parent_copy.id,
                             old.attempt_number)  # fmt: skip
        else:
            key = AttemptKey(benchmark, old.problem_id, old.arm, old.sample_index, 1)
        if key in done:
            summary.skipped += 1
            found = copies.get((key.problem_id, key.arm, key.sample_index, key.attempt_number))
            if found is not None and old.id is not None:
                copy_of[old.id] = found
            continue
        started = time.time()
        verdict = executor.check(problem, old.code) if old.error is None else None
        new = old.rejudged(run_id, problem, verdict, started, time.time())
        if parent_copy is not None:
            new = replace(new, sample_index=key.sample_index, attempt_number=key.attempt_number,
                          parent_attempt_id=parent_copy.id)  # fmt: skip
        if not store.record_attempt(new):  # the key was logged meanwhile: keep the first
            summary.skipped += 1
        else:
            summary.recorded += 1
        new = replace(new, id=store.attempt_id(run_id, key))
        # The copy a child hangs under is the first logged one with the key, as in the trees.
        first = copies.setdefault(
            (key.problem_id, key.arm, key.sample_index, key.attempt_number), new
        )
        if old.id is not None:
            copy_of[old.id] = first
        summary.passed_before += bool(old.passed)
        summary.passed_after += bool(new.passed)
        if on_attempt is not None:
            on_attempt(new)
    return summary


def _shown(a: Attempt) -> tuple[tuple[str, str], ...]:
    """What a repair prompt of ``a`` showed: its visible outcomes and named exceptions."""
    return Judgement.of(attempt_to_dict(a)).visible


@dataclass(frozen=True, slots=True)
class Judgement:
    """What a log keeps of one verdict, in a form two verdicts can be compared by."""

    passed: bool | None
    tiers: tuple[tuple[str, float | None], ...]
    counts: tuple[tuple[str, tuple[tuple[str, int], ...]], ...]
    visible: tuple[tuple[str, str], ...]
    """Each visible test's outcome, and the exception it names: what a repair prompt showed."""

    @classmethod
    def of(cls, record: Mapping[str, Any]) -> Judgement:
        """The judgement in an exported attempt (full, or slim with ``test_counts``)."""
        tests = record.get("tests") or []
        counts = record.get("test_counts")
        if counts is None and record.get("tests") is not None:
            counts = {}
            for t in tests:
                tier = counts.setdefault(t["tier"], {})
                tier[t["outcome"]] = tier.get(t["outcome"], 0) + 1
        visible = tuple(
            (t["outcome"], t["detail"] if t["outcome"] in _NAMED else "")
            for t in tests
            if t["tier"] == Tier.VISIBLE.value
        )
        return cls(
            passed=record.get("passed"),
            tiers=tuple((t, record.get(f"pass_{t}")) for t in ("visible", "base", "plus")),
            counts=tuple(sorted((t, tuple(sorted(c.items()))) for t, c in (counts or {}).items())),
            visible=visible,
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "passed": self.passed,
            **{f"pass_{t}": v for t, v in self.tiers},
            "counts": {t: dict(c) for t, c in self.counts},
        }


# Outcomes whose detail is part of what was shown (an exception's type), not a measurement.
_NAMED = frozenset({Outcome.RUNTIME_ERROR.value, Outcome.MISSING_ENTRY_POINT.value})


@dataclass
class LogRejudge:
    """What :func:`rejudge_log` found: the re-judged records and every verdict that changed."""

    records: list[dict[str, Any]]
    changed: list[dict[str, Any]]
    """One entry per attempt whose verdict changed: its key, before and after."""
    stale_repairs: list[int]
    """Ids of repairs whose parent's visible verdicts changed: their prompt would differ now."""
    judged: int = 0


def rejudge_log(
    records: Sequence[Mapping[str, Any]],
    problems: Mapping[tuple[str, str], Problem],
    executor: Executor,
    on_attempt: Callable[[Attempt], None] | None = None,
) -> LogRejudge:
    """Judge every attempt of an exported log again, on its own benchmark, in place.

    ``records`` are attempts as exported (full, or slim: the output keeps the input's form);
    ``problems`` maps ``(benchmark, problem id)`` to a prepared problem. Ids, parents, runs,
    generation and times are kept; the verdict fields are the executor's new ones. Arm errors
    are kept as they are.
    """
    slim = any("test_counts" in r for r in records)
    to_dict = slim_dict if slim else attempt_to_dict
    out = LogRejudge(records=[], changed=[], stale_repairs=[])
    visible_changed: set[int] = set()
    for record in records:
        old = attempt_from_dict(record)
        if old.error is not None:
            out.records.append(dict(record))
            continue
        problem = problems.get((old.benchmark, old.problem_id))
        if problem is None:
            raise ConfigError(f"rejudge: no problem {old.problem_id} of {old.benchmark}")
        new = old.with_verdict(executor.check(problem, old.code))
        fresh = to_dict(new)
        out.records.append(fresh)
        out.judged += 1
        before, after = Judgement.of(record), Judgement.of(fresh)
        if before != after:
            out.changed.append({
                "id": old.id, "run_id": old.run_id, "benchmark": old.benchmark,
                "problem_id": old.problem_id, "arm": old.arm,
                "attempt_number": old.attempt_number, "parent_attempt_id": old.parent_attempt_id,
                "before": before.as_dict(), "after": after.as_dict(),
                "visible_changed": before.visible != after.visible,
            })  # fmt: skip
            if before.visible != after.visible and old.id is not None:
                visible_changed.add(old.id)
        if on_attempt is not None:
            on_attempt(new)
    out.stale_repairs = [
        int(r["id"]) for r in out.records if r.get("parent_attempt_id") in visible_changed
    ]
    return out
