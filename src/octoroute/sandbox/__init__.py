"""The executor: untrusted programs against a problem's tests, isolated, with per-test verdicts.

Layout: :mod:`.executor` (trusted side: worker pool, limits, comparison, verdicts),
:mod:`.forkserver` (the worker inside the namespaces), :mod:`.child` (code of confined children),
:mod:`.protocol` (frames and statuses), :mod:`.codec` (values across the boundary, decoded with
bounds), :mod:`.isolation`, :mod:`.seccomp` and :mod:`.cgroup` (the layers), :mod:`.compare`
(trusted comparison), :mod:`.flags` (static observations), :mod:`.reference` (reference outputs
and validation).
"""

from octoroute.sandbox.executor import Executor, Limits
from octoroute.sandbox.isolation import ALL_LAYERS, DEFAULT_LAYERS, ChildLimits, Layer
from octoroute.sandbox.reference import Validation, prepare, validate

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
