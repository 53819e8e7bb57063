"""An ask-then-code episode on a real HumanEvalComm variant, scripted arms, the real sandbox:
the question and the code see only the modified request; the user alone reads the original."""

from __future__ import annotations

from pathlib import Path

import pytest

from octoroute.arms.base import PromptStyle
from octoroute.clarify import ArmUser, OracleUser, ask_then_code
from octoroute.exceptions import ConfigError
from octoroute.sandbox import Executor, prepare
from octoroute.tasks.humanevalcomm import load_humanevalcomm
from octoroute.types import Problem
from tests.fakes import Script, ScriptedArm

QUESTION = "Should the comparison be strict, or may two numbers be exactly the threshold apart?"
RIGHT = (
    "```python\ndef candidate(numbers, threshold):\n    return any(abs(a - b) < threshold "
    "for i, a in enumerate(numbers) for b in numbers[i + 1:])\n```"
)


@pytest.fixture(scope="module")
def variant(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Problem:
    loaded = load_humanevalcomm(shared_data / "humanevalcomm", plus=shared_data)
    problems = {p.id: p for p in loaded}
    p = next(p for pid, p in problems.items() if pid.startswith("HumanEvalComm/0/")
             and not pid.endswith("/original"))  # fmt: skip
    with Executor(workers=1) as ex:
        (prepared,) = prepare([p], ex, tmp_path_factory.mktemp("cache"))
    return prepared


def _text(payload: object) -> str:
    return payload if isinstance(payload, str) else " ".join(m["content"] for m in payload)  # type: ignore[attr-defined]


def test_the_oracle_answers_and_the_coder_writes_from_the_answer(variant: Problem) -> None:
    script = Script([QUESTION, RIGHT.replace("candidate", variant.entry_point)])
    asker = coder = ScriptedArm("a", PromptStyle.CHAT, script)
    with Executor(workers=1) as ex:
        result = ask_then_code(variant, asker, OracleUser(), coder, ex)
    original = variant.metadata["original_prompt"]
    assert result.passed and result.question.text == QUESTION
    assert result.answer is not None and original in result.answer.text
    ask, code = (_text(payload) for _, payload, _ in script.requests)
    assert variant.prompt in ask and original not in ask  # the asker sees the request only
    assert QUESTION in code and original in code  # the coder sees the answer (here: all of it)


def test_an_arm_user_reads_the_original_the_others_do_not(variant: Problem) -> None:
    arms = Script([QUESTION, "It is strict.", "```python\ndef f():\n    return 0\n```"])
    asker = ScriptedArm("asker", PromptStyle.CHAT, arms)
    user = ArmUser(ScriptedArm("user", PromptStyle.CHAT, arms))
    coder = ScriptedArm("coder", PromptStyle.COMPLETION, arms)
    with Executor(workers=1) as ex:
        result = ask_then_code(variant, asker, user, coder, ex)
    original = variant.metadata["original_prompt"]
    seen = {name: _text(payload) for name, payload, _ in arms.requests}
    assert original in seen["user"] and QUESTION in seen["user"]
    assert original not in seen["asker"]
    if original != variant.prompt:
        assert original not in seen["coder"]
    assert "It is strict." in seen["coder"] and not result.passed and result.verdict is not None
    assert result.code is not None and result.answer is not None
    assert result.cost == result.question.cost + result.code.cost
    assert result.user_cost == result.answer.cost
    assert f"`{variant.entry_point}`" in seen["coder"]  # the name the tests call


def test_a_problem_without_its_original_is_refused(variant: Problem) -> None:
    bare = variant.visible_only()
    arm = ScriptedArm("a", PromptStyle.CHAT, Script([QUESTION]))
    with Executor(workers=1) as ex, pytest.raises(ConfigError, match="original problem"):
        ask_then_code(bare, arm, OracleUser(), arm, ex)


@pytest.mark.slow
def test_a_real_small_model_asks_and_codes(variant: Problem) -> None:
    """SmolLM2 through llama.cpp asks, the oracle answers, SmolLM2 codes: every turn is a real
    request, and the program is judged (whether it passes is SmolLM2's business)."""
    from octoroute.arms.models import model_status
    from octoroute.arms.pool import default_pool

    if not model_status("smollm2-135m").installed:
        pytest.skip("SmolLM2-135M is not installed: octoroute models install smollm2-135m")
    arm = default_pool(["smollm2-135m"], threads=1).build("smollm2-135m")
    try:
        with Executor(workers=1) as ex:
            result = ask_then_code(variant, arm, OracleUser(), arm, ex)
    finally:
        arm.close()
    assert result.question.ok and result.question.text.strip()
    assert result.code is not None and result.code.ok and result.verdict is not None
    assert result.cost > 0
