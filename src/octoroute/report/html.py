"""The report as one self-contained HTML page: tables, notes and inline PNG figures."""

from __future__ import annotations

import base64
import html
from pathlib import Path

from octoroute.fileio.atomic import atomic_write
from octoroute.report import figures
from octoroute.report.model import MatrixSection, Report

__all__ = ["render_html", "write_html"]

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border-bottom: 1px solid #ddd; padding: 0.25em 0.7em; text-align: right; }
th:first-child, td:first-child, td.l { text-align: left; }
h2 { border-top: 2px solid #eee; padding-top: 0.6em; }
.note { color: #555; font-size: 0.9em; }
img { max-width: 100%; }
"""


def _f(value: float | None, digits: int = 3) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def _img(png: bytes | None, alt: str) -> str:
    if png is None:
        return ""
    data = base64.b64encode(png).decode("ascii")
    return f'<figure><img alt="{html.escape(alt)}" src="data:image/png;base64,{data}"></figure>'


def _table(report: Report) -> str:
    head = "".join(
        f"<th>{h}</th>"
        for h in ("policy", "mode", "pass@1", "95% CI", "regret", "compute ratio", "AIQ")
    )
    rows = []
    for r in report.rows:
        rows.append(
            f"<tr><td>{html.escape(r.policy)}</td><td class=l>{html.escape(r.mode)}</td>"
            f"<td>{_f(r.pass_at_1)}</td><td>[{r.ci95[0]:.3f}, {r.ci95[1]:.3f}]</td>"
            f"<td>{_f(r.regret)}</td><td>{_f(r.compute_ratio, 2)}</td><td>{_f(r.aiq)}</td></tr>"
        )
    extra: list[tuple[str, float, float | None]] = []
    if report.best_single is not None:
        extra.append(("best single arm: " + report.best_single[0], report.best_single[1], None))
    if report.oracle is not None:
        extra.append(("oracle (an upper bound, not a policy)", report.oracle, None))
    if report.reference is not None:
        extra.append(("reference: " + report.reference[0], report.reference[1],
                      report.reference[2]))  # fmt: skip
    for name, p, ratio in extra:
        rows.append(
            f"<tr><td>{html.escape(name)}</td><td></td><td>{_f(p)}</td><td></td><td></td>"
            f"<td>{_f(ratio, 2)}</td><td></td></tr>"
        )
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def _matrix(matrix: MatrixSection) -> str:
    """A matrix's heatmap and its table (value, count and interval per cell)."""
    head = f"<th>{html.escape(matrix.row_label)}</th>" + "".join(
        f"<th>{html.escape(c)}</th>" for c in matrix.columns
    )
    rows = []
    for r, name in enumerate(matrix.rows):
        cells = []
        for c in range(len(matrix.columns)):
            text = _f(matrix.values[r][c])
            if matrix.counts:
                text += f" (n={matrix.counts[r][c]})"
            ci = matrix.intervals[r][c] if matrix.intervals else None
            if ci is not None:
                text += f"<br>[{ci[0]:.2f}, {ci[1]:.2f}]"
            cells.append(f"<td>{text}</td>")
        rows.append(f"<tr><td>{html.escape(name)}</td>{''.join(cells)}</tr>")
    parts = [
        f"<h3>{html.escape(matrix.title)}</h3>",
        _img(figures.heatmap_png(matrix), matrix.title),
        f"<table><tr>{head}</tr>{''.join(rows)}</table>",
    ]
    if matrix.note:
        parts.append(f"<p class=note>{html.escape(matrix.note)}</p>")
    return "\n".join(p for p in parts if p)


def _section(report: Report, level: int) -> str:
    parts = [f"<h{level}>{html.escape(report.title)}</h{level}>"]
    if report.subtitle:
        parts.append(f"<p class=note>{html.escape(report.subtitle)}</p>")
    if report.rows or report.best_single or report.oracle is not None or report.reference:
        parts.append(_table(report))
    parts.extend(f"<p class=note>{html.escape(n)}</p>" for n in report.notes)
    parts.append(_img(figures.frontier_png(report), "quality-compute frontier"))
    parts.append(_img(figures.regret_png(report), "cumulative regret"))
    parts.append(_img(figures.arm_shares_png(report), "arm shares"))
    parts.append(_img(figures.choices_png(report), "per-problem choices"))
    parts.extend(_matrix(m) for m in report.matrices)
    parts.extend(_section(s, min(level + 1, 4)) for s in report.sections)
    return "\n".join(p for p in parts if p)


def render_html(report: Report) -> str:
    """The whole page as a string.

    >>> page = render_html(Report("demo"))
    >>> page.startswith("<!doctype html>") and "<h1>demo</h1>" in page
    True
    """
    return (
        "<!doctype html>\n<html lang=en><head><meta charset=utf-8>"
        f"<title>{html.escape(report.title)}</title><style>{_STYLE}</style></head>"
        f"<body>\n{_section(report, 1)}\n</body></html>\n"
    )


def write_html(report: Report, path: str | Path) -> Path:
    """Write the page to ``path`` atomically (temporary file, then rename); return the path."""
    path = Path(path)
    with atomic_write(path, "w", permissions=0o644) as f:  # a page to share
        f.write(render_html(report))
    return path
