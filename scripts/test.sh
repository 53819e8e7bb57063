#!/usr/bin/env bash
# Set up (a virtual environment in .venv) and run every check: ruff, mypy, pytest.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -m slow`.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || { echo "octoroute needs Python >= 3.11 (set PYTHON=python3.11)" >&2; exit 2; }
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[dev]"
# EvalPlus's own comparison, for the agreement test; --no-deps: see the dev extra in pyproject.toml.
.venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps evalplus==0.3.1
.venv/bin/ruff check src tests benchmarks
.venv/bin/ruff format --check src tests benchmarks
.venv/bin/mypy
.venv/bin/lint-imports --no-cache --no-logo  # the layering of docs/ARCHITECTURE.md
.venv/bin/python -m octoroute models install smollm2-135m
.venv/bin/python -m pytest "$@"
