"""The outcome matrix replay runs on: every arm's pass probability and cost on every problem.

Three sources, chosen by the file's type (:func:`load_outcomes`):

* a published **eval-arena** matrix (``.jsonl`` or ``.jsonl.gz`` rows ``{"benchmark_id",
  "model", "example_id", "pass1"}``); ``pass1`` may be a fraction, a pass rate over several
  samples, which replay treats as the probability of success;
* an octoroute **outcome log** (``.db``, ``.sqlite``, ``.sqlite3``);
* an octoroute **attempts export** (``.jsonl`` or ``.jsonl.gz`` written by ``octoroute export``).

For octoroute's own attempts, the reward of a (problem, arm) cell is the mean over its samples
of "passed every hidden test" (fresh attempts only: repairs and arm errors are left out) and
its cost the mean compute of those attempts in their unit (``flops``: 2 x parameters x tokens).

Published matrices have no token counts. Their cost is the model's **parameter count in
billions** per problem (unit ``params_b``): compute per generated token is proportional to the
parameters, and the answers of models of similar kind have similar lengths, so the ratio of two
policies' costs is the ratio of their compute up to that assumption. A model of unknown size
(see :mod:`octoroute.evaluation.sizes`) then has an unknown cost (NaN).

Missing cells (a model lacking a problem) are NaN; :meth:`OutcomeMatrix.select` drops the
problems that lack any selected model and says how many.

>>> m = OutcomeMatrix(("p1", "p2"), ("a-1b", "b-7b"), np.array([[1.0, 1.0], [0.0, 0.5]]),
...                   np.array([[1.0, 7.0], [1.0, 7.0]]), "params_b", {"a-1b": 1.0, "b-7b": 7.0})
>>> m.per_arm_mean(), m.oracle(), m.largest_arm()
({'a-1b': 0.5, 'b-7b': 0.75}, 0.75, 'b-7b')
>>> small, unknown = m.select(max_params=2)
>>> small.arms, unknown
(('a-1b',), [])
"""

from __future__ import annotations

import logging
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from octoroute.evaluation.sizes import model_sizes
from octoroute.exceptions import ConfigError, DataError
from octoroute.fileio.records import read_jsonl
from octoroute.types import Attempt

__all__ = [
    "PARAMS_UNIT",
    "OutcomeMatrix",
    "from_attempts",
    "from_eval_arena",
    "from_store",
    "load_outcomes",
    "read_log",
]

log = logging.getLogger(__name__)

FloatArray = np.ndarray[Any, np.dtype[np.float64]]

PARAMS_UNIT = "params_b"
"""The cost unit of published matrices: billions of parameters per problem (compute ∝ params)."""

_STORE_SUFFIXES = (".db", ".sqlite", ".sqlite3")


