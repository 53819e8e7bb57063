"""The outcome model's penalty C on held-out problems, beside the per-arm base rate.

The repair strategies trust the outcome model's predicted probability that an arm's next
attempt passes. This prints, for each benchmark of the log and each C of a grid, the model's
AUC, calibration error (ECE) and Brier score on held-out problems (5 folds grouped by
problem), over every judged node of the episode trees (fresh attempts and repairs), and over
the fresh attempts alone, next to the baseline that predicts each arm's training pass rate.

Run from the project root (problem files from ``$OCTOROUTE_DATA_DIR`` for MBPP+)::

    .venv/bin/python benchmarks/outcome_model.py --db runs.db --benchmark humaneval,mbpp+
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def main() -> None:
    """Print one table per benchmark and row set."""
    from octoroute.arms.pool import load_pool
    from octoroute.demo import featurizer as base_featurizer
    from octoroute.episodes.outcome_model import evaluate_outcome_model
    from octoroute.episodes.strategies import episode_problems, training_rows
    from octoroute.episodes.tree import build_trees
    from octoroute.evaluation.sizes import by_size
    from octoroute.features import TrajectoryFeaturizer
    from octoroute.store import open_store
    from octoroute.tasks import load_benchmark

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", required=True, help="the outcome log (SQLite)")
    parser.add_argument("--benchmark", default="humaneval,mbpp+", help="comma-separated")
    parser.add_argument("--grid", default="0.003,0.01,0.03,0.1,0.3,1", help="values of C")
    args = parser.parse_args()
    arms = by_size(load_pool("default").names)
    feats = TrajectoryFeaturizer(base_featurizer(), arms)
    grid = [float(c) for c in args.grid.split(",")]
    for bench in args.benchmark.split(","):
        problems = load_benchmark(bench)
        with open_store(args.db, create=False) as store:
            found = build_trees(store.attempts(benchmark=problems[0].benchmark), problems)
        trees = episode_problems(found, arms)
        rows = training_rows(trees, feats)
        for label, keep in (("all nodes", np.ones(len(rows.y), bool)), ("fresh", ~rows.repair)):
            n, pos = int(keep.sum()), float(rows.y[keep].mean())
            print(f"\n{bench}, {label}: {n} attempts on {len(trees)} problems, pass rate {pos:.3f}")
            print(f"{'C':>8} {'AUC':>7} {'ECE':>7} {'Brier':>7} {'seconds':>8}")
            base = None
            for c in grid:
                start = time.monotonic()
                r = evaluate_outcome_model(rows.x[keep], rows.arms[keep], rows.y[keep],
                                           rows.groups[keep], folds=5, C=c)  # fmt: skip
                took = time.monotonic() - start
                print(f"{c:>8g} {r.auc:>7.3f} {r.ece:>7.3f} {r.brier:>7.3f} {took:>8.1f}")
                base = r
            if base is not None:
                print(f"{'base':>8} {base.baseline_auc:>7.3f} {base.baseline_ece:>7.3f} "
                      f"{base.baseline_brier:>7.3f}   (per-arm training pass rate)")  # fmt: skip


if __name__ == "__main__":
    main()
