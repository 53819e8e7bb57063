#!/usr/bin/env bash
# Issue 13, in progress: re-record the default pool's log with the six-arm pool (the Qwen coders
# in instruct style under their plain names, their completion style as `-completion` arms).
# The six-arm pool is commit b2e51ba's DEFAULT_ARMS (main keeps the shipped log's four arms until
# the new log lands). Every step resumes; progress.jsonl.gz is the committed slim export.
#
#   bash runs/issue13/resume.sh [WORKDIR]      (default WORKDIR: /work/runs/new)
set -euo pipefail
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
WORK="${1:-/work/runs/new}"
SRC="$WORK/src-b2e51ba"
mkdir -p "$WORK"
[ -d "$SRC" ] || git -C "$REPO" worktree add --detach "$SRC" b2e51ba
[ -x "$REPO/.venv/bin/octoroute" ] || bash "$REPO/scripts/demo.sh" --help >/dev/null
export OCTOROUTE_DATA_DIR="${OCTOROUTE_DATA_DIR:-$REPO/../shared/data/benchmarks}" PYTHONPATH="$SRC/src"
O="$REPO/.venv/bin/octoroute"
DB="$WORK/log.db"
[ -f "$DB" ] || "$O" import attempts "$REPO/runs/issue13/progress.jsonl.gz" --db "$DB" --pool default
cd "$SRC"
snap() { "$O" export --db "$DB" --out "$WORK/progress.jsonl.gz" --slim && echo "SNAP $1 $(date +%T)"; }
"$O" collect --pool default --arms qwen2.5-coder-1.5b,qwen2.5-coder-0.5b --benchmark humaneval --db "$DB"
"$O" rejudge --db "$DB" --from-run collect/humaneval --benchmark humaneval+; snap rejudge
"$O" collect --pool default --arms qwen2.5-coder-1.5b --benchmark mbpp+ --db "$DB"; snap mb15
"$O" collect --pool default --arms qwen2.5-coder-0.5b --benchmark mbpp+ --db "$DB"; snap mb05
"$O" repair-collect --db "$DB" --from-run collect/humaneval --benchmark humaneval --per-cell 12; snap repair
"$O" episodes --db "$DB" --benchmark humaneval --problems 80 --seeds 2 --grow > "$WORK/episodes-humaneval.txt"; snap grow-he
"$O" episodes --db "$DB" --benchmark mbpp+ --problems 60 --seeds 2 --grow > "$WORK/episodes-mbpp.txt"; snap grow-mb
echo DONE
