"""The report's figures, drawn with matplotlib (Agg) and returned as PNG bytes."""

from __future__ import annotations

import io
from typing import Any

from octoroute.exceptions import MissingDependencyError
from octoroute.report.episodes import DEFAULT, RULES
from octoroute.report.model import MatrixSection, Report

__all__ = ["arm_shares_png", "choices_png", "frontier_png", "heatmap_png", "regret_png"]


def _plt() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")  # no display: the page embeds images
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise MissingDependencyError("matplotlib", "report") from exc
    return plt


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    _plt().close(fig)
    return buf.getvalue()


def frontier_png(report: Report) -> bytes | None:
    """Pass@1 against compute (share of the reference's) for each series; None if empty."""
    if not report.frontiers:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    for name, points in report.frontiers.items():
        pts = sorted(points, key=lambda p: p.compute)
        xs = [p.compute for p in pts]
        ys = [p.pass_at_1 for p in pts]
        if name == "oracle":
            ax.scatter(xs, ys, marker="*", s=120, color="black", zorder=4,
                       label="oracle (cheapest best arm per problem)")  # fmt: skip
        elif name == "single arms" or name == RULES:
            color = "grey" if name == "single arms" else "tab:purple"
            ax.scatter(xs, ys, color=color, zorder=3, s=14, label=name)
            for p in pts:
                ax.annotate(p.label, (p.compute, p.pass_at_1), fontsize=5,
                            xytext=(3, 2), textcoords="offset points")  # fmt: skip
        elif name.startswith(DEFAULT):
            ax.scatter(xs, ys, marker="P", s=110, color="tab:green", zorder=6, label=name)
        else:
            ax.plot(xs, ys, marker="o", markersize=3, label=name)
    if report.oracle is not None:
        ax.axhline(report.oracle, color="black", linestyle="--", linewidth=0.8)
    if report.best_single is not None:
        ax.axhline(report.best_single[1], color="grey", linestyle=":", linewidth=0.8,
                   label=f"best single ({report.best_single[0]})")  # fmt: skip
    if report.reference is not None:
        ref_name, ref_pass, ref_compute = report.reference
        ax.axhline(ref_pass, color="tab:red", linestyle="-.", linewidth=0.8, label=ref_name)
        if ref_compute > 0:  # the reference's own point on the frontier
            ax.scatter([ref_compute], [ref_pass], marker="D", color="tab:red", zorder=5)
    ax.set_xlabel("mean compute per problem / largest arm's")
    ax.set_ylabel("pass@1")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    return _png(fig)


def regret_png(report: Report) -> bytes | None:
    """Cumulative regret against the oracle over the problems of an online pass."""
    if not report.regret_curves:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7.5, 4.0))
    for name, curve in report.regret_curves.items():
        ax.plot(range(1, len(curve) + 1), list(curve), label=name)
    ax.set_xlabel("problems routed (online, one pass)")
    ax.set_ylabel("cumulative regret vs oracle")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return _png(fig)


def arm_shares_png(report: Report) -> bytes | None:
    """How often each policy chose each arm, as stacked horizontal bars."""
    rows = [r for r in report.rows if r.arm_shares]
    if not rows:
        return None
    plt = _plt()
    arms = sorted({a for r in rows for a in r.arm_shares})
    fig, ax = plt.subplots(figsize=(7.5, 0.45 * len(rows) + 1.5))
    left = [0.0] * len(rows)
    colors = plt.get_cmap("tab20")
    for i, arm in enumerate(arms):
        widths = [r.arm_shares.get(arm, 0.0) for r in rows]
        ax.barh([r.label for r in rows], widths, left=left, color=colors(i % 20), label=arm)
        left = [a + b for a, b in zip(left, widths, strict=True)]
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of problems")
    ax.invert_yaxis()
    ax.legend(fontsize=6, bbox_to_anchor=(1.01, 1), loc="upper left")
    return _png(fig)


def choices_png(report: Report) -> bytes | None:
    """The arm each policy chose for each problem (colour), a dot where it failed."""
    if not report.choices or not report.problem_ids:
        return None
    plt = _plt()
    names = list(report.choices)
    arms = sorted({a for seq in report.choices.values() for a in seq})
    index = {a: i for i, a in enumerate(arms)}
    grid = [[index[a] for a in report.choices[n]] for n in names]
    fig, ax = plt.subplots(figsize=(min(16, 2 + 0.05 * len(report.problem_ids)),
                                    0.4 * len(names) + 1.4))  # fmt: skip
    cmap = plt.get_cmap("tab20", max(len(arms), 2))
    ax.imshow(grid, aspect="auto", cmap=cmap, vmin=-0.5, vmax=max(len(arms), 2) - 0.5,
              interpolation="nearest")  # fmt: skip
    for r, n in enumerate(names):
        for c, ok in enumerate(report.solved.get(n, ())):
            if not ok:
                ax.plot(c, r, marker=".", color="black", markersize=2)
    ax.set_yticks(range(len(names)), names, fontsize=7)
    ax.set_xlabel(f"problem (n={len(report.problem_ids)}); a dot marks a failed choice")
    handles = [plt.Rectangle((0, 0), 1, 1, color=cmap(i)) for i in range(len(arms))]
    ax.legend(handles, arms, fontsize=6, bbox_to_anchor=(1.01, 1), loc="upper left")
    return _png(fig)


def heatmap_png(matrix: MatrixSection) -> bytes | None:
    """The matrix as a heatmap on [0, 1], each cell annotated with its value and count."""
    if not matrix.rows or not matrix.columns:
        return None
    plt = _plt()
    import numpy as np

    grid = np.array(
        [[np.nan if v is None else v for v in row] for row in matrix.values], dtype=float
    )
    fig, ax = plt.subplots(figsize=(1.0 * len(matrix.columns) + 3.0,
                                    0.55 * len(matrix.rows) + 1.8))  # fmt: skip
    cmap = plt.get_cmap("viridis").copy()
    cmap.set_bad("#eeeeee")  # no observation: grey, not a rate of 0
    im = ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, vmin=0.0, vmax=1.0, aspect="auto")
    for r in range(len(matrix.rows)):
        for c in range(len(matrix.columns)):
            value = matrix.values[r][c]
            n = matrix.counts[r][c] if matrix.counts else None
            text = "" if value is None else f"{value:.2f}"
            if n is not None:
                text += f"\nn={n}"
            color = "white" if value is not None and value < 0.6 else "black"
            ax.text(c, r, text, ha="center", va="center", fontsize=7, color=color)
    ax.set_xticks(range(len(matrix.columns)), matrix.columns, rotation=30, ha="right",
                  fontsize=7)  # fmt: skip
    ax.set_yticks(range(len(matrix.rows)), matrix.rows, fontsize=7)
    ax.set_xlabel(matrix.column_label)
    ax.set_ylabel(matrix.row_label)
    ax.set_title(matrix.title, fontsize=9)
    fig.colorbar(im, ax=ax, fraction=0.04)
    return _png(fig)
