"""Rewards reported after the fact: stored once per idempotency key, and older logs still read."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from octoroute.exceptions import StoreConflict
from octoroute.store import DecisionRecord, Store, open_store, schema
from octoroute.types import Problem

from .conftest import RUN


def _decision(store: Store) -> int:
    store.record_decision(DecisionRecord(RUN, "toy", "P/1", policy="linucb", chosen_arm="arm-a"))
    found = store.decision(RUN, "toy", "P/1")
    assert found is not None and found.id is not None and found.chosen_arm == "arm-a"
    return found.id


def test_feedback_is_stored_once_per_key(store: Store, problems: list[Problem]) -> None:
    decision = _decision(store)
    first = store.record_feedback(decision, 1.0, "key-1")
    again = store.record_feedback(decision, 1.0, "key-1")  # a retried request
    assert first.new and not again.new and again.created == first.created
    store.record_feedback(decision, 0.0, "key-2")
    assert [(f.reward, f.idempotency_key) for f in store.feedback(decision)] == [
        (1.0, "key-1"),
        (0.0, "key-2"),
    ]
    with pytest.raises(StoreConflict, match="key-1"):
        store.record_feedback(decision, 0.5, "key-1")  # the same key, another reward
    assert store.decision(RUN, "toy", "absent") is None


def test_a_log_of_the_previous_schema_reads_without_migrating(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with open_store(path) as store:
        assert store.schema_version == schema.SCHEMA_VERSION
    # Back to version 1, as an earlier octoroute wrote it.
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TABLE feedback")
        conn.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    conn.close()
    with open_store(path, create=False, readonly=True) as old:
        assert old.schema_version == 1 and old.feedback() == [] and old.decisions() == []
    with open_store(path, create=False) as writer:  # a writing command migrates it
        assert writer.schema_version == schema.SCHEMA_VERSION
