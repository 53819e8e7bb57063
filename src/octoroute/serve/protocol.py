"""The chat-completions request as the server reads it, and the bodies it answers with.

Only what routing needs is read: ``model``, ``messages`` (text content, or lists of text
parts), ``stream``, ``temperature``, ``top_p``, ``max_tokens`` (or ``max_completion_tokens``),
``seed`` and ``stop``; other fields are accepted and ignored, as OpenAI-compatible servers do.
Every field error is an :class:`~.errors.ApiError` 400 naming the field.

A request asks for a *verified* answer with the extension field ``octoroute``:
``{"problem": {...}}`` (one problem in the project's JSONL problem format,
:mod:`octoroute.tasks.jsonl`: its prompt, entry point and tests; ``visible`` tests may be shown
to the models, the others only grade) or ``{"problem_id": "HumanEval/0"}`` (a problem of a
bundled benchmark), with optional ``max_attempts`` (1 to 5, default 3) and ``budget`` (a
compute cap in the arms' cost unit).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from octoroute.serve.errors import ApiError

__all__ = [
    "ROLES",
    "ChatRequest",
    "chunk_bodies",
    "chunk_body",
    "completion_body",
    "parse_chat",
]

ROLES = ("system", "developer", "user", "assistant", "tool")


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """A validated ``POST /v1/chat/completions`` body."""

    model: str
    messages: tuple[Mapping[str, str], ...]
    stream: bool = False
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    seed: int | None = None
    stop: tuple[str, ...] = ()
    problem: Mapping[str, Any] | None = None
    """A problem record (JSONL problem format) to verify the answer on."""
    problem_id: str | None = None
    """A bundled benchmark's problem to verify the answer on."""
    max_attempts: int = 3
    budget: float | None = None

    @property
    def verified(self) -> bool:
        """True when the answer is to be checked by running tests."""
        return self.problem is not None or self.problem_id is not None

    @property
    def prompt(self) -> str:
        """What the router featurizes: the user's messages, in order (system prompts and
        earlier answers say little about which model should answer)."""
        users = [m["content"] for m in self.messages if m["role"] == "user"]
        return "\n\n".join(users) or self.messages[-1]["content"]


def _bad(message: str, param: str) -> ApiError:
    return ApiError(400, message, param=param, code="invalid_value")


def _content(value: Any, where: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):  # [{"type": "text", "text": ...}, ...]
        texts = []
        for k, part in enumerate(value):
            if not isinstance(part, dict) or part.get("type") != "text":
                raise _bad("only text content parts are supported", f"{where}.content[{k}]")
            text = part.get("text")
            if not isinstance(text, str):
                raise _bad("a text part needs a string 'text'", f"{where}.content[{k}].text")
            texts.append(text)
        return "".join(texts)
    raise _bad("expected a string or a list of text parts", f"{where}.content")


def _number(body: Mapping[str, Any], name: str, low: float, high: float) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise _bad(f"expected a number from {low:g} to {high:g}, found {value!r}", name)
    return float(value)


def _integer(body: Mapping[str, Any], name: str, low: int) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise _bad(f"expected an integer of at least {low}, found {value!r}", name)
    return value


