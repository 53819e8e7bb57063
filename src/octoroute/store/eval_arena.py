"""Import published per-problem outcome matrices (crux-eval/eval-arena) as attempts.

An outcome matrix holds one JSON object a line, ``{"benchmark_id", "model", "example_id",
"pass1"}``: whether the model's greedy sample passed the problem's tests (``pass1`` may be a
fraction, a pass@1 estimated over several samples). Each model becomes an arm (backend
``"published"``, cost unit ``"none"``) and each row an attempt of the run ``eval-arena/<file>``,
with ``reward = pass1``, ``passed = pass1 == 1`` and ``pass1`` as the pass rate of the tier the
published tests stand for: ``plus`` (EvalPlus's base and plus tests) for a benchmark whose name
ends in ``+``, else ``base``.

Importing is idempotent: a second import of the same file adds nothing, and a file whose rows
disagree with those already imported raises :class:`~octoroute.exceptions.StoreConflict`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from octoroute.exceptions import DataError, StoreConflict
from octoroute.fileio.records import read_jsonl
from octoroute.store.sqlite import Store
from octoroute.types import Attempt, Tier

__all__ = ["ImportResult", "OutcomeRow", "import_eval_arena", "read_eval_arena"]

BACKEND = "published"
COST_UNIT = "none"


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What an import found in the file and how many of its rows were new to the store."""

    run_id: str
    benchmark: str
    models: int
    problems: int
    rows: int
    inserted: int


@dataclass(frozen=True, slots=True)
class OutcomeRow:
    """One row of an outcome matrix and the line it came from."""

    line: int
    model: str
    problem_id: str
    pass1: float


def _run_id(path: Path) -> str:
    stem = path.name.removesuffix(".gz").removesuffix(".jsonl")
    return f"eval-arena/{stem}"


def read_eval_arena(path: str | Path) -> list[OutcomeRow]:
    """Read and check an outcome matrix, one :class:`OutcomeRow` per line.

    Raises :class:`~octoroute.exceptions.DataError` naming the file, the line and the field for
    a missing or mistyped field, a ``pass1`` outside [0, 1], a row repeated for the same model
    and problem, rows of several benchmarks, or a file without rows.
    """
    path = Path(path)
    if not path.name.removesuffix(".gz").endswith(".jsonl"):
        raise DataError(path, "expected an outcome matrix in .jsonl or .jsonl.gz")
    rows: list[OutcomeRow] = []
    first_line: dict[tuple[str, str], int] = {}
    benchmark_id: str | None = None
    for rec in read_jsonl(path):
        model = rec.get("model", str)
        example = rec.get("example_id", str)
        pass1 = rec.get("pass1", float)
        row_benchmark = rec.get_optional("benchmark_id", str, None)
        if not model.strip():
            raise rec.error("empty model name", "model")
        if not example.strip():
            raise rec.error("empty problem id", "example_id")
        if not (math.isfinite(pass1) and 0.0 <= pass1 <= 1.0):
            raise rec.error(f"expected a pass rate in [0, 1], found {pass1}", "pass1")
        if row_benchmark is not None:
            if benchmark_id is None:
                benchmark_id = row_benchmark
            elif row_benchmark != benchmark_id:
                raise rec.error(
                    f"one benchmark per file: found {row_benchmark!r} after {benchmark_id!r}",
                    "benchmark_id",
                )
        seen = first_line.setdefault((model, example), rec.line)
        if seen != rec.line:
            raise rec.error(
                f"a second row for model {model!r} on this problem (first on line {seen})",
                "example_id",
            )
        rows.append(OutcomeRow(rec.line, model, example, pass1))
    if not rows:
        raise DataError(path, "no rows: an outcome matrix needs at least one")
    return rows


def import_eval_arena(
    store: Store,
    path: str | Path,
    benchmark: str,
    *,
    tier: Tier | None = None,
    rows: Sequence[OutcomeRow] | None = None,
) -> ImportResult:
    """Load a published outcome matrix into ``store`` as the run ``eval-arena/<file name>``.

    ``benchmark`` is the name the problems go under (``humaneval+``, ``mbpp+``), so that the
    published outcomes line up with octoroute's own attempts on the same problem ids. ``tier``
    is the tier ``pass1`` stands for (default: ``plus`` for a name ending in ``+``, else
    ``base``). ``rows`` are the file's rows if already read (:func:`read_eval_arena`), so that
    a caller can check the file before it opens, or creates, the store.
    """
    path = Path(path)
    rows = read_eval_arena(path) if rows is None else rows
    tier = tier or (Tier.PLUS if benchmark.endswith("+") else Tier.BASE)
    if tier is Tier.VISIBLE:
        raise DataError(path, "published outcomes are graded on hidden tests, not visible ones")
    run_id = _run_id(path)
    models = sorted({r.model for r in rows})
    problems = sorted({r.problem_id for r in rows})

    store.add_run(run_id, config={"source": "eval-arena", "file": path.name}, command="import")
    for model in models:
        store.add_arm(model, backend=BACKEND, model=model, cost_unit=COST_UNIT)
    store.add_problem_ids(benchmark, problems)

    stored = {
        (arm, pid): reward
        for arm, pid, reward in store._read(
            "SELECT arm, problem_id, reward FROM attempts WHERE run_id = ? AND benchmark = ? "
            "AND sample_index = 0 AND attempt_number = 1",
            (run_id, benchmark),
        )
    }
    for r in rows:
        before = stored.get((r.model, r.problem_id))
        if before is not None and before != r.pass1:
            raise StoreConflict(
                f"{path}, line {r.line}: {r.model} on {r.problem_id} has pass1 {r.pass1}, but "
                f"{before} was imported into run {run_id!r} before; import a changed file "
                "into a new store"
            )
    attempts = [
        Attempt(
            run_id=run_id,
            benchmark=benchmark,
            problem_id=r.problem_id,
            arm=r.model,
            cost_unit=COST_UNIT,
            pass_base=r.pass1 if tier is Tier.BASE else None,
            pass_plus=r.pass1 if tier is Tier.PLUS else None,
            passed=r.pass1 == 1.0,
            reward=r.pass1,
        )
        for r in rows
    ]
    inserted = store.record_attempts(attempts)
    return ImportResult(
        run_id=run_id,
        benchmark=benchmark,
        models=len(models),
        problems=len(problems),
        rows=len(rows),
        inserted=inserted,
    )