@dataclass(frozen=True, eq=False)
class OutcomeMatrix:
    """Pass probabilities and costs of ``arms`` on ``problem_ids``.

    ``rewards[i, j]`` is arm ``j``'s probability of passing problem ``i`` (NaN: no outcome),
    ``cost[i, j]`` its compute on that problem in ``cost_unit`` (NaN: unknown), ``sizes`` each
    arm's parameters in billions (None: unknown). ``dropped_problems`` lists the problems a
    :meth:`select` left out because a selected model had no outcome on them.
    """

    problem_ids: tuple[str, ...]
    arms: tuple[str, ...]
    rewards: FloatArray
    cost: FloatArray
    cost_unit: str
    sizes: Mapping[str, float | None]
    source: str = ""
    dropped_problems: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        shape = (len(self.problem_ids), len(self.arms))
        for name in ("rewards", "cost"):
            value = np.asarray(getattr(self, name), dtype=np.float64)
            if value.shape != shape:
                raise ValueError(f"{name} must have shape {shape}, got {value.shape}")
            object.__setattr__(self, name, value)
        known = self.rewards[~np.isnan(self.rewards)]
        if np.any((known < 0.0) | (known > 1.0)):
            raise ValueError("rewards are pass probabilities, in [0, 1]")
        if len(set(self.arms)) != len(self.arms):
            raise ValueError("arm names must be unique")
        if len(set(self.problem_ids)) != len(self.problem_ids):
            raise ValueError("problem ids must be unique")

    # -- summaries ----------------------------------------------------------------------------

    @property
    def complete(self) -> bool:
        """True when every cell has an outcome (what replay needs)."""
        return not bool(np.isnan(self.rewards).any())

    def per_arm_mean(self) -> dict[str, float]:
        """Each arm's pass@1 over the problems (NaN cells ignored)."""
        means = np.nanmean(self.rewards, axis=0)
        return {a: float(v) for a, v in zip(self.arms, means, strict=True)}

    def arm_cost(self) -> FloatArray:
        """Each arm's mean cost over the problems (NaN when unknown)."""
        return np.asarray(self.cost.mean(axis=0), dtype=np.float64)

    def oracle(self) -> float:
        """Mean over problems of the best arm's pass probability: what no router can beat."""
        return float(np.nanmax(self.rewards, axis=1).mean())

    def unknown_cost(self) -> list[str]:
        """The arms whose cost is unknown on some problem."""
        return [a for j, a in enumerate(self.arms) if np.isnan(self.cost[:, j]).any()]

    def size_order(self) -> list[str]:
        """The arms from smallest to largest: by parameters, then by mean cost (one model's
        arms with a longer prompt are the larger: the instruct style over the completion one);
        by mean cost alone when some size is unknown. ConfigError when neither is known."""
        sizes = [self.sizes.get(a) for a in self.arms]
        cost = self.arm_cost()
        known = all(s is not None for s in sizes)
        if not known and np.isnan(cost).all():
            raise ConfigError(f"{self.source}: neither sizes nor costs are known for any arm")

        def key(j: int) -> tuple[float, float]:
            size = float(sizes[j] or 0.0) if known else 0.0
            return (size, float(cost[j]) if np.isfinite(cost[j]) else -np.inf)

        return [self.arms[j] for j in sorted(range(len(self.arms)), key=key)]

    def largest_arm(self) -> str:
        """The last arm of :meth:`size_order`."""
        return self.size_order()[-1]

    # -- slicing ------------------------------------------------------------------------------

    def column(self, model: str) -> tuple[FloatArray, FloatArray]:
        """``model``'s rewards and costs on every problem (for a reference outside the pool)."""
        if model not in self.arms:
            raise ConfigError(f"{self.source}: no model {model!r}; known: {', '.join(self.arms)}")
        j = self.arms.index(model)
        rewards = self.rewards[:, j]
        if np.isnan(rewards).any():
            missing = [p for p, r in zip(self.problem_ids, rewards, strict=True) if np.isnan(r)]
            raise ConfigError(
                f"{self.source}: {model} has no outcome on {len(missing)} problem(s): "
                + ", ".join(missing[:5])
            )
        return rewards.copy(), self.cost[:, j].copy()

    def restrict(self, problem_ids: Sequence[str]) -> OutcomeMatrix:
        """The same arms on ``problem_ids`` only, in that order."""
        index = {p: i for i, p in enumerate(self.problem_ids)}
        missing = [p for p in problem_ids if p not in index]
        if missing:
            raise ConfigError(f"{self.source}: no outcomes for problem(s) {', '.join(missing[:5])}")
        rows = [index[p] for p in problem_ids]
        return replace(
            self,
            problem_ids=tuple(problem_ids),
            rewards=self.rewards[rows],
            cost=self.cost[rows],
        )

    def select(
        self,
        models: str | Sequence[str] | None = None,
        max_params: float | None = None,
        sizes: Mapping[str, float] | None = None,
    ) -> tuple[OutcomeMatrix, list[str]]:
        """Restrict the pool; return the new matrix and the models excluded for unknown size.

        ``models`` is a list of exact names or, as a string, a regular expression searched in
        each name. ``max_params`` keeps the models of at most that many billions of
        parameters; a model of unknown size is then excluded and reported, never guessed.
        ``sizes`` overrides or adds sizes (and, for ``params_b`` costs, the costs).
        Problems that lack a selected model are dropped (see ``dropped_problems``).
        """
        known_sizes = dict(self.sizes)
        if sizes:
            known_sizes.update({a: float(s) for a, s in sizes.items() if a in self.arms})
        keep = list(self.arms) if models is None else self._match(models)
        excluded: list[str] = []
        if max_params is not None:
            excluded = [a for a in keep if known_sizes.get(a) is None]
            keep = [a for a in keep if (s := known_sizes.get(a)) is not None and s <= max_params]
        if not keep:
            raise ConfigError(f"{self.source}: no model left in the pool after the selection")
        cols = [self.arms.index(a) for a in keep]
        rewards = self.rewards[:, cols]
        cost = self.cost[:, cols].copy()
        if self.cost_unit == PARAMS_UNIT:
            for k, a in enumerate(keep):
                size = known_sizes.get(a)
                cost[:, k] = np.nan if size is None else size
        full = np.asarray(~np.isnan(rewards).any(axis=1), dtype=bool)
        full_rows = [bool(v) for v in full]
        dropped = tuple(p for p, ok in zip(self.problem_ids, full_rows, strict=True) if not ok)
        if not full.any():
            raise ConfigError(
                f"{self.source}: no problem has an outcome for every selected model "
                f"({len(keep)} models)"
            )
        if dropped:
            log.info("%s: %d problem(s) lack a selected model, dropped", self.source, len(dropped))
        matrix = replace(
            self,
            problem_ids=tuple(p for p, ok in zip(self.problem_ids, full_rows, strict=True) if ok),
            arms=tuple(keep),
            rewards=rewards[full],
            cost=cost[full],
            sizes={a: known_sizes.get(a) for a in keep},
            dropped_problems=self.dropped_problems + dropped,
        )
        return matrix, excluded

    def _match(self, models: str | Sequence[str]) -> list[str]:
        if isinstance(models, str):
            try:
                pattern = re.compile(models)
            except re.error as exc:
                raise ConfigError(f"models: not a regular expression ({exc}): {models}") from exc
            found = [a for a in self.arms if pattern.search(a)]
            if not found:
                raise ConfigError(f"models: {models!r} matches none of {', '.join(self.arms)}")
            return found
        unknown = [m for m in models if m not in self.arms]
        if unknown:
            raise ConfigError(
                f"models: unknown {', '.join(unknown)}; known: {', '.join(self.arms)}"
            )
        return list(dict.fromkeys(models))


