"""Learned repair strategies, and their cross-fitted evaluation on recorded episode trees.

- :class:`GreedyOutcome`: an :class:`~octoroute.episodes.outcome_model.OutcomeModel` predicts,
  from the trajectory so far, the probability that each arm's next attempt passes; the episode
  takes the arm with the best predicted success per unit of expected compute, and stops when
  that ratio falls below a threshold. The threshold is the budget knob: with ``target_cost``
  it is chosen on the training problems so that their mean compute stays within the target.
- :class:`BanditRepair`: a contextual bandit over trajectory features that learns online, in
  one pass over the problems, from what deployment sees: the visible verdict of each attempt.
- :class:`BestPair`: the fixed (first arm, repairing arm) pair with the best pass rate on the
  training problems; a pair whose repairs were not all recorded there is scored with the pair's
  mean fix rate on the recorded ones.

:func:`evaluate_strategies` replays strategies on the same problems: fixed and learned ones
over ``folds`` cross-fitted folds (fit on the other folds, replay the held-out one), online
ones in a random order; each over ``seeds`` seeds. It reports pass rates with bootstrap
intervals over problems, mean compute, and paired gains over a baseline.
"""

from __future__ import annotations

import functools
import itertools
import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from octoroute.episodes.outcome_model import OutcomeModel, evaluate_outcome_model
from octoroute.episodes.selection import MostVisible, Selection
from octoroute.episodes.tree import (
    Action,
    Cascade,
    EpisodeResult,
    EpisodeTree,
    Fixed,
    FixedRules,
    Ladder,
    Move,
    NodeRequest,
    Resample,
    Retry,
    Strategy,
    Vote,
    replay_episode,
    tree_costs,
    visible_step,
)
from octoroute.evaluation.metrics import bootstrap_ci, paired_bootstrap_ci
from octoroute.exceptions import ConfigError
from octoroute.features.trajectory import Trajectory, TrajectoryFeaturizer, TrajectoryStep
from octoroute.policies import BasePolicy, make_policy
from octoroute.types import Attempt, Decision, Problem

__all__ = [
    "DEFAULT_STRATEGY",
    "BanditRepair",
    "BestPair",
    "GreedyOutcome",
    "Rows",
    "StrategySet",
    "StrategyScore",
    "default_strategy",
    "episode_problems",
    "evaluate_strategies",
    "fresh_cost",
    "outcome_model_quality",
    "standard_strategies",
    "strategy_name",
    "summarize_scores",
    "move_label",
    "training_rows",
]

StrategyFactory = Callable[[], Strategy]

DEFAULT_STRATEGY = "cascade {ladder}"
"""The default episode strategy, as a :func:`strategy_name` template: the one ``octoroute
demo`` and the live router play. Named by the rule declared first (README: the highest
HumanEval pass rate at a mean compute of at most 1.5x the largest arm's greedy attempt, the
cheaper on ties) on the six-arm pool's complete HumanEval trees, before any MBPP+ replay of
them: the cascade from the 0.5B coder through the 1.5B coder's completion style to its
instruct style, 0.750 at 0.84x; MBPP+ confirms it or not (README)."""


def strategy_name(template: str, arms_by_size: Sequence[str], max_attempts: int = 3) -> str:
    """A standard strategy's name on a pool: ``{ref}`` is the largest arm, ``{ladder}`` the
    ``max_attempts`` largest arms, smallest first.

    >>> strategy_name("cascade {ladder}", ["a-1b", "b-2b", "c-3b", "d-4b"], 2)
    'cascade c-3b > d-4b'
    """
    arms = tuple(arms_by_size)
    return template.format(ref=arms[-1], ladder=" > ".join(arms[-max_attempts:]))


def _path(by_id: Mapping[int | None, Attempt], node: Attempt) -> list[Attempt]:
    """The ancestors of ``node`` among ``by_id`` (its tree's nodes), root first."""
    chain: list[Attempt] = []
    parent = node.parent_attempt_id
    while parent is not None and parent in by_id:
        chain.append(by_id[parent])
        parent = by_id[parent].parent_attempt_id
    return chain[::-1]


