"""The quality-compute frontier, and its area as one number (RouterBench's AIQ).

Each point is (compute, pass@1), compute normalised to [0, 1] by the most expensive arm's mean
cost in the pool (for published matrices, the largest model's parameter count). A policy gives
one point per cost weight ``lambda`` of the cost-aware reward (``pass - lambda x cost_norm``);
each single arm gives a point, and so does the oracle.

**AIQ** (average improvement in quality, Hu et al., RouterBench 2024) is the area under the
non-decreasing convex hull of a set of points: any two routers can be mixed at random, so every
point on a segment between two points is reachable, and spending more compute never has to lower
quality. The hull starts at (0, 0) (routing nowhere costs nothing and passes nothing) and is
extended flat from its best point to the right edge, compute 1. Points beyond 1 are clipped.

>>> aiq([(0.5, 0.5), (1.0, 0.6)])  # (0,0)-(0.5,0.5): 0.125, then (0.5,0.5)-(1,0.6): 0.275
0.4
>>> aiq([(0.5, 0.5), (0.25, 0.1), (1.0, 0.4)])  # dominated points do not count
0.375
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from octoroute.evaluation.outcomes import OutcomeMatrix
from octoroute.evaluation.replay import PolicySpec, replay
from octoroute.evaluation.result import Mode
from octoroute.exceptions import ConfigError

__all__ = [
    "DEFAULT_LAMBDAS",
    "Frontier",
    "FrontierPoint",
    "aiq",
    "arm_points",
    "oracle_point",
    "policy_frontier",
    "upper_hull",
]

DEFAULT_LAMBDAS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0)
"""Cost weights swept by default."""

FloatArray = np.ndarray[Any, np.dtype[np.float64]]


@dataclass(frozen=True, slots=True)
class FrontierPoint:
    """One (compute, pass@1) point; ``compute`` normalised to [0, 1]."""

    label: str
    compute: float
    pass_at_1: float
    lam: float | None = None

    def to_json(self) -> dict[str, Any]:
        """The point as JSON data."""
        return {
            "label": self.label,
            "compute": round(self.compute, 4),
            "pass_at_1": round(self.pass_at_1, 4),
            "lambda": self.lam,
        }


@dataclass(frozen=True, slots=True)
class Frontier:
    """A labelled set of points and the area under their non-decreasing convex hull."""

    label: str
    points: tuple[FrontierPoint, ...]

    @property
    def aiq(self) -> float:
        """Area under the non-decreasing convex hull (see :func:`aiq`)."""
        return aiq([(p.compute, p.pass_at_1) for p in self.points])

    def to_json(self) -> dict[str, Any]:
        """The frontier as JSON data."""
        return {
            "label": self.label,
            "aiq": round(self.aiq, 4),
            "points": [p.to_json() for p in self.points],
        }


def upper_hull(points: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    """The non-decreasing upper convex hull through (0, 0), flat to compute 1.

    >>> upper_hull([(0.5, 0.5), (0.25, 0.1), (1.0, 0.4)])
    [(0.0, 0.0), (0.5, 0.5), (1.0, 0.5)]
    """
    pts = [(min(max(float(c), 0.0), 1.0), float(q)) for c, q in points]
    if not pts:
        raise ValueError("no points")
    best = max(q for _, q in pts)
    # The cheapest point of best quality ends the rising part; past it the hull is flat.
    peak = min(c for c, q in pts if q == best)
    candidates = sorted({(0.0, 0.0), *[(c, q) for c, q in pts if c <= peak], (1.0, best)})
    hull: list[tuple[float, float]] = []
    for p in candidates:
        # Andrew's monotone chain, upper part: drop the last point while it is not above the
        # segment from the one before it to p.
        while len(hull) >= 2 and _cross(hull[-2], hull[-1], p) >= 0:
            hull.pop()
        hull.append(p)
    return hull


def _cross(o: tuple[float, float], a: tuple[float, float], b: tuple[float, float]) -> float:
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def aiq(points: Iterable[tuple[float, float]]) -> float:
    """Area under the non-decreasing convex hull of (normalised compute, pass@1) points."""
    hull = upper_hull(points)
    area = sum((c1 - c0) * (q0 + q1) / 2.0 for (c0, q0), (c1, q1) in itertools.pairwise(hull))
    return round(float(area), 12)


def _scale(matrix: OutcomeMatrix) -> float:
    cost = matrix.arm_cost()
    if np.isnan(cost).any():
        unknown = ", ".join(matrix.unknown_cost())
        raise ConfigError(f"the frontier needs every arm's cost; unknown for {unknown}")
    return float(cost.max())


def arm_points(matrix: OutcomeMatrix) -> Frontier:
    """One point per single arm: the frontier of not routing at all."""
    scale = _scale(matrix)
    means = matrix.rewards.mean(axis=0)
    cost = matrix.arm_cost() / scale
    points = tuple(
        FrontierPoint(a, float(c), float(q))
        for a, c, q in zip(matrix.arms, cost, means, strict=True)
    )
    return Frontier("single arms", points)


def oracle_point(matrix: OutcomeMatrix) -> FrontierPoint:
    """The oracle: the best arm per problem, the cheapest among ties."""
    scale = _scale(matrix)
    best = matrix.rewards.max(axis=1, keepdims=True)
    cost = np.where(matrix.rewards == best, matrix.cost, np.inf).min(axis=1)
    return FrontierPoint("oracle", float(cost.mean()) / scale, float(best.mean()))


def policy_frontier(
    matrix: OutcomeMatrix,
    x: FloatArray,
    policy: PolicySpec | str,
    *,
    params: Mapping[str, Any] | None = None,
    lambdas: Sequence[float] = DEFAULT_LAMBDAS,
    mode: Mode | str = Mode.CV,
    seeds: int | Iterable[int] = 3,
    folds: int = 5,
    on_step: Callable[[], None] | None = None,
) -> Frontier:
    """Replay ``policy`` once per cost weight in ``lambdas``; one point per weight."""
    spec = PolicySpec(policy, dict(params or {})) if isinstance(policy, str) else policy
    scale = _scale(matrix)
    seed_list = tuple(range(seeds)) if isinstance(seeds, int) else tuple(seeds)
    points = []
    for lam in lambdas:
        r = replay(
            matrix, x, spec, mode=mode, seeds=seed_list, folds=folds, lam=lam, on_step=on_step
        )
        points.append(
            FrontierPoint(
                f"{spec.name} λ={lam:g}", float(r.cost.mean()) / scale, r.pass_at_1, float(lam)
            )
        )
    return Frontier(spec.name, tuple(points))
