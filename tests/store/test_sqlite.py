"""Writing and reading the outcome log: idempotence, resume keys, conflicts, threads."""

from __future__ import annotations

import random
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from octoroute.exceptions import StoreConflict, StoreError
from octoroute.store import DecisionRecord, Store, hash_text, open_store
from octoroute.types import ArmErrorKind, Attempt, AttemptKey, Problem, Tier

from .conftest import RUN, attempt, toy_problem


def test_record_is_idempotent(store: Store, problems: list[Problem]) -> None:
    a = attempt(problems[0])
    assert store.record_attempt(a) is True
    assert store.record_attempt(a) is False
    changed = attempt(problems[0], failing=(Tier.PLUS,))  # same key, other content: first wins
    assert store.record_attempt(changed) is False
    assert store.count_attempts() == 1
    (stored,) = store.attempts()
    assert stored.passed is True


def test_round_trip_of_a_judged_attempt(store: Store, problems: list[Problem]) -> None:
    a = attempt(problems[0], sample=2, failing=(Tier.PLUS,))
    store.record_attempt(a)
    (back,) = store.attempts(RUN)
    assert back.id is not None
    assert back == replace(a, id=back.id)
    assert (back.pass_visible, back.pass_base, back.pass_plus, back.passed, back.reward) == (
        1.0, 1.0, 0.0, False, 0.0)  # fmt: skip
    assert back.tests is not None and [t.tier for t in back.tests] == [
        Tier.VISIBLE,
        Tier.BASE,
        Tier.PLUS,
    ]
    assert back.sampling == {"temperature": 0.0, "max_tokens": 512, "seed": 2} and back.seed == 2
    assert back.flags == ("imports_os",) and back.isolation == ("netns", "seccomp")
    assert store.get_attempt(back.id) == back
    assert store.get_attempt(back.id + 100) is None


def test_plus_follows_evalplus_base_and_plus(store: Store, problems: list[Problem]) -> None:
    store.record_attempt(attempt(problems[0], failing=(Tier.BASE,)))
    (back,) = store.attempts()
    assert (back.pass_base, back.pass_plus) == (0.0, 0.0)  # plus tests passed, base did not


def test_arm_error_is_logged_unjudged(store: Store, problems: list[Problem]) -> None:
    a = attempt(problems[0], error=ArmErrorKind.TIMEOUT)
    assert store.record_attempt(a)
    (back,) = store.attempts()
    assert back.error is ArmErrorKind.TIMEOUT and back.error_detail == "refused"
    assert (back.tests, back.passed, back.reward, back.pass_plus) == (None, None, None, None)
    assert not back.judged


def test_from_parts_refuses_to_judge_an_arm_failure(problems: list[Problem]) -> None:
    from .conftest import completion, verdict

    c = completion("arm-a", error=ArmErrorKind.EMPTY)
    with pytest.raises(ValueError, match="nothing to judge"):
        Attempt.from_parts(RUN, problems[0], c, verdict(problems[0]))
    with pytest.raises(ValueError, match="not for"):
        Attempt.from_parts(RUN, problems[0], completion("arm-a"), verdict(problems[1]))


def test_resume_keys(store: Store, problems: list[Problem]) -> None:
    store.record_attempt(attempt(problems[0], "arm-a", sample=0))
    store.record_attempt(attempt(problems[0], "arm-a", sample=1))
    store.record_attempt(attempt(problems[1], "arm-b", error=ArmErrorKind.UNAVAILABLE))
    key = AttemptKey("toy", "P/1", "arm-a", 1, 1)
    assert store.has_attempt(RUN, key)
    assert not store.has_attempt(RUN, AttemptKey("toy", "P/1", "arm-a", 2, 1))
    assert not store.has_attempt("other-run", key)
    assert store.done_keys(RUN) == {
        AttemptKey("toy", "P/1", "arm-a", 0, 1),
        key,
        AttemptKey("toy", "P/2", "arm-b", 0, 1),
    }
    assert AttemptKey("toy", "P/2", "arm-b", 0, 1) not in store.done_keys(
        RUN, include_arm_errors=False
    )
    assert store.done_keys("other-run") == set()


def test_arm_errors_can_be_retried(store: Store, problems: list[Problem]) -> None:
    store.record_attempt(attempt(problems[0], "arm-a", error=ArmErrorKind.HTTP_ERROR))
    store.record_attempt(attempt(problems[0], "arm-b", error=ArmErrorKind.HTTP_ERROR))
    store.record_attempt(attempt(problems[1], "arm-a"))
    assert store.delete_arm_errors(RUN, arms=["arm-a"]) == 1
    assert store.record_attempt(attempt(problems[0], "arm-a"))
    assert store.delete_arm_errors(RUN) == 1
    assert store.count_attempts(RUN) == 2


def test_repairs_point_at_their_parent(store: Store, problems: list[Problem]) -> None:
    first = attempt(problems[0], failing=(Tier.VISIBLE,))
    store.record_attempt(first)
    parent = store.attempt_id(RUN, first.key)
    assert parent is not None
    repair = replace(first, attempt_number=2, parent_attempt_id=parent)
    assert store.record_attempt(repair)
    child = store.attempt_id(RUN, repair.key)
    assert child is not None and store.get_attempt(child) == replace(repair, id=child)
    bad = replace(first, attempt_number=3, parent_attempt_id=999)
    with pytest.raises(StoreError, match="FOREIGN KEY"):
        store.record_attempt(bad)


def test_unregistered_run_arm_or_problem_is_refused(store: Store, problems: list[Problem]) -> None:
    for bad in (attempt(problems[0], run="nope"), attempt(problems[0], "arm-z"),
                attempt(toy_problem("P/404"))):  # fmt: skip
        with pytest.raises(StoreError, match="register the run, the arm and the problem first"):
            store.record_attempt(bad)
    assert store.count_attempts() == 0


