"""Replay the clarification policies on a log, without a model: code, ask, or decide.

For one arm (it asks and codes) and each simulated user, every problem of the log has two
outcomes: coding at once (the arm's greedy fresh attempt, from ``octoroute collect``) and
asking (the program written after that user's answer, from :mod:`.collect`). The policies:

- ``always_code`` and ``always_ask``;
- ``router``: asks when its predicted success after asking, minus ``lambda_ask`` (the cost of
  a user's turn), beats its predicted success coding at once (:mod:`.decide`), cross-fitted
  (trained on the other folds' problems, never on the problem decided); on the request's
  words, and with the direct candidate's consistency with the request's claims when given
  (:mod:`.consistency`) and a probe of the request's hidden state when given (then
  ``router_words`` is the words alone).

Reported per policy and user: pass@1 on the modified prompts and on the originals with
bootstrap intervals that resample tasks whole (a task's rewrites share its tests and most of
its text), the paired gain over coding at once on each, pass@1 and the share asked per
variant, the mean compute over coding at once's and the user's turns per request
(``lambda_ask`` prices them), the communication rate (asks on modified prompts), the
false-ask rate (asks on originals), and for a user that rates questions (an arm) the
good-question rate (questions asked on modified prompts it rated 3) with how ratings agree
with whether asking helped. Problems lacking either outcome are left out and counted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from octoroute.clarify.consistency import features_of
from octoroute.clarify.decide import AskModel
from octoroute.evaluation.metrics import cluster_bootstrap_ci
from octoroute.exceptions import ConfigError
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
    rating: np.ndarray[Any, Any] | None = None
    """The user's rating of each problem's question, 1 to 3 (0: none or unreadable); None for
    a user that does not rate (the oracle)."""
    code_cost: np.ndarray[Any, Any] | None = None
    """The system's compute coding at once (the direct attempt's cost), per problem."""
    ask_cost: np.ndarray[Any, Any] | None = None
    """The system's compute asking (the question and the code; the user's answer is the
    user's turn, counted apart), per problem."""

    @property
    def original(self) -> np.ndarray[Any, Any]:
        """True where the prompt is the unmodified original (asking is wasted there)."""
        return np.array([_variant(p) == ORIGINAL for p in self.problems])


def outcomes(
    attempts: Iterable[Attempt],
    problems: Sequence[Problem],
    arm: str,
    direct_run: str,
    ask_run: str,
) -> list[Outcomes]:
    """The arm's outcomes with every user the log holds answers from: coding at once from
    ``direct_run`` (the arm's judged greedy first attempts), asking from ``ask_run`` (code
    attempts whose chain is a question of the arm and a user's answer). Other runs and other
    problems are ignored; a problem with two outcomes of one kind is an error."""
    wanted = {(p.benchmark, p.id) for p in problems}
    direct: dict[str, bool] = {}
    direct_cost: dict[str, float] = {}
    chain: dict[int, Attempt] = {}
    codes: list[Attempt] = []
    for a in attempts:
        if (a.benchmark, a.problem_id) not in wanted:
            continue
        if a.run_id == direct_run and a.arm == arm and a.greedy_first and a.tests is not None:
            if a.problem_id in direct:
                raise ConfigError(f"run {direct_run}: two first attempts of {arm} on "
                                  f"{a.problem_id}")  # fmt: skip
            direct[a.problem_id] = bool(a.passed)
            direct_cost[a.problem_id] = a.cost
        if a.run_id == ask_run and a.id is not None:
            chain[a.id] = a
            if a.arm == arm and a.attempt_number == 3 and a.tests is not None:
                codes.append(a)
    ratings: dict[str, dict[str, int]] = {}
    for r in chain.values():
        question = chain.get(r.parent_attempt_id or -1)
        if r.attempt_number == 4 and question is not None and question.arm == arm \
                and question.attempt_number == 1:  # fmt: skip
            ratings.setdefault(r.arm, {})[r.problem_id] = _digit(r.completion)
    asked: dict[str, dict[str, bool]] = {}
    asked_cost: dict[str, dict[str, float]] = {}
    for c in codes:
        answer = chain.get(c.parent_attempt_id or -1)
        question = None if answer is None else chain.get(answer.parent_attempt_id or -1)
        if answer is None or question is None or answer.attempt_number != 2 \
                or answer.tests is not None or question.attempt_number != 1 \
                or question.tests is not None or question.arm != arm:  # fmt: skip
            continue  # not an ask episode of this arm
        seen = asked.setdefault(answer.arm, {})
        if c.problem_id in seen:
            raise ConfigError(f"run {ask_run}: two ask episodes of {arm} with user "
                              f"{answer.arm} on {c.problem_id}")  # fmt: skip
        seen[c.problem_id] = bool(c.passed)
        asked_cost.setdefault(answer.arm, {})[c.problem_id] = question.cost + c.cost
    out = []
    for user, passed in sorted(asked.items()):
        keep = [p for p in problems if p.id in direct and p.id in passed]
        if not keep:
            continue
        out.append(Outcomes(
            arm, user, tuple(keep),
            np.array([direct[p.id] for p in keep], dtype=float),
            np.array([passed[p.id] for p in keep], dtype=float),
            left_out=len(problems) - len(keep),
            rating=None if user not in ratings
            else np.array([ratings[user].get(p.id, 0) for p in keep]),
            code_cost=np.array([direct_cost[p.id] for p in keep]),
            ask_cost=np.array([asked_cost[user][p.id] for p in keep]),
        ))  # fmt: skip
    return out


