"""The report: one self-contained HTML page (matplotlib figures inline) and the same table for
the terminal.

:class:`Report` collects what replay measured, as plain data: one :class:`PolicyRow` per policy
and mode, the quality-compute frontier of each, online regret curves, the share of each arm and
the arm each policy chose per problem. :func:`write_html` renders it; figures are PNG images
embedded as base64, so the page needs no other file and no network.
matplotlib is imported only when a page is written (Agg backend, no display needed).
"""

from octoroute.report.html import render_html, write_html
from octoroute.report.model import MatrixSection, PolicyRow, Report
from octoroute.report.table import render_table

__all__ = [
    "MatrixSection",
    "PolicyRow",
    "Report",
    "render_html",
    "render_table",
    "write_html",
]
