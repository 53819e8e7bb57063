"""Multi-step repair strategies on the default pool's log: pass rate against compute, at
matched budgets, side by side with the baseline Qwen2.5-Coder-1.5B alone and the oracle.

For each benchmark and each per-problem compute cap (in units of Qwen2.5-Coder-1.5B's mean
fresh compute), it runs ``octoroute episodes`` on the same seeded subset of problems: every
strategy (retry, resample, escalation ladder, best fixed pair, outcome-model routing one shot
and greedy per compute, online bandit) is replayed on the recorded attempt tree under the same
cap and the same maximum number of attempts, and printed beside the baseline with its paired
95% interval. ``--grow`` lets the arms generate the attempts a replay needs that the log lacks
(hours on 2 cores for a full benchmark); without it, strategies with missing attempts are
flagged (their episodes count as failed).

Run from the project root (the log of ``octoroute collect`` / ``repair-collect``; problem
files from ``$OCTOROUTE_DATA_DIR`` for MBPP+)::

    .venv/bin/python benchmarks/repair_episodes.py --db runs.db --benchmark humaneval \
        --problems 80 --budgets 1,2 --seeds 2 --json-dir episodes/
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


def _run(args: argparse.Namespace, bench: str, budget: str) -> dict[str, Any]:
    cmd = [sys.executable, "-c", "from octoroute.cli import main; main()", "episodes",
           "--db", args.db, "--benchmark", bench, "--budget", budget, "--json",
           "--max-attempts", str(args.max_attempts), "--seeds", str(args.seeds)]  # fmt: skip
    if args.problems:
        cmd += ["--problems", str(args.problems)]
    if args.grow:
        cmd += ["--grow"]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"octoroute episodes failed on {bench} at budget {budget}:\n{done.stderr}")
    out: dict[str, Any] = json.loads(done.stdout)
    return out


def main() -> None:
    """Run the grid and print one table per benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", required=True, help="the outcome log (SQLite)")
    parser.add_argument("--benchmark", default="humaneval,mbpp+", help="comma-separated")
    parser.add_argument("--budgets", default="1,2", help="compute caps, x the baseline's")
    parser.add_argument("--max-attempts", type=int, default=3)
    parser.add_argument("--problems", type=int, default=None, help="seeded subset size")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--grow", action="store_true", help="generate missing attempts")
    parser.add_argument("--json-dir", default=None, help="also save each run's episodes --json")
    args = parser.parse_args()
    for bench in args.benchmark.split(","):
        for budget in args.budgets.split(","):
            start = time.monotonic()
            s = _run(args, bench, budget)
            took = time.monotonic() - start
            if args.json_dir:
                out = Path(args.json_dir) / f"{bench}-budget{budget}.json"
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_text(json.dumps(s, indent=1) + "\n")
            print(f"\n{bench}: {s['problems']} problems, at most {s['max_attempts']} attempts, "
                  f"compute cap {budget}x {s['baseline']} ({took:.0f} s)")  # fmt: skip
            print(f"{'strategy':58} {'pass':>6} {'95% CI':>15} {'compute':>8} "
                  f"{'attempts':>8} {'vs baseline [95% CI]':>26}")  # fmt: skip
            for r in s["strategies"]:
                g = r["gain_vs_largest"]
                lo, hi = g["ci95"]
                gain = f"{g['mean']:+.3f} [{lo:+.3f}, {hi:+.3f}]"
                if r["name"] == s["baseline"]:
                    gain = "(baseline)"
                flag = f"  {r['missing_nodes']} missing" if r["missing_nodes"] else ""
                ci = f"[{r['ci95'][0]:.3f}, {r['ci95'][1]:.3f}]"
                cost = f"{r['compute_ratio']:7.2f}x {r['mean_attempts']:8.2f}"
                print(f"{r['name'][:58]:58} {r['pass']:6.3f} {ci:>15} {cost} {gain:>26}{flag}")
            print(f"{'oracle of the recorded attempts':58} {s['oracle_recorded']:6.3f}   "
                  f"one-shot oracle {s['oracle_one_shot']:.3f}")  # fmt: skip
            if "gap" in s:
                g = s["gap"]
                print(f"gap to the oracle closed by episodes: {g['share_closed']} (one shot "
                      f"{g['one_shot']:.3f} -> {g['best_episode_pass']:.3f})")  # fmt: skip


if __name__ == "__main__":
    main()
