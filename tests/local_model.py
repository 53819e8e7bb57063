"""Tests that run a real local model skip, with the reason, where it cannot run."""

from __future__ import annotations

import importlib.util

import pytest

from octoroute.arms.models import model_status


def require(model: str, *extras: tuple[str, str]) -> None:
    """Skip the calling test module unless each ``(module, extra)`` imports and ``model`` is
    installed with its hash checked (``scripts/test.sh`` installs what the tests need)."""
    for module, extra in extras:
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed: pip install 'octoroute[{extra}]'",
                        allow_module_level=True)  # fmt: skip
    if not model_status(model).hash_ok:
        pytest.skip(f"{model} is not installed: octoroute models install {model}",
                    allow_module_level=True)  # fmt: skip
