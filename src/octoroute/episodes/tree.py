"""Replay multi-step episodes on the recorded tree of attempts, and the nodes a replay lacks.

Greedy decoding makes an attempt a function of its arm and its prompt, and a repair prompt is a
function of the program it repairs and the visible feedback on it. So every attempt an episode
could make is a node of a per-problem *tree*: the fresh attempts of each arm (sample 0 greedy,
samples 1.. at a temperature, for *resampling*), and under each judged attempt, the repair of
it by each arm. The store logs them with their parent (:mod:`octoroute.collection.repairs` keys a
repair by its parent's id), so :func:`build_trees` rebuilds the tree from attempts, and any repair
strategy can then be replayed exactly, without a model, as long as the nodes it visits exist.
A missing node is reported as a :class:`NodeRequest` (``octoroute episodes --grow`` generates
them, :func:`octoroute.collection.repairs.grow`), never guessed.

Replay follows :meth:`octoroute.episodes.router.Router.solve`: up to ``max_attempts`` attempts; no
attempt starts once the compute spent has reached ``budget``; the episode stops when the
visible tests pass (or after the first judged program if the problem has none); it submits
the judged program with the most visible tests passed (the latest on ties), and that
program's hidden verdict is the episode's result. A :class:`Strategy` sees only a
:class:`~octoroute.features.Trajectory`: the visible-only problem and, per attempt, its arm,
its cost and its *visible* verdicts (:func:`visible_step`). The attempts themselves, with their
hidden verdicts, stay inside the replay.

>>> from octoroute.types import Outcome, TestCase, TestKind, TestVerdict
>>> def vis(ok):
...     return (TestVerdict(0, Tier.VISIBLE, Outcome.PASS if ok else Outcome.WRONG_ANSWER),)
>>> a = Attempt("r", "b", "p1", "small", tests=vis(False), passed=False, cost=1.0, id=1)
>>> b = Attempt("r", "b", "p1", "big", tests=vis(True), passed=True, cost=4.0, id=2)
>>> c = Attempt("r", "b", "p1", "big", attempt_number=2, sample_index=1, parent_attempt_id=1,
...             tests=vis(True), passed=True, cost=5.0, id=3)
>>> test = TestCase(TestKind.ASSERT, Tier.VISIBLE, "assert f() == 1")
>>> p = Problem("p1", "b", "def f():\\n", "f", "", (test,))
>>> trees = build_trees([a, b, c], [p])
>>> r = replay_episode(trees[("b", "p1")], Ladder(("small", "big")), max_attempts=2)
>>> r.passed, r.cost, r.path
(True, 6.0, ('small', 'big'))
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol, runtime_checkable

from octoroute.episodes.selection import MostVisible, Selection
from octoroute.features.trajectory import Trajectory, TrajectoryStep
from octoroute.types import Attempt, Problem, Tier

__all__ = [
    "Action",
    "Cascade",
    "EpisodeResult",
    "EpisodeTree",
    "Fixed",
    "FixedRules",
    "Ladder",
    "Move",
    "NodeRequest",
    "Resample",
    "Retry",
    "Strategy",
    "Vote",
    "build_trees",
    "replay_episode",
    "visible_step",
]

ProblemKey = tuple[str, str]
"""(benchmark, problem id)."""

MOST_VISIBLE = MostVisible()


class Move(enum.StrEnum):
    """What an attempt does: a new solution from the problem, or a repair of the last program."""

    FRESH = "fresh"
    REPAIR = "repair"


@dataclass(frozen=True, slots=True)
class Action:
    """A strategy's choice: which arm, and whether it starts afresh or repairs."""

    arm: str
    move: Move = Move.REPAIR


@dataclass(frozen=True, slots=True)
class NodeRequest:
    """A node a replay needed and the tree lacks: generate it, then replay again.

    A fresh node is (``arm``, ``sample_index``) with ``parent_id`` None; a repair node is the
    repair by ``arm`` of the attempt ``parent_id``.
    """

    benchmark: str
    problem_id: str
    arm: str
    parent_id: int | None = None
    sample_index: int = 0


