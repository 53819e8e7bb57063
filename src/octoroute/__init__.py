"""octoroute: route coding problems to small frozen LLMs, rewarded by sandboxed unit tests.

The curated public API. Heavy parts are imported lazily by the subpackages that need them.

>>> import octoroute
>>> octoroute.Outcome.PASS.value
'pass'
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from octoroute.exceptions import (
        ConfigError,
        DataError,
        IsolationUnavailable,
        MissingDependencyError,
        OctorouteError,
        SandboxError,
    )
    from octoroute.sandbox import Executor, Layer, Limits
    from octoroute.tasks import BENCHMARKS, load_benchmark
    from octoroute.types import (
        Compare,
        Feedback,
        Outcome,
        Problem,
        TestCase,
        TestKind,
        TestVerdict,
        Tier,
        Transform,
        Verdict,
    )

# Where each public name lives. Imported on first use: the sandbox's worker process imports
# this package on its way to the fork server, and every page it loads is copied into (and
# forked with) every candidate.
_HOMES = {
    **dict.fromkeys(
        ("ConfigError", "DataError", "IsolationUnavailable", "MissingDependencyError",
         "OctorouteError", "SandboxError"), "octoroute.exceptions"),
    **dict.fromkeys(("Executor", "Layer", "Limits"), "octoroute.sandbox"),
    **dict.fromkeys(("BENCHMARKS", "load_benchmark"), "octoroute.tasks"),
    **dict.fromkeys(
        ("Compare", "Feedback", "Outcome", "Problem", "TestCase", "TestKind", "TestVerdict",
         "Tier", "Transform", "Verdict"), "octoroute.types"),
}  # fmt: skip


def __getattr__(name: str) -> Any:
    """The public name ``name``, imported from its module on first use."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'octoroute' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


__version__ = "0.1.0"

__all__ = [
    "BENCHMARKS",
    "Compare",
    "ConfigError",
    "DataError",
    "Executor",
    "Feedback",
    "IsolationUnavailable",
    "Layer",
    "Limits",
    "MissingDependencyError",
    "OctorouteError",
    "Outcome",
    "Problem",
    "SandboxError",
    "TestCase",
    "TestKind",
    "TestVerdict",
    "Tier",
    "Transform",
    "Verdict",
    "__version__",
    "load_benchmark",
]
