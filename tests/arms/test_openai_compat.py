"""Failure injection against a fake local endpoint: arm failures are data, with the right kind."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from octoroute.arms import OpenAICompatArm, PriceCost, PromptStyle, Sampling
from octoroute.arms.prompts import instruct_messages
from octoroute.types import ArmErrorKind, Problem

from .conftest import FakeEndpoint, Reply, ok_json

PROBLEM = Problem(
    id="t/0",
    benchmark="test",
    prompt='def f():\n    """Return 1."""\n',
    entry_point="f",
    reference="def f():\n    return 1\n",
    tests=(),
)
FAST = {"retries": 2, "backoff": 0.01, "max_backoff": 0.02, "timeout": 0.5, "connect_timeout": 0.5}


ArmFactory = Callable[..., OpenAICompatArm]


@pytest.fixture
def arm_for() -> Iterator[ArmFactory]:
    """Build arms with small timeouts and backoff; close them all after the test."""
    made: list[OpenAICompatArm] = []

    def make(url: str, **kw: Any) -> OpenAICompatArm:
        made.append(OpenAICompatArm("fake", "fake-model", url, **{**FAST, **kw}))
        return made[-1]

    yield make
    for arm in made:
        arm.close()


def test_good_answer_is_priced_and_extracted(
    fake_endpoint: FakeEndpoint, arm_for: ArmFactory
) -> None:
    arm = arm_for(fake_endpoint.url, cost_model=PriceCost(1.0, 2.0))
    c = arm.generate(PROBLEM, Sampling(max_tokens=32, seed=3, temperature=0.2))
    assert c.ok and c.error is None
    assert c.code == "def f():\n    return 1\n"
    assert (c.prompt_tokens, c.completion_tokens) == (11, 7)
    assert c.cost == pytest.approx((11 * 1.0 + 7 * 2.0) / 1e6) and c.cost_unit == "usd"
    assert c.latency > 0
    path, body, _ = fake_endpoint.requests[0]
    assert path == "/v1/chat/completions"
    assert body["model"] == "fake-model" and body["seed"] == 3 and body["max_tokens"] == 32
    assert body["messages"][-1]["role"] == "user" and "def f():" in body["messages"][-1]["content"]


def test_completion_style_posts_the_stub(fake_endpoint: FakeEndpoint, arm_for: ArmFactory) -> None:
    fake_endpoint.handler = lambda path, body: ok_json("    return 1\n", chat=False)
    c = arm_for(fake_endpoint.url, style=PromptStyle.COMPLETION).generate(PROBLEM)
    path, body, _ = fake_endpoint.requests[0]
    assert path == "/v1/completions" and body["prompt"] == PROBLEM.prompt and body["stop"]
    assert c.ok and c.code == PROBLEM.prompt + "    return 1\n"


def test_instruct_style_prefills_the_answer_with_the_stub(
    fake_endpoint: FakeEndpoint, arm_for: ArmFactory
) -> None:
    """The answer is prefilled up to the opened code block and the stub; whether the server
    returns the prefill with the continuation (llama.cpp) or the continuation alone, the code
    is the whole function."""
    arm = arm_for(fake_endpoint.url, style=PromptStyle.INSTRUCT)
    prefill_and_body = instruct_messages(PROBLEM)[1]["content"] + "    return 1\n"
    for text in (prefill_and_body, "    return 1\n"):
        fake_endpoint.handler = lambda path, body, text=text: ok_json(text)
        c = arm.generate(PROBLEM)
        assert c.ok and "return 1" in c.code and c.code.startswith("def f():"), c.code
    path, body, _ = fake_endpoint.requests[-1]
    assert path == "/v1/chat/completions"
    user, answer = body["messages"]
    assert user["role"] == "user" and "```\ndef f():" in user["content"]
    assert answer["role"] == "assistant" and answer["content"].endswith(
        "```python\n" + PROBLEM.prompt
    )
    assert "\n```" in body["stop"] and "\nassert " in body["stop"]


def test_messages_are_sent_as_given(fake_endpoint: FakeEndpoint, arm_for: ArmFactory) -> None:
    messages = [{"role": "user", "content": "fix it"}]
    c = arm_for(fake_endpoint.url).generate(messages, problem=PROBLEM)
    assert c.ok and fake_endpoint.requests[0][1]["messages"] == messages


def test_refused_connection_is_unavailable_after_retries(
    refused_url: str, arm_for: ArmFactory
) -> None:
    c = arm_for(refused_url).generate(PROBLEM)
    assert c.error is ArmErrorKind.UNAVAILABLE and not c.ok
    assert (c.text, c.code, c.cost) == ("", "", 0.0)
    assert "after 3 tries" in c.error_detail


def test_stall_is_a_timeout(fake_endpoint: FakeEndpoint, arm_for: ArmFactory) -> None:
    fake_endpoint.stall = 2.0
    c = arm_for(fake_endpoint.url, timeout=0.2, retries=1).generate(PROBLEM)
    assert c.error is ArmErrorKind.TIMEOUT
    assert fake_endpoint.posts == 2


def test_http_500_is_retried_then_an_http_error(
    fake_endpoint: FakeEndpoint, arm_for: ArmFactory
) -> None:
    fake_endpoint.handler = lambda path, body: (500, b'{"error": "boom"}')
    c = arm_for(fake_endpoint.url).generate(PROBLEM)
    assert c.error is ArmErrorKind.HTTP_ERROR and "HTTP 500" in c.error_detail
    assert fake_endpoint.posts == 3


def test_http_400_is_not_retried(fake_endpoint: FakeEndpoint, arm_for: ArmFactory) -> None:
    fake_endpoint.handler = lambda path, body: (400, b'{"error": "bad request"}')
    c = arm_for(fake_endpoint.url).generate(PROBLEM)
    assert c.error is ArmErrorKind.HTTP_ERROR and fake_endpoint.posts == 1


@pytest.mark.parametrize(
    ("reply", "kind"),
    [
        ((200, b"<html>not json"), ArmErrorKind.BAD_RESPONSE),
        ((200, b'{"choices": []}'), ArmErrorKind.BAD_RESPONSE),
        ((200, b"[1, 2]"), ArmErrorKind.BAD_RESPONSE),
        (ok_json(""), ArmErrorKind.EMPTY),
        (ok_json("  \n "), ArmErrorKind.EMPTY),
    ],
    ids=["garbage", "no-choices", "not-an-object", "empty", "blank"],
)
def test_bad_answers_are_retried_then_reported(
    fake_endpoint: FakeEndpoint, reply: Reply, kind: ArmErrorKind, arm_for: ArmFactory
) -> None:
    fake_endpoint.handler = lambda path, body: reply
    c = arm_for(fake_endpoint.url).generate(PROBLEM)
    assert c.error is kind
    assert fake_endpoint.posts == 3


def test_a_transient_failure_is_cured_by_a_retry(
    fake_endpoint: FakeEndpoint, arm_for: ArmFactory
) -> None:
    replies = iter([(503, b"busy"), (200, b"garbage"), ok_json()])
    fake_endpoint.handler = lambda path, body: next(replies)
    c = arm_for(fake_endpoint.url).generate(PROBLEM)
    assert c.ok and c.completion_tokens == 7 and fake_endpoint.posts == 3


def test_missing_usage_counts_zero_tokens(fake_endpoint: FakeEndpoint, arm_for: ArmFactory) -> None:
    fake_endpoint.handler = lambda path, body: ok_json(usage=False)
    c = arm_for(fake_endpoint.url).generate(PROBLEM)
    assert c.ok and (c.prompt_tokens, c.completion_tokens, c.cost) == (0, 0, 0.0)


def test_api_key_is_read_from_the_named_variable(
    fake_endpoint: FakeEndpoint, monkeypatch: pytest.MonkeyPatch, arm_for: ArmFactory
) -> None:
    monkeypatch.setenv("OCTOROUTE_TEST_KEY", "sk-test")
    assert arm_for(fake_endpoint.url, api_key_env="OCTOROUTE_TEST_KEY").generate(PROBLEM).ok
    headers = {k.lower(): v for k, v in fake_endpoint.requests[0][2].items()}
    assert headers["authorization"] == "Bearer sk-test"


def test_missing_api_key_fails_without_a_request(
    fake_endpoint: FakeEndpoint, monkeypatch: pytest.MonkeyPatch, arm_for: ArmFactory
) -> None:
    monkeypatch.delenv("OCTOROUTE_TEST_KEY", raising=False)
    c = arm_for(fake_endpoint.url, api_key_env="OCTOROUTE_TEST_KEY").generate(PROBLEM)
    assert c.error is ArmErrorKind.UNAVAILABLE and "OCTOROUTE_TEST_KEY" in c.error_detail
    assert fake_endpoint.requests == []


def test_concurrency_limit(fake_endpoint: FakeEndpoint, arm_for: ArmFactory) -> None:
    fake_endpoint.stall = 0.15
    arm = arm_for(fake_endpoint.url, concurrency=2, timeout=5.0)
    results = []
    threads = [threading.Thread(target=lambda: results.append(arm.generate(PROBLEM)))
               for _ in range(6)]  # fmt: skip
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 6 and all(c.ok for c in results)
    assert fake_endpoint.max_in_flight == 2


def test_a_dead_arm_does_not_affect_another(
    fake_endpoint: FakeEndpoint, refused_url: str, arm_for: ArmFactory
) -> None:
    dead, alive = arm_for(refused_url), arm_for(fake_endpoint.url)
    assert dead.generate(PROBLEM).error is ArmErrorKind.UNAVAILABLE
    assert alive.generate(PROBLEM).ok


# -- the probe: does the endpoint serve the named model? -----------------------------------


def echo(path: str, body: dict[str, Any]) -> Reply:
    """An endpoint that answers any model name under that name (proves nothing by itself)."""
    return ok_json(model=body["model"], chat="chat" in path)


def test_probe_accepts_the_served_model(fake_endpoint: FakeEndpoint, arm_for: ArmFactory) -> None:
    fake_endpoint.handler = lambda path, body: (
        ok_json(model="fake-model")
        if body["model"] == "fake-model"
        else (404, b'{"error": "model not found"}')
    )
    probe = arm_for(fake_endpoint.url).probe()
    assert probe.up and probe.serves_model and probe.ignores_names is False, probe


def test_probe_rejects_a_server_that_answers_any_name_with_another_model(
    fake_endpoint: FakeEndpoint, arm_for: ArmFactory
) -> None:
    # llama.cpp's behaviour: whatever is asked, the loaded model answers under its own name.
    fake_endpoint.models = ["qwen2.5-coder-0.5b-instruct-q4_k_m"]
    fake_endpoint.handler = lambda path, body: ok_json(model="qwen2.5-coder-0.5b-instruct-q4_k_m")
    probe = arm_for(fake_endpoint.url).probe()
    assert probe.up and not probe.serves_model and probe.ignores_names is True
    assert "qwen2.5-coder-0.5b" in probe.detail


def test_probe_rejects_an_echoing_server_that_does_not_list_the_model(
    fake_endpoint: FakeEndpoint, arm_for: ArmFactory
) -> None:
    fake_endpoint.models = ["other-model"]
    fake_endpoint.handler = echo
    probe = arm_for(fake_endpoint.url).probe()
    assert not probe.serves_model and probe.answered_as == "fake-model"
    assert "other-model" in probe.detail


def test_probe_accepts_an_echoing_server_that_lists_the_model(
    fake_endpoint: FakeEndpoint, arm_for: ArmFactory
) -> None:
    fake_endpoint.handler = echo
    probe = arm_for(fake_endpoint.url).probe()
    assert probe.serves_model and probe.ignores_names is True


def test_probe_checks_the_gguf_in_props(fake_endpoint: FakeEndpoint, arm_for: ArmFactory) -> None:
    fake_endpoint.handler = echo
    fake_endpoint.props = {"model_path": "/models/gemma-3-270m-q4_k_m.gguf"}
    wrong = arm_for(fake_endpoint.url, expect_gguf="SmolLM2-135M-Instruct.Q4_1.gguf").probe()
    assert not wrong.serves_model and wrong.gguf == "gemma-3-270m-q4_k_m.gguf"
    right = arm_for(fake_endpoint.url, expect_gguf="gemma-3-270m-q4_k_m.gguf").probe()
    assert right.serves_model


def test_probe_of_a_dead_endpoint(refused_url: str, arm_for: ArmFactory) -> None:
    probe = arm_for(refused_url).probe()
    assert not probe.up and not probe.serves_model and probe.detail


def test_served_models(fake_endpoint: FakeEndpoint, arm_for: ArmFactory) -> None:
    fake_endpoint.models = ["a", "b"]
    assert arm_for(fake_endpoint.url).served_models() == ["a", "b"]