def visible_step(attempt: Attempt) -> TrajectoryStep:
    """The step inference sees of ``attempt``: arm, cost and its *visible* verdicts only.

    Hidden verdicts are dropped before the step is built; indices are renumbered among the
    visible tests, as in a verdict of :meth:`~octoroute.types.Problem.visible_only`.
    """
    if attempt.tests is None:
        return TrajectoryStep(attempt.arm, attempt.cost)
    visible = sorted((t for t in attempt.tests if t.tier is Tier.VISIBLE), key=lambda t: t.index)
    tests = tuple(replace(t, index=i) for i, t in enumerate(visible))
    return TrajectoryStep(attempt.arm, attempt.cost, judged=True, tests=tests)


@dataclass
class EpisodeTree:
    """Every recorded attempt of one problem, as fresh nodes and parent-linked repairs."""

    problem: Problem
    fresh: dict[tuple[str, int], Attempt] = field(default_factory=dict)
    """(arm, sample index) -> the fresh attempt."""
    repairs: dict[int, dict[str, Attempt]] = field(default_factory=dict)
    """parent attempt id -> repairing arm -> the repair."""

    @property
    def key(self) -> ProblemKey:
        """(benchmark, problem id)."""
        return (self.problem.benchmark, self.problem.id)

    def nodes(self) -> Iterable[Attempt]:
        """Every attempt of the tree."""
        yield from self.fresh.values()
        for children in self.repairs.values():
            yield from children.values()

    def oracle(self) -> bool:
        """Whether any recorded attempt passes the hidden tests (the oracle of the tree)."""
        return any(a.passed for a in self.nodes())

    def oracle_fresh(self) -> bool:
        """Whether any greedy fresh attempt passes (the one-shot routing oracle)."""
        return any(a.passed for (_, k), a in self.fresh.items() if k == 0)


def build_trees(
    attempts: Iterable[Attempt], problems: Iterable[Problem]
) -> dict[ProblemKey, EpisodeTree]:
    """The tree of every problem of ``problems`` from logged ``attempts`` (any runs).

    Fresh nodes are attempts numbered 1 without a parent; repairs are attempts with a parent.
    When two runs hold the same node, the first logged (lowest id) is kept. Attempts of other
    problems are ignored.
    """
    trees = {(p.benchmark, p.id): EpisodeTree(p) for p in problems}
    for a in sorted(attempts, key=lambda a: a.id or 0):
        tree = trees.get((a.benchmark, a.problem_id))
        if tree is None or a.id is None:
            continue
        if a.parent_attempt_id is None:
            if a.attempt_number == 1:
                tree.fresh.setdefault((a.arm, a.sample_index), a)
        else:
            tree.repairs.setdefault(a.parent_attempt_id, {}).setdefault(a.arm, a)
    return trees


@runtime_checkable
class Strategy(Protocol):
    """Chooses each attempt of an episode from what inference may see.

    ``act`` is called before attempt ``index`` (0, 1, ...) with the trajectory so far; it
    returns the next :class:`Action` or None to stop and submit (ignored at index 0: an
    episode makes at least one attempt). ``fit`` is called with training trees before a
    fold is replayed (a no-op for fixed strategies); ``observe`` after every attempt of an
    online replay with what deployment sees (the step's visible verdicts).
    """

    name: str

    def fit(self, trees: Sequence[EpisodeTree]) -> None:
        """Learn from training trees (hidden verdicts may be read here: they are training data)."""
        ...

    def act(self, trajectory: Trajectory, index: int) -> Action | None:
        """The next attempt, or None to stop."""
        ...

    def observe(self, trajectory: Trajectory, action: Action, step: TrajectoryStep) -> None:
        """Learn online from one attempt's visible outcome (no-op unless online)."""
        ...


