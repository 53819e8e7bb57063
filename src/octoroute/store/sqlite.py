"""The outcome log: one SQLite file in WAL mode, written one short transaction at a time.

Durability: every write is its own transaction, committed before the call returns, so a process
killed with SIGKILL loses at most the write in flight and never leaves a partial row or a damaged
file (SQLite's journal rolls an interrupted transaction back on the next open). The store runs
with ``synchronous=NORMAL``, which in WAL mode survives any crash of the process; only a power
failure can lose the last commits, and even then the file stays consistent.

Idempotence: attempts are unique on ``(run_id, benchmark, problem_id, arm, sample_index,
attempt_number)``; :meth:`Store.record_attempt` inserts with ``ON CONFLICT DO NOTHING`` and says
whether the row was new, so a resumed run can simply skip the keys of :meth:`Store.done_keys`.

Threads: a :class:`Store` holds one connection shared by every thread and serialises its use with
a lock. SQLite admits one writer at a time anyway and each write takes well under a millisecond,
so a lock costs nothing next to generation and execution. Several *processes* may open the same
file: WAL lets readers run beside the writer and a busy writer is waited for (``timeout``). A
writer claims its run (:meth:`Store.claim_run`, see :mod:`octoroute.store.runlock`): one writer
per run, any number of runs written side by side.

Readers: ``open_store(path, readonly=True)`` opens an existing log through SQLite's read-only
mode, so the file is never created, migrated or written; it checks that the file is an
octoroute store and runs ``PRAGMA quick_check`` first, so a damaged file is refused at once
rather than half read. (Reading a WAL file that no writer has open, SQLite may leave its
``-wal`` and ``-shm`` side files beside it, as its own shell does; the next writer removes them.)

>>> from octoroute.types import Problem, Attempt
>>> store = open_store(":memory:")
>>> store.add_run("demo", config={"benchmark": "toy"})
True
>>> store.add_arm("tiny", backend="llamacpp", model="tiny-135m", cost_unit="flops")
True
>>> store.add_problems([Problem("P/1", "toy", "def f():", "f", "", ())])
1
>>> a = Attempt(run_id="demo", benchmark="toy", problem_id="P/1", arm="tiny", passed=True)
>>> store.record_attempt(a), store.record_attempt(a)
(True, False)
>>> store.done_keys("demo") == {a.key}
True
>>> store.close()
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from octoroute.exceptions import SchemaError, StoreConflict, StoreError
from octoroute.store import schema
from octoroute.store.records import ArmRecord, DecisionRecord, Feedback, RunRecord
from octoroute.store.runlock import PROCESS_LOCKS, FileKey
from octoroute.types import (
    ArmErrorKind,
    Attempt,
    AttemptKey,
    Outcome,
    Problem,
    TestVerdict,
    Tier,
)

__all__ = ["APPLICATION_ID", "Store", "hash_text", "open_store"]

log = logging.getLogger(__name__)

APPLICATION_ID = 0x4F435452
"""Written in the SQLite header (``PRAGMA application_id``): "OCTR", marks an octoroute store."""

_VERSION_KEY = "schema_version"

_ATTEMPT_COLUMNS = (
    "run_id",
    "benchmark",
    "problem_id",
    "arm",
    "sample_index",
    "attempt_number",
    "parent_attempt_id",
    "prompt_hash",
    "sampling",
    "seed",
    "completion",
    "code",
    "finish_reason",
    "prompt_tokens",
    "completion_tokens",
    "latency",
    "cost",
    "cost_unit",
    "arm_error",
    "arm_error_detail",
    "verdicts",
    "pass_visible",
    "pass_base",
    "pass_plus",
    "passed",
    "reward",
    "flags",
    "isolation",
    "exec_time",
    "started_at",
    "finished_at",
)
_KEY_COLUMNS = "run_id, benchmark, problem_id, arm, sample_index, attempt_number"
_INSERT_ATTEMPT = (
    f"INSERT INTO attempts ({', '.join(_ATTEMPT_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(_ATTEMPT_COLUMNS))}) "
    f"ON CONFLICT ({_KEY_COLUMNS}) DO NOTHING"
)
_SELECT_ATTEMPT = f"SELECT id, {', '.join(_ATTEMPT_COLUMNS)} FROM attempts"
_KEY_WHERE = (
    "run_id = ? AND benchmark = ? AND problem_id = ? AND arm = ? AND sample_index = ? "
    "AND attempt_number = ?"
)

_DECISION_COLUMNS = (
    "run_id",
    "benchmark",
    "problem_id",
    "step",
    "policy",
    "features_hash",
    "scores",
    "propensities",
    "chosen_arm",
    "attempt_id",
    "created",
)
_INSERT_DECISION = (
    f"INSERT INTO decisions ({', '.join(_DECISION_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(_DECISION_COLUMNS))}) "
    # A decision logged before its attempt existed (a streamed answer) is linked to it when the
    # attempt comes; a decision already linked is never changed.
    "ON CONFLICT (run_id, benchmark, problem_id, policy, step) DO UPDATE "
    "SET attempt_id = excluded.attempt_id "
    "WHERE decisions.attempt_id IS NULL AND excluded.attempt_id IS NOT NULL"
)


IMPORTED_CONFIG: dict[str, Any] = {"kind": "imported"}
"""The config of a run created by an import, which the first writing command replaces."""
IMPORTED_RUN = json.dumps(IMPORTED_CONFIG, sort_keys=True, separators=(",", ":"))
""":data:`IMPORTED_CONFIG` as the runs table stores it."""


def hash_text(text: str) -> str:
    """The SHA-256 of ``text`` (UTF-8), as hex: how prompts are identified in the log.

    >>> hash_text("")[:12]
    'e3b0c44298fc'
    """
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _dumps(value: Any, what: str) -> str:
    if not value and isinstance(value, dict | list):
        return "{}" if isinstance(value, dict) else "[]"  # most rows: skip the encoder
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise StoreError(f"{what} is not JSON data: {exc}") from exc


def _loads(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise StoreError(f"corrupt {what} in the store: {exc}") from exc


def verdicts_to_json(tests: Sequence[TestVerdict]) -> list[dict[str, Any]]:
    """Per-test verdicts as JSON data: ``{"index", "tier", "outcome", "detail", "cpu"}``."""
    return [
        {
            "index": t.index,
            "tier": t.tier.value,
            "outcome": t.outcome.value,
            "detail": t.detail,
            "cpu": t.cpu_time,
        }
        for t in tests
    ]


def verdicts_from_json(items: Any) -> tuple[TestVerdict, ...]:
    """The inverse of :func:`verdicts_to_json`; raises ValueError on anything else."""
    if not isinstance(items, list):
        raise ValueError(f"expected a list of verdicts, found {type(items).__name__}")
    try:
        return tuple(
            TestVerdict(
                index=int(v["index"]),
                tier=Tier(v["tier"]),
                outcome=Outcome(v["outcome"]),
                detail=str(v.get("detail", "")),
                cpu_time=float(v.get("cpu", 0.0)),
            )
            for v in items
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"bad verdict: {exc!r}") from exc


def _bool_to_sql(value: bool | None) -> int | None:
    return None if value is None else int(value)


def _attempt_values(a: Attempt) -> tuple[Any, ...]:
    return (
        a.run_id,
        a.benchmark,
        a.problem_id,
        a.arm,
        a.sample_index,
        a.attempt_number,
        a.parent_attempt_id,
        a.prompt_hash,
        _dumps(dict(a.sampling), "sampling"),
        a.seed,
        a.completion,
        a.code,
        a.finish_reason,
        a.prompt_tokens,
        a.completion_tokens,
        a.latency,
        a.cost,
        a.cost_unit,
        None if a.error is None else a.error.value,
        a.error_detail,
        None if a.tests is None else _dumps(verdicts_to_json(a.tests), "verdicts"),
        a.pass_visible,
        a.pass_base,
        a.pass_plus,
        _bool_to_sql(a.passed),
        a.reward,
        _dumps(list(a.flags), "flags"),
        _dumps(list(a.isolation), "isolation"),
        a.exec_time,
        a.started_at,
        a.finished_at,
    )


def _attempt_from_row(row: Sequence[Any]) -> Attempt:
    r = dict(zip(("id", *_ATTEMPT_COLUMNS), row, strict=True))
    try:
        tests = None if r["verdicts"] is None else verdicts_from_json(json.loads(r["verdicts"]))
        return Attempt(
            id=r["id"],
            run_id=r["run_id"],
            benchmark=r["benchmark"],
            problem_id=r["problem_id"],
            arm=r["arm"],
            sample_index=r["sample_index"],
            attempt_number=r["attempt_number"],
            parent_attempt_id=r["parent_attempt_id"],
            prompt_hash=r["prompt_hash"],
            sampling={} if r["sampling"] == "{}" else json.loads(r["sampling"]),
            seed=r["seed"],
            completion=r["completion"],
            code=r["code"],
            finish_reason=r["finish_reason"],
            prompt_tokens=r["prompt_tokens"],
            completion_tokens=r["completion_tokens"],
            latency=r["latency"],
            cost=r["cost"],
            cost_unit=r["cost_unit"],
            error=None if r["arm_error"] is None else ArmErrorKind(r["arm_error"]),
            error_detail=r["arm_error_detail"],
            tests=tests,
            pass_visible=r["pass_visible"],
            pass_base=r["pass_base"],
            pass_plus=r["pass_plus"],
            passed=None if r["passed"] is None else bool(r["passed"]),
            reward=r["reward"],
            flags=() if r["flags"] == "[]" else tuple(json.loads(r["flags"])),
            isolation=() if r["isolation"] == "[]" else tuple(json.loads(r["isolation"])),
            exec_time=r["exec_time"],
            started_at=r["started_at"],
            finished_at=r["finished_at"],
        )
    # JSONDecodeError and unknown enum values are ValueErrors; a hand-made row may nest deeply.
    except (ValueError, RecursionError) as exc:
        raise StoreError(f"corrupt attempt {r['id']} in the store: {exc}") from exc


def _decision_values(d: DecisionRecord) -> tuple[Any, ...]:
    return (
        d.run_id,
        d.benchmark,
        d.problem_id,
        d.step,
        d.policy,
        d.features_hash,
        _dumps(dict(d.scores), "scores"),
        _dumps(dict(d.propensities), "propensities"),
        d.chosen_arm,
        d.attempt_id,
        d.created or time.time(),
    )


class Store:
    """An open outcome log. Create one with :func:`open_store`; close it (or use ``with``).

    Every method is safe to call from several threads (see the module docstring).
    """

    def __init__(
        self, connection: sqlite3.Connection, path: str, file_key: FileKey | None = None
    ) -> None:
        self._conn = connection
        self._lock = threading.RLock()
        self._file_key = file_key
        self.path = path

    def __repr__(self) -> str:
        return f"Store({self.path!r})"

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection and release the runs claimed. Further calls raise
        :class:`StoreError`."""
        with self._lock:
            self._conn.close()  # before the run locks' descriptor may close (see runlock)
            key, self._file_key = self._file_key, None
            if key is not None:
                PROCESS_LOCKS.detach(key, self)

    def claim_run(self, run_id: str) -> None:
        """Become the only writer of ``run_id`` in this file until the store is closed.

        Every command that writes a run claims it first; claiming twice is a no-op. Raises
        :class:`~octoroute.exceptions.RunBusy` while another process (or another store of this
        process) writes the run. A process that ends, however it ends, releases its runs.
        """
        if not run_id:
            raise StoreError("a run needs a non-empty id")
        if self._file_key is not None:  # an in-memory store is private to its connection
            PROCESS_LOCKS.claim(self._file_key, self.path, run_id, self)

    # -- plumbing ---------------------------------------------------------------------------

    @contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        """Translate SQLite's exceptions into StoreErrors that say what was being done."""
        try:
            yield
        except sqlite3.IntegrityError as exc:
            hint = ""
            if "FOREIGN KEY" in str(exc):
                hint = " (register the run, the arm and the problem first)"
            raise StoreError(f"{self.path}: cannot {what}: {exc}{hint}") from exc
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot {what}: {exc}") from exc

    @contextmanager
    def _transaction(self, what: str) -> Iterator[sqlite3.Connection]:
        """One short write transaction: taken with the write lock, committed on success."""
        with self._lock, self._errors(what):
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
                self._conn.execute("COMMIT")
            finally:
                # After an error, or a COMMIT that failed (disk full), never leave it open.
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a read-only query; package-internal (stats and export build their own SQL)."""
        with self._lock, self._errors("read"):
            return [tuple(row) for row in self._conn.execute(sql, params)]

    @property
    def schema_version(self) -> int:
        """The schema version of the file (:data:`SCHEMA_VERSION` once opened for writing; a
        read-only store may be older, down to :data:`~octoroute.store.schema.READABLE_FROM`)."""
        with self._lock, self._errors("read the schema version"):
            return _read_version(self._conn, self.path)

    # -- runs, arms, problems ---------------------------------------------------------------

    def add_run(
        self, run_id: str, *, config: Mapping[str, Any] | None = None, command: str = ""
    ) -> bool:
        """Create the run ``run_id`` if it does not exist; return True if it was created.

        An existing run is resumed only with the same ``config``: a different one raises
        :class:`~octoroute.exceptions.StoreConflict` (outcomes of two configurations must not
        mix under one name). A run imported from an export (config ``{"kind": "imported"}``:
        an export does not carry configurations) takes the config of the first command that
        writes to it, so a collection can go on from its export on a new machine. ``command``
        is informational and may differ.
        """
        if not run_id:
            raise StoreError("a run needs a non-empty id")
        config_json = _dumps(dict(config or {}), f"config of run {run_id!r}")
        with self._transaction(f"add run {run_id!r}") as conn:
            cur = conn.execute(
                "INSERT INTO runs (id, created, command, config) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (id) DO NOTHING",
                (run_id, time.time(), command, config_json),
            )
            if cur.rowcount == 1:
                return True
            (stored,) = conn.execute("SELECT config FROM runs WHERE id = ?", (run_id,)).fetchone()
            if stored == IMPORTED_RUN and config_json != IMPORTED_RUN:
                conn.execute(
                    "UPDATE runs SET config = ?, command = ? WHERE id = ?",
                    (config_json, command, run_id),
                )
                return False
            if stored != config_json:
                raise StoreConflict(
                    f"{self.path}: run {run_id!r} exists with another config "
                    f"(stored {stored}, given {config_json}); choose another run id"
                )
            return False

    def check_run(self, run_id: str) -> None:
        """Raise :class:`StoreError` (listing the runs there are) unless the run exists."""
        known = [r.id for r in self.runs()]
        if run_id not in known:
            raise StoreError(f"{self.path}: no run {run_id!r} (runs: {', '.join(known) or 'none'})")

    def runs(self) -> list[RunRecord]:
        """Every run, oldest first."""
        rows = self._read("SELECT id, created, command, config FROM runs ORDER BY created, id")
        return [RunRecord(r[0], r[1], r[2], _loads(r[3], "run config")) for r in rows]

    def add_arm(
        self,
        name: str,
        *,
        backend: str,
        model: str,
        cost_unit: str,
        params: Mapping[str, Any] | None = None,
    ) -> bool:
        """Register an arm; return True if it is new.

        An arm's name means one backend, model and cost unit for the life of the store; a
        different one raises :class:`~octoroute.exceptions.StoreConflict`. ``params`` (context
        size, threads, ...) are kept from the first registration.
        """
        if not name:
            raise StoreError("an arm needs a non-empty name")
        params_json = _dumps(dict(params or {}), f"params of arm {name!r}")
        with self._transaction(f"add arm {name!r}") as conn:
            cur = conn.execute(
                "INSERT INTO arms (name, backend, model, cost_unit, params) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (name) DO NOTHING",
                (name, backend, model, cost_unit, params_json),
            )
            if cur.rowcount == 1:
                return True
            stored = conn.execute(
                "SELECT backend, model, cost_unit FROM arms WHERE name = ?", (name,)
            ).fetchone()
            if tuple(stored) != (backend, model, cost_unit):
                raise StoreConflict(
                    f"{self.path}: arm {name!r} is registered as backend={stored[0]!r}, "
                    f"model={stored[1]!r}, cost_unit={stored[2]!r}; cannot reuse the name for "
                    f"backend={backend!r}, model={model!r}, cost_unit={cost_unit!r}"
                )
            return False

    def arms(self) -> list[ArmRecord]:
        """Every registered arm, by name."""
        rows = self._read("SELECT name, backend, model, cost_unit, params FROM arms ORDER BY name")
        return [ArmRecord(r[0], r[1], r[2], r[3], _loads(r[4], "arm params")) for r in rows]

    def add_problems(self, problems: Iterable[Problem]) -> int:
        """Register problems (prompt hash, prompt, tiers); return how many were new.

        A problem logged before with another prompt raises
        :class:`~octoroute.exceptions.StoreConflict` (a different release of the benchmark).
        Problems known only from imported outcomes get their prompt filled in.
        """
        rows = [
            (p.benchmark, p.id, hash_text(p.prompt), p.prompt, ",".join(t.value for t in p.tiers))
            for p in problems
        ]
        new = 0
        with self._transaction("add problems") as conn:
            for benchmark, pid, digest, prompt, tiers in rows:
                stored = conn.execute(
                    "SELECT prompt_hash FROM problems WHERE benchmark = ? AND problem_id = ?",
                    (benchmark, pid),
                ).fetchone()
                if stored is None:
                    conn.execute(
                        "INSERT INTO problems (benchmark, problem_id, prompt_hash, prompt, tiers) "
                        "VALUES (?, ?, ?, ?, ?)",
                        (benchmark, pid, digest, prompt, tiers),
                    )
                    new += 1
                elif stored[0] is None:
                    conn.execute(
                        "UPDATE problems SET prompt_hash = ?, prompt = ?, tiers = ? "
                        "WHERE benchmark = ? AND problem_id = ?",
                        (digest, prompt, tiers, benchmark, pid),
                    )
                elif stored[0] != digest:
                    raise StoreConflict(
                        f"{self.path}: problem {pid!r} of {benchmark!r} was logged with another "
                        "prompt (another release of the benchmark?); use a new store"
                    )
        return new

    def add_problem_ids(self, benchmark: str, problem_ids: Iterable[str]) -> int:
        """Register problems known only by id (imported outcomes); return how many were new."""
        keys = [(benchmark, pid) for pid in problem_ids]
        with self._transaction(f"add problems of {benchmark!r}") as conn:
            before = conn.total_changes
            conn.executemany(
                "INSERT INTO problems (benchmark, problem_id) VALUES (?, ?) "
                "ON CONFLICT (benchmark, problem_id) DO NOTHING",
                keys,
            )
            return conn.total_changes - before

    # -- attempts ---------------------------------------------------------------------------

    def record_attempt(self, attempt: Attempt, *, decision: DecisionRecord | None = None) -> bool:
        """Log one attempt; return True if it was new, False if its key was already logged.

        The first write of a key wins; a repeated write changes nothing. The run, the arm and
        the problem must be registered first. A ``decision`` that led to this attempt is logged
        in the same transaction with its ``attempt_id`` set (or, logged before by
        :meth:`record_decision`, linked to it), so no attempt exists without its decision.
        """
        values = _attempt_values(attempt)
        with self._transaction(f"record attempt {tuple(attempt.key)} of {attempt.run_id}") as c:
            cur = c.execute(_INSERT_ATTEMPT, values)
            if cur.rowcount != 1:
                return False
            if decision is not None:
                linked = dataclasses.replace(decision, attempt_id=cur.lastrowid)
                c.execute(_INSERT_DECISION, _decision_values(linked))
            return True

    def record_attempts(self, attempts: Iterable[Attempt]) -> int:
        """Log many attempts in one transaction (an import); return how many were new."""
        values = [_attempt_values(a) for a in attempts]
        with self._transaction("record attempts") as conn:
            before = conn.total_changes
            conn.executemany(_INSERT_ATTEMPT, values)
            return conn.total_changes - before

    def has_attempt(self, run_id: str, key: AttemptKey) -> bool:
        """True if the run holds an attempt with this key."""
        return self.attempt_id(run_id, key) is not None

    def attempt_id(self, run_id: str, key: AttemptKey) -> int | None:
        """The id of the run's attempt with this key (to link a repair to it), or None."""
        rows = self._read(f"SELECT id FROM attempts WHERE {_KEY_WHERE}", (run_id, *key))
        return rows[0][0] if rows else None

    def done_keys(self, run_id: str, *, include_arm_errors: bool = True) -> set[AttemptKey]:
        """The keys the run already holds: what a resumed run skips.

        With ``include_arm_errors=False`` the keys of arm failures are left out; remove those
        rows first with :meth:`delete_arm_errors` to try them again.
        """
        sql = "SELECT benchmark, problem_id, arm, sample_index, attempt_number FROM attempts "
        sql += "WHERE run_id = ?" + ("" if include_arm_errors else " AND arm_error IS NULL")
        return {AttemptKey(*row) for row in self._read(sql, (run_id,))}

    def delete_arm_errors(self, run_id: str, *, arms: Iterable[str] | None = None) -> int:
        """Delete the run's arm-failure attempts (of ``arms``, default all) so they can be redone.

        Attempts that a repair or a decision points at are kept. Returns how many were deleted.
        """
        sql = (
            "DELETE FROM attempts WHERE run_id = ? AND arm_error IS NOT NULL "
            "AND id NOT IN (SELECT parent_attempt_id FROM attempts "
            "WHERE parent_attempt_id IS NOT NULL) "
            "AND id NOT IN (SELECT attempt_id FROM decisions WHERE attempt_id IS NOT NULL)"
        )
        params: list[Any] = [run_id]
        if arms is not None:
            names = list(arms)
            sql += f" AND arm IN ({', '.join('?' * len(names))})"
            params += names
        with self._transaction(f"delete arm errors of {run_id!r}") as conn:
            return conn.execute(sql, params).rowcount

    def get_attempt(self, attempt_id: int) -> Attempt | None:
        """The attempt with this id, or None."""
        rows = self._read(f"{_SELECT_ATTEMPT} WHERE id = ?", (attempt_id,))
        return _attempt_from_row(rows[0]) if rows else None

    def attempts(
        self,
        run: str | None = None,
        *,
        benchmark: str | None = None,
        arm: str | None = None,
        chunk: int = 1000,
    ) -> Iterator[Attempt]:
        """Yield attempts in the order they were logged, optionally of one run, benchmark, arm.

        Rows are read ``chunk`` at a time, so the lock is never held across a ``yield``.
        """
        where, params = _filters(run=run, benchmark=benchmark, arm=arm)
        last = 0
        while True:
            rows = self._read(
                f"{_SELECT_ATTEMPT} WHERE id > ?{where} ORDER BY id LIMIT ?",
                (last, *params, chunk),
            )
            for row in rows:
                yield _attempt_from_row(row)
            if len(rows) < chunk:
                return
            last = rows[-1][0]

    def count_attempts(self, run: str | None = None) -> int:
        """How many attempts the store (or one run) holds."""
        where, params = _filters(run=run)
        return int(self._read(f"SELECT COUNT(*) FROM attempts WHERE 1{where}", params)[0][0])

    # -- decisions --------------------------------------------------------------------------

    def record_decision(self, decision: DecisionRecord) -> bool:
        """Log one decision; return True if new (unique on run, problem, policy and step)."""
        with self._transaction(f"record a decision of {decision.policy!r}") as conn:
            return conn.execute(_INSERT_DECISION, _decision_values(decision)).rowcount == 1

    def decision(
        self, run: str, benchmark: str, problem_id: str, step: int | None = None
    ) -> DecisionRecord | None:
        """The decision at ``step`` about one problem of a run (default: its last), or None."""
        cols = ", ".join(_DECISION_COLUMNS)
        where, params = ("", ()) if step is None else (" AND step = ?", (step,))
        rows = self._read(
            f"SELECT id, {cols} FROM decisions WHERE run_id = ? AND benchmark = ? "
            f"AND problem_id = ?{where} ORDER BY step DESC, id DESC LIMIT 1",
            (run, benchmark, problem_id, *params),
        )
        return _decision(rows[0]) if rows else None

    def record_feedback(self, decision_id: int, reward: float, key: str) -> Feedback:
        """Log a reward reported for decision ``decision_id`` under ``key``, once.

        Returns the stored feedback and whether it is new. The same key again returns the
        first report unchanged (a retried request); a key already used for another decision
        or another reward raises :class:`~octoroute.exceptions.StoreConflict`.
        """
        with self._transaction("record feedback") as conn:
            row = conn.execute(
                "SELECT id, decision_id, reward, created FROM feedback WHERE idempotency_key = ?",
                (key,),
            ).fetchone()
            if row is not None:
                if (int(row[1]), float(row[2])) != (decision_id, float(reward)):
                    raise StoreConflict(
                        f"idempotency key {key!r} was used for decision {row[1]} with reward "
                        f"{row[2]}, not decision {decision_id} with reward {reward}"
                    )
                return Feedback(int(row[0]), decision_id, float(row[2]), key, float(row[3]), False)
            created = time.time()
            cursor = conn.execute(
                "INSERT INTO feedback (decision_id, reward, idempotency_key, created) "
                "VALUES (?, ?, ?, ?)",
                (decision_id, float(reward), key, created),
            )
            assert cursor.lastrowid is not None
            return Feedback(cursor.lastrowid, decision_id, float(reward), key, created)

    def feedback(self, decision_id: int | None = None) -> list[Feedback]:
        """The feedback logged (for one decision), in the order it came."""
        if self.schema_version < 2:  # a read-only store from before feedback: none
            return []
        where, params = (
            ("", ()) if decision_id is None else (" WHERE decision_id = ?", (decision_id,))
        )
        rows = self._read(
            "SELECT id, decision_id, reward, idempotency_key, created "
            f"FROM feedback{where} ORDER BY id",
            params,
        )
        return [Feedback(int(r[0]), int(r[1]), float(r[2]), str(r[3]), float(r[4])) for r in rows]

    def prompt(self, benchmark: str, problem_id: str) -> str | None:
        """The prompt logged for a problem, or None (unknown, or known only from imports)."""
        rows = self._read(
            "SELECT prompt FROM problems WHERE benchmark = ? AND problem_id = ?",
            (benchmark, problem_id),
        )
        return None if not rows or rows[0][0] is None else str(rows[0][0])

    def decisions(self, run: str | None = None) -> list[DecisionRecord]:
        """The decisions logged (of one run), in the order they were logged."""
        where, params = _filters(run=run)
        cols = ", ".join(_DECISION_COLUMNS)
        rows = self._read(f"SELECT id, {cols} FROM decisions WHERE 1{where} ORDER BY id", params)
        return [_decision(row) for row in rows]


