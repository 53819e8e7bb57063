"""Replay the clarification policies on a log, without a model: code, ask, or decide.

For one arm (it asks and codes) and each simulated user, every problem of the log has two
outcomes: coding at once (the arm's greedy fresh attempt, from ``octoroute collect``) and
asking (the program written after that user's answer, from :mod:`.collect`). The policies:

- ``always_code`` and ``always_ask``;
- ``router``: asks when its predicted success after asking, minus ``lambda_ask`` (the cost of
  a user's turn), beats its predicted success coding at once. Both predictions are logistic
  regressions on the prompt's lexical features, cross-fitted (trained on the other folds'
  problems, never on the problem decided).

Reported per policy and user: pass@1 on the modified prompts and on the originals with
bootstrap intervals, the communication rate (asks on modified prompts) and the false-ask
rate (asks on originals). Problems lacking either outcome are left out and counted.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from octoroute.evaluation.metrics import bootstrap_ci
from octoroute.features import LexicalFeaturizer
from octoroute.types import Attempt, Problem

__all__ = ["Outcomes", "clarify_summary", "outcomes"]

ORIGINAL = "original"


@dataclass(frozen=True)
class Outcomes:
    """One arm's outcomes with one user: per problem, passed coding at once and after asking."""

    arm: str
    user: str
    problems: tuple[Problem, ...]
    code: np.ndarray[Any, Any]
    ask: np.ndarray[Any, Any]
    left_out: int

    @property
    def original(self) -> np.ndarray[Any, Any]:
        """True where the prompt is the unmodified original (asking is wasted there)."""
        return np.array([p.id.endswith("/" + ORIGINAL) for p in self.problems])


def outcomes(attempts: Iterable[Attempt], problems: Sequence[Problem], arm: str) -> list[Outcomes]:
    """The arm's outcomes with every user the log holds answers from."""
    fresh: dict[str, bool] = {}
    by_id: dict[int, Attempt] = {}
    codes: list[Attempt] = []
    for a in attempts:
        if a.id is not None:
            by_id[a.id] = a
        # Coding at once: the arm's judged greedy first attempt (a question is not judged).
        first = a.parent_attempt_id is None and a.attempt_number == 1 and a.sample_index == 0
        if a.arm == arm and first and a.tests is not None:
            fresh[a.problem_id] = bool(a.passed)
        if a.arm == arm and a.attempt_number == 3 and a.tests is not None:
            codes.append(a)
    asked: dict[str, dict[str, bool]] = {}
    for c in codes:
        answer = by_id.get(c.parent_attempt_id or -1)
        if answer is not None:
            asked.setdefault(answer.arm, {})[c.problem_id] = bool(c.passed)
    out = []
    for user, passed in sorted(asked.items()):
        keep = [p for p in problems if p.id in fresh and p.id in passed]
        out.append(Outcomes(
            arm, user, tuple(keep),
            np.array([fresh[p.id] for p in keep], dtype=float),
            np.array([passed[p.id] for p in keep], dtype=float),
            left_out=len(problems) - len(keep),
        ))  # fmt: skip
    return out


def _router_asks(o: Outcomes, lambda_ask: float, folds: int, seed: int) -> np.ndarray[Any, Any]:
    """Cross-fitted decisions: ask where predicted success after asking, minus ``lambda_ask``,
    beats predicted success coding at once."""
    from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]

    featurizer = LexicalFeaturizer(n_features=256)
    x = np.vstack([featurizer.transform_one(p.visible_only()) for p in o.problems])
    n = len(o.problems)
    order = np.random.default_rng(seed).permutation(n)
    asks = np.zeros(n, dtype=bool)
    for held in np.array_split(order, min(folds, n)):
        train = np.setdiff1d(order, held)
        p = {}
        for name, y in (("code", o.code), ("ask", o.ask)):
            if len(set(y[train].tolist())) < 2:  # one class only: its rate is the prediction
                p[name] = np.full(len(held), y[train].mean() if len(train) else 0.0)
            else:
                model = LogisticRegression(C=1.0, max_iter=1000).fit(x[train], y[train])
                p[name] = model.predict_proba(x[held])[:, 1]
        asks[held] = p["ask"] - lambda_ask > p["code"]
    return asks


def _rate(values: np.ndarray[Any, Any], seed: int) -> dict[str, Any]:
    if len(values) == 0:
        return {"mean": None, "ci95": None, "n": 0}
    lo, hi = bootstrap_ci(values, seed=seed)
    return {"mean": round(float(values.mean()), 4), "ci95": [round(lo, 4), round(hi, 4)],
            "n": len(values)}  # fmt: skip


def clarify_summary(
    found: Sequence[Outcomes], lambda_ask: float = 0.1, folds: int = 5, seed: int = 0
) -> dict[str, Any]:
    """The JSON of ``octoroute clarify --json``: per user and policy, the measures above."""
    rows = []
    for o in found:
        original = o.original
        for policy, asks in (
            ("always_code", np.zeros(len(o.problems), dtype=bool)),
            ("always_ask", np.ones(len(o.problems), dtype=bool)),
            ("router", _router_asks(o, lambda_ask, folds, seed)),
        ):
            passed = np.where(asks, o.ask, o.code)
            modified = ~original
            rows.append({
                "policy": policy, "user": o.user, "arm": o.arm,
                "pass_at_1": {"modified": _rate(passed[modified], seed),
                              "original": _rate(passed[original], seed)},
                "communication_rate": round(float(asks[modified].mean()), 4)
                if modified.any() else None,
                "false_ask_rate": round(float(asks[original].mean()), 4)
                if original.any() else None,
                "good_question_rate": None,
                "left_out": o.left_out,
            })  # fmt: skip
    return {"lambda_ask": lambda_ask, "policies": rows}
