"""The clarification policies replayed on a log: always code, always ask, the router; per
user, pass@1 on modified and original prompts, communication and false-ask rates."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from octoroute.clarify.replay import Outcomes, clarify_summary, outcomes
from octoroute.exceptions import ConfigError
from octoroute.store import open_store
from octoroute.tasks.humanevalcomm import load_humanevalcomm
from octoroute.types import Attempt, Outcome, Problem, TestVerdict, Tier


def _judged(passed: bool) -> tuple[TestVerdict, ...]:
    return (TestVerdict(0, Tier.BASE, Outcome.PASS if passed else Outcome.WRONG_ANSWER),)


@pytest.fixture(scope="module")
def problems(shared_data: Path) -> list[Problem]:
    loaded = load_humanevalcomm(shared_data / "humanevalcomm", plus=shared_data)
    return [p for p in loaded if p.id.split("/")[1] in {"0", "1", "2", "3", "4", "5"}]


def _log(path: Path, problems: list[Problem]) -> None:
    """Coding at once passes the originals only; after the oracle's answer every program
    passes; after the arm user's, none does."""
    with open_store(path) as store:
        store.add_run("collect/humanevalcomm", config={})
        store.add_run("clarify/humanevalcomm", config={})
        store.add_problems(problems)
        for arm in ("a", "oracle", "u"):
            store.add_arm(arm, backend="openai", model=arm, cost_unit="flops")
        for p in problems:
            original = p.id.endswith("/original")
            store.record_attempt(Attempt("collect/humanevalcomm", p.benchmark, p.id, "a",
                                         tests=_judged(original), passed=original, code="x",
                                         cost=1.0))  # fmt: skip
            q = Attempt("clarify/humanevalcomm", p.benchmark, p.id, "a", completion="?",
                        cost=0.5)  # fmt: skip
            store.record_attempt(q)
            qid = store.attempt_id("clarify/humanevalcomm", q.key)
            store.record_attempt(Attempt(  # the arm user rates the question
                "clarify/humanevalcomm", p.benchmark, p.id, "u", sample_index=qid,
                attempt_number=4, parent_attempt_id=qid, completion="1" if original else "3."))  # fmt: skip
            for user, ok in (("oracle", True), ("u", False)):
                a = Attempt("clarify/humanevalcomm", p.benchmark, p.id, user, sample_index=qid,
                            attempt_number=2, parent_attempt_id=qid, completion="!")  # fmt: skip
                store.record_attempt(a)
                aid = store.attempt_id("clarify/humanevalcomm", a.key)
                store.record_attempt(Attempt(
                    "clarify/humanevalcomm", p.benchmark, p.id, "a", sample_index=aid,
                    attempt_number=3, parent_attempt_id=aid, tests=_judged(ok), passed=ok,
                    code="y", cost=1.0))  # fmt: skip


def test_the_policies_per_user(problems: list[Problem], tmp_path: Path) -> None:
    db = tmp_path / "log.db"
    _log(db, problems)
    with open_store(db, create=False, readonly=True) as store:
        found = outcomes(store.attempts(), problems, "a", "collect/humanevalcomm",
                         "clarify/humanevalcomm")  # fmt: skip
    assert [o.user for o in found] == ["oracle", "u"]
    summary = clarify_summary(found, lambda_ask=0.1, folds=3)
    rows = {(r["user"], r["policy"]): r for r in summary["policies"]}
    code, ask = rows[("oracle", "always_code")], rows[("oracle", "always_ask")]
    assert code["pass_at_1"]["modified"]["mean"] == 0.0
    assert code["pass_at_1"]["original"]["mean"] == 1.0
    assert ask["pass_at_1"]["modified"]["mean"] == 1.0
    assert (code["communication_rate"], code["false_ask_rate"]) == (0.0, 0.0)
    assert (ask["communication_rate"], ask["false_ask_rate"]) == (1.0, 1.0)
    # With the arm user, asking never helps: the router learns not to ask.
    assert rows[("u", "router")]["communication_rate"] == 0.0
    # The arm user rated every question on a modified prompt 3; the oracle rates nothing.
    assert rows[("u", "always_ask")]["good_question_rate"] == 1.0
    assert rows[("oracle", "always_ask")]["good_question_rate"] is None
    assert rows[("u", "always_code")]["good_question_rate"] is None
    agreement = rows[("u", "always_ask")]["rating_vs_gain"]
    assert agreement["rated_3"]["gain"] == 0.0 and agreement["rated_1_2"]["n"] == 0
    assert all(r["left_out"] == 0 for r in summary["policies"])
    # Per variant: the originals first, then each kind of rewrite.
    variants = ask["by_variant"]
    assert next(iter(variants)) == "original" and {"1a", "1c", "1p"} <= set(variants)
    assert variants["original"]["pass_at_1"]["mean"] == 1.0 and variants["1a"]["ask_rate"] == 1.0
    assert code["by_variant"]["1c"]["pass_at_1"]["mean"] == 0.0
    # Paired with coding at once: asking wins every rewrite back, loses no original.
    assert ask["gain_vs_always_code"]["modified"]["mean"] == 1.0
    assert ask["gain_vs_always_code"]["original"] == {"mean": 0.0, "ci95": [0.0, 0.0]}
    # Compute beside the user's turns: asking costs the question and the code.
    assert (code["compute_ratio"], code["user_turns"]) == (1.0, 0.0)
    assert (ask["compute_ratio"], ask["user_turns"]) == (1.5, 1.0)


