"""Where an arm may run on a cluster: a local model's arm only where its model file is.

A node that holds a model advertises the custom resource ``model:NAME`` (NAME the default
pool's model name, or the GGUF file's stem for a pool that names a path), one unit per copy of
the model it can load at once: ``ray start --resources='{"model:qwen2.5-coder-1.5b": 1}'``.
Each actor of that arm asks for one unit, so a node runs as many of them as it declared. An
endpoint arm (vLLM, a llama.cpp server, a hosted API) asks for no such resource: any worker may
call it.
"""

from __future__ import annotations

from octoroute.arms.pool import ArmSpec, Pool

__all__ = ["MODEL_RESOURCE", "model_resource", "node_resources"]

MODEL_RESOURCE = "model:"
"""The prefix of the custom resource a node holding a model advertises."""


def model_resource(spec: ArmSpec) -> str | None:
    """The custom resource an arm's actors need (``model:NAME``), None for an endpoint arm.

    >>> from pathlib import Path
    >>> model_resource(ArmSpec("a", "llamacpp", "m", path=Path("/m/tiny-q4.gguf")))
    'model:tiny-q4'
    >>> model_resource(ArmSpec("b", "openai", "m", endpoint="http://127.0.0.1:8000/v1")) is None
    True
    """
    if spec.backend != "llamacpp":
        return None
    name = spec.local_model or (spec.path.stem if spec.path is not None else spec.model)
    return f"{MODEL_RESOURCE}{name}"


def node_resources(pool: Pool) -> dict[str, float]:
    """The resources this machine offers ``pool``'s arms: one unit of ``model:NAME`` for each
    local model whose file is here (what a local Ray instance is started with)."""
    out: dict[str, float] = {}
    for spec in pool.specs:
        resource = model_resource(spec)
        if resource is not None and spec.path is not None and spec.path.is_file():
            out[resource] = 1.0
    return out
