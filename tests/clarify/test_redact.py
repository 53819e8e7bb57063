"""A clarification log's export without the simulated users' words: answers and ratings made
from the original problem stay out of the file, the replay's inputs stay in, and a collection
resumed from such an export makes a missing episode's answer again."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from octoroute.arms.base import PromptStyle
from octoroute.arms.pool import register_arms
from octoroute.clarify import ORACLE, collect_asks, register_oracle
from octoroute.clarify.redact import REDACTED, redact
from octoroute.cli import app
from octoroute.sandbox import Executor
from octoroute.store import import_attempts, open_store, read_attempts_jsonl
from octoroute.types import Attempt, Problem
from tests.fakes import Script, builder, scripted_pool

RUN = "clarify/humanevalcomm"
CODE = "```python\ndef truncate_number(number):\n    return number % 1.0\n```"


def test_only_answers_and_ratings_are_redacted() -> None:
    answer = Attempt(RUN, "b", "p", ORACLE, attempt_number=2, completion="the original")
    rating = Attempt(RUN, "b", "p", "u", attempt_number=4, completion="Rating: 3, because...")
    question = Attempt(RUN, "b", "p", "a", completion="What about negatives?")
    assert redact(answer).completion == REDACTED
    assert redact(rating).completion == "3"
    assert redact(question) == question


def test_the_export_leaves_the_users_words_out_and_a_resume_remakes_them(
    problems: list[Problem], tmp_path: Path
) -> None:
    pool = scripted_pool({"asker": PromptStyle.CHAT})
    script = Script(["What should happen with negative numbers?", "Only positive numbers.",
                     CODE, "3 - a good question"])  # fmt: skip
    db = tmp_path / "log.db"
    with Executor(workers=1) as ex, open_store(db) as store:
        collect_asks(store, ex, pool, problems, [ORACLE, "asker"], RUN,
                     build=builder(pool, script).__getitem__)  # fmt: skip
    out = tmp_path / "asks.jsonl.gz"
    result = CliRunner().invoke(app, ["export", "--db", str(db), "--out", str(out), "--slim",
                                      "--redact-answers"])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    exported = read_attempts_jsonl(out)
    text = json.dumps([a.completion for a in exported])
    assert not any(p.metadata["original_prompt"].strip()[:60] in text for p in problems)
    answers = [a for a in exported if a.attempt_number == 2]
    assert answers and all(a.completion == REDACTED for a in answers)
    assert {a.completion for a in exported if a.attempt_number == 4} <= {"1", "2", "3"}
    assert sum(a.passed is not None for a in exported) == 2 * len(problems)  # verdicts kept

    # A new machine: the export without the oracle's programs, then the run resumed.
    oracle_answers = {a.id for a in answers if a.arm == ORACLE}
    kept = [a for a in exported if a.parent_attempt_id not in oracle_answers]
    resumed = Script([CODE])
    with Executor(workers=1) as ex, open_store(tmp_path / "new.db") as store:
        register_arms(store, pool)
        register_oracle(store)
        import_attempts(store, kept)
        collect_asks(store, ex, pool, problems, [ORACLE, "asker"], RUN,
                     build=builder(pool, resumed).__getitem__)  # fmt: skip
        redone = [a for a in store.attempts(RUN) if a.attempt_number == 3]
    # Only the oracle's programs were written, each from the original description again.
    assert len(resumed.requests) == len(problems) == len(redone) - len(problems)
    for (_, messages, _), p in zip(resumed.requests, problems, strict=True):
        assert isinstance(messages, list)
        sent = "".join(m["content"] for m in messages)
        assert p.metadata["original_prompt"] in sent and REDACTED not in sent