def _decision(row: Sequence[Any]) -> DecisionRecord:
    r = dict(zip(("id", *_DECISION_COLUMNS), row, strict=True))
    r["scores"] = _loads(r["scores"], "decision scores")
    r["propensities"] = _loads(r["propensities"], "decision propensities")
    return DecisionRecord(**r)


def _filters(**values: str | None) -> tuple[str, list[Any]]:
    """`` AND col = ?`` clauses for the filters that are set (column names are ours)."""
    columns = {"run": "run_id", "benchmark": "benchmark", "arm": "arm"}
    where = ""
    params: list[Any] = []
    for name, value in values.items():
        if value is not None:
            where += f" AND {columns[name]} = ?"
            params.append(value)
    return where, params


def _read_version(conn: sqlite3.Connection, path: str) -> int:
    has_meta = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
    ).fetchone()
    if not has_meta:
        return 0
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (_VERSION_KEY,)).fetchone()
    try:
        return int(row[0])
    except (TypeError, ValueError) as exc:
        raise SchemaError(f"{path}: the meta table holds no valid schema_version") from exc


def _check_version(version: int, path: str) -> None:
    if version > schema.SCHEMA_VERSION:
        raise SchemaError(
            f"{path}: the store has schema version {version}, newer than the version this "
            f"octoroute knows ({schema.SCHEMA_VERSION}); upgrade octoroute to open it"
        )


