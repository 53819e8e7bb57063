"""Any OpenAI-compatible HTTP endpoint: vLLM, SGLang, llama.cpp's server, Ollama, hosted APIs.

``/v1/chat/completions`` for chat-style arms, ``/v1/completions`` for completion-style ones,
through :mod:`httpx` (imported when the first request is sent). Connection errors, timeouts,
HTTP 429/5xx, malformed JSON and empty text are retried with exponential backoff; what retries
do not cure comes back as a :class:`~octoroute.types.Completion` with an
:class:`~octoroute.types.ArmErrorKind`. At most ``concurrency`` requests of one arm are in
flight at once. The API key is read from the environment variable the pool names.

:meth:`OpenAICompatArm.probe` proves that the endpoint serves the named model. It cannot trust
the ``model`` field of an answer alone: llama.cpp's server answers a request for any model name
with whatever it has loaded. So it also asks for a random model name, compares the ``model``
field of both answers with ``/v1/models``, and the GGUF file in llama.cpp's ``/props``.

>>> arm = OpenAICompatArm("a", "m", "http://127.0.0.1:9/v1")
>>> arm.backend, arm.style.value, arm.cost_model.unit
('openai', 'chat', 'usd')
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from collections.abc import Generator, Mapping
from dataclasses import dataclass, replace
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from octoroute.arms.base import (
    ArmBase,
    ArmFailure,
    CostModel,
    Messages,
    PriceCost,
    PromptStyle,
    RawCompletion,
    Sampling,
)
from octoroute.config import secret
from octoroute.exceptions import ArmError, ConfigError
from octoroute.types import ArmErrorKind

if TYPE_CHECKING:
    import httpx

__all__ = ["OpenAICompatArm", "ProbeResult"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """What :meth:`OpenAICompatArm.probe` found out about an endpoint and the arm's model.

    ``serves_model`` is the verdict; the other fields are the evidence. ``ignores_names`` is
    True when the endpoint answered a request for a random model name (llama.cpp does), so
    the ``model`` field of an answer proves nothing by itself.
    """

    arm: str
    model: str
    up: bool
    serves_model: bool
    listed: tuple[str, ...] = ()
    answered_as: str = ""
    ignores_names: bool | None = None
    gguf: str = ""
    detail: str = ""


def _same_model(expected: str, answered: str) -> bool:
    """Whether an answer's ``model`` names the expected model (hosted APIs add a version)."""
    return answered == expected or answered.startswith(expected + "-")


