"""Arm quality: each arm's greedy pass@1 on HumanEval, HumanEval+ and MBPP+ beside its maker's.

Reads an outcome log (``.db``) or an attempts export (the shipped recorded log by default) and
prints, per arm, pass@1 on HumanEval (its own tests), HumanEval+ (the same programs on the plus
tier) and MBPP+ (plus tier), each with a 95% Wilson interval, the number its model's maker
reports for the bf16 model (Qwen2.5-Coder technical report, EvalPlus leaderboard), the
threshold issue 13 set for the Q4_K_M files, and the mean tokens and compute per problem.
Only first, greedy attempts count (``sample_index`` 0, no repairs). Run from the project root::

    .venv/bin/python benchmarks/arm_quality.py
    .venv/bin/python benchmarks/arm_quality.py --log runs.db
"""

from __future__ import annotations

import argparse
import math
from collections import defaultdict
from collections.abc import Sequence

# Maker-reported pass@1 of the bf16 instruct models: HumanEval, HumanEval+, MBPP+ (plus tier).
MAKER = {
    "qwen2.5-coder-1.5b": (0.707, 0.665, 0.594),
    "qwen2.5-coder-0.5b": (0.616, 0.573, 0.437),
}
# What issue 13 asks of the Q4_K_M files, within what quantization costs.
THRESHOLD = {
    "qwen2.5-coder-1.5b": (0.68, 0.63, 0.57),
    "qwen2.5-coder-0.5b": (0.58, 0.54, 0.41),
}
BENCHMARKS = ("humaneval", "humaneval+", "mbpp+")


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The 95% Wilson interval of k successes in n trials.

    >>> [round(x, 3) for x in wilson(94, 164)]
    [0.497, 0.644]
    """
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (centre - half, centre + half)


def main(argv: Sequence[str] | None = None) -> None:
    """Print the table."""
    from octoroute.demo import recorded_log
    from octoroute.evaluation import read_log

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--log", default=None, help="outcome log or export (default: shipped)")
    args = parser.parse_args(argv)
    attempts = read_log(args.log or recorded_log())
    passed: dict[tuple[str, str], list[bool]] = defaultdict(list)
    usage: dict[str, list[tuple[int, int, float]]] = defaultdict(list)
    for a in attempts:
        if a.attempt_number != 1 or a.sample_index != 0 or a.benchmark not in BENCHMARKS:
            continue
        passed[(a.arm, a.benchmark)].append(bool(a.passed))
        if a.benchmark != "humaneval+":  # the same programs as HumanEval's, judged again
            usage[a.arm].append((a.prompt_tokens, a.completion_tokens, a.cost))
    arms = sorted({arm for arm, _ in passed}, key=lambda n: (MAKER.get(n) is None, n))
    print("greedy pass@1 [95% Wilson interval] / maker's bf16 number / issue 13's threshold")
    head = f"{'arm':<31}" + "".join(f"{b:>36}" for b in BENCHMARKS)
    head += f"{'tokens p/c':>13}{'FLOPs':>10}"
    print(head)
    print("-" * len(head))
    for arm in arms:
        model = arm.removesuffix("-completion")
        cells = []
        for i, bench in enumerate(BENCHMARKS):
            results = passed.get((arm, bench), [])
            if not results:
                cells.append(f"{'-':>36}")
                continue
            k, n = sum(results), len(results)
            lo, hi = wilson(k, n)
            maker = MAKER.get(model)
            extra = (
                f" / {maker[i]:.3f} / {THRESHOLD[model][i]:.2f}" if maker and arm == model else ""
            )
            cells.append(f"{f'{k / n:.3f} [{lo:.2f},{hi:.2f}]{extra}':>36}")
        rows = usage.get(arm, [])
        p = sum(r[0] for r in rows) / max(1, len(rows))
        c = sum(r[1] for r in rows) / max(1, len(rows))
        flops = sum(r[2] for r in rows) / max(1, len(rows))
        print(f"{arm:<31}" + "".join(cells) + f"{f'{p:.0f}/{c:.0f}':>13}{flops:>10.2e}")
    print("(tokens and FLOPs: means per problem over HumanEval and MBPP+; the maker's numbers are "
          "for the arm that prompts the model at its best)")  # fmt: skip


if __name__ == "__main__":
    main()
