"""The arm protocol: one LLM behind ``generate(problem or messages) -> Completion``.

An arm never raises from :meth:`Arm.generate`: a connection refused, an HTTP 5xx, a timeout, a
malformed or empty answer all come back as a :class:`~octoroute.types.Completion` whose ``error``
is an :class:`~octoroute.types.ArmErrorKind`, kept apart from wrong code (which is judged later,
in the sandbox).

:class:`ArmBase` is the small template the backends share: the public ``generate`` builds the
prompt for the arm's style, times the call, prices the tokens and extracts the code; a backend
implements only ``_request``.

>>> cost = FlopsCost(parameters=1_000)
>>> cost.cost(prompt_tokens=3, completion_tokens=2), cost.unit
(10000.0, 'flops')
>>> PriceCost(usd_per_m_prompt=1.0, usd_per_m_completion=2.0).cost(1_000_000, 500_000)
2.0
"""

from __future__ import annotations

import logging
import time
from collections.abc import Generator, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Protocol, runtime_checkable

from octoroute.arms import prompts
from octoroute.arms.style import Messages, PromptStyle
from octoroute.types import ArmErrorKind, Completion, Problem

__all__ = [
    "Arm",
    "ArmBase",
    "ArmFailure",
    "CompletionStream",
    "CostModel",
    "FlopsCost",
    "Messages",
    "PriceCost",
    "PromptStyle",
    "RawCompletion",
    "Sampling",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Sampling:
    """Sampling settings of one request. ``seed`` None lets the backend choose.

    >>> Sampling().temperature, Sampling(temperature=0.8, seed=1).seed
    (0.0, 1)
    """

    temperature: float = 0.0
    top_p: float = 1.0
    max_tokens: int = 512
    seed: int | None = None
    stop: tuple[str, ...] = ()

    def with_stop(self, extra: Sequence[str]) -> Sampling:
        """A copy whose stop sequences also include ``extra`` (deduplicated, order kept)."""
        return replace(self, stop=tuple(dict.fromkeys((*self.stop, *extra))))

    def record(self) -> dict[str, Any]:
        """The settings as the log stores them (JSON types: ``stop`` is a list).

        >>> Sampling(seed=3, stop=("```",)).record()["stop"]
        ['```']
        """
        return {**asdict(self), "stop": list(self.stop)}


@runtime_checkable
class CostModel(Protocol):
    """Prices one request from its token counts, in :attr:`unit`."""

    @property
    def unit(self) -> str:
        """``"flops"`` or ``"usd"``: every figure says which cost it is."""
        ...

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        """The cost of a request in :attr:`unit`."""
        ...


@dataclass(frozen=True, slots=True)
class FlopsCost:
    """Compute cost: 2 x parameters x tokens (prompt and completion), in FLOPs."""

    parameters: int
    unit: str = field(default="flops", init=False)

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        """2 x parameters x (prompt_tokens + completion_tokens), in FLOPs."""
        return 2.0 * self.parameters * (prompt_tokens + completion_tokens)


@dataclass(frozen=True, slots=True)
class PriceCost:
    """Hosted-API cost: US dollars per million prompt and per million completion tokens."""

    usd_per_m_prompt: float
    usd_per_m_completion: float
    unit: str = field(default="usd", init=False)

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        """The request's price in US dollars."""
        return (
            prompt_tokens * self.usd_per_m_prompt + completion_tokens * self.usd_per_m_completion
        ) / 1e6


@runtime_checkable
class Arm(Protocol):
    """One LLM the router can choose. ``generate`` never raises for an arm failure."""

    @property
    def name(self) -> str:
        """The arm's name in its pool (unique there)."""
        ...

    @property
    def backend(self) -> str:
        """``"openai"`` or ``"llamacpp"``."""
        ...

    @property
    def model(self) -> str:
        """The model name the backend is asked for (and must prove it serves)."""
        ...

    @property
    def style(self) -> PromptStyle:
        """Chat or completion prompting."""
        ...

    @property
    def sampling(self) -> Sampling:
        """The default sampling settings."""
        ...

    @property
    def cost_model(self) -> CostModel:
        """How a request is priced."""
        ...

    def generate(
        self,
        task: Problem | Messages,
        sampling: Sampling | None = None,
        *,
        problem: Problem | None = None,
    ) -> Completion:
        """Generate for a problem (prompted in the arm's style) or for ready chat messages.

        With messages, ``problem`` (optional) is the problem they are about: code extraction
        then completes a bare function body with the problem's stub and imports.
        """
        ...


@dataclass(frozen=True, slots=True)
class RawCompletion:
    """What a backend's ``_request`` returns: text and usage, before pricing and extraction."""

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str = ""
    model: str = ""
    latency: float | None = None
    """Seconds the request took, when the backend measures it (else ``generate`` times it)."""


class ArmFailure(Exception):
    """Raised by a backend's ``_request`` after its retries; ``generate`` turns it into data.

    ``retryable`` says whether trying again may help (a refused connection may; a missing API
    key or an HTTP 404 will not).
    """

    def __init__(self, kind: ArmErrorKind, detail: str = "", *, retryable: bool = True) -> None:
        self.kind = kind
        self.detail = detail
        self.retryable = retryable
        super().__init__(f"{kind.value}: {detail}" if detail else kind.value)


class ArmBase:
    """Template for arms: prompting, timing, pricing and code extraction around ``_request``.

    Subclasses set the attributes of :class:`Arm` in a cheap constructor (no I/O) and
    implement :meth:`_request`; :meth:`close` releases what the first request acquired.
    """

    name: str
    backend: str
    model: str
    style: PromptStyle
    sampling: Sampling
    cost_model: CostModel

    def generate(
        self,
        task: Problem | Messages,
        sampling: Sampling | None = None,
        *,
        problem: Problem | None = None,
    ) -> Completion:
        """Generate for ``task``; an arm failure is returned as ``Completion(error=...)``.

        A :class:`~octoroute.types.Problem` is prompted in the arm's style with its visible
        examples, and the code is extracted from the answer. Ready chat messages are sent as
        they are (completion-style arms get them flattened), and the code is extracted from
        the answer, with ``problem`` as context when given.
        """
        sampling = sampling or self.sampling
        payload: str | Messages
        if isinstance(task, Problem):
            problem = task
            payload, stops = prompts.problem_request(task, self.style)
            sampling = sampling.with_stop(stops) if stops else sampling
        elif self.style.chat:
            payload = list(task)
        else:
            payload = prompts.flatten_messages(task)
        start = time.perf_counter()
        try:
            raw = self._request(payload, sampling)
        except ArmFailure as failure:
            return self._failed(failure, time.perf_counter() - start)
        latency = raw.latency if raw.latency is not None else time.perf_counter() - start
        text, stop = raw.text, sampling.stop
        instruct = self.style is PromptStyle.INSTRUCT and not isinstance(payload, str)
        if isinstance(task, Problem) and instruct and not isinstance(payload, str):
            # The server cut the continuation at the stops; the prefilled answer is ours.
            text, stop = prompts.instruct_answer(payload, raw.text), ()
        return self._completed(raw, text, payload, problem, stop, latency)

    def stream(self, messages: Messages, sampling: Sampling | None = None) -> CompletionStream:
        """Answer chat ``messages`` (sent as they are, as by :meth:`generate`), the text as it
        comes: iterate the stream for the pieces, then read its ``completion``. Backends that
        cannot stream give the whole text as one piece."""
        sampling = sampling or self.sampling
        payload = list(messages) if self.style.chat else prompts.flatten_messages(messages)
        return CompletionStream(self, payload, sampling)

    def _request_stream(
        self, payload: str | Messages, sampling: Sampling
    ) -> Generator[str, None, RawCompletion]:
        """Yield the answer's text in pieces, return the whole (raise ArmFailure on failure).
        By default one piece, from :meth:`_request`."""
        raw = self._request(payload, sampling)
        yield raw.text
        return raw

    def _failed(self, failure: ArmFailure, latency: float, text: str = "") -> Completion:
        """The completion of a failed request (the failure as data)."""
        log.warning("arm %s failed: %s", self.name, failure)
        return Completion(
            arm=self.name,
            model=self.model,
            text=text,
            code="",
            latency=latency,
            cost_unit=self.cost_model.unit,
            error=failure.kind,
            error_detail=failure.detail,
        )

    def _completed(
        self,
        raw: RawCompletion,
        text: str,
        payload: str | Messages,
        problem: Problem | None,
        stop: Sequence[str],
        latency: float,
    ) -> Completion:
        """The completion of an answered request: code extracted, tokens priced."""
        style = self.style if isinstance(payload, str) else PromptStyle.CHAT
        code = prompts.extract_code(
            text, problem, style=style, stop=tuple(stop), truncated=raw.finish_reason == "length"
        )
        return Completion(
            arm=self.name,
            model=self.model,
            text=raw.text,
            code=code,
            prompt_tokens=raw.prompt_tokens,
            completion_tokens=raw.completion_tokens,
            latency=latency,
            cost=self.cost_model.cost(raw.prompt_tokens, raw.completion_tokens),
            cost_unit=self.cost_model.unit,
            finish_reason=raw.finish_reason,
        )

    def _request(self, payload: str | Messages, sampling: Sampling) -> RawCompletion:
        """Send one request (a prompt string or chat messages); raise ArmFailure on failure."""
        raise NotImplementedError

    def close(self) -> None:
        """Release connections, servers and models. The arm may be used again after."""

    def __enter__(self) -> ArmBase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, model={self.model!r})"