class Rows(NamedTuple):
    """Training rows of the outcome model: one per judged node of the trees."""

    x: np.ndarray[Any, Any]
    arms: np.ndarray[Any, Any]
    y: np.ndarray[Any, Any]
    groups: np.ndarray[Any, Any]
    repair: np.ndarray[Any, Any]
    """True for a repair (a node with a parent), False for a fresh attempt."""


def training_rows(
    trees: Sequence[EpisodeTree], featurizer: TrajectoryFeaturizer, *, all_moves: bool = False
) -> Rows:
    """One row per judged node: (features of the trajectory before it, arm, passed, problem).

    A fresh node's trajectory is empty; a repair's is its chain of ancestors, seen as inference
    sees them (:func:`~octoroute.episodes.tree.visible_step`). Fresh samples after the
    greedy one are left out (an episode resamples only after a failure it would see).

    With ``all_moves`` a row's label is ``ARM@MOVE`` (:func:`move_label`: ``fresh``,
    ``resample`` or ``repair``), and the tree's counterfactuals become rows too: each arm's
    greedy attempt after another arm's greedy attempt failed on the visible tests (a fresh
    start after a failure), and each temperature sample after its arm's greedy attempt failed
    on them (a resample), with the failed attempt as the trajectory before it.
    """
    rows, arms, ys, groups, repair = [], [], [], [], []

    def add(view: Problem, steps: tuple[TrajectoryStep, ...], label: str, node: Attempt) -> None:
        rows.append(featurizer.transform_trajectory(Trajectory(view, steps)))
        arms.append(label)
        ys.append(int(bool(node.passed)))
        groups.append(f"{view.benchmark}/{view.id}")
        repair.append(node.parent_attempt_id is not None)

    for tree in trees:
        view = tree.problem.visible_only()
        by_id = {a.id: a for a in tree.nodes()}  # once per tree, not per node
        for node in tree.nodes():
            if node.tests is None or (node.parent_attempt_id is None and node.sample_index):
                continue
            steps = tuple(visible_step(a) for a in _path(by_id, node))
            move = Move.FRESH if node.parent_attempt_id is None else Move.REPAIR
            add(view, steps, move_label(node.arm, move) if all_moves else node.arm, node)
        if all_moves:
            greedy = {arm: a for (arm, k), a in tree.fresh.items() if k == 0 and a.tests}
            failed = {arm: visible_step(a) for arm, a in greedy.items()
                      if view.tests and visible_step(a).n_failed}  # fmt: skip
            for arm, node in greedy.items():
                for other, step in failed.items():
                    if other != arm:
                        add(view, (step,), move_label(arm, Move.FRESH), node)
            for (arm, k), node in tree.fresh.items():
                if k == 1 and node.tests is not None and arm in failed:
                    add(view, (failed[arm],), move_label(arm, RESAMPLE), node)
    return Rows(
        np.vstack(rows) if rows else np.zeros((0, featurizer.dim)),
        np.asarray(arms, dtype=np.str_), np.asarray(ys, dtype=np.int64),
        np.asarray(groups, dtype=np.str_), np.asarray(repair, dtype=bool),
    )  # fmt: skip


RESAMPLE = "resample"
"""The label of a fresh attempt by an arm that already made one (a temperature sample)."""


def move_label(arm: str, move: str) -> str:
    """The outcome model's label of an (arm, move) action: ``ARM@fresh``, ``@resample``,
    ``@repair`` (a :class:`Move` is its own value as a string)."""
    return f"{arm}@{move}"


