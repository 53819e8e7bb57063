"""The Starlette application: OpenAI-compatible endpoints over a :class:`RoutingService`.

``POST /v1/chat/completions`` (streamed as server-sent events when asked, each piece as the
arm writes it; a verified answer, judged whole before it is sent, carries its verdicts in an
``octoroute`` field of the body, or of the last chunk), ``GET /v1/models``, ``GET /health`` and
``POST /v1/feedback``. Every answer says in headers which arm answered, under which decision
id, with what propensity and policy, and which arms failed before it. Errors are OpenAI error
objects. Bodies over ``max_body`` bytes are refused before they are read whole; keys are
compared in constant time. Model calls run in worker threads, so requests overlap.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from octoroute.serve.errors import ApiError
from octoroute.serve.protocol import chunk_bodies, chunk_body, completion_body, parse_chat
from octoroute.serve.service import Answer, RoutingService, Streaming

__all__ = ["MAX_BODY", "create_app"]

log = logging.getLogger(__name__)

MAX_BODY = 1 << 20
"""Request bodies above this many bytes are refused (413)."""


def _headers(answer: Answer) -> dict[str, str]:
    out = {
        "x-octoroute-arm": answer.arm,
        "x-octoroute-decision-id": answer.decision_id,
        "x-octoroute-propensity": f"{answer.propensity:.6g}",
        "x-octoroute-policy": answer.policy,
    }
    if answer.failed:
        out["x-octoroute-fallback"] = ",".join(answer.failed)
    if answer.action:  # a clarifying question, or the code written after the reply to one
        out["x-octoroute-action"] = answer.action
    if answer.episode:
        out["x-octoroute-episode"] = answer.episode
    if answer.verification is not None:
        out["x-octoroute-verdict"] = "passed" if answer.verification["passed"] else "failed"
        out["x-octoroute-attempts"] = str(len(answer.verification["attempts"]))
    return out


async def _body(request: Request, limit: int) -> Any:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, f"request body over {limit} bytes", code="body_too_large")
    data = bytearray()
    async for part in request.stream():
        data += part
        if len(data) > limit:
            raise ApiError(413, f"request body over {limit} bytes", code="body_too_large")
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError) as e:
        raise ApiError(400, f"the body is not valid JSON: {e}", code="invalid_json") from None


def _events(streaming: Streaming) -> Iterator[str]:
    """Server-sent events of a streamed answer, each piece as the arm wrote it (a blocking
    iterator: Starlette runs it in a worker thread)."""
    head = streaming.head
    rid = f"chatcmpl-{head.decision_id}"
    created = int(time.time())

    def event(delta: dict[str, str], finish: str | None = None) -> str:
        return f"data: {json.dumps(chunk_body(rid, head.arm, created, delta, finish))}\n\n"

    yield event({"role": "assistant", "content": ""})
    for piece in streaming.pieces:
        yield event({"content": piece})
    failure = streaming.failure
    if failure is not None:  # the arm broke off: say so, as OpenAI streams an error
        err = ApiError(502, f"{head.arm} failed mid-answer: {failure}", code="arm_failed")
        yield f"data: {json.dumps(err.body())}\n\n"
    else:
        yield event({}, streaming.finish_reason)
    yield "data: [DONE]\n\n"


def _check_key(request: Request, key: str | None) -> None:
    if not key:
        return
    given = request.headers.get("authorization", "")
    scheme, _, token = given.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.encode(), key.encode()):
        raise ApiError(401, "missing or wrong API key (Authorization: Bearer KEY)",
                       code="invalid_api_key")  # fmt: skip


def create_app(
    service: RoutingService,
    *,
    api_key: str | None = None,
    chat_key: str | None = None,
    max_body: int = MAX_BODY,
) -> Starlette:
    """The application over an opened ``service`` (closed when the application stops).
    ``api_key`` guards feedback; ``chat_key`` the chat and models endpoints (each None:
    open)."""

    async def health(request: Request) -> Response:
        return JSONResponse(service.describe())

    async def models(request: Request) -> Response:
        _check_key(request, chat_key)
        data = [{"id": m, "object": "model", "created": 0, "owned_by": "octoroute"}
                for m in service.model_ids()]  # fmt: skip
        return JSONResponse({"object": "list", "data": data})

    async def chat(request: Request) -> Response:
        _check_key(request, chat_key)
        parsed = parse_chat(await _body(request, max_body))
        if parsed.stream and not parsed.verified:
            streaming = await run_in_threadpool(service.stream, parsed)
            return StreamingResponse(_events(streaming), media_type="text/event-stream",
                                     headers=_headers(streaming.head))  # fmt: skip
        answer = await run_in_threadpool(service.chat, parsed)
        usage = {"prompt_tokens": answer.prompt_tokens,
                 "completion_tokens": answer.completion_tokens,
                 "total_tokens": answer.prompt_tokens + answer.completion_tokens}  # fmt: skip
        rid = f"chatcmpl-{answer.decision_id}"
        if not parsed.stream:
            body = completion_body(rid, answer.arm, answer.text, answer.finish_reason, usage)
            if answer.verification is not None:
                body["octoroute"] = answer.verification
            return JSONResponse(body, headers=_headers(answer))

        async def events() -> AsyncIterator[str]:
            chunks = chunk_bodies(rid, answer.arm, answer.text, answer.finish_reason)
            if answer.verification is not None:
                chunks[-1]["octoroute"] = answer.verification
            for chunk in chunks:
                yield f"data: {json.dumps(chunk)}\n\n"
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers=_headers(answer))  # fmt: skip

    async def feedback(request: Request) -> Response:
        _check_key(request, api_key)
        body = await _body(request, max_body)
        if not isinstance(body, dict):
            raise ApiError(400, "expected a JSON object", param="body", code="invalid_value")
        decision_id = body.get("decision_id")
        if not isinstance(decision_id, str) or not decision_id:
            raise ApiError(400, "missing field 'decision_id' (from x-octoroute-decision-id)",
                           param="decision_id", code="missing_field")  # fmt: skip
        reward = body.get("reward")
        if isinstance(reward, bool) or not isinstance(reward, int | float):
            raise ApiError(400, "missing field 'reward' (a number from 0 to 1)",
                           param="reward", code="missing_field")  # fmt: skip
        key = request.headers.get("idempotency-key") or None
        result = await run_in_threadpool(service.feedback, decision_id, float(reward), key)
        return JSONResponse({"decision_id": result.decision_id, "arm": result.arm,
                             "reward": result.reward, "applied": result.applied})  # fmt: skip

    async def api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return JSONResponse(exc.body(), status_code=exc.status)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        code = "not_found" if exc.status_code == 404 else "method_not_allowed"
        err = ApiError(exc.status_code, f"{request.method} {request.url.path}: {exc.detail}",
                       code=code)  # fmt: skip
        return JSONResponse(err.body(), status_code=exc.status_code)

    async def server_error(request: Request, exc: Exception) -> Response:
        # The details go to the server's log, not to the client (paths, queries).
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        err = ApiError(500, f"internal error ({type(exc).__name__}); see the server's log",
                       code="internal_error")  # fmt: skip
        return JSONResponse(err.body(), status_code=500)

    routes = [
        Route("/health", health),
        Route("/v1/models", models),
        Route("/v1/chat/completions", chat, methods=["POST"]),
        Route("/v1/feedback", feedback, methods=["POST"]),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        service.close()  # the arms' servers and the sandbox stop with the application

    handlers = {ApiError: api_error, HTTPException: http_error, Exception: server_error}
    return Starlette(routes=routes, exception_handlers=handlers,  # type: ignore[arg-type]
                     lifespan=lifespan)  # fmt: skip
