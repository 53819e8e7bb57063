"""What a report shows, as plain frozen data (no matplotlib); frontier points are
:class:`octoroute.evaluation.FrontierPoint`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from octoroute.evaluation.frontier import FrontierPoint

__all__ = ["MatrixSection", "PolicyRow", "Report"]


@dataclass(frozen=True, slots=True)
class PolicyRow:
    """One policy judged in one mode: pass@1 with its interval and what it cost.

    ``compute_ratio`` is the routed mean compute over that of the reference (the largest arm,
    unless the report names another); ``regret`` is the oracle's pass@1 minus this one's.

    >>> PolicyRow("linucb", "cv", 0.74, (0.70, 0.78), compute_ratio=0.4).label
    'linucb (cv)'
    """

    policy: str
    mode: str
    pass_at_1: float
    ci95: tuple[float, float]
    compute_ratio: float | None = None
    regret: float | None = None
    aiq: float | None = None
    arm_shares: Mapping[str, float] = field(default_factory=dict)
    note: str = ""

    @property
    def label(self) -> str:
        """The policy and its mode, for legends and tables."""
        return f"{self.policy} ({self.mode})"


@dataclass(frozen=True, slots=True)
class MatrixSection:
    """A matrix shown as a heatmap with a table: one value in [0, 1] per (row, column).

    ``values[r][c]`` is None where nothing was observed; ``counts[r][c]`` is the number of
    observations behind a value and ``intervals[r][c]`` its 95% interval (either may be empty).

    >>> MatrixSection("fix rate", ("a",), ("b",), ((0.5,),), ((4,),)).values[0][0]
    0.5
    """

    title: str
    rows: Sequence[str]
    columns: Sequence[str]
    values: Sequence[Sequence[float | None]]
    counts: Sequence[Sequence[int]] = ()
    intervals: Sequence[Sequence[tuple[float, float] | None]] = ()
    row_label: str = ""
    column_label: str = ""
    note: str = ""


@dataclass(frozen=True)
class Report:
    """Everything one page shows.

    ``frontiers`` maps a series name (a policy, or ``"single arms"``) to its points;
    ``regret_curves`` a policy to its cumulative regret after each problem (online mode);
    ``choices`` a policy to the arm it chose for each problem of ``problem_ids`` (cv mode),
    and ``solved`` the same shape with whether the choice passed.
    """

    title: str
    subtitle: str = ""
    rows: Sequence[PolicyRow] = ()
    best_single: tuple[str, float] | None = None
    oracle: float | None = None
    reference: tuple[str, float, float] | None = None
    """A model outside the pool to compare with: name, pass@1, compute ratio (the rows' scale:
    drawn as a point on the frontier and as a line)."""
    frontiers: Mapping[str, Sequence[FrontierPoint]] = field(default_factory=dict)
    regret_curves: Mapping[str, Sequence[float]] = field(default_factory=dict)
    problem_ids: Sequence[str] = ()
    choices: Mapping[str, Sequence[str]] = field(default_factory=dict)
    solved: Mapping[str, Sequence[bool]] = field(default_factory=dict)
    notes: Sequence[str] = ()
    sections: Sequence[Report] = ()
    """Further reports (another benchmark, another pool) rendered on the same page."""
    matrices: Sequence[MatrixSection] = ()
    """Matrices shown as heatmaps and tables (for example cross-arm fix rates)."""
