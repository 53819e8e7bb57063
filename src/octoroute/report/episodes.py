"""The report of a multi-step evaluation: one row per repair strategy, and the frontier.

Built from the JSON summary of
:func:`~octoroute.episodes.strategies.summarize_scores` (what ``octoroute episodes
--json`` prints): pass rate against compute for the single arms, one-shot routing and the
episodes, with the oracle of the recorded attempts as a line.
"""

from __future__ import annotations

from typing import Any

from octoroute.evaluation.frontier import FrontierPoint
from octoroute.report.model import PolicyRow, Report

__all__ = ["BIGGER_SIBLING", "DEFAULT", "RULES", "episodes_report"]

RULES = "episode rules (resample, retry, ladder, cascade, vote, pair, bandit)"
"""The frontier series of the strategies drawn as single labelled points."""
DEFAULT = "default strategy"
"""The prefix of the series that marks the default strategy."""

BIGGER_SIBLING: dict[str, tuple[str, float, float]] = {
    "humaneval+": ("Qwen2.5-Coder-3B-Instruct (maker, bf16)", 0.805, 2.0),
    "mbpp+": ("Qwen2.5-Coder-3B-Instruct (maker, bf16)", 0.624, 2.0),
}
"""The default pool's bigger sibling, the coalition's target: its maker's pass@1 (plus tier) and
its compute per attempt relative to Qwen2.5-Coder-1.5B's (3.09 B against 1.54 B parameters)."""


def episodes_report(summary: dict[str, Any], benchmark: str) -> Report:
    """The HTML report: the table, and pass rate against compute per strategy."""
    rows = []
    singles, one_shot, learned, every, rules, default = [], [], [], [], [], []
    for r in summary["strategies"]:
        name = r["name"]
        mode = "online" if "online" in name else "episode"
        note = f"{r['mean_attempts']} attempts"
        gain = r.get("gain_vs_largest")
        if gain is not None and not name.endswith(" alone"):
            lo, hi = gain["ci95"]
            note += f"; gain {gain['mean']:+.3f} [{lo:+.3f}, {hi:+.3f}]"
        regret = round(summary["oracle_recorded"] - r["pass"], 4)
        rows.append(PolicyRow(name, mode, r["pass"], tuple(r["ci95"]), regret=regret,
                              compute_ratio=r["compute_ratio"], note=note))  # fmt: skip
        point = FrontierPoint(name, r["compute_ratio"] or 0.0, r["pass"])
        if r.get("default"):
            default.append(point)
        if name.endswith(" alone"):
            singles.append(point)
        elif name.startswith("outcome model one-shot"):
            one_shot.append(point)
        elif name.startswith("outcome model all moves"):
            every.append(point)
        elif name.startswith("outcome model"):
            learned.append(point)
        else:  # the fixed rules and the bandit, one point each
            rules.append(FrontierPoint(_short(name), point.compute, point.pass_at_1))
    oracle = summary["oracle_recorded"]
    return Report(
        title=f"Multi-step repair strategies on {benchmark}",
        subtitle=f"{summary['problems']} problems; compute is relative to "
        f"{summary['baseline']}'s mean fresh compute",
        rows=rows,
        oracle=oracle,
        # The sibling's compute is relative to the 1.5B model's: drawn only beside that baseline.
        reference=BIGGER_SIBLING.get(benchmark)
        if summary.get("baseline") == "qwen2.5-coder-1.5b alone"
        else None,
        frontiers={
            "single arms": singles,
            "one-shot routing (outcome model)": one_shot,
            "episodes (outcome model, greedy per compute)": learned,
            "episodes (outcome model, every move)": every,
            RULES: rules,
            **({f"{DEFAULT}: {default[0].label}": default} if default else {}),
        },
        notes=[
            f"oracle of the recorded attempts: {oracle:.3f}; one-shot oracle (any arm's greedy "
            f"attempt): {summary['oracle_one_shot']:.3f}; regret is the gap to the first",
            *_incomplete(summary),
        ],
    )


def _short(name: str) -> str:
    """A strategy's name as a figure labels it: arms by their size and style only."""
    return name.replace("qwen2.5-coder-", "").replace("-completion", "-c")


def _incomplete(summary: dict[str, Any]) -> list[str]:
    missing = summary.get("missing_nodes") or 0
    if not missing:
        return []
    return [f"incomplete: {missing} attempts some strategies need are not in the log (their "
            "episodes count as failed); octoroute episodes --grow generates them"]  # fmt: skip
