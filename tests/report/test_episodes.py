"""The episodes report: the frontier beside the bigger sibling's published point."""

from __future__ import annotations

from pathlib import Path

from octoroute.report import write_html
from octoroute.report.episodes import BIGGER_SIBLING, episodes_report


def _summary() -> dict[str, object]:
    row = {"name": "qwen2.5-coder-1.5b alone", "pass": 0.6, "ci95": [0.5, 0.7],
           "compute_ratio": 1.0, "mean_attempts": 1.0, "gain_vs_largest": None}  # fmt: skip
    vote = {**row, "name": "vote a + b", "pass": 0.65, "compute_ratio": 1.4,
            "gain_vs_largest": {"mean": 0.05, "ci95": [0.0, 0.1]}, "default": True}  # fmt: skip
    return {"strategies": [row, vote], "oracle_recorded": 0.8, "oracle_one_shot": 0.7,
            "problems": 60, "baseline": "qwen2.5-coder-1.5b alone"}  # fmt: skip


def test_the_sibling_is_on_the_plus_benchmarks_frontier(tmp_path: Path) -> None:
    report = episodes_report(_summary(), "mbpp+")
    assert (
        report.reference
        == BIGGER_SIBLING["mbpp+"]
        == ("Qwen2.5-Coder-3B-Instruct (maker, bf16)", 0.624, 2.0)
    )
    out = tmp_path / "episodes.html"
    write_html(report, out)
    page = out.read_text()
    assert "Qwen2.5-Coder-3B-Instruct (maker, bf16)" in page and "<img" in page
    assert episodes_report(_summary(), "humaneval").reference is None  # base tier: no point


def test_every_strategy_is_on_the_frontier_and_the_default_marked() -> None:
    from octoroute.report.episodes import DEFAULT, RULES
    from octoroute.report.figures import frontier_png

    report = episodes_report(_summary(), "mbpp+")
    assert [p.label for p in report.frontiers[RULES]] == ["vote a + b"]
    assert [p.pass_at_1 for p in report.frontiers[f"{DEFAULT}: vote a + b"]] == [0.65]
    assert [p.label for p in report.frontiers["single arms"]] == ["qwen2.5-coder-1.5b alone"]
    png = frontier_png(report)
    assert png is not None and png.startswith(b"\x89PNG")
