"""How much a request's own claims tell about it: HumanEvalComm, per kind of rewrite.

The ask model may read a candidate program's consistency with what the request's examples
claim (``octoroute clarify --consistency``). This measures the signal with the best candidate
there is, the original problem's reference solution: per variant, how many requests make any
claim, the mean share of claims the reference meets, and how often it meets all of them,
beside the originals (the baseline: a clear request, whose reference should meet them all).
Run from the project root with ``OCTOROUTE_DATA_DIR`` holding HumanEvalComm and HumanEval+::

    .venv/bin/python benchmarks/clarify_claims.py
"""

from __future__ import annotations

from collections import defaultdict

from octoroute.clarify.consistency import direct_consistency
from octoroute.sandbox import Executor
from octoroute.tasks.humanevalcomm import ORIGINAL, VARIANTS, load_humanevalcomm
from octoroute.types import Attempt


def main() -> None:
    """Print one row per variant, the originals first."""
    problems = load_humanevalcomm()
    candidates = [Attempt("reference", p.benchmark, p.id, "reference", code=p.reference)
                  for p in problems]  # fmt: skip
    with Executor(workers=1) as ex:
        met = direct_consistency(ex, candidates, problems, "reference", "reference")
    rows: dict[str, list[float | None]] = defaultdict(list)
    for pid, value in met.items():
        rows[pid.rsplit("/", 1)[-1]].append(value)
    print("| variant | requests | with claims | claims met (mean) | all met |")
    print("|---|---|---|---|---|")
    for variant in (ORIGINAL, *VARIANTS):
        values = rows.get(variant, [])
        known = [v for v in values if v is not None]
        mean = f"{sum(known) / len(known):.3f}" if known else "-"
        full = f"{sum(v == 1.0 for v in known) / len(known):.3f}" if known else "-"
        print(f"| {variant} | {len(values)} | {len(known)} | {mean} | {full} |")


if __name__ == "__main__":
    main()
