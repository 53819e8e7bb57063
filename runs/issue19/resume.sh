#!/usr/bin/env bash
# Issue 19, in progress: HumanEvalComm's generations for the clarification measurement, with
# the default pool's qwen2.5-coder-0.5b (instruct style) asking and coding, the oracle and the
# same arm as simulated users, on the first LIMIT prompts (originals and every rewrite of the
# first problems, in the benchmark's order). Every step resumes; progress.jsonl.gz is the
# committed slim export, imported on a new machine.
#
#   bash runs/issue19/resume.sh [WORKDIR] [LIMIT]   (default: runs/comm beside the repository, 240)
set -euo pipefail
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
WORK="${1:-$REPO/../runs/comm}"
LIMIT="${2:-240}"
ARM=qwen2.5-coder-0.5b
mkdir -p "$WORK"
[ -x "$REPO/.venv/bin/octoroute" ] || bash "$REPO/scripts/demo.sh" --help >/dev/null
export OCTOROUTE_DATA_DIR="${OCTOROUTE_DATA_DIR:-$REPO/../shared/data/benchmarks}"
export OCTOROUTE_THREADS="${OCTOROUTE_THREADS:-1}"
O="$REPO/.venv/bin/octoroute"
DB="$WORK/comm.db"
if [ ! -f "$DB" ] && [ -f "$REPO/runs/issue19/progress.jsonl.gz" ]; then
    "$O" import attempts "$REPO/runs/issue19/progress.jsonl.gz" --db "$DB" --pool default
fi
# Redacted: the users' answers are made from the original problems (never committed).
snap() { "$O" export --db "$DB" --out "$WORK/progress.jsonl.gz" --slim --redact-answers && echo "SNAP $1 $(date +%T)"; }
"$O" collect --pool default --arms "$ARM" --benchmark humanevalcomm --limit "$LIMIT" --db "$DB"; snap direct
# Both users per problem, so that a run stopped early leaves both measured on the same prompts.
"$O" clarify-collect --pool default --arms "$ARM" --users "oracle,$ARM" --limit "$LIMIT" --db "$DB"; snap asks
echo DONE
