"""How an arm is prompted (:class:`PromptStyle`) and what a chat prompt is (:data:`Messages`).

The names the arm protocol (:mod:`octoroute.arms.base`) and the prompt builders
(:mod:`octoroute.arms.prompts`) both speak, kept apart so that neither imports the other's
module to get them.

>>> PromptStyle("instruct").chat, PromptStyle.COMPLETION.chat
(True, False)
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence

__all__ = ["Messages", "PromptStyle"]

Messages = Sequence[Mapping[str, str]]
"""Chat messages, e.g. ``[{"role": "user", "content": "..."}]`` (a repair prompt, say)."""


class PromptStyle(enum.StrEnum):
    """How an arm is prompted: chat messages, a raw prompt the model continues, or chat with a
    prefilled answer."""

    CHAT = "chat"
    COMPLETION = "completion"
    INSTRUCT = "instruct"
    """EvalPlus's prompt for instruct models: the model's own chat template (the endpoint
    applies it), an instruction, and an answer prefilled up to the opened code block (with the
    function's stub when the prompt has one), cut at the closing fence or where test code
    starts: no token goes to prose or to repeating the docstring."""

    @property
    def chat(self) -> bool:
        """Whether requests go to the chat endpoint (every style but completion)."""
        return self is not PromptStyle.COMPLETION