class GreedyOutcome:
    """Greedy on predicted success per unit of compute, from a calibrated outcome model.

    ``threshold`` stops the episode when no arm's predicted success per unit of compute
    (success per ``cost_scale`` units) reaches it; ``target_cost`` instead picks the threshold
    on the training trees (replayed in-sample) as the most permissive one whose mean compute
    there is within the target. ``quality=True`` ranks by predicted success alone (one-shot
    routing by the outcome model when replayed with one attempt); ``lam`` ranks by predicted
    success minus ``lam`` x expected compute (in units of the median arm's fresh compute), the
    cost-aware reward of one-shot routing; ``one_shot`` stops after the first attempt.
    """

    def __init__(
        self,
        featurizer: TrajectoryFeaturizer,
        arms: Sequence[str],
        *,
        threshold: float = 0.0,
        target_cost: float | None = None,
        quality: bool = False,
        lam: float | None = None,
        one_shot: bool = False,
        max_attempts: int = 3,
        C: float = 0.01,  # noqa: N803 - scikit-learn's name
        name: str | None = None,
        seed: int = 0,
        all_moves: bool = False,
    ) -> None:
        self.featurizer = featurizer
        self.all_moves = all_moves
        self._started: set[str] = set()
        self.arms = tuple(arms)
        self.threshold = threshold
        self.target_cost = target_cost
        self.quality = quality
        self.lam = lam
        self.one_shot = one_shot
        self.max_attempts = max_attempts
        self.model = OutcomeModel(C=C, seed=seed)
        self.costs: Mapping[tuple[str, Move], float] = {}
        self.cost_scale = 1.0
        self.name = name or ("outcome model best predicted" if quality
                             else "outcome model greedy per compute")  # fmt: skip

    def fit(self, trees: Sequence[EpisodeTree]) -> None:
        """Fit the outcome model and the expected costs on ``trees``; pick the threshold."""
        if not trees:
            raise ConfigError(f"{self.name}: no training problems (fewer problems than folds)")
        rows = training_rows(trees, self.featurizer, all_moves=self.all_moves)
        self.model.fit(rows.x, rows.arms, rows.y, rows.groups)
        self.costs = tree_costs(trees)
        fresh = [c for (_, m), c in self.costs.items() if m is Move.FRESH]
        self.cost_scale = float(np.median(fresh)) if fresh else 1.0
        if self.target_cost is not None:
            self.threshold = self._pick_threshold(trees, self.target_cost)

    def _pick_threshold(self, trees: Sequence[EpisodeTree], target: float) -> float:
        best = math.inf
        for tau in (0.0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.6, 0.8, 1.0, 1.5, 2.0):
            self.threshold = tau
            costs = [replay_episode(t, self, max_attempts=self.max_attempts).cost for t in trees]
            if np.mean(costs) <= target:
                return tau
            best = tau
        return best

    def _expected_cost(self, arm: str, move: Move) -> float:
        cost = self.costs.get((arm, move)) or self.costs.get((arm, Move.FRESH))
        return max(cost or self.cost_scale, 1e-12) / self.cost_scale

    def _candidates(self, index: int) -> list[tuple[str, Move, str]]:
        """(arm, move, model label) of each action open at attempt ``index``."""
        if not self.all_moves:
            move = Move.FRESH if index == 0 else Move.REPAIR
            return [(a, move, a) for a in self.arms]
        known = set(self.model.arms_)
        out = []
        for arm in self.arms:
            if index == 0:
                options = [(Move.FRESH, Move.FRESH.value)]
            else:  # a fresh start by an arm that already started is a resample of it
                again = RESAMPLE if arm in self._started else Move.FRESH.value
                options = [(Move.REPAIR, Move.REPAIR.value), (Move.FRESH, again)]
            out += [(arm, m, move_label(arm, t)) for m, t in options
                    if move_label(arm, t) in known]  # fmt: skip
        return out

    def act(self, trajectory: Trajectory, index: int) -> Action | None:
        """The action with the best predicted success (per unit of compute), or stop."""
        if self.one_shot and index > 0:
            return None
        if index == 0:
            self._started = set()
        options = self._candidates(index)
        if not options:
            if index == 0:
                raise ConfigError(f"{self.name}: the outcome model knows no first attempt of "
                                  f"any arm ({', '.join(self.arms)}): no greedy attempt in the "
                                  "training problems")  # fmt: skip
            return None
        x = self.featurizer.transform_trajectory(trajectory)[None, :]
        probs = self.model.predict_proba(x, [label for _, _, label in options])[0]
        costs = [self._expected_cost(a, m) for a, m, _ in options]
        if self.quality:
            values = probs
        elif self.lam is not None:
            values = np.array([p - self.lam * c for p, c in zip(probs, costs, strict=True)])
        else:
            values = np.array([p / c for p, c in zip(probs, costs, strict=True)])
        k = int(np.argmax(values))
        if index > 0 and values[k] < self.threshold:
            return None
        arm, move, _ = options[k]
        # A repair with no judged program before it is replayed as a fresh start of its arm.
        if move is Move.FRESH or not any(step.judged for step in trajectory.steps):
            self._started.add(arm)
        return Action(arm, move)

    def observe(self, trajectory: Trajectory, action: Action, step: TrajectoryStep) -> None:
        """Offline model: nothing to learn online."""


