"""Fixtures for the outcome log: a store in tmp_path, toy problems and attempts."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from octoroute.store import Store, open_store
from octoroute.types import (
    ArmErrorKind,
    Attempt,
    Completion,
    Outcome,
    Problem,
    TestCase,
    TestKind,
    TestVerdict,
    Tier,
    Verdict,
)

# The shared data beside the project (never copied into it).
SHARED = Path(__file__).resolve().parents[2].parent / "shared"
OUTCOMES = SHARED / "data" / "outcomes"

RUN = "run-1"
TIERS_PLUS = (Tier.VISIBLE, Tier.BASE, Tier.PLUS)


def toy_problem(pid: str, tiers: tuple[Tier, ...] = TIERS_PLUS, prompt: str = "") -> Problem:
    """A problem with one CALL test per tier."""
    tests = tuple(
        TestCase(TestKind.CALL, t, (i,), i, has_expected=True) for i, t in enumerate(tiers)
    )
    return Problem(pid, "toy", prompt or f"def f(x):  # {pid}", "f", "def f(x): return x", tests)


def verdict(problem: Problem, failing: tuple[Tier, ...] = ()) -> Verdict:
    """A verdict on ``problem`` whose tests fail on the ``failing`` tiers."""
    tests = tuple(
        TestVerdict(
            i,
            t.tier,
            Outcome.WRONG_ANSWER if t.tier in failing else Outcome.PASS,
            detail="AssertionError" if t.tier in failing else "",
            cpu_time=0.001 * (i + 1),
        )
        for i, t in enumerate(problem.tests)
    )
    return Verdict(
        problem.id, tests, isolation=("netns", "seccomp"), flags=("imports_os",), wall_time=0.25
    )


def completion(arm: str, *, error: ArmErrorKind | None = None, tokens: int = 10) -> Completion:
    """A completion by ``arm`` (an arm failure when ``error`` is set)."""
    if error is not None:
        return Completion(arm, arm, "", "", latency=3.0, error=error, error_detail="refused")
    return Completion(
        arm,
        f"{arm}-model",
        text="```python\ndef f(x): return x\n```",
        code="def f(x): return x",
        prompt_tokens=tokens,
        completion_tokens=2 * tokens,
        latency=0.5,
        cost=2.0e9 * 3 * tokens,
        cost_unit="flops",
        finish_reason="stop",
    )


def attempt(
    problem: Problem,
    arm: str = "arm-a",
    *,
    sample: int = 0,
    failing: tuple[Tier, ...] = (),
    error: ArmErrorKind | None = None,
    run: str = RUN,
) -> Attempt:
    """An attempt built the way an episode builds it."""
    c = completion(arm, error=error)
    v = None if error is not None else verdict(problem, failing)
    return Attempt.from_parts(
        run,
        problem,
        c,
        v,
        sample_index=sample,
        prompt_hash="abc123",
        sampling={"temperature": 0.0, "max_tokens": 512, "seed": sample},
        started_at=1_700_000_000.0 + sample,
        finished_at=1_700_000_001.5 + sample,
    )


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """Where the test's store lives."""
    return tmp_path / "log.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[Store]:
    """An empty store with one run and two arms."""
    with open_store(db_path) as s:
        s.add_run(RUN, config={"benchmark": "toy"}, command="test")
        s.add_arm("arm-a", backend="fake", model="arm-a-model", cost_unit="flops")
        s.add_arm("arm-b", backend="fake", model="arm-b-model", cost_unit="flops")
        yield s


@pytest.fixture
def problems(store: Store) -> list[Problem]:
    """Three toy problems, registered: two with a plus tier, one without."""
    ps = [toy_problem("P/1"), toy_problem("P/2"), toy_problem("P/3", (Tier.VISIBLE, Tier.BASE))]
    store.add_problems(ps)
    return ps


def make_log(path: Path, n: int = 300) -> Path:
    """A real outcome log of ``n`` attempts (several pages), closed, so the WAL is folded in."""
    with open_store(path) as s:
        s.add_run(RUN, config={"benchmark": "toy"}, command="test")
        s.add_arm("arm-a", backend="fake", model="arm-a-model", cost_unit="flops")
        ps = [toy_problem(f"P/{i}") for i in range(n)]
        s.add_problems(ps)
        s.record_attempts(
            attempt(p, failing=(Tier.PLUS,) if i % 3 else ()) for i, p in enumerate(ps)
        )
    return path


def corrupt_a_page(log: Path, out: Path) -> Path:
    """A copy of ``log`` whose attempts table's root page has garbage for cell pointers."""
    with closing(sqlite3.connect(f"{log.resolve().as_uri()}?mode=ro", uri=True)) as conn:
        (root,) = conn.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = 'attempts'"
        ).fetchone()
        (size,) = conn.execute("PRAGMA page_size").fetchone()
    data = bytearray(log.read_bytes())
    start = (root - 1) * size + 12  # after the b-tree page header: the cell pointers
    data[start : start + size - 20] = b"\xff" * (size - 20)
    out.write_bytes(bytes(data))
    return out


def snapshot(path: Path) -> tuple[list[str], bytes | None, int | None]:
    """What a reader must leave as it was: the folder's files, the file's bytes and mtime."""
    listing = sorted(p.name for p in path.parent.iterdir())
    if not path.exists():
        return listing, None, None
    return listing, path.read_bytes(), path.stat().st_mtime_ns
