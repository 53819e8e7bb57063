"""The HTML report is self-contained and shows every part it is given."""

from __future__ import annotations

import re
from pathlib import Path

from rich.console import Console

from octoroute.evaluation import FrontierPoint
from octoroute.report import PolicyRow, Report, render_table, write_html


def _report() -> Report:
    rows = [
        PolicyRow(
            "linucb",
            "cv",
            0.74,
            (0.70, 0.78),
            compute_ratio=0.4,
            regret=0.15,
            aiq=0.7,
            arm_shares={"a": 0.75, "b": 0.25},
        ),
        PolicyRow("random", "online", 0.5, (0.45, 0.55), arm_shares={"a": 0.5, "b": 0.5}),
    ]
    return Report(
        "HumanEval+ <small pool>",
        rows=rows,
        best_single=("a", 0.72),
        oracle=0.9,
        reference=("big-33b", 0.76, 0.2),
        frontiers={
            "linucb": [FrontierPoint("lambda=1", 0.2, 0.6), FrontierPoint("lambda=0", 0.5, 0.74)],
            "single arms": [FrontierPoint("a", 0.1, 0.5), FrontierPoint("b", 1.0, 0.72)],
        },
        regret_curves={"linucb": [0.0, 0.5, 0.7], "random": [0.3, 0.9, 1.4]},
        problem_ids=["p1", "p2", "p3"],
        choices={"linucb": ["a", "b", "a"]},
        solved={"linucb": [True, False, True]},
        notes=["cost: parameters x 1 per problem"],
        sections=[Report("MBPP+", rows=rows[:1])],
    )


def test_page_is_self_contained_with_every_figure(tmp_path: Path) -> None:
    page = write_html(_report(), tmp_path / "out" / "report.html").read_text()
    assert page.count('src="data:image/png;base64,') == 5  # frontier, regret, shares, choices + 1
    assert not re.search(r"(src|href)=\"(http|file|/)", page)  # nothing outside the page
    assert "HumanEval+ &lt;small pool&gt;" in page  # escaped
    assert "0.740" in page and "[0.700, 0.780]" in page and "big-33b" in page
    assert "<h2>MBPP+</h2>" in page
    assert not list((tmp_path / "out").glob(".*.tmp"))


def test_terminal_table_has_the_same_numbers() -> None:
    console = Console(width=200, record=True)
    console.print(render_table(_report()))
    text = console.export_text()
    assert "0.740" in text and "[0.700, 0.780]" in text and "a 75%" in text
    assert "oracle" in text and "big-33b" in text
