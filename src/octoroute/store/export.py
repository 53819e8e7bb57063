"""Export attempts for pandas users: JSONL (always) and Parquet (the ``parquet`` extra).

Each exported record has the fields of :class:`~octoroute.types.Attempt`; ``error`` is the
arm error kind (or null) and ``tests`` the per-test verdicts
(``{"index", "tier", "outcome", "detail", "cpu"}``, null when not judged). In Parquet, whose
users want flat columns, ``sampling`` and ``tests`` are JSON text and ``flags`` and
``isolation`` lists of strings. A *slim* JSONL export (for a small log to commit or share)
adds ``test_counts``, the number of tests of each outcome per tier
(``{"base": {"pass": 3, "wrong_answer": 1}}``), and keeps in ``tests`` the verdicts on the
*visible* tests only (details cut to :data:`SLIM_DETAIL` characters); read back, such an
attempt keeps its pass rates, its reward and what inference may see of it (enough to replay
episodes on it), but not its hidden verdicts. Files are written to a temporary name and
renamed when complete, so a failed export never leaves half a file.

>>> from octoroute.types import Attempt
>>> record = attempt_to_dict(Attempt(run_id="r", benchmark="b", problem_id="p", arm="a"))
>>> attempt_from_dict(record) == Attempt(run_id="r", benchmark="b", problem_id="p", arm="a")
True
"""

from __future__ import annotations

import dataclasses
import gzip
import importlib
import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from octoroute.exceptions import ConfigError, MissingDependencyError, StoreError
from octoroute.fileio.records import read_jsonl
from octoroute.store.sqlite import IMPORTED_CONFIG, Store, verdicts_from_json, verdicts_to_json
from octoroute.types import ArmErrorKind, Attempt, Tier

__all__ = [
    "FORMATS",
    "attempt_from_dict",
    "attempt_to_dict",
    "export_attempts",
    "export_jsonl",
    "export_parquet",
    "read_attempts_jsonl",
    "slim_dict",
]

FORMATS = ("jsonl", "parquet")
"""The formats :func:`export_attempts` writes."""

_FIELDS = tuple(f.name for f in dataclasses.fields(Attempt))
_BATCH = 5000


def attempt_to_dict(a: Attempt) -> dict[str, Any]:
    """An attempt as JSON data (the fields of :class:`~octoroute.types.Attempt`)."""
    out = {name: getattr(a, name) for name in _FIELDS}
    out["sampling"] = dict(a.sampling)
    out["error"] = None if a.error is None else a.error.value
    out["tests"] = None if a.tests is None else verdicts_to_json(a.tests)
    out["flags"] = list(a.flags)
    out["isolation"] = list(a.isolation)
    return out


def attempt_from_dict(data: Mapping[str, Any]) -> Attempt:
    """The inverse of :func:`attempt_to_dict`; unknown keys are ignored. Raises ValueError."""
    values = {name: data[name] for name in _FIELDS if name in data}
    try:
        if values.get("error") is not None:
            values["error"] = ArmErrorKind(values["error"])
        if values.get("tests") is not None:
            values["tests"] = verdicts_from_json(values["tests"])
        for name in ("flags", "isolation"):
            if name in values:
                values[name] = tuple(values[name])
        return Attempt(**values)
    except TypeError as exc:  # a missing required field
        raise ValueError(str(exc)) from exc


