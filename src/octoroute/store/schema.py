"""The outcome log's schema, as a list of migrations.

``MIGRATIONS[i]`` is the list of SQL statements that take a store from schema version ``i`` to
``i + 1``; :data:`SCHEMA_VERSION` is their number. A store records its version in the ``meta``
table. Opening a store applies the missing migrations, each in one transaction; opening a store
whose version is newer than this octoroute's raises :class:`~octoroute.exceptions.SchemaError`.
To change the schema, append a migration: never edit one that has shipped.

Tables (STRICT; JSON is stored as text; times are Unix seconds):

``runs``       one row per run: ``id`` (a name chosen by the caller), ``created``, ``command``,
               ``config`` (JSON, the settings that determine the outcomes).
``problems``   ``(benchmark, problem_id)``, the hash and text of the problem's prompt, its tiers
               (``"visible,base,plus"``); prompt and tiers are NULL for imported outcomes.
``arms``       ``name``, ``backend``, ``model``, ``cost_unit``, ``params`` (JSON).
``attempts``   one row per completion (see :class:`~octoroute.types.Attempt` for the meaning of
               each column), unique on ``(run_id, benchmark, problem_id, arm, sample_index,
               attempt_number)`` so that writes are idempotent. ``verdicts`` is a JSON array of
               ``{"index", "tier", "outcome", "detail", "cpu"}``, NULL when the attempt was not
               judged; ``pass_visible``, ``pass_base``, ``pass_plus`` are NULL when the problem
               has no such tier.
``decisions``  one row per routing decision: policy, features hash, scores and propensities of
               every arm (JSON objects keyed by arm), the chosen arm and the attempt it led to;
               unique on ``(run_id, benchmark, problem_id, policy, step)``.
``feedback``   (version 2) one row per reward reported after the fact for a decision (the
               routing server's ``POST /v1/feedback``: a user accepted the code, CI passed),
               unique on its ``idempotency_key``, so a retried report is stored once.

>>> SCHEMA_VERSION == len(MIGRATIONS)
True
"""

from __future__ import annotations

from typing import Final

__all__ = ["MIGRATIONS", "READABLE_FROM", "SCHEMA_VERSION"]

_V1: Final = (
    """
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    ) STRICT
    """,
    """
    CREATE TABLE runs (
        id      TEXT PRIMARY KEY,
        created REAL NOT NULL,
        command TEXT NOT NULL DEFAULT '',
        config  TEXT NOT NULL DEFAULT '{}'
    ) STRICT
    """,
    """
    CREATE TABLE problems (
        benchmark   TEXT NOT NULL,
        problem_id  TEXT NOT NULL,
        prompt_hash TEXT,
        prompt      TEXT,
        tiers       TEXT,
        PRIMARY KEY (benchmark, problem_id)
    ) STRICT
    """,
    """
    CREATE TABLE arms (
        name      TEXT PRIMARY KEY,
        backend   TEXT NOT NULL,
        model     TEXT NOT NULL,
        cost_unit TEXT NOT NULL,
        params    TEXT NOT NULL DEFAULT '{}'
    ) STRICT
    """,
    """
    CREATE TABLE attempts (
        id                INTEGER PRIMARY KEY,
        run_id            TEXT NOT NULL REFERENCES runs (id),
        benchmark         TEXT NOT NULL,
        problem_id        TEXT NOT NULL,
        arm               TEXT NOT NULL REFERENCES arms (name),
        sample_index      INTEGER NOT NULL CHECK (sample_index >= 0),
        attempt_number    INTEGER NOT NULL CHECK (attempt_number >= 1),
        parent_attempt_id INTEGER REFERENCES attempts (id),
        prompt_hash       TEXT NOT NULL DEFAULT '',
        sampling          TEXT NOT NULL DEFAULT '{}',
        seed              INTEGER,
        completion        TEXT NOT NULL DEFAULT '',
        code              TEXT NOT NULL DEFAULT '',
        finish_reason     TEXT NOT NULL DEFAULT '',
        prompt_tokens     INTEGER NOT NULL DEFAULT 0,
        completion_tokens INTEGER NOT NULL DEFAULT 0,
        latency           REAL NOT NULL DEFAULT 0,
        cost              REAL NOT NULL DEFAULT 0,
        cost_unit         TEXT NOT NULL DEFAULT 'none',
        arm_error         TEXT,
        arm_error_detail  TEXT NOT NULL DEFAULT '',
        verdicts          TEXT,
        pass_visible      REAL CHECK (pass_visible BETWEEN 0 AND 1),
        pass_base         REAL CHECK (pass_base BETWEEN 0 AND 1),
        pass_plus         REAL CHECK (pass_plus BETWEEN 0 AND 1),
        passed            INTEGER CHECK (passed IN (0, 1)),
        reward            REAL,
        flags             TEXT NOT NULL DEFAULT '[]',
        isolation         TEXT NOT NULL DEFAULT '[]',
        exec_time         REAL NOT NULL DEFAULT 0,
        started_at        REAL NOT NULL DEFAULT 0,
        finished_at       REAL NOT NULL DEFAULT 0,
        CHECK (arm_error IS NULL OR passed IS NULL),
        FOREIGN KEY (benchmark, problem_id) REFERENCES problems (benchmark, problem_id),
        UNIQUE (run_id, benchmark, problem_id, arm, sample_index, attempt_number)
    ) STRICT
    """,
    "CREATE INDEX attempts_by_arm ON attempts (arm, run_id)",
    "CREATE INDEX attempts_by_problem ON attempts (benchmark, problem_id)",
    "CREATE INDEX attempts_by_parent ON attempts (parent_attempt_id)",
    """
    CREATE TABLE decisions (
        id            INTEGER PRIMARY KEY,
        run_id        TEXT NOT NULL REFERENCES runs (id),
        benchmark     TEXT NOT NULL,
        problem_id    TEXT NOT NULL,
        step          INTEGER NOT NULL DEFAULT 0 CHECK (step >= 0),
        policy        TEXT NOT NULL,
        features_hash TEXT NOT NULL DEFAULT '',
        scores        TEXT NOT NULL DEFAULT '{}',
        propensities  TEXT NOT NULL DEFAULT '{}',
        chosen_arm    TEXT NOT NULL REFERENCES arms (name),
        attempt_id    INTEGER REFERENCES attempts (id),
        created       REAL NOT NULL,
        FOREIGN KEY (benchmark, problem_id) REFERENCES problems (benchmark, problem_id),
        UNIQUE (run_id, benchmark, problem_id, policy, step)
    ) STRICT
    """,
    "CREATE INDEX decisions_by_attempt ON decisions (attempt_id)",
)

_V2: Final = (
    """
    CREATE TABLE feedback (
        id              INTEGER PRIMARY KEY,
        decision_id     INTEGER NOT NULL REFERENCES decisions (id),
        reward          REAL NOT NULL,
        idempotency_key TEXT NOT NULL UNIQUE,
        created         REAL NOT NULL
    ) STRICT
    """,
    "CREATE INDEX feedback_by_decision ON feedback (decision_id)",
)

MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (_V1, _V2)
"""``MIGRATIONS[i]`` takes a store from schema version ``i`` to ``i + 1``."""

SCHEMA_VERSION: Final = len(MIGRATIONS)
"""The schema version this octoroute writes."""

READABLE_FROM: Final = 1
"""The oldest version a read-only open accepts: every later migration only adds tables, which
read back empty from an older file (so a log written by an earlier octoroute can be replayed
without migrating it)."""