def _migrate(conn: sqlite3.Connection, path: str) -> None:
    """Apply the migrations the file lacks, all in one transaction."""
    version = _read_version(conn, path)
    _check_version(version, path)
    migrations = schema.MIGRATIONS
    if version == len(migrations):
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = _read_version(conn, path)  # another process may have migrated meanwhile
        _check_version(version, path)
        if version == 0:
            (app_id,) = conn.execute("PRAGMA application_id").fetchone()
            tables = conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            ).fetchall()
            if tables or app_id not in (0, APPLICATION_ID):
                found = ", ".join(sorted(t[0] for t in tables)) or "none"
                raise SchemaError(
                    f"{path}: not an octoroute store (an SQLite file of application "
                    f"{app_id:#x} with other tables: {found})"
                )
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        for target in range(version + 1, len(migrations) + 1):
            for statement in migrations[target - 1]:
                conn.execute(statement)
            conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (_VERSION_KEY, str(target)),
            )
            log.info("%s: migrated the store to schema version %d", path, target)
        conn.execute("COMMIT")
    finally:
        if conn.in_transaction:
            conn.execute("ROLLBACK")


def _enable_wal(conn: sqlite3.Connection, timeout: float) -> str:
    """Switch to WAL; returns the journal mode in force.

    Switching a new file to WAL needs an exclusive lock and SQLite answers "locked" at once,
    without its busy handler, while another process holds any lock: so wait here instead.
    """
    deadline = time.monotonic() + timeout
    delay = 0.002
    while True:
        try:
            (mode,) = conn.execute("PRAGMA journal_mode = WAL").fetchone()
            return str(mode).lower()
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(2 * delay, 0.05)