@contextmanager
def _atomic_path(out: Path) -> Iterator[Path]:
    """A temporary path beside ``out``, renamed to ``out`` if the block succeeds."""
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        yield tmp
        os.replace(tmp, out)
    except OSError as exc:
        raise StoreError(f"{out}: cannot write the export: {exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)


def _open_text(path: Path, gz: bool) -> IO[str]:
    if gz:
        return gzip.open(path, "wt", encoding="utf-8")
    return path.open("w", encoding="utf-8")


SLIM_DETAIL = 300
"""Characters kept of a visible verdict's detail (a traceback's last lines) in a slim export."""


def slim_dict(a: Attempt) -> dict[str, Any]:
    """:func:`attempt_to_dict` with counts per tier and outcome, and visible verdicts only.

    >>> from octoroute.types import Outcome, Tier, TestVerdict
    >>> tests = (TestVerdict(0, Tier.BASE, Outcome.PASS), TestVerdict(1, Tier.BASE, Outcome.PASS))
    >>> slim_dict(Attempt(run_id="r", benchmark="b", problem_id="p", arm="a", tests=tests))[
    ...     "test_counts"]
    {'base': {'pass': 2}}
    """
    out = attempt_to_dict(a)
    if a.tests is not None:
        visible = tuple(dataclasses.replace(t, detail=t.detail[-SLIM_DETAIL:])
                        for t in a.tests if t.tier is Tier.VISIBLE)  # fmt: skip
        out["tests"] = verdicts_to_json(visible)
    counts: dict[str, dict[str, int]] = {}
    for t in a.tests or ():
        tier = counts.setdefault(t.tier.value, {})
        tier[t.outcome.value] = tier.get(t.outcome.value, 0) + 1
    out["test_counts"] = counts if a.tests is not None else None
    return out


def export_jsonl(
    store: Store,
    out: str | Path,
    *,
    run: str | None = None,
    benchmark: str | None = None,
    slim: bool = False,
    transform: Callable[[Attempt], Attempt] | None = None,
) -> int:
    """Write the attempts (of one run and/or benchmark) to ``out``, one JSON object a line.

    A name ending in ``.gz`` is gzip-compressed; ``slim`` writes :func:`slim_dict` records;
    ``transform`` changes each attempt before it is written (a redaction). Returns the number
    of attempts written.
    """
    to_dict = slim_dict if slim else attempt_to_dict
    attempts = store.attempts(run, benchmark=benchmark)
    if transform is not None:
        attempts = (transform(a) for a in attempts)
    return write_records((to_dict(a) for a in attempts), out)


def write_records(records: Iterable[Mapping[str, Any]], out: str | Path) -> int:
    """Write JSON records to ``out`` atomically (gzip for a ``.gz`` name); how many."""
    out = Path(out)
    n = 0
    with _atomic_path(out) as tmp, _open_text(tmp, out.name.endswith(".gz")) as fh:
        for record in records:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
            n += 1
    return n


@dataclasses.dataclass(frozen=True, slots=True)
class AttemptImport:
    """What :func:`import_attempts` did."""

    added: int
    present: int
    runs: tuple[str, ...]


def import_attempts(
    store: Store, attempts: Iterable[Attempt], rename: Mapping[str, str] | None = None
) -> AttemptImport:
    """Log exported attempts in ``store``, as they were: runs, keys, parents, verdicts.

    Ids are the store's own, so each parent link (and a repair's sample index, which is its
    parent's id) is mapped to the new id of the parent, logged first. ``rename`` maps arm
    names of the export to arms of the store, which must be registered already. A run new to
    the store is created as imported (see :meth:`Store.add_run`); problems are registered by
    id. Idempotent: attempts whose key is present are left as they are.
    """
    rename = dict(rename or {})
    ordered = sorted(attempts, key=lambda a: (a.id is None, a.id or 0))
    runs = sorted({a.run_id for a in ordered})
    known = {r.id for r in store.runs()}
    for run in runs:
        if run not in known:  # a run the store has keeps its config
            store.add_run(run, config=IMPORTED_CONFIG, command="import attempts")
    for bench in sorted({a.benchmark for a in ordered}):
        store.add_problem_ids(
            bench, sorted({a.problem_id for a in ordered if a.benchmark == bench})
        )
    new_id: dict[int, int] = {}
    added = present = 0
    for a in ordered:
        old_id, parent = a.id, a.parent_attempt_id
        if parent is not None:
            if parent not in new_id:
                raise StoreError(f"attempt {old_id}: its parent {parent} is not in the export")
            sample = new_id[parent] if a.sample_index == parent else a.sample_index
            a = dataclasses.replace(a, parent_attempt_id=new_id[parent], sample_index=sample)
        a = dataclasses.replace(a, arm=rename.get(a.arm, a.arm), id=None)
        if store.record_attempt(a):
            added += 1
        else:
            present += 1
        logged = store.attempt_id(a.run_id, a.key)
        if old_id is not None and logged is not None:
            new_id[old_id] = logged
    return AttemptImport(added, present, tuple(runs))


def read_attempts_jsonl(path: str | Path) -> list[Attempt]:
    """Read attempts written by :func:`export_jsonl`; DataError names a bad line."""
    out = []
    for rec in read_jsonl(path):
        try:
            out.append(attempt_from_dict(rec.data))
        except ValueError as exc:
            raise rec.error(f"not an attempt: {exc}") from exc
    return out


def _pyarrow() -> tuple[Any, Any]:
    try:
        pa = importlib.import_module("pyarrow")
        pq = importlib.import_module("pyarrow.parquet")
    except ImportError as exc:
        raise MissingDependencyError("pyarrow", "parquet") from exc
    return pa, pq


def _parquet_schema(pa: Any) -> Any:
    return pa.schema(
        [
            ("id", pa.int64()),
            ("run_id", pa.string()),
            ("benchmark", pa.string()),
            ("problem_id", pa.string()),
            ("arm", pa.string()),
            ("sample_index", pa.int64()),
            ("attempt_number", pa.int64()),
            ("parent_attempt_id", pa.int64()),
            ("prompt_hash", pa.string()),
            ("sampling", pa.string()),
            ("seed", pa.int64()),
            ("completion", pa.string()),
            ("code", pa.string()),
            ("finish_reason", pa.string()),
            ("prompt_tokens", pa.int64()),
            ("completion_tokens", pa.int64()),
            ("latency", pa.float64()),
            ("cost", pa.float64()),
            ("cost_unit", pa.string()),
            ("error", pa.string()),
            ("error_detail", pa.string()),
            ("tests", pa.string()),
            ("pass_visible", pa.float64()),
            ("pass_base", pa.float64()),
            ("pass_plus", pa.float64()),
            ("passed", pa.bool_()),
            ("reward", pa.float64()),
            ("flags", pa.list_(pa.string())),
            ("isolation", pa.list_(pa.string())),
            ("exec_time", pa.float64()),
            ("started_at", pa.float64()),
            ("finished_at", pa.float64()),
        ]
    )


def _flat(a: Attempt) -> dict[str, Any]:
    row = attempt_to_dict(a)
    row["sampling"] = json.dumps(row["sampling"], sort_keys=True)
    row["tests"] = None if row["tests"] is None else json.dumps(row["tests"])
    return row


def _batches(items: Iterable[Attempt], size: int) -> Iterator[list[Attempt]]:
    batch: list[Attempt] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def export_parquet(
    store: Store, out: str | Path, *, run: str | None = None, benchmark: str | None = None
) -> int:
    """Write the attempts (of one run and/or benchmark) to a Parquet file; return how many.

    Needs pyarrow: raises :class:`~octoroute.exceptions.MissingDependencyError` naming the
    ``parquet`` extra when it is absent.
    """
    pa, pq = _pyarrow()
    schema = _parquet_schema(pa)
    out = Path(out)
    n = 0
    with _atomic_path(out) as tmp:
        writer = pq.ParquetWriter(str(tmp), schema)
        try:
            for batch in _batches(store.attempts(run, benchmark=benchmark), _BATCH):
                table = pa.Table.from_pylist([_flat(a) for a in batch], schema=schema)
                writer.write_table(table)
                n += len(batch)
        finally:
            writer.close()
    return n


_EXPORTERS: dict[str, Callable[..., int]] = {"jsonl": export_jsonl, "parquet": export_parquet}


def export_attempts(
    store: Store,
    out: str | Path,
    fmt: str,
    *,
    run: str | None = None,
    benchmark: str | None = None,
    slim: bool = False,
    transform: Callable[[Attempt], Attempt] | None = None,
) -> int:
    """Export attempts in format ``fmt`` (one of :data:`FORMATS`); return how many were written.

    ``slim`` (JSONL only) writes per-test verdict counts instead of every verdict;
    ``transform`` (JSONL only) changes each attempt before it is written.

    Raises :class:`~octoroute.exceptions.ConfigError` for an unknown format and
    :class:`~octoroute.exceptions.StoreError` for an unknown run.
    """
    if fmt not in _EXPORTERS:
        raise ConfigError(f"unknown export format {fmt!r}: expected one of {', '.join(FORMATS)}")
    if run is not None:
        store.check_run(run)
    if slim and fmt != "jsonl":
        raise ConfigError("a slim export is JSONL only")
    if transform is not None and fmt != "jsonl":
        raise ConfigError("a redacted export is JSONL only")
    if slim or transform is not None:
        return export_jsonl(store, out, run=run, benchmark=benchmark, slim=slim,
                            transform=transform)  # fmt: skip
    return _EXPORTERS[fmt](store, out, run=run, benchmark=benchmark)