class OpenAICompatArm(ArmBase):
    """An arm behind an OpenAI-compatible endpoint.

    ``endpoint`` is the base URL including its ``/v1`` (as the OpenAI clients take it).
    ``api_key_env`` names the environment variable holding the API key (none sent when None).
    ``timeout`` bounds one request (read and write), ``connect_timeout`` its connection;
    ``retries`` is the number of retries after the first try, waiting ``backoff`` seconds and
    doubling up to ``max_backoff``. ``expect_gguf`` is the GGUF file name a llama.cpp server must
    report in ``/props`` for :meth:`probe` to accept it.
    """

    backend = "openai"

    def __init__(
        self,
        name: str,
        model: str,
        endpoint: str,
        *,
        style: PromptStyle = PromptStyle.CHAT,
        sampling: Sampling | None = None,
        cost_model: CostModel | None = None,
        api_key_env: str | None = None,
        timeout: float = 120.0,
        connect_timeout: float = 5.0,
        retries: int = 3,
        backoff: float = 0.5,
        max_backoff: float = 8.0,
        concurrency: int = 4,
        expect_gguf: str | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> None:
        self.name = name
        self.model = model
        self.endpoint = endpoint
        self.style = PromptStyle(style)
        self.sampling = sampling if sampling is not None else Sampling()
        self.cost_model = cost_model if cost_model is not None else PriceCost(0.0, 0.0)
        self.api_key_env = api_key_env
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.concurrency = concurrency
        self.expect_gguf = expect_gguf
        self.extra_body = dict(extra_body or {})
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(max(1, concurrency))

    # -- connection -------------------------------------------------------------------------

    def _http(self) -> httpx.Client:
        """The shared client, built on first use (httpx clients are thread-safe)."""
        with self._lock:
            if self._client is None:
                import httpx

                headers = {"Accept": "application/json"}
                if self.api_key_env:
                    key = secret(self.api_key_env)
                    if key is None:
                        raise ArmFailure(
                            ArmErrorKind.UNAVAILABLE,
                            f"environment variable {self.api_key_env} (the API key) is not set",
                            retryable=False,
                        )
                    headers["Authorization"] = f"Bearer {key}"
                self._client = httpx.Client(
                    base_url=self.endpoint.rstrip("/") + "/",
                    headers=headers,
                    timeout=httpx.Timeout(self.timeout, connect=self.connect_timeout),
                    limits=httpx.Limits(max_connections=max(1, self.concurrency)),
                    trust_env=False,
                )
            return self._client

    def close(self) -> None:
        """Close the HTTP connections (reopened by the next request)."""
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    @property
    def root(self) -> str:
        """The server's root URL: the endpoint without its trailing ``/v1``."""
        base = self.endpoint.rstrip("/")
        return base.removesuffix("/v1")

    # -- requests ----------------------------------------------------------------------------

    def _body(self, payload: str | Messages, sampling: Sampling, model: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": model,
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
            "max_tokens": sampling.max_tokens,
            "stream": False,
        }
        if isinstance(payload, str):
            body["prompt"] = payload
        else:
            body["messages"] = [dict(m) for m in payload]
        if sampling.seed is not None:
            body["seed"] = sampling.seed
        if sampling.stop:
            body["stop"] = list(sampling.stop)
        return {**self.extra_body, **body}

    def _post_once(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """One POST; raise ArmFailure classified by what went wrong (retry decided by caller)."""
        import httpx

        try:
            response = self._http().post(path, json=body)
        except httpx.TimeoutException as e:
            raise ArmFailure(ArmErrorKind.TIMEOUT, f"{type(e).__name__}: {e}") from e
        except httpx.NetworkError as e:
            raise ArmFailure(ArmErrorKind.UNAVAILABLE, f"{type(e).__name__}: {e}") from e
        except httpx.HTTPError as e:  # protocol errors: the server broke the exchange
            raise ArmFailure(ArmErrorKind.BAD_RESPONSE, f"{type(e).__name__}: {e}") from e
        if response.status_code >= 400:
            raise _status_failure(response.status_code, response.text[:300])
        try:
            data = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ArmFailure(
                ArmErrorKind.BAD_RESPONSE, f"malformed JSON: {response.text[:200]!r}"
            ) from e
        if not isinstance(data, dict):
            raise ArmFailure(ArmErrorKind.BAD_RESPONSE, f"JSON is not an object: {data!r:.200}")
        return data

    @staticmethod
    def _parse(data: Mapping[str, Any], chat: bool) -> RawCompletion:
        """Text, usage and finish reason of an answer; ArmFailure when fields are missing."""
        try:
            choice = data["choices"][0]
            text = choice["message"]["content"] if chat else choice["text"]
        except (KeyError, IndexError, TypeError) as e:
            raise ArmFailure(
                ArmErrorKind.BAD_RESPONSE, f"no {e} in the answer: {json.dumps(data)[:200]}"
            ) from e
        if text is not None and not isinstance(text, str):
            raise ArmFailure(ArmErrorKind.BAD_RESPONSE, f"text is a {type(text).__name__}")
        if not text or not text.strip():
            raise ArmFailure(ArmErrorKind.EMPTY, "the model returned no text")
        usage = data.get("usage")
        usage = usage if isinstance(usage, dict) else {}

        def count(key: str) -> int:
            value = usage.get(key)
            return value if isinstance(value, int) and value >= 0 else 0

        return RawCompletion(
            text=text,
            prompt_tokens=count("prompt_tokens"),
            completion_tokens=count("completion_tokens"),
            finish_reason=str(choice.get("finish_reason") or ""),
            model=str(data.get("model") or ""),
        )

    def _request(self, payload: str | Messages, sampling: Sampling) -> RawCompletion:
        chat = not isinstance(payload, str)
        path = "chat/completions" if chat else "completions"
        body = self._body(payload, sampling, self.model)
        with self._slots:
            start = time.perf_counter()
            failure: ArmFailure | None = None
            for attempt in range(self.retries + 1):
                if attempt:
                    delay = min(self.max_backoff, self.backoff * 2 ** (attempt - 1))
                    log.info("arm %s: retry %d in %.2f s (%s)", self.name, attempt, delay, failure)
                    time.sleep(delay)
                try:
                    raw = self._parse(self._post_once(path, body), chat)
                except ArmFailure as e:
                    failure = e
                    if not e.retryable:
                        break
                    continue
                return replace(raw, latency=time.perf_counter() - start)
        if failure is None:  # unreachable: the loop runs at least once
            raise ArmFailure(ArmErrorKind.BAD_RESPONSE, "no attempt was made")
        raise ArmFailure(failure.kind, f"{failure.detail} (after {attempt + 1} tries)")

    def _request_stream(
        self, payload: str | Messages, sampling: Sampling
    ) -> Generator[str, None, RawCompletion]:
        """The answer as server-sent events: its text pieces, then the whole with the usage of
        the last event (``stream_options.include_usage``). One try: once text has been passed
        on, a retry could not take it back."""
        import httpx

        chat = not isinstance(payload, str)
        path = "chat/completions" if chat else "completions"
        body = {**self._body(payload, sampling, self.model), "stream": True,
                "stream_options": {"include_usage": True}}  # fmt: skip
        parts: list[str] = []
        usage: Mapping[str, Any] = {}
        finish, model = "", ""
        with self._slots:
            start = time.perf_counter()
            try:
                with self._http().stream("POST", path, json=body) as response:
                    if response.status_code >= 400:
                        raise _status_failure(response.status_code, response.read()[:300].decode(
                            "utf-8", "replace"))  # fmt: skip
                    for line in response.iter_lines():
                        if not line.startswith("data:"):
                            continue
                        data = line[5:].strip()
                        if data == "[DONE]":
                            break
                        event = _event(data)
                        usage = event.get("usage") or usage
                        model = str(event.get("model") or model)
                        choices = event.get("choices") or []
                        if not isinstance(choices, list):
                            raise ArmFailure(ArmErrorKind.BAD_RESPONSE,
                                             f"choices is not a list: {data[:200]!r}")  # fmt: skip
                        for choice in choices:
                            piece, reason = _piece(choice, chat)
                            if piece:
                                parts.append(piece)
                                yield piece
                            finish = reason or finish
            except httpx.TimeoutException as e:
                raise ArmFailure(ArmErrorKind.TIMEOUT, f"{type(e).__name__}: {e}") from e
            except httpx.NetworkError as e:
                raise ArmFailure(ArmErrorKind.UNAVAILABLE, f"{type(e).__name__}: {e}") from e
            except httpx.HTTPError as e:
                raise ArmFailure(ArmErrorKind.BAD_RESPONSE, f"{type(e).__name__}: {e}") from e
        text = "".join(parts)
        if not text.strip():
            raise ArmFailure(ArmErrorKind.EMPTY, "the model returned no text")

        def count(key: str) -> int:
            value = usage.get(key) if isinstance(usage, Mapping) else None
            return value if isinstance(value, int) and value >= 0 else 0

        return RawCompletion(text, count("prompt_tokens"), count("completion_tokens"), finish,
                             model, time.perf_counter() - start)  # fmt: skip

    # -- checks ------------------------------------------------------------------------------

    def _get(self, url: str) -> Any:
        import httpx

        try:
            response = self._http().get(url)
            response.raise_for_status()
            return response.json()
        except ArmFailure as e:
            raise ArmError(f"{self.name}: {e.detail}") from e
        except (httpx.HTTPError, ValueError) as e:
            raise ArmError(f"{self.name}: GET {url} failed: {type(e).__name__}: {e}") from e

    def served_models(self) -> list[str]:
        """The model ids ``/v1/models`` lists. Raises ArmError when the endpoint is down."""
        data = self._get("models")
        items = data.get("data") if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise ArmError(f"{self.name}: /models answered without a data list")
        ids: list[str] = []
        for item in items:
            if isinstance(item, dict) and isinstance(item.get("id"), str):
                ids.append(item["id"])
                aliases = item.get("aliases")
                if isinstance(aliases, list):
                    ids.extend(a for a in aliases if isinstance(a, str) and a not in ids)
        return ids

    def _tiny(self, model: str) -> tuple[bool, str]:
        """Ask ``model`` for one token: (answered, the ``model`` field of the answer)."""
        payload: str | Messages = (
            [{"role": "user", "content": "Say OK."}] if self.style.chat else "def"
        )
        body = self._body(payload, Sampling(max_tokens=1), model)
        path = "chat/completions" if self.style.chat else "completions"
        try:
            data = self._post_once(path, body)
        except ArmFailure:
            return False, ""
        return True, str(data.get("model") or "")

    def probe(self) -> ProbeResult:
        """Prove (or disprove) that the endpoint serves :attr:`model`; never raises.

        The model must be listed by ``/v1/models``; a one-token request for it must answer
        under its name; if the endpoint also answers a random model name, that answer must not
        name another model; and where llama.cpp's ``/props`` names a GGUF file, it must be
        :attr:`expect_gguf` when that is set.
        """
        fail = ProbeResult
        try:
            listed = tuple(self.served_models())
        except ArmError as e:
            return fail(self.name, self.model, up=False, serves_model=False, detail=str(e))
        except ArmFailure as e:
            return fail(self.name, self.model, up=False, serves_model=False, detail=e.detail)
        problems: list[str] = []
        if self.model not in listed:
            problems.append(f"/v1/models lists {', '.join(listed) or 'nothing'}")
        answered, answered_as = self._tiny(self.model)
        if not answered:
            problems.append("a one-token request for the model failed")
        elif answered_as and not _same_model(self.model, answered_as):
            problems.append(f"answered as {answered_as}")
        nonce = f"octoroute-probe-{secrets.token_hex(4)}"
        ignores, nonce_as = self._tiny(nonce)
        if ignores and nonce_as and nonce_as != nonce and not _same_model(self.model, nonce_as):
            problems.append(f"a request for any model is answered by {nonce_as}")
        gguf = ""
        try:
            props = self._get(self.root + "/props")
        except ArmError:
            props = None
        if isinstance(props, dict) and isinstance(props.get("model_path"), str):
            gguf = PurePosixPath(props["model_path"].replace("\\", "/")).name
            if self.expect_gguf and gguf != self.expect_gguf:
                problems.append(f"/props says the server loaded {gguf}, not {self.expect_gguf}")
        elif self.expect_gguf:
            problems.append(f"/props does not name a GGUF file (expected {self.expect_gguf})")
        return ProbeResult(
            arm=self.name,
            model=self.model,
            up=True,
            serves_model=not problems,
            listed=listed,
            answered_as=answered_as,
            ignores_names=ignores,
            gguf=gguf,
            detail="; ".join(problems),
        )


def check_endpoint(endpoint: str) -> None:
    """Reject an endpoint that is not an http(s) URL (ConfigError)."""
    if not endpoint.startswith(("http://", "https://")):
        raise ConfigError(f"endpoint {endpoint!r}: expected an http:// or https:// URL")


def _status_failure(status: int, text: str) -> ArmFailure:
    """The failure an HTTP error status means (overload and server errors may pass)."""
    kind = ArmErrorKind.HTTP_ERROR
    if status == 404 and "model" in text.lower():
        kind = ArmErrorKind.WRONG_MODEL
    retry = status in (408, 429) or status >= 500
    return ArmFailure(kind, f"HTTP {status}: {text}", retryable=retry)


def _event(data: str) -> Mapping[str, Any]:
    """One server-sent event's JSON object; ArmFailure when it is not one."""
    try:
        event = json.loads(data)
    except ValueError as e:
        raise ArmFailure(ArmErrorKind.BAD_RESPONSE, f"malformed event: {data[:200]!r}") from e
    if not isinstance(event, dict):
        raise ArmFailure(ArmErrorKind.BAD_RESPONSE, f"event is not an object: {data[:200]!r}")
    return event


def _piece(choice: Any, chat: bool) -> tuple[str, str]:
    """The text a streamed choice adds (its delta's content, or a completion's text) and its
    finish reason; ArmFailure when the choice is not shaped as one."""
    delta = choice.get("delta") if isinstance(choice, dict) else None
    if not isinstance(choice, dict) or (chat and not isinstance(delta, dict | None)):
        raise ArmFailure(ArmErrorKind.BAD_RESPONSE, f"malformed choice: {choice!r:.200}")
    value = (delta or {}).get("content") if chat else choice.get("text")
    reason = choice.get("finish_reason")
    return (value if isinstance(value, str) else "", reason if isinstance(reason, str) else "")