def _database_error(name: str, exc: sqlite3.Error) -> StoreError:
    """What SQLite's failure to open or check a file means, as a StoreError naming the file."""
    code = getattr(exc, "sqlite_errorname", "")
    if code == "SQLITE_NOTADB":
        return SchemaError(f"{name}: not an octoroute store: not an SQLite database ({exc})")
    if code == "SQLITE_CORRUPT":
        return StoreError(f"{name}: the database is damaged (SQLite: {exc})")
    if isinstance(exc, sqlite3.OperationalError):  # locked, read-only, disk full: not the format
        return StoreError(f"{name}: cannot open: {exc}")
    if isinstance(exc, sqlite3.DatabaseError):
        return SchemaError(f"{name}: not an octoroute store: {exc}")
    return StoreError(f"{name}: cannot open: {exc}")


def _check_existing(file: Path, name: str) -> None:
    """Refuse, without opening it, a path that cannot hold a store to read."""
    try:
        st = file.stat()
    except FileNotFoundError:
        raise StoreError(f"{name}: no such store") from None
    except OSError as exc:
        raise StoreError(f"{name}: cannot read: {exc.strerror or exc}") from exc
    if file.is_dir():
        raise StoreError(f"{name}: is a folder, not a store")
    if st.st_size == 0:
        raise SchemaError(f"{name}: an empty file (0 bytes), not an octoroute store")