class BanditRepair:
    """A contextual bandit choosing every attempt's arm from trajectory features, online.

    The reward of an attempt is what deployment observes: 1 if every visible test passed,
    minus ``cost_weight`` x its cost over the largest expected cost. It never stops an episode
    early (visible success, ``max_attempts`` or the budget do).
    """

    def __init__(
        self,
        featurizer: TrajectoryFeaturizer,
        arms: Sequence[str],
        *,
        policy: str = "linucb",
        cost_weight: float = 0.0,
        costs: Mapping[str, float] | None = None,
        seed: int = 0,
        **params: Any,
    ) -> None:
        self.featurizer = featurizer
        self.arms = tuple(arms)
        self.policy: BasePolicy = make_policy(policy, seed=seed, **params)
        self.cost_weight = cost_weight
        self.costs = dict(costs or {})
        self.name = f"bandit repair {policy} online"
        self._last: tuple[Decision, np.ndarray[Any, Any]] | None = None

    def fit(self, trees: Sequence[EpisodeTree]) -> None:
        """Online: learns from :meth:`observe` only."""

    def act(self, trajectory: Trajectory, index: int) -> Action | None:
        """The policy's choice on the trajectory's features."""
        x = self.featurizer.transform_trajectory(trajectory)
        decision = self.policy.choose(x, self.arms)
        self._last = (decision, x)
        return Action(decision.arm, Move.FRESH if index == 0 else Move.REPAIR)

    def observe(self, trajectory: Trajectory, action: Action, step: TrajectoryStep) -> None:
        """Update with the visible outcome of the attempt just made."""
        if self._last is None or not step.judged or not step.tests:
            return  # nothing observed: no visible test, or no program
        decision, x = self._last
        top = max(self.costs.values(), default=0.0)
        share = self.costs.get(action.arm, 0.0) / top if top > 0 else 0.0
        reward = float(step.n_failed == 0) - self.cost_weight * share
        self.policy.update(decision, x, reward)


class BestPair:
    """The best fixed (first, repairer) pair on the training trees; then that ladder."""

    def __init__(self, arms: Sequence[str], *, max_attempts: int = 2) -> None:
        self.arms = tuple(arms)
        self.max_attempts = max_attempts
        self.pair: tuple[str, str] | None = None
        self.name = "best fixed pair"

    def fit(self, trees: Sequence[EpisodeTree]) -> None:
        """Score every ordered pair on ``trees`` and keep the best (ties: the cheaper)."""
        best: tuple[float, float, tuple[str, str]] | None = None
        for first, second in itertools.product(self.arms, repeat=2):
            pair = (first, second)
            ladder = Ladder(pair)
            results = [replay_episode(t, ladder, max_attempts=2) for t in trees]
            done = [r for r in results if r.complete]
            missing = [r for r in results if not r.complete]
            # Problems whose repair was not recorded get the pair's fix rate where it was.
            repaired = [r.passed for r in done if len(r.path) == 2]
            fix = float(np.mean(repaired)) if repaired else 0.0
            value = (sum(r.passed for r in done) + fix * len(missing)) / max(len(results), 1)
            cost = float(np.mean([r.cost for r in done])) if done else math.inf
            key = (value, -cost, pair)
            if best is None or key[:2] > best[:2]:
                best = key
        self.pair = None if best is None else best[2]
        if self.pair is not None:
            self.name = f"best fixed pair ({self.pair[0]} > {self.pair[1]})"

    def act(self, trajectory: Trajectory, index: int) -> Action | None:
        """The chosen pair's rung ``index``."""
        if self.pair is None:
            raise RuntimeError("BestPair.act before fit")
        if index >= 2:
            return None
        return Action(self.pair[index], Move.FRESH if index == 0 else Move.REPAIR)

    def observe(self, trajectory: Trajectory, action: Action, step: TrajectoryStep) -> None:
        """Nothing to learn online."""