def test_invalid_rows_are_refused(store: Store, problems: list[Problem]) -> None:
    a = attempt(problems[0])
    bad = replace(a, sample_index=-1)
    with pytest.raises(StoreError, match="CHECK"):
        store.record_attempt(bad)
    weird = replace(a, sampling={"x": object()})
    with pytest.raises(StoreError, match="sampling is not JSON"):
        store.record_attempt(weird)


def test_run_config_must_match_to_resume(store: Store) -> None:
    assert store.add_run(RUN, config={"benchmark": "toy"}, command="again") is False
    with pytest.raises(StoreConflict, match="another config"):
        store.add_run(RUN, config={"benchmark": "other"})
    with pytest.raises(StoreError, match="non-empty"):
        store.add_run("")
    (run,) = store.runs()
    assert (run.id, run.command, run.config) == (RUN, "test", {"benchmark": "toy"})


def test_arm_name_means_one_model(store: Store) -> None:
    assert store.add_arm("arm-a", backend="fake", model="arm-a-model", cost_unit="flops",
                         params={"threads": 8}) is False  # fmt: skip
    with pytest.raises(StoreConflict, match="arm 'arm-a' is registered"):
        store.add_arm("arm-a", backend="fake", model="another-model", cost_unit="flops")
    assert [a.name for a in store.arms()] == ["arm-a", "arm-b"]
    assert store.arms()[0].params == {}


def test_problem_prompts_are_checked_and_filled(store: Store) -> None:
    assert store.add_problem_ids("toy", ["P/9"]) == 1
    assert store.add_problems([toy_problem("P/9", prompt="def g():")]) == 0  # fills the prompt in
    assert store._read("SELECT prompt_hash, tiers FROM problems WHERE problem_id = 'P/9'") == [
        (hash_text("def g():"), "visible,base,plus")
    ]
    assert store.add_problems([toy_problem("P/9", prompt="def g():")]) == 0
    with pytest.raises(StoreConflict, match="another prompt"):
        store.add_problems([toy_problem("P/9", prompt="def h():")])


def test_decision_logged_with_its_attempt(store: Store, problems: list[Problem]) -> None:
    d = DecisionRecord(RUN, "toy", "P/1", policy="eps-greedy", chosen_arm="arm-a",
                       features_hash="f00", scores={"arm-a": 0.7, "arm-b": 0.2},
                       propensities={"arm-a": 0.95, "arm-b": 0.05})  # fmt: skip
    a = attempt(problems[0])
    assert store.record_attempt(a, decision=d)
    assert store.record_attempt(a, decision=d) is False
    (back,) = store.decisions(RUN)
    assert back.attempt_id == store.attempt_id(RUN, a.key)
    assert back.propensity == 0.95 and back.scores == {"arm-a": 0.7, "arm-b": 0.2}
    assert back.created > 0
    alone = DecisionRecord(RUN, "toy", "P/2", policy="eps-greedy", chosen_arm="arm-b")
    assert store.record_decision(alone) and not store.record_decision(alone)
    assert [d.problem_id for d in store.decisions()] == ["P/1", "P/2"]


def test_attempts_are_read_in_chunks_with_filters(store: Store, problems: list[Problem]) -> None:
    for i in range(25):
        store.record_attempt(attempt(problems[i % 3], "arm-a" if i % 2 else "arm-b", sample=i))
    everything = list(store.attempts(chunk=4))
    assert [a.sample_index for a in everything] == list(range(25))
    assert len(list(store.attempts(RUN, arm="arm-a", chunk=3))) == 12
    assert len(list(store.attempts(benchmark="toy", arm="arm-b"))) == 13
    assert list(store.attempts("absent-run")) == []


def test_concurrent_writers_from_threads(db_path: Path) -> None:
    """Eight threads write overlapping keys on one Store: each key lands once, none is lost."""
    n_problems, n_samples, n_threads = 20, 3, 8
    ps = [toy_problem(f"P/{i}") for i in range(n_problems)]
    with open_store(db_path) as store:
        store.add_run(RUN)
        for arm in ("arm-a", "arm-b"):
            store.add_arm(arm, backend="fake", model=arm, cost_unit="flops")
        store.add_problems(ps)
        work = [
            attempt(p, arm, sample=s)
            for p in ps
            for arm in ("arm-a", "arm-b")
            for s in range(n_samples)
        ]
        new_counts = [0] * n_threads
        errors: list[BaseException] = []
        barrier = threading.Barrier(n_threads)

        def writer(k: int) -> None:
            try:
                mine = list(work)
                random.Random(k).shuffle(mine)
                barrier.wait()
                for a in mine:
                    new_counts[k] += store.record_attempt(a)
                    if new_counts[k] % 10 == 0:
                        store.done_keys(RUN)  # reads interleaved with writes
            except BaseException as exc:  # noqa: BLE001 - reported by the main thread
                errors.append(exc)

        threads = [threading.Thread(target=writer, args=(k,)) for k in range(n_threads)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert not errors
        assert sum(new_counts) == len(work)
        assert store.count_attempts() == len(work)
        assert store.done_keys(RUN) == {a.key for a in work}


def test_two_stores_on_one_file(db_path: Path, problems: list[Problem], store: Store) -> None:
    """Two connections (as two processes would have) see each other's writes."""
    with open_store(db_path) as other:
        assert other.record_attempt(attempt(problems[0]))
        assert not store.record_attempt(attempt(problems[0]))
        assert store.count_attempts() == other.count_attempts() == 1