def _check_ours(conn: sqlite3.Connection, name: str) -> None:
    """Refuse an SQLite file that is not an octoroute store of a version this one reads."""
    (app_id,) = conn.execute("PRAGMA application_id").fetchone()
    version = _read_version(conn, name) if app_id == APPLICATION_ID else 0
    if version == 0:
        tables = conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        ).fetchall()
        found = ", ".join(sorted(t[0] for t in tables)) or "none"
        raise SchemaError(
            f"{name}: not an octoroute store (an SQLite file of application {app_id:#x}, "
            f"tables: {found})"
        )
    _check_version(version, name)
    if version < schema.READABLE_FROM:
        raise SchemaError(
            f"{name}: the store has schema version {version}, older than this octoroute's "
            f"({schema.SCHEMA_VERSION}); a writing command (octoroute collect) migrates it"
        )


def _check_integrity(conn: sqlite3.Connection, name: str) -> None:
    """``PRAGMA quick_check``: every page well formed (indexes are not compared with tables)."""
    found = [line for row in conn.execute("PRAGMA quick_check(5)") for line in row[0].splitlines()]
    if found != ["ok"]:
        raise StoreError(f"{name}: the database is damaged (SQLite: {'; '.join(found[:5])})")


def _check_readable(conn: sqlite3.Connection, name: str) -> None:
    _check_ours(conn, name)
    _check_integrity(conn, name)


