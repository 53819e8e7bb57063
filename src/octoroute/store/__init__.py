"""The outcome log: every attempt and decision, in one versioned SQLite file (WAL).

Layout: :mod:`.schema` (tables and migrations), :mod:`.sqlite` (:class:`Store`: idempotent,
crash-safe writes, resume keys, read-only opening), :mod:`.runlock` (one writer per run),
:mod:`.records` (runs, arms, decisions as read back),
:mod:`.eval_arena` (published outcome matrices), :mod:`.stats` (summaries per arm),
:mod:`.export` (JSONL, and Parquet with the ``parquet`` extra; an export imported back).
The schema version this octoroute writes is :data:`octoroute.store.schema.SCHEMA_VERSION`.

>>> from octoroute.store import open_store, stats
>>> with open_store(":memory:") as store:
...     stats(store)["attempts"]
0
"""

from octoroute.store.eval_arena import ImportResult, OutcomeRow, import_eval_arena, read_eval_arena
from octoroute.store.export import (
    AttemptImport,
    attempt_from_dict,
    attempt_to_dict,
    export_attempts,
    export_jsonl,
    export_parquet,
    import_attempts,
    read_attempts_jsonl,
)
from octoroute.store.records import ArmRecord, DecisionRecord, Feedback, RunRecord
from octoroute.store.sqlite import Store, hash_text, open_store
from octoroute.store.stats import stats

__all__ = [
    "ArmRecord",
    "AttemptImport",
    "DecisionRecord",
    "Feedback",
    "ImportResult",
    "OutcomeRow",
    "RunRecord",
    "Store",
    "attempt_from_dict",
    "attempt_to_dict",
    "export_attempts",
    "export_jsonl",
    "export_parquet",
    "hash_text",
    "import_attempts",
    "import_eval_arena",
    "open_store",
    "read_attempts_jsonl",
    "read_eval_arena",
    "stats",
]
