"""LLM backends behind one protocol: ``Arm.generate(problem or messages) -> Completion``.

Backends: :class:`OpenAICompatArm` (any OpenAI-compatible HTTP endpoint, through httpx) and
:class:`LlamaCppArm` (llama.cpp in this process, through the ``local`` extra's ``xllamacpp``).
A :class:`Pool` comes from a TOML file (:func:`load_pool`) or is the offline default
(:func:`default_pool`: four small models from pinned PyPI packages, see :mod:`.models`, the
two Qwen coders in two prompt styles each).
Importing this package loads neither httpx nor xllamacpp.

>>> from octoroute.arms import default_pool
>>> default_pool().names[:2], len(default_pool().names)
(('smollm2-135m', 'gemma3-270m'), 6)
>>> default_pool().names[2:4]
('qwen2.5-coder-0.5b', 'qwen2.5-coder-0.5b-completion')
"""

from octoroute.arms.base import (
    Arm,
    ArmBase,
    CostModel,
    FlopsCost,
    Messages,
    PriceCost,
    PromptStyle,
    Sampling,
)
from octoroute.arms.gguf import GGUFInfo, read_gguf_file
from octoroute.arms.llamacpp import GGUFFlops, LlamaCppArm
from octoroute.arms.models import LocalModel, ModelStatus, install, model_status
from octoroute.arms.openai_compat import OpenAICompatArm, ProbeResult
from octoroute.arms.pool import ArmSpec, CostSpec, Pool, default_pool, load_pool
from octoroute.arms.prompts import chat_messages, completion_prompt, extract_code

__all__ = [
    "Arm",
    "ArmBase",
    "ArmSpec",
    "CostModel",
    "CostSpec",
    "FlopsCost",
    "GGUFFlops",
    "GGUFInfo",
    "LlamaCppArm",
    "LocalModel",
    "Messages",
    "ModelStatus",
    "OpenAICompatArm",
    "Pool",
    "PriceCost",
    "ProbeResult",
    "PromptStyle",
    "Sampling",
    "chat_messages",
    "completion_prompt",
    "default_pool",
    "extract_code",
    "install",
    "load_pool",
    "model_status",
    "read_gguf_file",
]
