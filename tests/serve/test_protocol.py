"""The chat request as the server reads it: every bad field named, text parts joined."""

from __future__ import annotations

from typing import Any

import pytest

from octoroute.serve.errors import ApiError
from octoroute.serve.protocol import chunk_bodies, parse_chat

USER = [{"role": "user", "content": "Write add(a, b)."}]


def test_a_request_is_read_with_its_sampling() -> None:
    req = parse_chat({"model": "octoroute", "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"type": "text", "text": "Write "}, {"type": "text", "text": "add."}]},
    ], "temperature": 0.2, "max_completion_tokens": 64, "stop": "###", "stream": True, "n": 1})  # fmt: skip
    assert req.prompt == "Write add." and req.stream and req.max_tokens == 64
    assert req.temperature == 0.2 and req.stop == ("###",)


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ([], "body"),
        ({"messages": USER}, "model"),
        ({"model": "m"}, "messages"),
        ({"model": "m", "messages": []}, "messages"),
        ({"model": "m", "messages": [{"role": "robot", "content": "x"}]}, "messages[0].role"),
        ({"model": "m", "messages": [{"role": "user", "content": 3}]}, "messages[0].content"),
        ({"model": "m", "messages": [{"role": "user", "content": [{"type": "image_url"}]}]},
         "messages[0].content[0]"),
        ({"model": "m", "messages": USER, "temperature": 9}, "temperature"),
        ({"model": "m", "messages": USER, "max_tokens": 0}, "max_tokens"),
        ({"model": "m", "messages": USER, "stream": "yes"}, "stream"),
        ({"model": "m", "messages": USER, "stop": [1]}, "stop"),
    ],
)  # fmt: skip
def test_each_bad_field_is_a_400_naming_it(body: Any, param: str) -> None:
    with pytest.raises(ApiError) as caught:
        parse_chat(body)
    assert caught.value.status == 400 and caught.value.param == param
    assert caught.value.body()["error"]["type"] == "invalid_request_error"


def test_a_streamed_answer_is_the_text_in_pieces() -> None:
    chunks = chunk_bodies("id", "arm", "x" * 150, "stop", piece=64)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert text == "x" * 150 and chunks[-1]["choices"][0]["finish_reason"] == "stop"
