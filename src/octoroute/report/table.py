"""The report's table for the terminal (rich), the same numbers as the page's."""

from __future__ import annotations

from rich.table import Table

from octoroute.report.model import Report

__all__ = ["render_table"]


def _fmt(value: float | None, digits: int = 3) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def render_table(report: Report) -> Table:
    """One row per policy and mode: pass@1 [95% CI], regret, compute ratio, AIQ, top arm.

    >>> from octoroute.report.model import PolicyRow
    >>> t = render_table(Report("demo", rows=[PolicyRow("random", "cv", 0.5, (0.4, 0.6))]))
    >>> t.row_count
    1
    """
    table = Table(title=report.title, caption=report.subtitle or None)
    for name in ("policy", "mode", "pass@1", "95% CI", "regret", "compute ratio", "AIQ", "top arm"):
        table.add_column(name, justify="left" if name in ("policy", "mode", "top arm") else "right")
    for row in report.rows:
        top = max(row.arm_shares.items(), key=lambda kv: kv[1], default=None)
        table.add_row(
            row.policy,
            row.mode,
            _fmt(row.pass_at_1),
            f"[{row.ci95[0]:.3f}, {row.ci95[1]:.3f}]",
            _fmt(row.regret),
            _fmt(row.compute_ratio, 2),
            _fmt(row.aiq),
            "" if top is None else f"{top[0]} {top[1]:.0%}",
        )
    if report.best_single is not None:
        table.add_row(f"best single: {report.best_single[0]}", "", _fmt(report.best_single[1]))
    if report.oracle is not None:
        table.add_row("oracle (upper bound)", "", _fmt(report.oracle))
    if report.reference is not None:
        name, p, ratio = report.reference
        table.add_row(f"reference: {name}", "", _fmt(p), "", "", _fmt(ratio, 2))
    return table
