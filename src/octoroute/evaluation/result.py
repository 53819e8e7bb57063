"""What a replay produced, and the report it gives (:meth:`ReplayResult.to_json`).

A :class:`ReplayResult` keeps the raw decisions (which arm each seed chose for each problem,
and the best-single-arm baseline's arm) next to the pool's :class:`OutcomeMatrix`; every metric
is derived from them on demand, so the report cannot disagree with the decisions.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from octoroute.evaluation.metrics import (
    arm_shares,
    bootstrap_ci,
    cumulative_regret,
    paired_bootstrap_ci,
    ratio,
)
from octoroute.evaluation.outcomes import OutcomeMatrix
from octoroute.exceptions import ConfigError

__all__ = ["Mode", "Reference", "ReplayResult"]

FloatArray = np.ndarray[Any, np.dtype[np.float64]]
IntArray = np.ndarray[Any, np.dtype[np.int64]]


class Mode(enum.StrEnum):
    """How a replay exposes outcomes to the policy."""

    ONLINE = "online"
    """One pass in a random order, bandit feedback, cold start: the deployment regime."""
    CV = "cv"
    """K-fold cross-fitting, full information on the training folds: the offline regime."""


@dataclass(frozen=True, eq=False)
class Reference:
    """A model outside the pool to compare with (e.g. one much larger model), same problems."""

    model: str
    rewards: FloatArray
    cost: FloatArray

    @classmethod
    def from_matrix(cls, matrix: OutcomeMatrix, model: str, pool: OutcomeMatrix) -> Reference:
        """``model``'s column of the (unfiltered) ``matrix`` on the problems of ``pool``."""
        rewards, cost = matrix.restrict(pool.problem_ids).column(model)
        if np.isnan(cost).any():
            raise ConfigError(
                f"reference {model}: its cost is unknown (size not known; give --sizes)"
            )
        return cls(model, rewards, cost)


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(float(value), digits)


def _ci(values: FloatArray) -> list[float]:
    lo, hi = bootstrap_ci(values)
    return [round(lo, 4), round(hi, 4)]