def test_the_command_prints_the_json(problems: list[Problem], tmp_path: Path,
                                     shared_data: Path) -> None:  # fmt: skip
    db = tmp_path / "log.db"
    _log(db, problems)
    env = {**os.environ, "OCTOROUTE_DATA_DIR": str(shared_data)}
    cmd = [sys.executable, "-m", "octoroute.cli", "clarify", "--log", str(db), "--arm", "a",
           "--json"]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    policies = {(r["user"], r["policy"]) for r in data["policies"]}
    assert ("oracle", "router") in policies and ("u", "always_ask") in policies
    for r in data["policies"]:
        assert set(r) >= {"pass_at_1", "communication_rate", "false_ask_rate",
                          "good_question_rate"}  # fmt: skip
        assert "ci95" in r["pass_at_1"]["modified"]
    missing = subprocess.run([*cmd[:-2], "nobody", "--json"], capture_output=True, text=True,
                             env=env, timeout=300)  # fmt: skip
    assert missing.returncode == 2 and "direct attempt of arm 'nobody'" in missing.stderr
    # By default the direct candidates run on their requests' claims and the router reads
    # them too, the router on words alone reported beside it; --no-consistency: words only.
    assert ("oracle", "router_words") in policies
    words = subprocess.run([*cmd, "--no-consistency"], capture_output=True, text=True, env=env,
                           timeout=300)  # fmt: skip
    assert words.returncode == 0, words.stderr
    rows = {(r["user"], r["policy"]) for r in json.loads(words.stdout)["policies"]}
    assert ("oracle", "router") in rows and ("oracle", "router_words") not in rows
    table = subprocess.run(cmd[:-1], capture_output=True, text=True, env=env, timeout=300)
    assert table.returncode == 0, table.stderr
    assert "gains over always_code" in table.stdout and "router_words" in table.stdout


def _blind(problems: list[Problem], tmp_path: Path) -> Outcomes:
    """The oracle user's outcomes on :func:`_log`, every prompt alike in words (so only the
    extra columns can separate the requests)."""
    db = tmp_path / "log.db"
    _log(db, problems)
    with open_store(db, create=False, readonly=True) as store:
        (oracle, _) = outcomes(store.attempts(), problems, "a", "collect/humanevalcomm",
                               "clarify/humanevalcomm")  # fmt: skip
    same = tuple(dataclasses.replace(p, prompt="def f(x):\n    pass\n") for p in oracle.problems)
    return dataclasses.replace(oracle, problems=same)


def test_the_router_reads_the_candidates_consistency(problems: list[Problem],
                                                     tmp_path: Path) -> None:  # fmt: skip
    """Given consistency, a router that could not tell the requests apart by their words
    asks where the candidate met none of its request's claims."""
    blind = _blind(problems, tmp_path)
    met = {p.id: 1.0 if p.id.endswith("/original") else 0.0 for p in blind.problems}
    summary = clarify_summary([blind], lambda_ask=0.1, folds=3, consistency=met)
    rows = {r["policy"]: r for r in summary["policies"]}
    assert rows["router"]["communication_rate"] == 1.0 and rows["router"]["false_ask_rate"] == 0.0
    assert rows["router_words"]["false_ask_rate"] != 0.0 or \
        rows["router_words"]["communication_rate"] != 1.0  # fmt: skip


def test_the_router_reads_a_probe_of_the_request(problems: list[Problem], tmp_path: Path) -> None:
    """Given probe vectors, a router blind to the words asks where the vector says the request
    was rewritten; a problem without its vector is an error naming it."""
    blind = _blind(problems, tmp_path)
    same = blind.problems
    probe = {p.id: np.array([1.0, 0.0] if p.id.endswith("/original") else [0.0, 1.0])
             for p in same}  # fmt: skip
    rows = {r["policy"]: r for r in
            clarify_summary([blind], lambda_ask=0.1, folds=3, probe=probe)["policies"]}  # fmt: skip
    assert rows["router"]["communication_rate"] == 1.0 and rows["router"]["false_ask_rate"] == 0.0
    assert "router_words" in rows
    del probe[same[0].id]
    with pytest.raises(ConfigError, match=f"no probe features for 1 problems .*{same[0].id}"):
        clarify_summary([blind], folds=3, probe=probe)


def test_the_router_never_reads_hidden_tests_or_the_original(problems: list[Problem],
                                                             tmp_path: Path) -> None:  # fmt: skip
    """The decisions are the same when the hidden tests and the original problem (what only
    grading and the simulated user may read) are replaced: only the request decides."""
    db = tmp_path / "log.db"
    _log(db, problems)
    with open_store(db, create=False, readonly=True) as store:
        found = outcomes(store.attempts(), problems, "a", "collect/humanevalcomm",
                         "clarify/humanevalcomm")  # fmt: skip

    def blinded(p: Problem) -> Problem:
        visible = tuple(t for t in p.tests if t.tier is Tier.VISIBLE)
        return dataclasses.replace(p, tests=visible, metadata={
            **p.metadata, "original_prompt": "def nothing():\n    '''Say nothing.'''\n"})  # fmt: skip

    other = [dataclasses.replace(o, problems=tuple(blinded(p) for p in o.problems)) for o in found]
    met = {p.id: 0.5 for o in found for p in o.problems}

    def asks(summary: dict[str, object]) -> list[object]:
        rows = summary["policies"]
        assert isinstance(rows, list)
        return [
            (r["user"], r["policy"], r["communication_rate"], r["false_ask_rate"]) for r in rows
        ]

    assert asks(clarify_summary(found, folds=3, consistency=met)) == \
        asks(clarify_summary(other, folds=3, consistency=met))  # fmt: skip
