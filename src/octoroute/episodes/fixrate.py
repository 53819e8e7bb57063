"""Cross-arm fix rates: how often arm j's repair of arm i's failed program passes the hidden tests.

A *repair* is an attempt with ``attempt_number`` 2 whose ``parent_attempt_id`` names the failed
fresh attempt it repairs (logged by :func:`octoroute.collection.repairs.collect_repairs`). For each
pair (source arm i, repairing arm j) :func:`fix_rates` counts the judged repairs and those that pass
the hidden tests, overall and split by the parent's *failure kind* (:func:`failure_kind`: the
outcome of its first failing visible test, which is what the repair prompt showed). Next to each
cell it puts j's *fresh* pass rate on the very same problems (j's fresh attempt in the parent's
run), so a cell answers "is repairing i's failure with j better than asking j afresh?"; the gain has
a paired bootstrap interval over the cell's problems.

Rates carry Wilson 95% intervals (exact enough for small counts, never outside [0, 1]).

>>> wilson_ci(0, 0), wilson_ci(5, 10)
(None, (0.2366, 0.7634))
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from octoroute.evaluation.metrics import paired_bootstrap_ci
from octoroute.store import Store
from octoroute.types import Attempt, Outcome, Tier

__all__ = [
    "ALL_KINDS",
    "NO_VISIBLE_TEST",
    "VISIBLE_PASSED",
    "ArmRate",
    "FixCell",
    "FixRates",
    "failure_kind",
    "fix_rates",
    "fix_rates_from_store",
    "wilson_ci",
]

ALL_KINDS = "all"
"""The pseudo-kind of a cell that pools every failure kind."""
NO_VISIBLE_TEST = "no_visible_test"
"""The failed program's problem has no visible test: its repair prompt shows no example."""
VISIBLE_PASSED = "visible_passed"
"""Every visible test passed and a hidden one failed: nothing a deployed episode would repair."""

_Z95 = 1.959963984540054


def wilson_ci(passed: int, n: int, z: float = _Z95) -> tuple[float, float] | None:
    """Wilson score interval of a proportion (``passed`` of ``n``), rounded to 4 digits.

    None when ``n`` is 0 (nothing was observed).

    >>> wilson_ci(3, 3)
    (0.4385, 1.0)
    """
    if n <= 0:
        return None
    if not 0 <= passed <= n:
        raise ValueError(f"passed must be in [0, {n}], found {passed}")
    p = passed / n
    denom = 1.0 + z * z / n
    center = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return round(max(0.0, center - half), 4), round(min(1.0, center + half), 4)


def failure_kind(attempt: Attempt) -> str | None:
    """The kind of a judged failed attempt, from its logged verdicts on the *visible* tests.

    The outcome of the first failing visible test (``wrong_answer``, ``runtime_error``,
    ``syntax_error``, ...), :data:`NO_VISIBLE_TEST` when the problem has none, or
    :data:`VISIBLE_PASSED` when the visible tests all passed; None for an attempt that was not
    judged or that passed.

    >>> from octoroute.types import TestVerdict
    >>> v = (TestVerdict(0, Tier.VISIBLE, Outcome.PASS), TestVerdict(1, Tier.VISIBLE,
    ...      Outcome.TIMEOUT), TestVerdict(2, Tier.BASE, Outcome.TIMEOUT))
    >>> failure_kind(Attempt("r", "b", "p", "a", tests=v, passed=False))
    'timeout'
    """
    if attempt.tests is None or attempt.passed is not False:
        return None
    visible = [t for t in attempt.tests if t.tier is Tier.VISIBLE]
    if not visible:
        return NO_VISIBLE_TEST
    for t in sorted(visible, key=lambda t: t.index):
        if t.outcome is not Outcome.PASS:
            return t.outcome.value
    return VISIBLE_PASSED


