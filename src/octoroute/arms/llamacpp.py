"""In-process llama.cpp through ``xllamacpp`` (the ``local`` extra): no server to run by hand.

:class:`LlamaCppArm` starts ``xllamacpp.Server`` (llama.cpp's own OpenAI-compatible HTTP server,
in this process) on a free loopback port with the context size and threads set explicitly,
and talks to it with :class:`~octoroute.arms.openai_compat.OpenAICompatArm`, so both backends
share one client, its retries and its error kinds. The server starts on the first request (or
:meth:`LlamaCppArm.start`) and stops on :meth:`LlamaCppArm.close`; use the arm as a context
manager. Keep one model loaded at a time on a small machine: each loaded model holds its
weights and the threads compete for the same cores.

>>> arm = LlamaCppArm("tiny", "/models/tiny.gguf")
>>> arm.backend, arm.model, arm.n_ctx, arm.threads, arm.running
('llamacpp', 'tiny', 4096, 2, False)
"""

from __future__ import annotations

import importlib
import logging
import signal
import threading
import time
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from octoroute.arms import prompts
from octoroute.arms.base import (
    ArmBase,
    ArmFailure,
    CostModel,
    FlopsCost,
    Messages,
    PromptStyle,
    RawCompletion,
    Sampling,
)
from octoroute.arms.openai_compat import OpenAICompatArm, ProbeResult
from octoroute.exceptions import ArmError, DataError, MissingDependencyError
from octoroute.types import ArmErrorKind, Problem

__all__ = ["XLLAMACPP_PIN", "GGUFFlops", "LlamaCppArm", "RawSpeed", "import_xllamacpp"]

log = logging.getLogger(__name__)

XLLAMACPP_PIN = "xllamacpp==2026.10.11549"
"""The runtime version the ``local`` extra pins."""


def import_xllamacpp() -> ModuleType:
    """Import ``xllamacpp``, or raise MissingDependencyError naming the ``local`` extra."""
    # import_module, not an import statement: xllamacpp ships no type information.
    try:
        return importlib.import_module("xllamacpp")
    except ImportError as e:
        raise MissingDependencyError("xllamacpp", "local") from e


@dataclass(frozen=True, slots=True)
class RawSpeed:
    """llama.cpp's measured speeds, in tokens per second."""

    decode: float
    prompt: float
    tokens: int


class GGUFFlops:
    """Compute cost, 2 x parameters x tokens in FLOPs, parameters read from a GGUF file.

    The file is read once, on first use (construction does no I/O); an unreadable file raises
    :class:`~octoroute.exceptions.ArmError`.
    """

    unit = "flops"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._parameters: int | None = None

    @property
    def parameters(self) -> int:
        """The parameter count: the sum of the element counts of the GGUF's tensors."""
        if self._parameters is None:
            from octoroute.arms.gguf import read_gguf_file

            try:
                self._parameters = read_gguf_file(self.path).parameters
            except DataError as e:
                raise ArmError(f"cannot read the parameter count: {e}") from e
        return self._parameters

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        """2 x parameters x (prompt_tokens + completion_tokens), in FLOPs."""
        return FlopsCost(self.parameters).cost(prompt_tokens, completion_tokens)

    def __repr__(self) -> str:
        return f"GGUFFlops({str(self.path)!r})"


