"""Re-judging a logged run against HumanEval+'s stronger tests, in the real sandbox."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from octoroute.collection.rejudge import rejudge
from octoroute.exceptions import ConfigError
from octoroute.sandbox import Executor, prepare
from octoroute.store import open_store
from octoroute.tasks import load_benchmark
from octoroute.types import ArmErrorKind, Attempt, Completion

# Rounding to 3 decimals passes HumanEval/2's three original asserts (3.5, 1.33, 123.456) but
# not HumanEval+'s inputs with more decimals.
TRUNCATE_WEAK = "def truncate_number(number: float) -> float:\n    return round(number % 1.0, 3)\n"
TRUNCATE_OK = "def truncate_number(number: float) -> float:\n    return number % 1.0\n"


def _log(store, executor, problem, arm: str, code: str, error=None) -> Attempt:  # type: ignore[no-untyped-def]
    code = "" if error is not None else code
    completion = Completion(arm=arm, model=arm, text=code, code=code, completion_tokens=7,
                            cost=14.0, error=error)  # fmt: skip
    verdict = executor.check(problem, code) if error is None else None
    attempt = Attempt.from_parts("collect/humaneval", problem, completion, verdict,
                                 prompt_hash="h", sampling={"temperature": 0.8, "seed": 5},
                                 sample_index=2)  # fmt: skip
    store.record_attempt(attempt)
    return attempt


def test_rejudge_regrades_every_program_on_the_new_tests(tmp_path: Path, shared_data: Path) -> None:
    with Executor(workers=1) as ex, open_store(tmp_path / "log.db") as store:
        (he2,) = prepare([load_benchmark("humaneval")[2]], ex, tmp_path / "cache")
        store.add_run("collect/humaneval", config={}, command="collect")
        store.add_problems([he2])
        for arm in ("weak", "good", "dead"):
            store.add_arm(arm, backend="llamacpp", model=arm, cost_unit="flops")
        weak = _log(store, ex, he2, "weak", TRUNCATE_WEAK)
        _log(store, ex, he2, "good", TRUNCATE_OK)
        _log(store, ex, he2, "dead", "", error=ArmErrorKind.TIMEOUT)
        assert weak.passed  # the original three asserts cannot tell

        plus = prepare([load_benchmark("humaneval+", shared_data)[2]], ex, tmp_path / "cache")
        summary = rejudge(store, ex, "collect/humaneval", plus)
        assert (summary.recorded, summary.skipped, summary.run_id) == (3, 0, "rejudge/humaneval+")
        new = {a.arm: a for a in store.attempts("rejudge/humaneval+")}
        assert new["weak"].pass_base == 1.0 and new["weak"].pass_plus == 0.0
        assert not new["weak"].passed
        assert new["good"].passed and new["good"].pass_plus == 1.0
        assert new["dead"].error is ArmErrorKind.TIMEOUT and not new["dead"].judged
        # What the arm produced and cost is carried over unchanged.
        w = new["weak"]
        assert (w.code, w.cost, w.completion_tokens, w.prompt_hash) == (TRUNCATE_WEAK, 14.0, 7, "h")
        assert (w.sampling, w.seed, w.sample_index, w.benchmark) == (
            {"temperature": 0.8, "seed": 5}, 5, 2, "humaneval+")  # fmt: skip

        again = rejudge(store, ex, "collect/humaneval", plus)
        assert (again.recorded, again.skipped) == (1, 2)  # only the arm error is copied again
        assert store.count_attempts("rejudge/humaneval+") == 3


def test_repairs_are_carried_over_under_their_parents_copies(
    tmp_path: Path, shared_data: Path
) -> None:
    """A repair run re-judged on HumanEval+ after its parents' run: each repair hangs under
    its parent's copy (sample index and parent: the copy's id), judged on the new tests; a
    repair whose parent has no copy is left out and counted."""
    with Executor(workers=1) as ex, open_store(tmp_path / "log.db") as store:
        (he2,) = prepare([load_benchmark("humaneval")[2]], ex, tmp_path / "cache")
        store.add_run("collect/humaneval", config={}, command="collect")
        store.add_run("repair/humaneval", config={}, command="repair-collect")
        store.add_problems([he2])
        for arm in ("weak", "fixer"):
            store.add_arm(arm, backend="llamacpp", model=arm, cost_unit="flops")
        broken = "def truncate_number(number: float) -> float:\n    return number\n"
        first = _log(store, ex, he2, "weak", broken)
        first_id = store.attempt_id("collect/humaneval", first.key)
        other = _log(store, ex, he2, "fixer", TRUNCATE_WEAK)  # passes HumanEval, not plus
        for parent_id, code in (
            (first_id, TRUNCATE_WEAK),
            (store.attempt_id("collect/humaneval", other.key), TRUNCATE_OK),
        ):
            completion = Completion(arm="fixer", model="fixer", text=code, code=code, cost=3.0)
            repair = Attempt.from_parts("repair/humaneval", he2, completion, ex.check(he2, code),
                                        sample_index=parent_id, attempt_number=2,
                                        parent_attempt_id=parent_id)  # fmt: skip
            store.record_attempt(repair)
        plus = prepare([load_benchmark("humaneval+", shared_data)[2]], ex, tmp_path / "cache")
        early = rejudge(store, ex, "repair/humaneval", plus, run_id="rejudge-repair/humaneval+")
        assert (early.recorded, early.orphans) == (0, 2)  # the parents have no copy yet
        rejudge(store, ex, "collect/humaneval", plus)
        late = rejudge(store, ex, "repair/humaneval", plus, run_id="rejudge-repair/humaneval+")
        assert (late.recorded, late.orphans, late.stale) == (2, 0, 0)
        copies = {a.id: a for a in store.attempts("rejudge/humaneval+")}
        for r in store.attempts("rejudge-repair/humaneval+"):
            parent = copies[r.parent_attempt_id]
            assert r.benchmark == parent.benchmark == "humaneval+"
            assert (r.sample_index, r.attempt_number) == (parent.id, 2)
            assert r.passed == (r.code == TRUNCATE_OK)  # judged on the plus tests
        again = rejudge(store, ex, "repair/humaneval", plus, run_id="rejudge-repair/humaneval+")
        assert (again.recorded, again.skipped) == (0, 2)


def test_rejudge_refuses_an_empty_or_identical_run(tmp_path: Path) -> None:
    with Executor(workers=1) as ex, open_store(tmp_path / "log.db") as store:
        (he0,) = prepare([load_benchmark("humaneval")[0]], ex, tmp_path / "cache")
        with pytest.raises(ConfigError, match="has no attempts"):
            rejudge(store, ex, "collect/humaneval", [he0])
        with pytest.raises(ConfigError, match="must differ"):
            rejudge(store, ex, "x", [he0], run_id="x")


FORGE = 'import os\n_ = os.write(4, b"\\x02\\x00\\x00\\x00\\xc2N")\n'


def test_a_log_is_rejudged_in_place_and_every_change_reported(tmp_path: Path) -> None:
    """An exported log whose verdicts an older executor got wrong (here: the forgery of issue
    12, logged as a pass) is judged again in place: ids, parents and generation kept, the
    forged pass now a failure and reported, its repair reported stale; the slim form kept."""
    from typer.testing import CliRunner

    from octoroute.cli import app
    from octoroute.store.export import export_jsonl, read_attempts_jsonl

    with Executor(workers=1) as ex, open_store(tmp_path / "log.db") as store:
        (he2,) = prepare([load_benchmark("humaneval")[2]], ex, tmp_path / "cache")
        store.add_run("collect/humaneval", config={}, command="collect")
        store.add_problems([he2])
        for arm in ("good", "forger"):
            store.add_arm(arm, backend="llamacpp", model=arm, cost_unit="flops")
        _log(store, ex, he2, "good", TRUNCATE_OK)
        forged = _log(store, ex, he2, "forger", FORGE)
        assert not forged.passed  # today's executor is not fooled...
        export_jsonl(store, tmp_path / "log.jsonl", slim=True)
    # ...so the log is made to say what the old one said: a pass, with a repair under it.
    lines = (tmp_path / "log.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    old = next(r for r in records if r["arm"] == "forger")
    old.update(passed=True, reward=1.0, pass_visible=1.0, pass_base=1.0,
               test_counts={"visible": {"pass": 3}, "base": {"pass": 3}})  # fmt: skip
    old["tests"] = [{**t, "outcome": "pass", "detail": ""} for t in old["tests"]]
    repair = {**records[0], "id": 99, "attempt_number": 2, "parent_attempt_id": old["id"]}
    records.append(repair)
    (tmp_path / "log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))

    result = CliRunner().invoke(app, ["rejudge", "--log", str(tmp_path / "log.jsonl"),
                                      "--out", str(tmp_path / "new.jsonl.gz"),
                                      "--report", str(tmp_path / "report.json"),
                                      "--workers", "1"])  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["judged"] == 3
    (change,) = report["changed"]
    assert change["id"] == old["id"] and change["before"]["passed"] is True
    assert change["after"]["passed"] is False and change["visible_changed"]
    assert report["stale_repairs"] == [99]
    new = {a.id: a for a in read_attempts_jsonl(tmp_path / "new.jsonl.gz")}
    assert set(new) == {r["id"] for r in records}
    assert new[99].parent_attempt_id == old["id"] and new[99].attempt_number == 2
    assert not new[old["id"]].passed and new[old["id"]].code == FORGE
