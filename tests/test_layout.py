"""The layout of docs/ARCHITECTURE.md: a root that only wires, and dependencies that point down.

The dependency rules are import-linter contracts in ``pyproject.toml`` (layers, replay kept
away from arms and the sandbox, no cycle between a package's modules); a new import that breaks
one fails here and in ``scripts/test.sh``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import octoroute

ROOT = Path(octoroute.__file__).parent
PROJECT = ROOT.parents[1]

# What every package shares, or what wires them all; anything else belongs in a package.
ROOT_MODULES = {"__init__", "__main__", "config", "demo", "exceptions", "types"}


def test_the_root_holds_only_shared_and_wiring_modules() -> None:
    assert {p.stem for p in ROOT.glob("*.py")} == ROOT_MODULES


def test_every_package_is_documented_in_the_architecture() -> None:
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")}
    text = (PROJECT / "docs" / "ARCHITECTURE.md").read_text()
    assert packages, ROOT
    assert not {p for p in packages if f"**`{p}`**" not in text}


def test_import_contracts_are_kept() -> None:
    # --no-cache: the cache would be written into the checkout.
    code = "import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports(no_cache=True, no_logo=True))"
    done = subprocess.run([sys.executable, "-c", code], cwd=PROJECT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
