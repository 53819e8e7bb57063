"""Routing on real outcome matrices: learned policies against the best single model, the
oracle and a much larger sibling, in both regimes, with 95% intervals.

For each published matrix (eval-arena, ``../shared/data/outcomes``) the pool is restricted to
the models of at most ``--max-params`` billion parameters (17 on HumanEval+, 26 on MBPP+ at 8B),
problem texts come from the benchmark files (``--data``, default ``../shared/data/benchmarks``),
and every policy is replayed with ``--seeds`` seeds in ``cv`` (5-fold cross-fitting: trained
offline, routes problems it never saw) and ``online`` (one pass, bandit feedback, cold start).
Baselines printed beside each row, judged on the same problems:

- ``best single``: in cv the arm best on the training folds; in online the best in hindsight;
- ``oracle``: the best arm per problem (an upper bound, not a policy);
- ``reference``: ``--reference`` (default deepseek-coder-33b-instruct), outside the pool, with
  the routed compute as a share of its compute (compute ~ parameters, from the model names).

With ``--local LOG`` it does the same for the default local pool's recorded log (compute in
FLOPs measured per attempt; the reference is the largest local arm, Qwen2.5-Coder-1.5B).

Run from the project root::

    .venv/bin/python benchmarks/replay_matrices.py --seeds 5
    .venv/bin/python benchmarks/replay_matrices.py --local src/octoroute/data/default_pool.jsonl.gz
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
POLICIES = "linucb,thompson,epsilon_greedy,squarecb,best_single,random"


def _features(matrix: Any, benchmark: str, n_features: int) -> Any:
    from octoroute.evaluation import align_problems, load_problem_texts
    from octoroute.features import make_featurizer

    texts = align_problems(matrix.problem_ids, load_problem_texts(benchmark))
    return make_featurizer("lexical", n_features=n_features).transform(texts)


def _line(name: str, mode: str, out: dict[str, Any], ref: dict[str, Any] | None) -> str:
    ci = out["ci95"]
    gain = out["gain_over_best_single_ci95"]
    cells = [
        f"{name:<16}{mode:<8}",
        f"{out['pass_at_1']:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]",
        f"{out['best_single_pass_at_1']:.3f}",
        f"{out['gain_over_best_single']:+.3f} [{gain[0]:+.3f}, {gain[1]:+.3f}]",
        f"{out['oracle_pass_at_1']:.3f}",
    ]
    if ref is not None:
        share = ref["compute_ratio"]
        cells.append(f"{ref['gain']:+.3f} [{ref['gain_ci95'][0]:+.3f}, {ref['gain_ci95'][1]:+.3f}]")
        cells.append("" if share is None else f"{share:.2f}")
    return "  ".join(cells)


def run(
    title: str,
    full: Any,
    pool: Any,
    x: Any,
    policies: list[str],
    seeds: int,
    reference: str | None,
) -> None:
    """Replay every policy in both modes on ``pool`` and print one line each."""
    from octoroute.evaluation import Reference, replay

    ref = Reference.from_matrix(full, reference, pool) if reference else None
    print(f"\n## {title}: {len(pool.arms)} arms, {len(pool.problem_ids)} problems")
    if ref is not None:
        print(f"reference {reference}: pass@1 {float(ref.rewards.mean()):.3f}")
    head = "policy          mode    pass@1 [95% CI]         best single  gain vs best [95% CI]"
    head += "     oracle"
    if ref is not None:
        head += "  gain vs reference [95% CI]  compute share of reference"
    print(head)
    for mode in ("cv", "online"):
        for name in policies:
            start = time.perf_counter()
            r = replay(pool, x, name, mode=mode, seeds=seeds, reference=ref)
            out = r.to_json()
            line = _line(name, mode, out, out.get("reference"))
            print(f"{line}  ({time.perf_counter() - start:.1f} s)")


def main() -> None:
    """Parse arguments, replay, print."""
    from octoroute.evaluation import load_outcomes

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--outcomes", type=Path, default=SHARED / "outcomes")
    parser.add_argument("--data", type=Path, default=SHARED / "benchmarks")
    parser.add_argument("--benchmarks", default="humaneval+,mbpp+")
    parser.add_argument("--max-params", type=float, default=8.0)
    parser.add_argument("--reference", default="deepseek-coder-33b-instruct")
    parser.add_argument("--policies", default=POLICIES)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--n-features", type=int, default=128)
    parser.add_argument("--local", type=Path, default=None, help="a recorded log of the pool")
    args = parser.parse_args()
    import os

    os.environ.setdefault("OCTOROUTE_DATA_DIR", str(args.data))
    policies = args.policies.split(",")
    print(f"replay, {args.seeds} seeds, lexical features ({args.n_features} hashed columns)")
    for bench in args.benchmarks.split(",") if args.outcomes.is_dir() else []:
        full = load_outcomes(args.outcomes / f"{bench}.jsonl.gz")
        pool, excluded = full.select(max_params=args.max_params)
        x = _features(pool, bench, args.n_features)
        run(f"{bench}, models of <= {args.max_params:g}B", full, pool, x, policies, args.seeds,
            args.reference)  # fmt: skip
        if excluded:
            print(f"excluded for unknown size: {', '.join(excluded)}")
    if args.local is not None:
        from octoroute import demo

        cfg = demo.DemoConfig(log=args.local)
        for bench, matrix, texts in demo.load_matrices(cfg):
            from octoroute.features import make_featurizer

            x = make_featurizer("lexical", n_features=args.n_features).transform(texts)
            run(f"local pool, {bench}", matrix, matrix, x, policies, args.seeds,
                matrix.largest_arm())  # fmt: skip


if __name__ == "__main__":
    main()
