"""The executor: untrusted programs against a problem's tests, isolated, with per-test verdicts.

Layout: :mod:`.executor` (trusted side: worker pool, limits, comparison, verdicts),
:mod:`.forkserver` (the worker inside the namespaces), :mod:`.child` (code of confined children),
:mod:`.protocol` (frames and statuses), :mod:`.codec` (values across the boundary, decoded with
bounds), :mod:`.isolation`, :mod:`.seccomp` and :mod:`.cgroup` (the layers), :mod:`.compare`
(trusted comparison), :mod:`.flags` (static observations), :mod:`.reference` (reference outputs
and validation).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from octoroute.sandbox.executor import Executor, Limits
    from octoroute.sandbox.isolation import ALL_LAYERS, DEFAULT_LAYERS, ChildLimits, Layer
    from octoroute.sandbox.reference import Validation, prepare, validate

# Imported on first use: the worker process (the fork server) imports this package too, and
# needs none of the trusted side; whatever it loads, every candidate is forked with.
_HOMES = {
    **dict.fromkeys(("Executor", "Limits"), "octoroute.sandbox.executor"),
    **dict.fromkeys(("ALL_LAYERS", "DEFAULT_LAYERS", "ChildLimits", "Layer"),
                    "octoroute.sandbox.isolation"),
    **dict.fromkeys(("Validation", "prepare", "validate"), "octoroute.sandbox.reference"),
}  # fmt: skip


def __getattr__(name: str) -> Any:
    """The public name ``name``, imported from its module on first use."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'octoroute.sandbox' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


__all__ = [
    "ALL_LAYERS",
    "ChildLimits",
    "DEFAULT_LAYERS",
    "Executor",
    "Layer",
    "Limits",
    "Validation",
    "prepare",
    "validate",
]