def parse_chat(body: Any) -> ChatRequest:
    """Validate a decoded JSON body; raise ApiError 400 naming the first bad field."""
    if not isinstance(body, dict):
        raise _bad(f"expected a JSON object, found {type(body).__name__}", "body")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise ApiError(400, "missing field 'model' (a model name)", param="model",
                       code="missing_field")  # fmt: skip
    raw = body.get("messages")
    if not isinstance(raw, list) or not raw:
        raise ApiError(400, "missing field 'messages' (a non-empty list)", param="messages",
                       code="missing_field")  # fmt: skip
    messages = []
    for i, m in enumerate(raw):
        where = f"messages[{i}]"
        if not isinstance(m, dict):
            raise _bad("expected an object with 'role' and 'content'", where)
        role = m.get("role")
        if role not in ROLES:
            raise _bad(f"expected a role among {', '.join(ROLES)}, found {role!r}", f"{where}.role")
        messages.append({"role": str(role), "content": _content(m.get("content"), where)})
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise _bad(f"expected true or false, found {stream!r}", "stream")
    stop = body.get("stop") or ()
    if isinstance(stop, str):
        stop = (stop,)
    if not isinstance(stop, list | tuple) or not all(isinstance(s, str) for s in stop):
        raise _bad("expected a string or a list of strings", "stop")
    max_tokens = _integer(body, "max_completion_tokens", 1) or _integer(body, "max_tokens", 1)
    ext = _extension(body.get("octoroute"))
    return ChatRequest(
        model=model,
        messages=tuple(messages),
        stream=stream,
        temperature=_number(body, "temperature", 0.0, 2.0),
        top_p=_number(body, "top_p", 0.0, 1.0),
        max_tokens=max_tokens,
        seed=_integer(body, "seed", 0),
        stop=tuple(stop),
        **ext,
    )


def _extension(ext: Any) -> dict[str, Any]:
    """The ``octoroute`` extension field's settings (empty: an unverified request)."""
    if ext is None:
        return {}
    if not isinstance(ext, dict):
        raise _bad("expected an object", "octoroute")
    unknown = sorted(set(ext) - {"problem", "problem_id", "max_attempts", "budget"})
    if unknown:
        raise _bad(f"unknown fields {unknown}", "octoroute")
    problem, problem_id = ext.get("problem"), ext.get("problem_id")
    if (problem is None) == (problem_id is None):
        raise _bad("expected exactly one of 'problem' and 'problem_id'", "octoroute")
    if problem is not None and not isinstance(problem, dict):
        raise _bad("expected a problem object (JSONL problem format)", "octoroute.problem")
    if problem_id is not None and (not isinstance(problem_id, str) or not problem_id):
        raise _bad("expected a problem id such as 'HumanEval/0'", "octoroute.problem_id")
    attempts = ext.get("max_attempts", 3)
    if isinstance(attempts, bool) or not isinstance(attempts, int) or not 1 <= attempts <= 5:
        raise _bad(f"expected an integer from 1 to 5, found {attempts!r}", "octoroute.max_attempts")
    budget = ext.get("budget")
    if budget is not None and (isinstance(budget, bool) or not isinstance(budget, int | float)
                               or budget <= 0):  # fmt: skip
        raise _bad(f"expected a positive number, found {budget!r}", "octoroute.budget")
    return {"problem": problem, "problem_id": problem_id, "max_attempts": attempts,
            "budget": None if budget is None else float(budget)}  # fmt: skip


def completion_body(
    request_id: str, model: str, text: str, finish_reason: str, usage: Mapping[str, int]
) -> dict[str, Any]:
    """A ``chat.completion`` object with one choice."""
    return {
        "id": request_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": finish_reason or "stop",
            }
        ],
        "usage": dict(usage),
    }


def chunk_bodies(
    request_id: str, model: str, text: str, finish_reason: str, piece: int = 64
) -> list[dict[str, Any]]:
    """The ``chat.completion.chunk`` objects of a streamed answer: the role, the text in
    pieces of ``piece`` characters, then the finish reason."""
    created = int(time.time())
    out = [chunk_body(request_id, model, created, {"role": "assistant", "content": ""})]
    out += [chunk_body(request_id, model, created, {"content": text[i : i + piece]})
            for i in range(0, len(text), piece)]  # fmt: skip
    out.append(chunk_body(request_id, model, created, {}, finish_reason or "stop"))
    return out


def chunk_body(
    request_id: str, model: str, created: int, delta: dict[str, str], finish: str | None = None
) -> dict[str, Any]:
    """One ``chat.completion.chunk`` object: a delta of the answer, or its finish reason."""
    return {"id": request_id, "object": "chat.completion.chunk", "created": created,
            "model": model, "choices": [{"index": 0, "delta": delta,
                                         "finish_reason": finish}]}  # fmt: skip
