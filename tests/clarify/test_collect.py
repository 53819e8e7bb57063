"""Ask episodes in the outcome log: three chained turns per (arm, user), resumable, the
question shared by the users; scripted arms, the real sandbox, real HumanEvalComm problems."""

from __future__ import annotations

from pathlib import Path

import pytest

from octoroute.arms.base import PromptStyle
from octoroute.clarify import ORACLE, collect_asks
from octoroute.exceptions import ConfigError
from octoroute.sandbox import Executor
from octoroute.store import open_store
from octoroute.types import Problem
from tests.fakes import Script, builder, scripted_pool


def test_every_turn_is_logged_once_and_a_killed_run_resumes(
    problems: list[Problem], tmp_path: Path
) -> None:
    pool = scripted_pool({"asker": PromptStyle.CHAT})
    code = "```python\ndef truncate_number(number):\n    return number % 1.0\n```"
    script = Script(["What should happen with negative numbers?", "Positive only.", code])
    arms = builder(pool, script)
    with Executor(workers=1) as ex, open_store(tmp_path / "log.db") as store:
        with pytest.raises(ConfigError, match="expected 'oracle' or an arm"):
            collect_asks(store, ex, pool, problems, ["nobody"], "clarify/humanevalcomm")
        calls = []

        def stop_after_one(arm: str, user: str, attempt: object) -> None:
            calls.append(user)
            if len(calls) == 1:
                raise KeyboardInterrupt  # killed after the first episode

        with pytest.raises(KeyboardInterrupt):
            collect_asks(store, ex, pool, problems, [ORACLE, "asker"], "clarify/humanevalcomm",
                         build=arms.__getitem__, on_episode=stop_after_one)  # fmt: skip
        summary = collect_asks(store, ex, pool, problems, [ORACLE, "asker"],
                               "clarify/humanevalcomm", build=arms.__getitem__)  # fmt: skip
        logged = list(store.attempts("clarify/humanevalcomm"))
    # Per problem: one question, two answers (oracle, the asker as user), two programs, and
    # the arm user's rating of the question.
    assert len(logged) == len(problems) * 6 == len({a.key for a in logged})
    assert summary.episodes == len(problems) * 2
    by_id = {a.id: a for a in logged}
    for a in logged:
        if a.attempt_number == 1:
            assert a.arm == "asker" and a.tests is None and a.parent_attempt_id is None
        elif a.attempt_number == 4:  # the rating hangs under the question
            assert by_id[a.parent_attempt_id].attempt_number == 1 and a.tests is None
        else:
            parent = by_id[a.parent_attempt_id]
            assert parent.attempt_number == a.attempt_number - 1 and a.sample_index == parent.id
            assert (a.tests is not None) == (a.attempt_number == 3)
    oracle_answers = [a for a in logged if a.arm == ORACLE]
    assert all(p.metadata["original_prompt"] in a.completion for a, p in
               zip(sorted(oracle_answers, key=lambda a: a.problem_id), problems, strict=True))  # fmt: skip