class FixedRules:
    """Shared no-op learning of the fixed strategies (what learns nothing derives from it)."""

    name = ""

    def fit(self, trees: Sequence[EpisodeTree]) -> None:
        """Nothing to learn."""

    def observe(self, trajectory: Trajectory, action: Action, step: TrajectoryStep) -> None:
        """Nothing to learn."""


class Fixed(FixedRules):
    """One arm, one attempt: the single-arm baseline (``max_attempts`` is irrelevant)."""

    def __init__(self, arm: str) -> None:
        self.arm = arm
        self.name = f"{arm} alone"

    def act(self, trajectory: Trajectory, index: int) -> Action | None:
        """The arm, once."""
        return Action(self.arm, Move.FRESH) if index == 0 else None


class Retry(FixedRules):
    """Fresh attempt by ``arm``, then repairs of its own program by the same arm."""

    def __init__(self, arm: str) -> None:
        self.arm = arm
        self.name = f"retry {arm}"

    def act(self, trajectory: Trajectory, index: int) -> Action | None:
        """The same arm every time, repairing after the first."""
        return Action(self.arm, Move.FRESH if index == 0 else Move.REPAIR)


class Resample(FixedRules):
    """Fresh attempts by ``arm`` again and again: greedy first, then temperature samples."""

    def __init__(self, arm: str) -> None:
        self.arm = arm
        self.name = f"resample {arm}"

    def act(self, trajectory: Trajectory, index: int) -> Action | None:
        """A fresh sample of the same arm."""
        return Action(self.arm, Move.FRESH)


class _Escalation(FixedRules):
    """Arms tried in the order given, one per attempt, until one passes the visible tests;
    ``later`` is how every arm after the first works (repairs, or starts afresh)."""

    kind = ""
    later = Move.REPAIR

    def __init__(self, arms: Sequence[str], name: str | None = None) -> None:
        if not arms:
            raise ValueError(f"a {self.kind} needs at least one arm")
        self.arms = tuple(arms)
        self.name = name or f"{self.kind} " + " > ".join(self.arms)

    def act(self, trajectory: Trajectory, index: int) -> Action | None:
        """Arm ``index``, or stop past the last."""
        if index >= len(self.arms):
            return None
        return Action(self.arms[index], Move.FRESH if index == 0 else self.later)


class Ladder(_Escalation):
    """Escalation: the first arm afresh, then each next arm of ``arms`` repairs (no wrap-around).

    With two arms this is a fixed pair (first solves, second repairs).
    """

    kind = "ladder"


class Cascade(_Escalation):
    """Escalation by fresh attempts: each next arm of ``arms`` solves the problem anew after a
    visible failure, and the program that passed the most visible tests is submitted."""

    kind = "cascade"
    later = Move.FRESH


class Vote(FixedRules):
    """Candidates from the arms in order (an arm named again resamples it), whatever their
    visible verdicts, up to the attempt cap or the budget; the selection rule then picks one
    (with :class:`~octoroute.episodes.selection.Consensus`: the program most candidates agree
    with)."""

    stop_on_pass = False

    def __init__(self, arms: Sequence[str], name: str | None = None) -> None:
        if not arms:
            raise ValueError("a vote needs at least one arm")
        self.arms = tuple(arms)
        self.name = name or "vote " + " + ".join(self.arms)

    def act(self, trajectory: Trajectory, index: int) -> Action | None:
        """A fresh candidate of arm ``index``, or stop past the last."""
        return Action(self.arms[index], Move.FRESH) if index < len(self.arms) else None


@dataclass(frozen=True, slots=True)
class EpisodeResult:
    """One replayed episode: hidden grade of the submitted program, compute, arms in order.

    ``missing`` is set (and ``passed`` False) when the replay needed a node the tree lacks.
    """

    key: ProblemKey
    passed: bool
    cost: float
    path: tuple[str, ...]
    moves: tuple[Move, ...] = ()
    missing: NodeRequest | None = None
    checked: bool = False
    """The submitted program passed every visible test it was checked on (with ``passed``
    False: a false pass of the selection rule)."""

    @property
    def complete(self) -> bool:
        """Whether every node the episode visited was recorded."""
        return self.missing is None


