"""``--featurizer SPEC``: a featurizer name, a probe of a local model, or a sum of them.

``lexical``, ``minilm``, ``probe:MODEL`` (the hidden state of a local arm's model reading each
prompt as that arm sends it; ``probe:MODEL@LAYER/POOLING`` picks the layer, default
:data:`PROBE_DEFAULT`, declared before any routing run), and sums such as
``lexical+probe:qwen2.5-coder-0.5b-completion``. Probe parts read the shipped vectors, then
the states cache, and compute what neither has (starting the arm's server only then).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from octoroute.exceptions import ConfigError
from octoroute.features.probe import parse_key

__all__ = ["PROBE_DEFAULT", "FeatureSpec", "FeaturizerOpt", "open_featurizer", "parse_spec"]

FeaturizerOpt = Annotated[
    str,
    typer.Option(
        "--featurizer", help="lexical, minilm, probe:MODEL[@LAYER/POOLING], or a sum (a+b)."
    ),
]
"""``--featurizer``: the routing features, in every command that routes."""

PROBE_DEFAULT = (16, "last")
"""Layer 16 of 24 at the last prompt token: what the nested cross-validation of ``octoroute
probes`` chose on MBPP+ (63 of 85 outer folds); HumanEval+ is where it is confirmed or not."""


@dataclass(frozen=True)
class FeatureSpec:
    """One part of a ``--featurizer`` spec: a registered name, or a probe of ``model``."""

    name: str
    model: str | None = None
    layer: int = PROBE_DEFAULT[0]
    pooling: str = PROBE_DEFAULT[1]


def parse_spec(spec: str) -> list[FeatureSpec]:
    """The parts of ``spec``.

    >>> [p.name for p in parse_spec("lexical+probe:m@12/mean")], parse_spec("probe:m")[0].layer
    (['lexical', 'probe'], 16)
    """
    parts: list[FeatureSpec] = []
    for item in (x.strip() for x in spec.split("+")):
        if not item:
            raise ConfigError(f"--featurizer {spec!r}: an empty part")
        if not item.startswith("probe:"):
            parts.append(FeatureSpec(item))
            continue
        model, _, where = item.removeprefix("probe:").partition("@")
        if not model:
            raise ConfigError(f"--featurizer {item!r}: expected probe:MODEL[@LAYER/POOLING]")
        layer, pooling = PROBE_DEFAULT
        if where:
            try:
                layer, pooling = parse_key(where)
            except ConfigError as e:
                raise ConfigError(f"--featurizer {item!r}: after '@', {e}") from None
        parts.append(FeatureSpec("probe", model, layer, pooling))
    return parts


@contextlib.contextmanager
def open_featurizer(spec: str, n_features: int, cache: Path | None = None) -> Iterator[Any]:
    """The featurizer ``spec`` names, its probe parts bound to their models' states (``cache``:
    the states folder); a local arm's server started for them stops on exit."""
    from octoroute.cli.states import open_states
    from octoroute.features import make_featurizer
    from octoroute.features.combined import ConcatFeaturizer
    from octoroute.features.probe import ProbeFeaturizer

    parts = parse_spec(spec)
    with contextlib.ExitStack() as stack:
        built = []
        for part in parts:
            if part.model is None:
                params = {"n_features": n_features} if part.name == "lexical" else {}
                built.append(make_featurizer(part.name, **params))
                continue
            states, _, _ = stack.enter_context(open_states(part.model, cache))
            built.append(ProbeFeaturizer(part.model, part.layer, part.pooling).bind(states))
        yield built[0] if len(built) == 1 else ConcatFeaturizer(built)