def _prepare_writable(conn: sqlite3.Connection, name: str, timeout: float) -> None:
    conn.execute("PRAGMA foreign_keys = ON")
    mode = _enable_wal(conn, timeout)
    if name != ":memory:" and mode != "wal":
        log.warning("%s: WAL mode unavailable (journal mode %s)", name, mode)
    conn.execute("PRAGMA synchronous = NORMAL")
    _migrate(conn, name)


def _connect(
    name: str, target: str, setup: Callable[[sqlite3.Connection], None], timeout: float, uri: bool
) -> Store:
    """Connect to ``target`` and ``setup`` the connection; SQLite's errors name ``name``."""
    try:
        conn = sqlite3.connect(
            target, uri=uri, timeout=timeout, isolation_level=None, check_same_thread=False
        )
    except sqlite3.Error as exc:
        raise _database_error(name, exc) from exc
    try:
        setup(conn)
        return Store(conn, name, None if name == ":memory:" else PROCESS_LOCKS.attach(name))
    except sqlite3.Error as exc:
        conn.close()
        raise _database_error(name, exc) from exc
    except BaseException:
        conn.close()
        raise


def open_store(
    path: str | Path, *, create: bool = True, readonly: bool = False, timeout: float = 30.0
) -> Store:
    """Open (creating it unless ``create`` is False) the outcome log at ``path``.

    ``":memory:"`` opens a private in-memory store. ``readonly`` opens an existing store to
    read only (see the module docstring): nothing on disk is created or changed, and a file
    that is empty, not SQLite, not an octoroute store or damaged is refused. ``timeout`` is how
    long a write waits for another process's. Raises
    :class:`~octoroute.exceptions.SchemaError` for a file that is not an octoroute store or
    whose schema is newer than this octoroute's, and :class:`~octoroute.exceptions.StoreError`
    for any other failure to open.
    """
    name = str(path)
    memory = name == ":memory:"
    if readonly and not memory:
        file = Path(name)
        _check_existing(file, name)
        # SQLite's read-only mode: the file is never written, whatever a statement tries.
        uri = f"{file.resolve().as_uri()}?mode=ro"
        return _connect(name, uri, lambda c: _check_readable(c, name), timeout, True)
    if not memory:
        file = Path(path)
        if not file.exists():
            if not create:
                raise StoreError(f"{name}: no such store")
            try:
                file.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"{name}: cannot create the folder: {exc}") from exc
        elif file.is_dir():
            raise StoreError(f"{name}: is a folder, not a store")
    return _connect(name, name, lambda c: _prepare_writable(c, name, timeout), timeout, False)