@dataclass
class StrategyScore:
    """One strategy replayed on the problems: per-problem means over seeds, and summaries."""

    name: str
    passed: np.ndarray[Any, Any]
    cost: np.ndarray[Any, Any]
    attempts: np.ndarray[Any, Any]
    missing: list[NodeRequest] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    """What the strategy chose per fold (e.g. the best pair), for the report."""
    checked: np.ndarray[Any, Any] | None = None
    """Per problem, how often the submitted program passed every visible test."""
    false_passed: np.ndarray[Any, Any] | None = None
    """Per problem, how often it passed them all and failed the hidden tests."""

    @property
    def false_pass_rate(self) -> float | None:
        """Of the submitted programs that passed every visible test, the share that failed
        the hidden ones (the selection rule's false passes); None when none passed them."""
        if self.checked is None or self.false_passed is None or self.checked.sum() == 0:
            return None
        return float(self.false_passed.sum() / self.checked.sum())

    @property
    def pass_rate(self) -> float:
        """Hidden-test pass rate of the submitted programs."""
        return float(self.passed.mean())

    @property
    def ci95(self) -> tuple[float, float]:
        """Bootstrap interval of the pass rate over problems."""
        return bootstrap_ci(self.passed)

    @property
    def mean_cost(self) -> float:
        """Mean compute per problem (the arms' cost unit)."""
        return float(self.cost.mean())

    def gain_over(self, other: StrategyScore) -> tuple[float, tuple[float, float]]:
        """Pass-rate difference with ``other`` on the same problems, and its paired interval."""
        return (self.pass_rate - other.pass_rate, paired_bootstrap_ci(self.passed, other.passed))

    def to_json(self, baseline: StrategyScore | None = None, unit: float = 1.0) -> dict[str, Any]:
        """Summary: pass rate and interval, compute (over ``unit``), attempts, gain."""
        lo, hi = self.ci95
        out: dict[str, Any] = {
            "name": self.name,
            "pass": round(self.pass_rate, 4),
            "ci95": [round(lo, 4), round(hi, 4)],
            "mean_compute": self.mean_cost,
            "compute_ratio": round(self.mean_cost / unit, 3) if unit else None,
            "mean_attempts": round(float(self.attempts.mean()), 3),
            "missing_nodes": len(self.missing),
            "false_pass": None if (fp := self.false_pass_rate) is None else round(fp, 4),
        }
        if baseline is not None:
            gain, (glo, ghi) = (0.0, (0.0, 0.0)) if baseline is self else self.gain_over(baseline)
            out["gain_vs_largest"] = {
                "mean": round(gain, 4),
                "ci95": [round(glo, 4), round(ghi, 4)],
            }
        out["default"] = False
        if self.labels:
            out["chosen"] = sorted(set(self.labels))
        return out


def _folds(n: int, folds: int, rng: np.random.Generator) -> list[np.ndarray[Any, Any]]:
    order = rng.permutation(n)
    return [order[k::folds] for k in range(folds)]