# -- building a matrix --------------------------------------------------------------------------


def _build(
    cells: Mapping[tuple[str, str], tuple[float, float]],
    cost_unit: str,
    sizes: Mapping[str, float | None],
    source: str,
) -> OutcomeMatrix:
    """A matrix from ``{(problem, arm): (reward, cost)}``; absent cells are NaN."""
    problems = sorted({p for p, _ in cells}, key=_natural)
    arms = sorted({a for _, a in cells})
    pi = {p: i for i, p in enumerate(problems)}
    ai = {a: j for j, a in enumerate(arms)}
    rewards = np.full((len(problems), len(arms)), np.nan)
    cost = np.full_like(rewards, np.nan)
    for (p, a), (r, c) in cells.items():
        rewards[pi[p], ai[a]] = r
        cost[pi[p], ai[a]] = c
    return OutcomeMatrix(
        tuple(problems), tuple(arms), rewards, cost, cost_unit, dict(sizes), source
    )


def _natural(problem_id: str) -> tuple[Any, ...]:
    """Sort ``HumanEval/10`` after ``HumanEval/9``."""
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", problem_id))


def from_eval_arena(path: str | Path, sizes: Mapping[str, float] | None = None) -> OutcomeMatrix:
    """A published eval-arena matrix; costs are the models' sizes (unit ``params_b``)."""
    from octoroute.store import read_eval_arena

    rows = read_eval_arena(path)
    known = model_sizes({r.model for r in rows}, sizes)
    cells = {}
    for r in rows:
        size = known[r.model]
        cells[(r.problem_id, r.model)] = (r.pass1, math.nan if size is None else size)
    return _build(cells, PARAMS_UNIT, known, str(path))


def from_attempts(
    attempts: Iterable[Attempt],
    source: str,
    *,
    run: str | None = None,
    benchmark: str | None = None,
    sizes: Mapping[str, float] | None = None,
) -> OutcomeMatrix:
    """Aggregate octoroute attempts (of one run and one benchmark) into a matrix.

    Each cell is the mean over the judged fresh attempts (``attempt_number == 1``) of the
    reward (1.0 when every hidden test passed; a fraction for imported aggregates) and of the
    cost. Attempts that ended in an arm error were never judged and are left out.
    """
    kept: list[Attempt] = []
    unjudged = 0
    for a in attempts:
        if (run is not None and a.run_id != run) or (
            benchmark is not None and a.benchmark != benchmark
        ):
            continue
        if a.attempt_number != 1:
            continue
        if not a.judged:
            unjudged += 1
            continue
        kept.append(a)
    if unjudged:
        log.info("%s: %d attempt(s) without a verdict (arm errors) left out", source, unjudged)
    if not kept:
        raise DataError(source, "no judged attempt" + _scope(run, benchmark))
    for what, values in (
        ("benchmarks", {a.benchmark for a in kept}),
        ("runs", {a.run_id for a in kept}),
    ):
        if len(values) > 1:
            option = "benchmark" if what == "benchmarks" else "run"
            raise ConfigError(
                f"{source}: attempts of several {what} ({', '.join(sorted(values))}); "
                f"choose one with --{option}"
            )
    units = {a.cost_unit for a in kept}
    if len(units) > 1:
        raise DataError(source, f"attempts mix cost units {sorted(units)}", field="cost_unit")
    (unit,) = units
    groups: dict[tuple[str, str], list[Attempt]] = defaultdict(list)
    for a in kept:
        groups[(a.problem_id, a.arm)].append(a)
    known = model_sizes({a.arm for a in kept}, sizes)
    if unit == "flops":
        known = {
            arm: s if s is not None else _size_from_flops(arm, kept) for arm, s in known.items()
        }
    by_size = unit == "none"  # imported outcomes: no compute was measured
    cells = {}
    for (problem, arm), group in groups.items():
        reward = float(
            np.mean([a.reward if a.reward is not None else float(bool(a.passed)) for a in group])
        )
        size = known[arm]
        if by_size:
            cost = math.nan if size is None else size
        else:
            cost = float(np.mean([a.cost for a in group]))
        cells[(problem, arm)] = (reward, cost)
    return _build(cells, PARAMS_UNIT if by_size else unit, known, source)


