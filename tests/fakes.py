"""A scripted arm that records every request: for episode tests that need no model.

The answers come from a script shared by every arm of a pool, in order, so an episode's
programs do not depend on which arm the policy picks. An answer of ``None`` is an arm failure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from octoroute.arms.base import (
    ArmBase,
    ArmFailure,
    FlopsCost,
    Messages,
    PromptStyle,
    RawCompletion,
    Sampling,
)
from octoroute.arms.pool import ArmSpec, CostSpec, Pool
from octoroute.types import ArmErrorKind

PARAMETERS = 1_000


@dataclass
class Script:
    """Answers handed out in order (the last one repeats), and every request received."""

    answers: Sequence[str | None]
    requests: list[tuple[str, str | list[dict[str, str]], Sampling]] = field(default_factory=list)

    def next(self) -> str | None:
        """The next answer."""
        return self.answers[min(len(self.requests) - 1, len(self.answers) - 1)]


class ScriptedArm(ArmBase):
    """An arm whose answers come from ``script``; it records each payload it is sent."""

    def __init__(self, name: str, style: PromptStyle, script: Script) -> None:
        self.name = name
        self.backend = "openai"
        self.model = "scripted"
        self.style = style
        self.sampling = Sampling(max_tokens=64, seed=0)
        self.cost_model = FlopsCost(parameters=PARAMETERS)
        self.script = script

    def _request(self, payload: str | Messages, sampling: Sampling) -> RawCompletion:
        sent = payload if isinstance(payload, str) else [dict(m) for m in payload]
        self.script.requests.append((self.name, sent, sampling))
        text = self.script.next()
        if text is None:
            raise ArmFailure(ArmErrorKind.UNAVAILABLE, "scripted failure")
        return RawCompletion(text, prompt_tokens=10, completion_tokens=5, finish_reason="stop")


def scripted_pool(styles: dict[str, PromptStyle], unit: str = "flops") -> Pool:
    """A pool of scripted arms, by name and prompt style."""
    specs = tuple(
        ArmSpec(
            name,
            "openai",
            "scripted",
            style=style,
            endpoint="http://127.0.0.1:9/v1",
            cost=CostSpec(unit=unit, parameters=PARAMETERS),
        )
        for name, style in styles.items()
    )
    return Pool(specs, source="scripted")


def builder(pool: Pool, script: Script) -> dict[str, ScriptedArm]:
    """One scripted arm per arm of ``pool``, sharing ``script``."""
    return {s.name: ScriptedArm(s.name, s.style, script) for s in pool.specs}


# One attempt of a scripted arm: 2 x parameters x (10 + 5) tokens.
ATTEMPT_FLOPS = 2.0 * PARAMETERS * 15