def _fresh_node(tree: EpisodeTree, arm: str, sample: int) -> tuple[Attempt | None, NodeRequest]:
    want = NodeRequest(tree.problem.benchmark, tree.problem.id, arm, None, sample)
    return tree.fresh.get((arm, sample)), want


def replay_episode(
    tree: EpisodeTree,
    strategy: Strategy,
    *,
    max_attempts: int = 3,
    budget: float | None = None,
    online: bool = False,
    select: Selection | None = None,
) -> EpisodeResult:
    """Replay ``strategy`` on one problem's tree (see the module doc for the rules).

    A repair needs a judged program before it: with none yet (arm failures only), the action
    is taken as a fresh attempt of its arm. With ``online`` the strategy's ``observe`` is
    called after each attempt. ``select`` chooses the submitted program among the episode's
    candidates (default :class:`~octoroute.episodes.selection.MostVisible`); a strategy whose
    ``stop_on_pass`` is False goes on after a visible pass (to vote).
    """
    rule = select or MOST_VISIBLE
    stop_on_pass = getattr(strategy, "stop_on_pass", True)
    if max_attempts < 1:
        raise ValueError(f"max_attempts must be at least 1, got {max_attempts}")
    view = tree.problem.visible_only()
    trajectory = Trajectory(view)
    taken: list[Attempt] = []
    moves: list[Move] = []
    samples: dict[str, int] = {}
    parent: Attempt | None = None
    for index in range(max_attempts):
        if index > 0 and budget is not None and trajectory.cost >= budget:
            break
        action = strategy.act(trajectory, index)
        if action is None:
            if index == 0:
                raise ValueError(f"strategy {strategy.name!r} made no first attempt")
            break
        if action.move is Move.REPAIR and parent is not None:
            assert parent.id is not None
            node = tree.repairs.get(parent.id, {}).get(action.arm)
            want = NodeRequest(view.benchmark, view.id, action.arm, parent.id, 0)
            move = Move.REPAIR
        else:
            k = samples.get(action.arm, 0)
            node, want = _fresh_node(tree, action.arm, k)
            move = Move.FRESH
        if node is None:
            return EpisodeResult(tree.key, False, trajectory.cost + 0.0,
                                 tuple(a.arm for a in taken), tuple(moves), want)  # fmt: skip
        if move is Move.FRESH:
            samples[action.arm] = samples.get(action.arm, 0) + 1
        step = visible_step(node)
        if online:
            strategy.observe(trajectory, Action(action.arm, move), step)
        trajectory = trajectory.with_step(step)
        taken.append(node)
        moves.append(move)
        if node.tests is None:
            continue
        parent = node
        if stop_on_pass and (not view.tests or step.n_failed == 0):
            break
    submitted = rule.choose(taken)
    checked = submitted is not None and bool(view.tests) and visible_step(submitted).n_failed == 0
    return EpisodeResult(
        tree.key,
        bool(submitted is not None and submitted.passed),
        trajectory.cost,
        tuple(a.arm for a in taken),
        tuple(moves),
        checked=checked,
    )


def tree_costs(trees: Iterable[EpisodeTree]) -> Mapping[tuple[str, Move], float]:
    """Mean cost of each (arm, move) over the trees' nodes: what a planner expects to spend."""
    sums: dict[tuple[str, Move], list[float]] = {}
    for tree in trees:
        for a in tree.nodes():
            move = Move.FRESH if a.parent_attempt_id is None else Move.REPAIR
            sums.setdefault((a.arm, move), []).append(a.cost)
    return {k: sum(v) / len(v) for k, v in sums.items()}