def _router_asks(
    o: Outcomes,
    lambda_ask: float,
    folds: int,
    seed: int,
    extra: np.ndarray[Any, Any] | None = None,
) -> np.ndarray[Any, Any]:
    """Cross-fitted decisions of the ask model (:mod:`.decide`, with ``extra`` columns per
    problem when given), trained on the other folds."""
    n = len(o.problems)
    # Folds by task: the variants of one HumanEval problem share its tests and most of its
    # prompt, so they are held out together.
    tasks = sorted({_task(p) for p in o.problems})
    order = np.random.default_rng(seed).permutation(len(tasks))
    fold_of = {tasks[int(t)]: k % folds for k, t in enumerate(order)}
    asks = np.zeros(n, dtype=bool)
    for f in range(min(folds, len(tasks))):
        held = np.array([i for i, p in enumerate(o.problems) if fold_of[_task(p)] == f])
        train = np.array([i for i, p in enumerate(o.problems) if fold_of[_task(p)] != f])
        if len(held) == 0 or len(train) == 0:
            continue
        cols = (None, None) if extra is None else (extra[train], extra[held])
        model = AskModel(lambda_ask).fit([o.problems[i] for i in train], o.code[train],
                                         o.ask[train], cols[0])  # fmt: skip
        chosen = model.choose([o.problems[i] for i in held], cols[1])
        asks[held] = [c.ask for c in chosen]
    return asks


def _digit(text: str) -> int:
    """The first of 1, 2, 3 in a rating's text (0 if none)."""
    for ch in text:
        if ch in "123":
            return int(ch)
    return 0


def _good(o: Outcomes, where: np.ndarray[Any, Any]) -> float | None:
    """Share of the questions asked where ``where`` that the user rated 3 (None without)."""
    if o.rating is None or not where.any():
        return None
    return round(float((o.rating[where] == 3).mean()), 4)


def _agreement(o: Outcomes) -> dict[str, Any] | None:
    """How a rating agrees with whether asking helped: the mean gain of asking over coding at
    once (modified prompts) for questions rated 3, and for the others."""
    if o.rating is None:
        return None
    gain = o.ask - o.code
    modified = ~o.original
    out: dict[str, Any] = {}
    for label, mask in (("rated_3", o.rating == 3), ("rated_1_2", (o.rating > 0) & (o.rating < 3))):
        sel = mask & modified
        out[label] = {"gain": round(float(gain[sel].mean()), 4) if sel.any() else None,
                      "n": int(sel.sum())}  # fmt: skip
    return out


def _extra_columns(
    problems: Sequence[Problem],
    consistency: Mapping[str, float | None] | None,
    probe: Mapping[str, np.ndarray[Any, Any]] | None,
) -> np.ndarray[Any, Any] | None:
    """The router's columns beyond the request's words, per problem (None: none given)."""
    blocks = []
    claims = features_of(problems, consistency)
    if claims is not None:
        blocks.append(claims)
    if probe is not None:
        lacking = [p.id for p in problems if p.id not in probe]
        if lacking:
            raise ConfigError(f"no probe features for {len(lacking)} problems "
                              f"(first: {lacking[0]})")  # fmt: skip
        blocks.append(np.vstack([np.asarray(probe[p.id], dtype=float) for p in problems]))
    return np.hstack(blocks) if blocks else None


def _variant(p: Problem) -> str:
    """The problem's variant: ``original``, ``1a``, ``1c``, ``1p``, ``2ac``, ..."""
    return str(p.metadata.get("variant", p.id.rsplit("/", 1)[-1]))