def evaluate_strategies(
    trees: Sequence[EpisodeTree],
    strategies: Mapping[str, StrategyFactory],
    *,
    online: Sequence[str] = (),
    max_attempts: int = 3,
    budget: float | None = None,
    folds: int = 5,
    seeds: int = 3,
    select: Selection | None = None,
) -> dict[str, StrategyScore]:
    """Replay every strategy on every tree; see the module doc.

    ``select`` is the rule that picks each episode's submitted program (default: most visible
    tests passed), fitted on each fold's training trees (online: on none).
    ``strategies`` maps a name to a factory of fresh instances (one per fold and seed); the
    names in ``online`` are replayed online over a seeded random order of all problems instead
    of cross-fitted. Missing nodes are collected per strategy (their episodes count as failed,
    so a report with missing nodes is incomplete and says so).
    """
    if not trees:
        raise ValueError("no problems to replay")
    n = len(trees)
    base_rule = select or MostVisible()
    scores: dict[str, StrategyScore] = {}
    for name, factory in strategies.items():
        passed = np.zeros(n)
        cost = np.zeros(n)
        attempts = np.zeros(n)
        checked = np.zeros(n)
        false_passed = np.zeros(n)
        missing: dict[NodeRequest, None] = {}
        labels: list[str] = []
        for seed in range(seeds):
            rng = np.random.default_rng(seed)
            results: dict[int, EpisodeResult] = {}
            if name in online:
                strategy = factory()
                rule = base_rule.fitted([])
                for i in rng.permutation(n):
                    results[int(i)] = replay_episode(trees[i], strategy, max_attempts=max_attempts,
                                                     budget=budget, online=True,
                                                     select=rule)  # fmt: skip
                labels.append(strategy.name)
            else:
                for test in _folds(n, folds, rng):
                    held = set(test.tolist())
                    strategy = factory()
                    train = [trees[i] for i in range(n) if i not in held]
                    strategy.fit(train)
                    rule = base_rule.fitted(train)
                    labels.append(strategy.name)
                    for i in test:
                        results[int(i)] = replay_episode(
                            trees[i],
                            strategy,
                            max_attempts=max_attempts,
                            budget=budget,
                            select=rule,
                        )
            for i, r in results.items():
                passed[i] += r.passed / seeds
                cost[i] += r.cost / seeds
                attempts[i] += len(r.path) / seeds
                checked[i] += r.checked / seeds
                false_passed[i] += (r.checked and not r.passed) / seeds
                if r.missing is not None:
                    missing[r.missing] = None
        scores[name] = StrategyScore(name, passed, cost, attempts, list(missing), labels,
                                     checked, false_passed)  # fmt: skip
    return scores


@dataclass(frozen=True)
class StrategySet:
    """Named strategy factories, the names replayed online, and the baseline to compare with."""

    factories: Mapping[str, StrategyFactory]
    online: tuple[str, ...]
    baseline: str
    default: str
    """The name of :data:`DEFAULT_STRATEGY` on this pool."""


