"""An answer as it is generated: text pieces first, the whole :class:`Completion` after.

:meth:`ArmBase.stream <octoroute.arms.base.ArmBase.stream>` returns a :class:`CompletionStream`.
Iterating it yields the answer's text as the backend sends it; once the iteration ends,
:attr:`CompletionStream.completion` holds what :meth:`~octoroute.arms.base.ArmBase.generate`
would have returned (code extracted, tokens priced), or the failure as data, with the text
received before it. Like ``generate``, a stream never raises an arm failure.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from octoroute.arms.base import ArmFailure, Messages, Sampling
from octoroute.types import Completion

if TYPE_CHECKING:
    from octoroute.arms.base import ArmBase

__all__ = ["CompletionStream"]


class CompletionStream:
    """The pieces of one answer (iterate once), then its :attr:`completion`."""

    def __init__(self, arm: ArmBase, payload: str | Messages, sampling: Sampling) -> None:
        self.arm = arm
        self.payload = payload
        self.sampling = sampling
        self.completion: Completion | None = None
        """None until the iteration has ended."""

    def __iter__(self) -> Iterator[str]:
        start = time.perf_counter()
        parts: list[str] = []
        pieces = self.arm._request_stream(self.payload, self.sampling)
        try:
            while True:
                try:
                    piece = next(pieces)
                except StopIteration as done:
                    raw = done.value
                    break
                if piece:
                    parts.append(piece)
                    yield piece
        except ArmFailure as failure:
            text = "".join(parts)
            self.completion = self.arm._failed(failure, time.perf_counter() - start, text)
            return
        latency = raw.latency if raw.latency is not None else time.perf_counter() - start
        self.completion = self.arm._completed(
            raw, raw.text, self.payload, None, self.sampling.stop, latency
        )