@dataclass(frozen=True, eq=False)
class ReplayResult:
    """The decisions of one policy replayed over several seeds on one pool.

    ``choices[s, i]`` is the arm (index into ``matrix.arms``) chosen in seed ``s`` for problem
    ``i``; ``order[s, t]`` the problem decided at step ``t``; ``baseline[s, i]`` the arm of the
    best-single-arm baseline for that problem (chosen on the training folds in ``cv`` mode, in
    hindsight on all problems in ``online`` mode, as ``baseline_basis`` says).
    """

    policy: str
    params: Mapping[str, Any]
    mode: Mode
    seeds: tuple[int, ...]
    folds: int | None
    lam: float
    budget: float | None
    matrix: OutcomeMatrix
    choices: IntArray
    order: IntArray
    baseline: IntArray
    baseline_basis: str
    reference: Reference | None = None
    excluded_unknown_size: tuple[str, ...] = ()
    featurizer: Mapping[str, Any] = field(default_factory=dict)
    elapsed: float = 0.0

    # -- per-problem arrays -------------------------------------------------------------------

    def _take(self, table: FloatArray, arms: IntArray) -> FloatArray:
        rows = np.arange(table.shape[0])[None, :]
        return np.asarray(table[rows, arms], dtype=np.float64)

    @property
    def passed(self) -> FloatArray:
        """``passed[s, i]``: the chosen arm's pass probability (how pass@1 is scored)."""
        return self._take(self.matrix.rewards, self.choices)

    @property
    def cost(self) -> FloatArray:
        """``cost[s, i]``: the chosen arm's compute, in ``matrix.cost_unit``."""
        return self._take(self.matrix.cost, self.choices)

    @property
    def baseline_passed(self) -> FloatArray:
        """The best-single-arm baseline's pass probability per seed and problem."""
        return self._take(self.matrix.rewards, self.baseline)

    # -- summaries ----------------------------------------------------------------------------

    @property
    def pass_at_1(self) -> float:
        """Mean pass probability over seeds and problems."""
        return float(self.passed.mean())

    @property
    def oracle_pass_at_1(self) -> float:
        """The per-problem best arm's pass probability, averaged: the bound of routing."""
        return self.matrix.oracle()

    def hindsight_arm(self) -> tuple[str, float]:
        """The single arm of best mean cost-aware reward on all problems, and its pass@1.

        Not a deployable baseline (it has seen every outcome); reported for reference.
        """
        j = int(np.argmax(self._arm_reward()))
        return self.matrix.arms[j], float(self.matrix.rewards[:, j].mean())

    def _arm_reward(self) -> FloatArray:
        reward = self.matrix.rewards.mean(axis=0)
        if self.lam:
            cost = self.matrix.arm_cost()
            reward = reward - self.lam * cost / cost.max()
        return np.asarray(reward, dtype=np.float64)

    def regret_curve(self) -> FloatArray:
        """Cumulative regret against the oracle along the routing order (mean over seeds)."""
        oracle = self.matrix.rewards.max(axis=1)
        return cumulative_regret(oracle, self.passed, self.order)

    def _compute_block(self, cost: FloatArray) -> dict[str, Any]:
        unknown = bool(np.isnan(cost).any())
        mean = None if unknown else float(cost.mean())
        largest = self.matrix.largest_arm()
        largest_cost = float(self.matrix.arm_cost()[self.matrix.arms.index(largest)])
        return {
            "mean": _round(mean, 6),
            "unit": self.matrix.cost_unit,
            "ratio_vs_largest": None if mean is None else _round(ratio(mean, largest_cost)),
        }

    def to_json(self, *, per_problem: bool = False) -> dict[str, Any]:
        """The report as JSON data; ``per_problem`` adds each problem's choices and the
        online regret curve."""
        passed = self.passed
        per_problem_pass = passed.mean(axis=0)
        base = self.baseline_passed
        base_per_problem = base.mean(axis=0)
        compute = self._compute_block(self.cost)
        base_compute = self._compute_block(self._take(self.matrix.cost, self.baseline))
        hindsight, hindsight_pass = self.hindsight_arm()
        base_arms = arm_shares(self.baseline, self.matrix.arms)
        out: dict[str, Any] = {
            "policy": self.policy,
            "params": dict(self.params),
            "mode": self.mode.value,
            "seeds": list(self.seeds),
            "folds": self.folds,
            "n_problems": len(self.matrix.problem_ids),
            "arms": list(self.matrix.arms),
            "lambda": self.lam,
            "budget": self.budget,
            "featurizer": dict(self.featurizer),
            "pass_at_1": _round(self.pass_at_1),
            "ci95": _ci(per_problem_pass),
            "per_seed": [_round(v) for v in passed.mean(axis=1)],
            "best_single_arm": max(base_arms, key=lambda a: base_arms[a]),
            "best_single_basis": self.baseline_basis,
            "best_single_arms": {a: _round(s) for a, s in base_arms.items() if s > 0},
            "best_single_pass_at_1": _round(float(base.mean())),
            "best_single_ci95": _ci(base_per_problem),
            "best_single_compute": base_compute["mean"],
            "gain_over_best_single": _round(float((per_problem_pass - base_per_problem).mean())),
            "gain_over_best_single_ci95": [
                round(v, 4) for v in paired_bootstrap_ci(per_problem_pass, base_per_problem)
            ],
            "best_single_hindsight": {"arm": hindsight, "pass_at_1": _round(hindsight_pass)},
            "oracle_pass_at_1": _round(self.oracle_pass_at_1),
            "regret": _round(self.oracle_pass_at_1 - self.pass_at_1),
            "compute": {"mean": compute["mean"], "unit": compute["unit"]},
            "compute_ratio_vs_largest": compute["ratio_vs_largest"],
            "largest_arm": self.matrix.largest_arm(),
            "arm_shares": {
                a: _round(s) for a, s in arm_shares(self.choices, self.matrix.arms).items()
            },
            "per_arm_pass_at_1": {a: _round(v) for a, v in self.matrix.per_arm_mean().items()},
            "excluded_unknown_size": list(self.excluded_unknown_size),
            "dropped_problems": len(self.matrix.dropped_problems),
            "elapsed_seconds": round(self.elapsed, 2),
        }
        if self.reference is not None:
            out["reference"] = self._reference_block(per_problem_pass, compute["mean"])
        if per_problem:
            if self.mode is Mode.ONLINE:
                out["regret_curve"] = [round(v, 4) for v in self.regret_curve()]
            out["per_problem"] = [
                {
                    "id": pid,
                    "pass": _round(float(per_problem_pass[i])),
                    "oracle": _round(float(self.matrix.rewards[i].max())),
                    "choices": {
                        a: _round(s)
                        for a, s in arm_shares(self.choices[:, i], self.matrix.arms).items()
                        if s > 0
                    },
                }
                for i, pid in enumerate(self.matrix.problem_ids)
            ]
        return out

    def _reference_block(
        self, per_problem_pass: FloatArray, compute: float | None
    ) -> dict[str, Any]:
        ref = self.reference
        assert ref is not None  # checked by the caller
        ref_cost = float(ref.cost.mean())
        return {
            "model": ref.model,
            "pass_at_1": _round(float(ref.rewards.mean())),
            "ci95": _ci(ref.rewards),
            "compute": _round(ref_cost, 6),
            "compute_ratio": None if compute is None else _round(ratio(compute, ref_cost)),
            "gain": _round(float((per_problem_pass - ref.rewards).mean())),
            "gain_ci95": [round(v, 4) for v in paired_bootstrap_ci(per_problem_pass, ref.rewards)],
        }