def standard_strategies(
    arms_by_size: Sequence[str],
    featurizer: TrajectoryFeaturizer,
    reference_cost: float,
    *,
    max_attempts: int = 3,
    targets: Sequence[float] = (1.0, 1.5, 2.0),
    lambdas: Sequence[float] = (0.05, 0.1, 0.2),
    include: Sequence[str] | None = None,
) -> StrategySet:
    """The strategies of the multi-step evaluation over a pool, smallest arm first.

    The largest arm is the reference: alone (the baseline), retried on its own failures,
    resampled; the ladder climbs the ``max_attempts`` largest arms by size, each repairing, and
    the cascade climbs them afresh (a cheap arm first, a larger one after a visible failure);
    the best fixed
    pair is chosen on training folds; the outcome model routes one shot (by predicted success,
    and cost-aware at each of ``lambdas``: the one-shot frontier), then greedily per compute at
    each of ``targets`` x ``reference_cost`` (the reference arm's mean fresh compute), and
    greedily by predicted success alone within the largest target; the bandit learns online.
    ``include`` keeps only the named strategies (the baseline and the default are always
    kept).
    """
    arms = tuple(arms_by_size)
    ref = arms[-1]
    f: dict[str, StrategyFactory] = {}
    for arm in arms:
        f[f"{arm} alone"] = functools.partial(Fixed, arm)
    f[f"retry {ref}"] = lambda: Retry(ref)
    f[f"resample {ref}"] = lambda: Resample(ref)
    # A ladder longer than the attempts allowed would never reach the top: it climbs the
    # ``max_attempts`` largest arms, smallest first, so it always ends with the reference.
    rungs = arms[-max_attempts:]
    f["ladder " + " > ".join(rungs)] = lambda: Ladder(rungs)
    f["cascade " + " > ".join(rungs)] = lambda: Cascade(rungs)
    f["best fixed pair"] = lambda: BestPair(arms)
    # Votes: candidates whatever their visible verdicts, then the selection rule picks (with
    # consensus, the program most of them agree with): the largest arm and its samples, and
    # the largest arms afresh, largest first (the budget cuts them short).
    f[f"vote resample {ref}"] = lambda: Vote((ref,) * max_attempts, f"vote resample {ref}")
    voters = tuple(reversed(arms[-max_attempts:]))
    f["vote " + " + ".join(voters)] = lambda: Vote(voters)
    f["outcome model one-shot"] = lambda: GreedyOutcome(
        featurizer, arms, quality=True, one_shot=True, name="outcome model one-shot"
    )
    for lam in lambdas:
        name = f"outcome model one-shot lambda={lam:g}"
        f[name] = functools.partial(GreedyOutcome, featurizer, arms, lam=lam, one_shot=True,
                                    name=name)  # fmt: skip
    for t in targets:
        name = f"outcome model greedy per compute @{t:g}x"
        f[name] = functools.partial(
            GreedyOutcome, featurizer, arms, target_cost=t * reference_cost,
            max_attempts=max_attempts, name=name,
        )  # fmt: skip
    top = max(targets)
    name = f"outcome model greedy best predicted @{top:g}x"
    f[name] = functools.partial(
        GreedyOutcome, featurizer, arms, quality=True, target_cost=top * reference_cost,
        max_attempts=max_attempts, name=name,
    )  # fmt: skip
    # The same, choosing among every move: a repair by any arm, a fresh start by an arm not
    # tried yet, or a resample of one that was (the outcome model learns each as its own label).
    for t in targets:
        name = f"outcome model all moves per compute @{t:g}x"
        f[name] = functools.partial(
            GreedyOutcome, featurizer, arms, target_cost=t * reference_cost,
            max_attempts=max_attempts, name=name, all_moves=True,
        )  # fmt: skip
    name = f"outcome model all moves best predicted @{top:g}x"
    f[name] = functools.partial(
        GreedyOutcome, featurizer, arms, quality=True, target_cost=top * reference_cost,
        max_attempts=max_attempts, name=name, all_moves=True,
    )  # fmt: skip
    bandit = "bandit repair linucb online"
    f[bandit] = lambda: BanditRepair(featurizer, arms, policy="linucb")
    baseline = f"{ref} alone"
    default = strategy_name(DEFAULT_STRATEGY, arms, max_attempts)
    if include is not None:
        unknown = sorted(set(include) - set(f))
        if unknown:
            raise ValueError(f"unknown strategies {unknown}; known: {sorted(f)}")
        f = {k: v for k, v in f.items() if k in include or k in (baseline, default)}
    return StrategySet(f, tuple(k for k in f if k == bandit), baseline, default)


def default_strategy(
    arms_by_size: Sequence[str],
    featurizer: TrajectoryFeaturizer,
    trees: Sequence[EpisodeTree],
    max_attempts: int = 3,
) -> Strategy:
    """:data:`DEFAULT_STRATEGY` on a pool, fitted on ``trees`` (recorded episode trees holding
    every arm's greedy attempt; a fixed strategy needs none). Raises ConfigError when it
    learns and there are no trees to learn from."""
    arms = tuple(arms_by_size)
    reference_cost = fresh_cost(trees, arms[-1]) if trees else 0.0
    sset = standard_strategies(arms, featurizer, reference_cost, max_attempts=max_attempts,
                               include=[])  # fmt: skip
    strategy = sset.factories[sset.default]()
    if not trees and not isinstance(strategy, FixedRules):
        raise ConfigError(f"the default strategy {sset.default!r} learns from recorded "
                          "episode trees; none holds a greedy attempt of every arm")  # fmt: skip
    strategy.fit(trees)
    return strategy