class CompletionStream:
    """An answer as it is written (:meth:`ArmBase.stream`): iterate once for its text pieces;
    then :attr:`completion` holds what :meth:`ArmBase.generate` would have returned (code
    extracted, tokens priced), or the failure as data with the text received before it. Like
    ``generate``, a stream never raises an arm failure."""

    def __init__(self, arm: ArmBase, payload: str | Messages, sampling: Sampling) -> None:
        self.arm = arm
        self.payload = payload
        self.sampling = sampling
        self.completion: Completion | None = None
        """None until the iteration has ended."""
        self.parts: list[str] = []
        """The pieces passed on so far."""
        self._start = time.perf_counter()

    def cancel(self) -> Completion:
        """End an answer left unfinished (its reader went away): the completion says so, with
        the text passed on before."""
        if self.completion is None:
            failure = ArmFailure(ArmErrorKind.CANCELLED, "the reader left before the end")
            self.completion = self.arm._failed(failure, time.perf_counter() - self._start,
                                               "".join(self.parts))  # fmt: skip
        return self.completion

    def __iter__(self) -> Iterator[str]:
        self._start = start = time.perf_counter()
        pieces = self.arm._request_stream(self.payload, self.sampling)
        try:
            while True:
                try:
                    piece = next(pieces)
                except StopIteration as done:
                    raw = done.value
                    break
                if piece:
                    self.parts.append(piece)
                    yield piece
        except ArmFailure as failure:
            text = "".join(self.parts)
            self.completion = self.arm._failed(failure, time.perf_counter() - start, text)
            return
        finally:
            pieces.close()  # a reader that stops early closes the backend's connection too
        latency = raw.latency if raw.latency is not None else time.perf_counter() - start
        self.completion = self.arm._completed(
            raw, raw.text, self.payload, None, self.sampling.stop, latency
        )