def _by_variant(o: Outcomes, passed: np.ndarray[Any, Any], asks: np.ndarray[Any, Any],
                tasks: np.ndarray[Any, Any], seed: int) -> dict[str, Any]:  # fmt: skip
    """Per variant (the originals and each kind of rewrite): pass@1 and the share asked
    (``tasks``: each problem's task)."""
    labels = np.array([_variant(p) for p in o.problems])
    order = sorted(set(labels.tolist()), key=lambda v: (v != ORIGINAL, len(v), v))
    return {v: {"pass_at_1": _rate(passed[labels == v], seed, list(tasks[labels == v])),
                "ask_rate": round(float(asks[labels == v].mean()), 4)}
            for v in order}  # fmt: skip


def _compute_ratio(o: Outcomes, asks: np.ndarray[Any, Any]) -> float | None:
    """The policy's mean system compute over coding at once's (None without costs)."""
    if o.code_cost is None or o.ask_cost is None or not o.code_cost.sum():
        return None
    return round(float(np.where(asks, o.ask_cost, o.code_cost).mean() / o.code_cost.mean()), 3)


def _task(p: Problem) -> str:
    """The task a problem is a variant of (``HumanEvalComm/N``)."""
    return p.id.rsplit("/", 1)[0]


def _rate(values: np.ndarray[Any, Any], seed: int, tasks: Sequence[str]) -> dict[str, Any]:
    """Mean, interval (tasks resampled whole: a task's variants are not independent) and n."""
    if len(values) == 0:
        return {"mean": None, "ci95": None, "n": 0}
    lo, hi = cluster_bootstrap_ci(values, tasks, seed=seed)
    return {"mean": round(float(values.mean()), 4), "ci95": [round(lo, 4), round(hi, 4)],
            "n": len(values)}  # fmt: skip


def _gain(passed: np.ndarray[Any, Any], o: Outcomes, where: np.ndarray[Any, Any],
          tasks: np.ndarray[Any, Any], seed: int) -> dict[str, Any]:  # fmt: skip
    """The paired gain over coding at once where ``where`` (``tasks`` resampled whole)."""
    rate = _rate(passed[where] - o.code[where], seed, list(tasks[where]))
    return {"mean": rate["mean"], "ci95": rate["ci95"]}


def clarify_summary(
    found: Sequence[Outcomes],
    lambda_ask: float = 0.1,
    folds: int = 5,
    seed: int = 0,
    consistency: Mapping[str, float | None] | None = None,
    probe: Mapping[str, np.ndarray[Any, Any]] | None = None,
) -> dict[str, Any]:
    """The JSON of ``octoroute clarify --json``: per user and policy, the measures above.

    With ``consistency`` (per problem id, the direct candidate's share of the request's claims
    met: :mod:`.consistency`) or ``probe`` (per problem id, a probe of the request's hidden
    state: :class:`~octoroute.features.probe.ProbeFeaturizer`) the router reads them too, and
    ``router_words`` is the router on the request's words alone, for comparison."""
    rows = []
    for o in found:
        original = o.original
        extra = _extra_columns(o.problems, consistency, probe)
        policies = [
            ("always_code", np.zeros(len(o.problems), dtype=bool)),
            ("always_ask", np.ones(len(o.problems), dtype=bool)),
            ("router", _router_asks(o, lambda_ask, folds, seed, extra)),
        ]
        if extra is not None:
            policies.append(("router_words", _router_asks(o, lambda_ask, folds, seed)))
        tasks = np.array([_task(p) for p in o.problems])
        for policy, asks in policies:
            passed = np.where(asks, o.ask, o.code)
            modified = ~original
            rows.append({
                "policy": policy, "user": o.user, "arm": o.arm,
                "pass_at_1": {"modified": _rate(passed[modified], seed, list(tasks[modified])),
                              "original": _rate(passed[original], seed, list(tasks[original]))},
                "gain_vs_always_code": {"modified": _gain(passed, o, modified, tasks, seed),
                                        "original": _gain(passed, o, original, tasks, seed)},
                "communication_rate": round(float(asks[modified].mean()), 4)
                if modified.any() else None,
                "false_ask_rate": round(float(asks[original].mean()), 4)
                if original.any() else None,
                "good_question_rate": None if policy == "always_code"
                else _good(o, asks & modified),
                "rating_vs_gain": None if policy == "always_code" else _agreement(o),
                "compute_ratio": _compute_ratio(o, asks),
                "user_turns": round(float(asks.mean()), 4),
                "by_variant": _by_variant(o, passed, asks, tasks, seed),
                "left_out": o.left_out,
            })  # fmt: skip
    return {"lambda_ask": lambda_ask, "policies": rows}
