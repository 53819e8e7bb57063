"""Cross-arm fix rates on a small synthetic log: exact counts, Wilson intervals, the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from octoroute.collection.repairs import sample_failures
from octoroute.episodes.fixrate import (
    ALL_KINDS,
    NO_VISIBLE_TEST,
    VISIBLE_PASSED,
    failure_kind,
    fix_rates_from_store,
    wilson_ci,
)
from octoroute.store import Store, open_store
from octoroute.types import ArmErrorKind, Attempt, Outcome, Problem, TestVerdict, Tier

V, B = Tier.VISIBLE, Tier.BASE
PASS, WA, RE = Outcome.PASS, Outcome.WRONG_ANSWER, Outcome.RUNTIME_ERROR


def _verdicts(visible: Outcome | None, hidden: Outcome) -> tuple[TestVerdict, ...]:
    tests = [] if visible is None else [TestVerdict(0, V, visible)]
    return (*tests, TestVerdict(len(tests), B, hidden))


def _attempt(run: str, pid: str, arm: str, visible: Outcome | None, hidden: Outcome,
             **kw: object) -> Attempt:  # fmt: skip
    passed = hidden is PASS
    return Attempt(run, "toy", pid, arm, tests=_verdicts(visible, hidden), passed=passed,
                   reward=float(passed), **kw)  # type: ignore[arg-type]  # fmt: skip


def _store(path: Path | str) -> Store:
    """Fresh run ``src`` (arms a, b on P1-P3) and repair run ``rep`` (see the comments)."""
    store = open_store(path)
    for run, kind in (("src", "collect"), ("rep", "repair")):
        store.add_run(run, config={"kind": kind})
    for arm in ("a", "b"):
        store.add_arm(arm, backend="openai", model=arm, cost_unit="flops")
    store.add_problems([Problem(f"P{i}", "toy", "def f(x):", "f", "", ()) for i in (1, 2, 3)])
    fresh = [
        _attempt("src", "P1", "a", WA, WA),  # a fails: wrong answer on the visible test
        _attempt("src", "P2", "a", RE, RE),  # runtime error
        _attempt("src", "P3", "a", None, WA),  # no visible test
        _attempt("src", "P1", "b", PASS, PASS),
        _attempt("src", "P2", "b", WA, WA),
        _attempt("src", "P3", "b", None, PASS),
    ]
    for a in fresh:
        assert store.record_attempt(a)
    ids = {(a.problem_id, a.arm): a.id or 0 for a in store.attempts("src")}

    def repair(pid: str, source: str, arm: str, hidden: Outcome | None) -> Attempt:
        parent = ids[(pid, source)]
        if hidden is None:  # an arm error: not judged
            return Attempt("rep", "toy", pid, arm, sample_index=parent, attempt_number=2,
                           parent_attempt_id=parent, error=ArmErrorKind.TIMEOUT)  # fmt: skip
        return _attempt("rep", pid, arm, PASS, hidden, sample_index=parent, attempt_number=2,
                        parent_attempt_id=parent)  # fmt: skip

    repairs = [
        repair("P1", "a", "b", PASS),
        repair("P2", "a", "b", RE),
        repair("P3", "a", "b", PASS),
        repair("P1", "a", "a", WA),
        repair("P2", "a", "a", None),
        repair("P3", "a", "a", PASS),
        repair("P2", "b", "a", PASS),
        repair("P2", "b", "b", WA),
    ]
    for a in repairs:
        assert store.record_attempt(a)
    return store


def test_wilson_interval_matches_the_formula() -> None:
    assert wilson_ci(0, 0) is None
    assert wilson_ci(2, 3) == (0.2077, 0.9385)
    assert wilson_ci(0, 2) == (0.0, 0.6576)
    assert wilson_ci(1, 1) == (0.2065, 1.0)
    with pytest.raises(ValueError):
        wilson_ci(3, 2)


def test_failure_kind_reads_the_visible_verdicts() -> None:
    assert failure_kind(_attempt("r", "P", "a", WA, WA)) == "wrong_answer"
    assert failure_kind(_attempt("r", "P", "a", None, WA)) == NO_VISIBLE_TEST
    assert failure_kind(_attempt("r", "P", "a", PASS, WA)) == VISIBLE_PASSED
    assert failure_kind(_attempt("r", "P", "a", PASS, PASS)) is None
    assert failure_kind(Attempt("r", "toy", "P", "a", error=ArmErrorKind.EMPTY)) is None


def test_fix_rates_counts_intervals_and_fresh_rates() -> None:
    with _store(":memory:") as store:
        result = fix_rates_from_store(store, "rep")
    assert (result.sources, result.repairers) == (("a", "b"), ("a", "b"))
    assert result.kinds == (NO_VISIBLE_TEST, "runtime_error", "wrong_answer")
    assert (result.source_runs, result.problems, result.repairs, result.orphans) == (
        ("src",), 3, 8, 0)  # fmt: skip
    ab = result.cell("a", "b")
    assert ab is not None and (ab.n, ab.passed, ab.arm_errors) == (3, 2, 0)
    assert ab.ci95 == wilson_ci(2, 3) == (0.2077, 0.9385)
    assert (ab.fresh_n, ab.fresh_passed, ab.gain) == (3, 2, 0.0)  # b fresh: P1, P3 pass
    aa = result.cell("a", "a")
    assert aa is not None and (aa.n, aa.passed, aa.arm_errors) == (2, 1, 1)
    assert (aa.fresh_n, aa.fresh_passed, aa.gain) == (2, 0, 0.5)  # a failed both afresh
    assert aa.gain_ci95 is not None and aa.gain_ci95[0] <= 0.5 <= aa.gain_ci95[1]
    ba, bb = result.cell("b", "a"), result.cell("b", "b")
    assert ba is not None and (ba.n, ba.passed, ba.fresh_n, ba.fresh_passed) == (1, 1, 1, 0)
    assert bb is not None and (bb.n, bb.passed, bb.fresh_n, bb.fresh_passed) == (1, 0, 1, 0)
    assert result.matrix() == [[0.5, 2 / 3], [1.0, 0.0]]
    assert result.counts() == [[2, 3], [1, 1]]
    # Split by the parent's visible failure kind.
    assert result.matrix("wrong_answer") == [[0.0, 1.0], [1.0, 0.0]]
    assert result.matrix("runtime_error") == [[None, 0.0], [None, None]]
    assert result.matrix(NO_VISIBLE_TEST) == [[1.0, 1.0], [None, None]]
    aa_re = result.cell("a", "a", "runtime_error")
    assert aa_re is not None and (aa_re.n, aa_re.arm_errors, aa_re.rate) == (0, 1, None)
    fresh = {f.arm: (f.n, f.passed, f.ci95) for f in result.fresh}
    assert fresh == {"a": (3, 0, wilson_ci(0, 3)), "b": (3, 2, wilson_ci(2, 3))}
    data = json.loads(json.dumps(result.to_json()))
    assert data["matrix"][ALL_KINDS] == [[0.5, 0.6667], [1.0, 0.0]]


def test_sample_is_stratified_seeded_and_budgeted() -> None:
    with _store(":memory:") as store:
        attempts = list(store.attempts("src"))
    chosen, available, visible_passed = sample_failures(attempts, per_cell=None)
    assert available == {"a": 3, "b": 1} and visible_passed == 0 and len(chosen) == 4
    one, _, _ = sample_failures(attempts, per_cell=1, seed=3)
    assert [f.attempt.arm for f in one] == ["a", "b"]
    assert one == sample_failures(attempts, per_cell=1, seed=3)[0]  # reproducible
    kinds = {f.kind for seed in range(20) for f in sample_failures(attempts, 1, seed)[0]}
    assert kinds == {NO_VISIBLE_TEST, "runtime_error", "wrong_answer"}


def test_fixrate_command_json_and_page(tmp_path: Path) -> None:
    _store(tmp_path / "log.db").close()
    page = tmp_path / "fix.html"
    cmd = [sys.executable, "-c", "from octoroute.cli import main; main()", "fixrate",
           "--db", str(tmp_path / "log.db"), "--json", "--out", str(page)]  # fmt: skip
    env = {**os.environ, "OCTOROUTE_CACHE_DIR": str(tmp_path / "cache")}
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["run"] == "rep" and data["sources"] == ["a", "b"]
    assert data["repairers"] == ["a", "b"] and data["report"] == str(page)
    assert set(data["matrix"]) == {ALL_KINDS, NO_VISIBLE_TEST, "runtime_error", "wrong_answer"}
    cell = next(c for c in data["cells"] if (c["source"], c["repairer"], c["kind"]) == (
        "a", "b", ALL_KINDS))  # fmt: skip
    assert (cell["n"], cell["passed"], cell["ci95"]) == (3, 2, [0.2077, 0.9385])
    assert {"fresh_rate", "fresh_ci95", "gain", "gain_ci95", "arm_errors"} <= set(cell)
    assert [f["arm"] for f in data["fresh"]] == ["a", "b"]
    html = page.read_text()
    assert html.count("data:image/png;base64") == 4 and "failed arm (source)" in html
    # Without --json: rich tables on stdout.
    table = subprocess.run(cmd[:-3], capture_output=True, text=True, env=env, timeout=120)
    assert table.returncode == 0 and "fresh pass rate" in table.stdout