def _size_from_flops(arm: str, attempts: Sequence[Attempt]) -> float | None:
    """Parameters implied by ``flops = 2 x params x tokens`` (for arms of no size in the name)."""
    ratios = [a.cost / (2.0 * a.tokens) for a in attempts if a.arm == arm and a.tokens > 0]
    return round(float(np.median(ratios)) / 1e9, 3) if ratios else None


def _scope(run: str | None, benchmark: str | None) -> str:
    parts = [f"run {run}" if run else "", f"benchmark {benchmark}" if benchmark else ""]
    scope = " and ".join(p for p in parts if p)
    return f" in {scope}" if scope else ""


def from_store(
    path: str | Path,
    *,
    run: str | None = None,
    benchmark: str | None = None,
    sizes: Mapping[str, float] | None = None,
) -> OutcomeMatrix:
    """The attempts of an octoroute outcome log (one run and benchmark) as a matrix."""
    from octoroute.store import open_store

    with open_store(path, readonly=True) as store:
        attempts = list(store.attempts(run, benchmark=benchmark))
    return from_attempts(attempts, str(path), run=run, benchmark=benchmark, sizes=sizes)


def read_log(path: str | Path) -> list[Attempt]:
    """Every attempt of an octoroute log: an outcome log (``.db``) or an attempts export."""
    path = Path(path)
    if path.suffix.lower() in _STORE_SUFFIXES:
        from octoroute.store import open_store

        with open_store(path, readonly=True) as store:
            return list(store.attempts())
    from octoroute.store import read_attempts_jsonl

    return read_attempts_jsonl(path)


def load_outcomes(
    path: str | Path,
    *,
    run: str | None = None,
    benchmark: str | None = None,
    sizes: Mapping[str, float] | None = None,
) -> OutcomeMatrix:
    """Load an outcome matrix from an eval-arena file, an outcome log or an attempts export.

    The kind of a ``.jsonl`` file is told by its first line: ``example_id`` and ``pass1`` for
    eval-arena, ``run_id`` and ``arm`` for an attempts export. ``run`` and ``benchmark`` select
    within octoroute's own attempts; ``sizes`` adds to the shipped model sizes.
    """
    path = Path(path)
    if path.suffix.lower() in _STORE_SUFFIXES:
        return from_store(path, run=run, benchmark=benchmark, sizes=sizes)
    if not path.name.removesuffix(".gz").endswith(".jsonl"):
        raise DataError(
            path, "unknown outcome file type: expected .jsonl(.gz), .db, .sqlite or .sqlite3"
        )
    first = next(iter(read_jsonl(path)), None)
    if first is None:
        raise DataError(path, "no rows: an outcome file needs at least one")
    if "example_id" in first.data and "pass1" in first.data:
        if run is not None or benchmark is not None:
            raise ConfigError(f"{path}: --run and --benchmark select in octoroute logs only")
        return from_eval_arena(path, sizes)
    if "run_id" in first.data and "arm" in first.data:
        from octoroute.store import read_attempts_jsonl

        attempts = read_attempts_jsonl(path)
        return from_attempts(attempts, str(path), run=run, benchmark=benchmark, sizes=sizes)
    raise first.error(
        "neither an eval-arena row (example_id, pass1) nor an attempt (run_id, arm)",
        "example_id",
    )