@dataclass(frozen=True, slots=True)
class FixCell:
    """Repairs by ``repairer`` of ``source``'s failures of one kind (or :data:`ALL_KINDS`).

    ``n`` judged repairs, ``passed`` of them pass the hidden tests (``rate``, ``ci95``);
    ``arm_errors`` repairs the arm failed to produce (not in ``n``). ``fresh_*`` is the
    repairer's own fresh attempt on the same problems (``fresh_n`` of them were judged);
    ``gain`` is ``rate - fresh_rate`` over the problems that have both, with a paired
    bootstrap interval ``gain_ci95``.
    """

    source: str
    repairer: str
    kind: str
    n: int
    passed: int
    arm_errors: int = 0
    fresh_n: int = 0
    fresh_passed: int = 0
    gain: float | None = None
    gain_ci95: tuple[float, float] | None = None

    @property
    def rate(self) -> float | None:
        """The fix rate, None when no repair was judged."""
        return self.passed / self.n if self.n else None

    @property
    def ci95(self) -> tuple[float, float] | None:
        """The fix rate's Wilson 95% interval."""
        return wilson_ci(self.passed, self.n)

    @property
    def fresh_rate(self) -> float | None:
        """The repairer's fresh pass rate on the same problems."""
        return self.fresh_passed / self.fresh_n if self.fresh_n else None

    @property
    def fresh_ci95(self) -> tuple[float, float] | None:
        """The fresh pass rate's Wilson 95% interval."""
        return wilson_ci(self.fresh_passed, self.fresh_n)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON data, rates and intervals included."""
        return {
            "source": self.source,
            "repairer": self.repairer,
            "kind": self.kind,
            "n": self.n,
            "passed": self.passed,
            "rate": _round(self.rate),
            "ci95": _pair(self.ci95),
            "arm_errors": self.arm_errors,
            "fresh_n": self.fresh_n,
            "fresh_passed": self.fresh_passed,
            "fresh_rate": _round(self.fresh_rate),
            "fresh_ci95": _pair(self.fresh_ci95),
            "gain": _round(self.gain),
            "gain_ci95": _pair(self.gain_ci95),
        }


@dataclass(frozen=True, slots=True)
class ArmRate:
    """An arm's fresh pass rate on the problems whose failures were repaired."""

    arm: str
    n: int
    passed: int

    @property
    def rate(self) -> float | None:
        """The pass rate, None when the arm has no judged fresh attempt there."""
        return self.passed / self.n if self.n else None

    @property
    def ci95(self) -> tuple[float, float] | None:
        """Its Wilson 95% interval."""
        return wilson_ci(self.passed, self.n)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON data."""
        return {"arm": self.arm, "n": self.n, "passed": self.passed,
                "rate": _round(self.rate), "ci95": _pair(self.ci95)}  # fmt: skip


@dataclass(frozen=True)
class FixRates:
    """The fix-rate matrix of a repair run, overall and per failure kind.

    ``sources`` are the arms whose failures were repaired (rows), ``repairers`` the arms that
    repaired (columns), ``kinds`` the failure kinds seen (``cells`` also hold
    :data:`ALL_KINDS`). ``fresh`` gives each repairer's fresh pass rate on all the problems
    whose failures were repaired; ``problems`` is how many there are.
    """

    run: str
    source_runs: tuple[str, ...]
    sources: tuple[str, ...]
    repairers: tuple[str, ...]
    kinds: tuple[str, ...]
    cells: tuple[FixCell, ...]
    fresh: tuple[ArmRate, ...] = ()
    problems: int = 0
    repairs: int = 0
    orphans: int = 0
    """Repairs whose parent is not in the store (left out)."""
    _index: dict[tuple[str, str, str], FixCell] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._index.update({(c.source, c.repairer, c.kind): c for c in self.cells})

    def cell(self, source: str, repairer: str, kind: str = ALL_KINDS) -> FixCell | None:
        """The cell of (source, repairer, kind), None when no repair of it was logged."""
        return self._index.get((source, repairer, kind))

    def matrix(self, kind: str = ALL_KINDS) -> list[list[float | None]]:
        """Fix rates, one row per source arm and one column per repairer (None: no repair)."""
        out: list[list[float | None]] = []
        for i in self.sources:
            row: list[float | None] = []
            for j in self.repairers:
                c = self.cell(i, j, kind)
                row.append(None if c is None else c.rate)
            out.append(row)
        return out

    def counts(self, kind: str = ALL_KINDS) -> list[list[int]]:
        """The judged repairs behind :meth:`matrix`."""
        return [
            [0 if (c := self.cell(i, j, kind)) is None else c.n for j in self.repairers]
            for i in self.sources
        ]

    def to_json(self) -> dict[str, Any]:
        """Plain JSON data: the arms, the matrix per kind, every cell and the fresh rates."""
        return {
            "run": self.run,
            "source_runs": list(self.source_runs),
            "sources": list(self.sources),
            "repairers": list(self.repairers),
            "kinds": list(self.kinds),
            "problems": self.problems,
            "repairs": self.repairs,
            "orphans": self.orphans,
            "matrix": {
                k: [[_round(v) for v in row] for row in self.matrix(k)]
                for k in (ALL_KINDS, *self.kinds)
            },
            "counts": {k: self.counts(k) for k in (ALL_KINDS, *self.kinds)},
            "cells": [c.to_json() for c in self.cells],
            "fresh": [f.to_json() for f in self.fresh],
        }


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def _pair(x: tuple[float, float] | None) -> list[float] | None:
    return None if x is None else [round(x[0], 4), round(x[1], 4)]


@dataclass
class _Acc:
    """What one cell accumulates: per judged repair, (passed, fresh passed or None)."""

    items: list[tuple[bool, bool | None]] = field(default_factory=list)
    arm_errors: int = 0


def _cell(source: str, repairer: str, kind: str, acc: _Acc, seed: int) -> FixCell:
    passed = sum(p for p, _ in acc.items)
    paired = [(p, f) for p, f in acc.items if f is not None]
    gain = gain_ci = None
    if paired:
        a = np.array([float(p) for p, _ in paired])
        b = np.array([float(f) for _, f in paired])
        gain = float(a.mean() - b.mean())
        gain_ci = paired_bootstrap_ci(a, b, seed=seed)
    return FixCell(
        source,
        repairer,
        kind,
        n=len(acc.items),
        passed=passed,
        arm_errors=acc.arm_errors,
        fresh_n=len(paired),
        fresh_passed=sum(f for _, f in paired if f),
        gain=gain,
        gain_ci95=gain_ci,
    )


def fix_rates(
    repairs: Iterable[Attempt],
    parents: Mapping[int, Attempt],
    fresh: Iterable[Attempt],
    *,
    run: str = "",
    seed: int = 0,
) -> FixRates:
    """The fix-rate matrix from a repair run's attempts, their parents and the fresh attempts.

    ``repairs`` are the repair run's attempts (those with a ``parent_attempt_id``, the others are
    ignored); ``parents`` maps attempt ids to the failed attempts; ``fresh`` holds the fresh
    attempts (``attempt_number`` 1, ``sample_index`` 0) of the parents' runs, where each
    repairer's own attempt on the same problem is looked up. ``seed`` seeds the bootstrap.
    """
    fresh_of: dict[tuple[str, str, str, str], bool] = {}
    for a in fresh:
        if a.attempt_number == 1 and a.sample_index == 0 and a.judged:
            fresh_of[(a.run_id, a.benchmark, a.problem_id, a.arm)] = bool(a.passed)
    accs: dict[tuple[str, str, str], _Acc] = {}
    sources: set[str] = set()
    repairers: set[str] = set()
    kinds: set[str] = set()
    problems: set[tuple[str, str, str]] = set()
    source_runs: set[str] = set()
    n_repairs = orphans = 0
    for r in repairs:
        if r.parent_attempt_id is None:
            continue
        parent = parents.get(r.parent_attempt_id)
        kind = None if parent is None else failure_kind(parent)
        if parent is None or kind is None:
            orphans += 1
            continue
        n_repairs += 1
        sources.add(parent.arm)
        repairers.add(r.arm)
        kinds.add(kind)
        source_runs.add(parent.run_id)
        problems.add((parent.run_id, parent.benchmark, parent.problem_id))
        f = fresh_of.get((parent.run_id, parent.benchmark, parent.problem_id, r.arm))
        for k in (ALL_KINDS, kind):
            acc = accs.setdefault((parent.arm, r.arm, k), _Acc())
            if r.judged:
                acc.items.append((bool(r.passed), f))
            else:
                acc.arm_errors += 1
    cells = tuple(_cell(i, j, k, acc, seed) for (i, j, k), acc in sorted(accs.items()))
    arm_fresh = []
    for j in sorted(repairers):
        outcomes = [fresh_of.get((*p, j)) for p in sorted(problems)]
        judged = [o for o in outcomes if o is not None]
        arm_fresh.append(ArmRate(j, len(judged), sum(judged)))
    return FixRates(
        run=run,
        source_runs=tuple(sorted(source_runs)),
        sources=tuple(sorted(sources)),
        repairers=tuple(sorted(repairers)),
        kinds=tuple(sorted(kinds)),
        cells=cells,
        fresh=tuple(arm_fresh),
        problems=len(problems),
        repairs=n_repairs,
        orphans=orphans,
    )


def fix_rates_from_store(store: Store, run: str, *, seed: int = 0) -> FixRates:
    """:func:`fix_rates` of repair run ``run`` of ``store``.

    Parents are read by id (they may live in another run, the source run); the fresh attempts
    are those of the parents' runs.
    """
    repairs = [a for a in store.attempts(run) if a.parent_attempt_id is not None]
    parents: dict[int, Attempt] = {}
    for pid in sorted({a.parent_attempt_id for a in repairs if a.parent_attempt_id is not None}):
        parent = store.get_attempt(pid)
        if parent is not None:
            parents[pid] = parent
    fresh: list[Attempt] = []
    for source_run in sorted({p.run_id for p in parents.values()}):
        fresh.extend(store.attempts(source_run))
    return fix_rates(repairs, parents, fresh, run=run, seed=seed)
