"""Answers streamed as server-sent events: pieces as they come, then the priced completion."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from octoroute.arms import OpenAICompatArm, PriceCost, PromptStyle, Sampling
from octoroute.types import ArmErrorKind

from .conftest import FakeEndpoint, Reply

ASK = [{"role": "user", "content": "Write f."}]


def events(*pieces: str, usage: bool = True, finish: str = "stop") -> Reply:
    """An event-stream body: one chunk per piece, the finish, the usage, then [DONE]."""
    chunks: list[dict[str, Any]] = [
        {"model": "fake-model", "choices": [{"index": 0, "delta": {"content": p}}]} for p in pieces
    ]
    chunks.append({"model": "fake-model", "choices": [{"index": 0, "delta": {},
                                                       "finish_reason": finish}]})  # fmt: skip
    if usage:
        chunks.append({"choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 4}})
    body = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
    return 200, body.encode()


@pytest.fixture
def arm(fake_endpoint: FakeEndpoint) -> Iterator[OpenAICompatArm]:
    a = OpenAICompatArm("fake", "fake-model", fake_endpoint.url, style=PromptStyle.CHAT,
                        cost_model=PriceCost(1.0, 2.0), retries=0)  # fmt: skip
    yield a
    a.close()


def test_pieces_come_as_sent_and_the_completion_is_priced(
    fake_endpoint: FakeEndpoint, arm: OpenAICompatArm
) -> None:
    fake_endpoint.handler = lambda path, body: events("def f():\n", "    return 1\n")
    stream = arm.stream(ASK, Sampling(max_tokens=8))
    assert list(stream) == ["def f():\n", "    return 1\n"]
    done = stream.completion
    assert done is not None and done.ok and done.text == "def f():\n    return 1\n"
    assert (done.prompt_tokens, done.completion_tokens, done.finish_reason) == (9, 4, "stop")
    assert done.cost == pytest.approx((9 * 1.0 + 4 * 2.0) / 1e6)
    sent = fake_endpoint.requests[-1][1]
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}


@pytest.mark.parametrize(
    ("reply", "kind"),
    [
        ((500, b'{"error": "boom"}'), ArmErrorKind.HTTP_ERROR),
        ((200, b"data: {not json\n\n"), ArmErrorKind.BAD_RESPONSE),
        (events("   "), ArmErrorKind.EMPTY),
    ],
)
def test_a_failed_stream_is_a_completion_with_its_error(
    fake_endpoint: FakeEndpoint, arm: OpenAICompatArm, reply: Reply, kind: ArmErrorKind
) -> None:
    fake_endpoint.handler = lambda path, body: reply
    stream = arm.stream(ASK)
    list(stream)  # never raises
    assert stream.completion is not None and stream.completion.error is kind


def test_a_refused_connection_is_unavailable(refused_url: str) -> None:
    arm = OpenAICompatArm("gone", "m", refused_url, style=PromptStyle.CHAT,
                          cost_model=PriceCost(1.0, 1.0), retries=0)  # fmt: skip
    stream = arm.stream(ASK)
    assert list(stream) == []
    assert stream.completion is not None and stream.completion.error is ArmErrorKind.UNAVAILABLE


def test_a_malformed_choice_is_a_bad_response_with_the_text_so_far(
    fake_endpoint: FakeEndpoint, arm: OpenAICompatArm
) -> None:
    good = events("def f():\n")[1].decode().split("data: [DONE]")[0]
    body = good + 'data: {"choices": [{"delta": "not an object"}]}\n\ndata: [DONE]\n\n'
    fake_endpoint.handler = lambda path, b: (200, body.encode())
    stream = arm.stream(ASK)
    assert list(stream) == ["def f():\n"]
    done = stream.completion
    assert done is not None and done.error is ArmErrorKind.BAD_RESPONSE
    assert done.text == "def f():\n"