def summarize_scores(
    scores: Mapping[str, StrategyScore],
    trees: Sequence[EpisodeTree],
    baseline: str,
    reference_cost: float,
    default: str | None = None,
) -> dict[str, Any]:
    """JSON summary: every strategy's row (``default``'s marked ``"default": true``), the
    oracles, and the share of the gap closed."""
    base = scores[baseline]
    rows = [s.to_json(base, reference_cost) for s in scores.values()]
    for row in rows:
        row["default"] = row["name"] == default
    tree_oracle = np.array([float(t.oracle()) for t in trees])
    headroom = float(tree_oracle.mean()) - base.pass_rate
    for row, s in zip(rows, scores.values(), strict=True):
        # Share of the baseline's gap to the oracle of the recorded attempts this one closes.
        row["gap_closed"] = (
            round((s.pass_rate - base.pass_rate) / headroom, 3) if headroom > 0 else None
        )
    fresh_oracle = np.array([float(t.oracle_fresh()) for t in trees])
    out: dict[str, Any] = {
        "problems": len(trees),
        "baseline": baseline,
        "reference_compute": reference_cost,
        "strategies": rows,
        "oracle_recorded": round(float(tree_oracle.mean()), 4),
        "oracle_recorded_ci95": [round(v, 4) for v in bootstrap_ci(tree_oracle)],
        "oracle_one_shot": round(float(fresh_oracle.mean()), 4),
        # Attempts some strategy needed that the trees lack (its episodes counted as failed).
        "missing_nodes": len({m for sc in scores.values() for m in sc.missing}),
    }
    one = scores.get("outcome model one-shot")
    multi = [s for n, s in scores.items() if n.startswith("outcome model greedy")]
    if one is not None and multi:
        best = max(multi, key=lambda s: s.pass_rate)
        gap = float(tree_oracle.mean()) - one.pass_rate
        out["gap"] = {
            "one_shot": round(one.pass_rate, 4),
            "best_episode": best.name,
            "best_episode_pass": round(best.pass_rate, 4),
            "oracle_recorded": round(float(tree_oracle.mean()), 4),
            "share_closed": round((best.pass_rate - one.pass_rate) / gap, 3) if gap > 0 else None,
        }
    return out


def outcome_model_quality(
    trees: Sequence[EpisodeTree], feats: TrajectoryFeaturizer
) -> dict[str, Any]:
    """The outcome model judged on held-out problems (5 grouped folds) over every judged node
    of ``trees``, with the AUC on the repair nodes alone (the repair decision's rows)."""
    from sklearn.metrics import roc_auc_score  # type: ignore[import-untyped]

    rows = training_rows(trees, feats)
    try:
        report = evaluate_outcome_model(rows.x, rows.arms, rows.y, rows.groups, folds=5)
    except ValueError as e:  # too few problems or one outcome only
        return {"error": str(e)}
    out = report.to_json()
    oof = np.asarray(report.oof)
    rep = rows.repair
    out["repairs"] = int(rep.sum())
    if rep.any() and len(set(rows.y[rep].tolist())) == 2:
        out["repair_auc"] = round(float(roc_auc_score(rows.y[rep], oof[rep])), 4)
    return out


def episode_problems(
    trees: Mapping[tuple[str, str], EpisodeTree],
    arms: Sequence[str],
    n: int | None = None,
    seed: int = 0,
) -> list[EpisodeTree]:
    """The trees an evaluation replays: those holding every arm's greedy fresh attempt (what
    the recorded run covers), sorted, then a seeded random subset of ``n`` of them.

    The command and the demo draw the same subset of the same log.
    """
    complete = [t for _, t in sorted(trees.items()) if all((a, 0) in t.fresh for a in arms)]
    if n is None or n >= len(complete):
        return complete
    keep = set(random.Random(seed).sample([t.key for t in complete], n))
    return [t for t in complete if t.key in keep]


def fresh_cost(trees: Sequence[EpisodeTree], arm: str) -> float:
    """``arm``'s mean greedy fresh compute over ``trees`` (each must hold it): the unit budgets
    and compute ratios are read in."""
    return sum(t.fresh[(arm, 0)].cost for t in trees) / len(trees)