class LlamaCppArm(ArmBase):
    """A GGUF model served in this process by llama.cpp.

    ``model`` is the name the server announces (default: the file name without ``.gguf``).
    ``n_ctx`` is the context of each of the ``parallel`` slots; ``threads`` the CPU threads used
    for both prompt and generation. ``sha256``, when given, must match the file (checked
    through the stamp :mod:`octoroute.arms.models` leaves, else by hashing) before it is loaded.
    ``cost_model`` defaults to 2 x parameters x tokens in FLOPs, parameters read from the
    file's GGUF tensor infos.
    """

    backend = "llamacpp"

    def __init__(
        self,
        name: str,
        path: str | Path,
        *,
        model: str | None = None,
        style: PromptStyle = PromptStyle.COMPLETION,
        sampling: Sampling | None = None,
        cost_model: CostModel | None = None,
        n_ctx: int = 4096,
        threads: int = 2,
        parallel: int = 1,
        timeout: float = 600.0,
        retries: int = 1,
        sha256: str | None = None,
        cache_prompt: bool = True,
    ) -> None:
        self.name = name
        self.path = Path(path)
        self.model = model if model is not None else self.path.name.removesuffix(".gguf")
        self.style = PromptStyle(style)
        self.sampling = sampling if sampling is not None else Sampling()
        self.cost_model: CostModel = cost_model if cost_model is not None else GGUFFlops(self.path)
        self.n_ctx = n_ctx
        self.threads = threads
        self.parallel = parallel
        self.timeout = timeout
        self.retries = retries
        self.sha256 = sha256
        self.cache_prompt = cache_prompt
        self._server: Any = None
        self._client: OpenAICompatArm | None = None
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        """True while the server is up."""
        return self._server is not None

    @property
    def endpoint(self) -> str | None:
        """The server's ``/v1`` base URL while it runs."""
        return self._client.endpoint if self._client is not None else None

    def _check_file(self) -> None:
        if not self.path.is_file():
            raise ArmError(
                f"{self.name}: model file {self.path} not found "
                "(install the default pool's models with `octoroute models install`)"
            )
        if self.sha256 is not None:
            from octoroute.arms.models import verified

            if not verified(self.path, self.sha256):
                raise ArmError(
                    f"{self.name}: {self.path} does not have SHA-256 {self.sha256}; "
                    "refusing to load it (reinstall with `octoroute models install`)"
                )

    def _params(self, xllamacpp: ModuleType) -> Any:
        params = xllamacpp.CommonParams()
        params.model.path = str(self.path)
        params.model_alias = {self.model}
        # The default context is the model's training context (up to 128k): far too much memory.
        params.n_ctx = self.n_ctx * self.parallel
        params.n_parallel = self.parallel
        params.cpuparams.n_threads = self.threads
        params.cpuparams_batch.n_threads = self.threads
        params.hostnames = ["127.0.0.1"]
        params.port = 0  # a free port, chosen by the server and read back
        params.verbosity = -1
        return params

    def start(self) -> None:
        """Load the model and start the server (no-op when running). Raises ArmError."""
        with self._lock:
            if self._server is not None:
                return
            xllamacpp = import_xllamacpp()
            self._check_file()
            if isinstance(self.cost_model, GGUFFlops):
                _ = self.cost_model.parameters  # read the header before the slow load
            begin = time.perf_counter()
            server = _start_server(xllamacpp, self._params(xllamacpp), self.name)
            address = str(server.listening_address).rstrip("/")
            log.info("%s: llama.cpp serving %s at %s (%.1f s)", self.name, self.model, address,
                     time.perf_counter() - begin)  # fmt: skip
            self._server = server
            self._client = OpenAICompatArm(
                self.name,
                self.model,
                address + "/v1",
                style=self.style,
                sampling=self.sampling,
                cost_model=self.cost_model,
                timeout=self.timeout,
                retries=self.retries,
                concurrency=self.parallel,
                expect_gguf=self.path.name,
                # Reuse the KV cache of the prompt prefix a request shares with the last one
                # (the chat template, the system prompt, the instruction): said, not assumed.
                extra_body={"cache_prompt": self.cache_prompt},
            )

    def close(self) -> None:
        """Stop the server and free the model (started again by the next request)."""
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None
            server, self._server = self._server, None
        # Dropping the last reference runs the server's destructor: it stops the loop and joins.
        del server

    def _request(self, payload: str | Messages, sampling: Sampling) -> RawCompletion:
        try:
            self.start()
        except (ArmError, MissingDependencyError) as e:
            raise ArmFailure(ArmErrorKind.UNAVAILABLE, str(e), retryable=False) from e
        client = self._client
        if client is None:  # closed by another thread meanwhile
            raise ArmFailure(ArmErrorKind.UNAVAILABLE, "the server was stopped", retryable=False)
        return client._request(payload, sampling)

    def _request_stream(
        self, payload: str | Messages, sampling: Sampling
    ) -> Generator[str, None, RawCompletion]:
        """The answer in pieces, through the in-process server's event stream."""
        try:
            self.start()
        except (ArmError, MissingDependencyError) as e:
            raise ArmFailure(ArmErrorKind.UNAVAILABLE, str(e), retryable=False) from e
        client = self._client
        if client is None:
            raise ArmFailure(ArmErrorKind.UNAVAILABLE, "the server was stopped", retryable=False)
        return (yield from client._request_stream(payload, sampling))

    def raw_speed(self, tokens: int = 128, prompt: str = "def fibonacci(n):\n") -> RawSpeed:
        """llama.cpp's own decode and prompt speeds (tokens/s) for ``tokens`` forced tokens.

        The baseline that generation through the arm (HTTP, prompting, extraction) is compared
        with. Starts the server if needed; raises ArmError when the measurement fails.
        """
        self.start()
        client = self._client
        if client is None:
            raise ArmError(f"{self.name}: the server was stopped")
        body = {"model": self.model, "prompt": prompt, "max_tokens": tokens, "temperature": 0.0,
                "ignore_eos": True, "cache_prompt": False}  # fmt: skip
        try:
            timings = client._post_once("completions", body)["timings"]
            return RawSpeed(
                decode=float(timings["predicted_per_second"]),
                prompt=float(timings["prompt_per_second"]),
                tokens=int(timings["predicted_n"]),
            )
        except (ArmFailure, KeyError, TypeError, ValueError) as e:
            raise ArmError(f"{self.name}: speed measurement failed: {e}") from e

    def prompt_tokens(self, problem: Problem) -> list[int]:
        """The token ids the model reads when this arm is asked ``problem``: the arm's prompt
        in its style, through the model's own chat template and tokenizer (what hidden-state
        probes read). Only the problem's visible part is prompted, as in :meth:`generate`.
        Starts the server if needed; raises ArmError when the server will not say."""
        import httpx  # only when an arm is used: importing arms loads no HTTP client

        self.start()
        client = self._client
        if client is None:
            raise ArmError(f"{self.name}: the server was stopped")
        view = problem.visible_only()
        base = client.endpoint.rstrip("/").removesuffix("/v1")
        try:
            with httpx.Client(timeout=self.timeout) as http:
                payload, _ = prompts.problem_request(view, self.style)
                if isinstance(payload, str):
                    text = payload
                else:
                    messages = list(payload)
                    # A prefilled answer continues the templated conversation, as the server
                    # continues it when the last message is the assistant's.
                    prefill = (
                        messages.pop()["content"] if messages[-1]["role"] == "assistant" else ""
                    )
                    reply = http.post(base + "/apply-template", json={"messages": messages})
                    text = str(reply.raise_for_status().json()["prompt"]) + prefill
                body = {"content": text, "add_special": True, "parse_special": True}
                reply = http.post(base + "/tokenize", json=body)
                tokens = reply.raise_for_status().json()["tokens"]
        except (httpx.HTTPError, KeyError, TypeError, ValueError) as e:
            raise ArmError(f"{self.name}: tokenizing the prompt failed: {e}") from e
        if not isinstance(tokens, list) or not all(type(t) is int for t in tokens):
            raise ArmError(f"{self.name}: the server's tokens are not a list of ids")
        return tokens

    def probe(self) -> ProbeResult:
        """Start the server if needed and prove it serves this arm's file and model name."""
        try:
            self.start()
        except (ArmError, MissingDependencyError) as e:
            return ProbeResult(self.name, self.model, up=False, serves_model=False, detail=str(e))
        client = self._client
        if client is None:
            return ProbeResult(self.name, self.model, up=False, serves_model=False,
                               detail="the server was stopped")  # fmt: skip
        return client.probe()


def _start_server(xllamacpp: ModuleType, params: Any, name: str) -> Any:
    """Start ``xllamacpp.Server``, keeping Python's SIGINT/SIGTERM handling.

    llama.cpp installs its own SIGINT/SIGTERM handlers (which stop its loop): put Python's back,
    so that Ctrl-C still raises KeyboardInterrupt and SIGTERM keeps its meaning.
    """
    in_main = threading.current_thread() is threading.main_thread()
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)} if in_main else {}
    try:
        return xllamacpp.Server(params)
    except RuntimeError as e:
        raise ArmError(f"{name}: llama.cpp failed to start: {e}") from e
    finally:
        for sig, handler in saved.items():
            if handler is not None:
                signal.signal(sig, handler)
