#!/usr/bin/env bash
# Issue 13, in progress: grow the re-recorded log's episode trees with the six-arm pool (the Qwen
# coders in instruct style under their plain names, their completion style as `-completion`
# arms). The code is this commit's with six-arms.patch applied (main keeps the shipped log's
# four arms until the new log lands). Every step resumes; progress.jsonl.gz is the committed
# slim export.
#
#   bash runs/issue13/resume.sh [WORKDIR]      (default WORKDIR: runs/new beside the repository)
set -euo pipefail
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
WORK="${1:-$REPO/../runs/new}"
SRC="$WORK/src-six-arms"
mkdir -p "$WORK"
if [ ! -d "$SRC" ]; then
    git -C "$REPO" worktree add --detach "$SRC" HEAD
    git -C "$SRC" apply "$REPO/runs/issue13/six-arms.patch"
fi
[ -x "$REPO/.venv/bin/octoroute" ] || bash "$REPO/scripts/demo.sh" --help >/dev/null
export OCTOROUTE_DATA_DIR="${OCTOROUTE_DATA_DIR:-$REPO/../shared/data/benchmarks}" PYTHONPATH="$SRC/src"
O="$REPO/.venv/bin/octoroute"
DB="$WORK/log.db"
[ -f "$DB" ] || "$O" import attempts "$REPO/runs/issue13/progress.jsonl.gz" --db "$DB" --pool default
cd "$SRC"
snap() { "$O" export --db "$DB" --out "$WORK/progress.jsonl.gz" --slim && echo "SNAP $1 $(date +%T)"; }
"$O" episodes --db "$DB" --benchmark humaneval --problems 80 --seeds 2 --grow > "$WORK/episodes-humaneval.txt"; snap grow-he
"$O" rejudge --db "$DB" --from-run repair/humaneval --benchmark humaneval+ --run rejudge-repair/humaneval+; snap rj-repair
"$O" rejudge --db "$DB" --from-run grow/humaneval --benchmark humaneval+ --run rejudge-grow/humaneval+; snap rj-grow
"$O" episodes --db "$DB" --benchmark mbpp+ --problems 60 --seeds 2 --grow > "$WORK/episodes-mbpp.txt"; snap grow-mb
echo DONE
