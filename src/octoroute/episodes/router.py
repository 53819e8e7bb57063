"""The routing loop: featurize, choose, generate, execute, reward, update, log.

With :mod:`octoroute.cli` and :mod:`octoroute.collection`, one of the modules that know every
package. :class:`Router` holds a policy, a featurizer and the arms it may build; :meth:`route`
solves one problem with one attempt: the policy sees only the problem's features (made from
its prompt, never from tests), the chosen arm generates, the sandbox judges, and the attempt is
logged with the decision that led to it (scores and propensities of every arm, for off-policy
evaluation later). Only the chosen arm's reward is observed, and the policy learns from it when
``learn`` is set: bandit feedback, as in deployment.

:meth:`Router.solve` runs an *episode*: up to ``max_attempts`` attempts under a compute budget.
The first arm is chosen by the router's policy over the problem's features; each later one by
the *repair policy* over :class:`~octoroute.features.TrajectoryFeaturizer` features (the failure
so far, the arms tried, the attempt index, the compute spent), and it repairs the last judged
program, shown with the executor's feedback on its first failing visible test
(:mod:`octoroute.arms.repair`). The episode stops when every visible test passes or the
attempts or the budget run out, and submits one program, which the hidden tests grade.

Hidden tests never influence a decision, a prompt or a stop: everything before the grading is
made from :meth:`~octoroute.types.Problem.visible_only`, a copy of the problem without hidden
tests, reference or metadata, and the full problem is judged only after the last decision.

Learning within an episode uses only what deployment sees: each decision is updated with the
*visible* outcome of the attempt it led to (1 when every visible test passed, minus the cost
term), never with the hidden grade, which deployment does not have. Visible tests are a few
examples, so that signal is optimistic; learning from the hidden reward is left to offline
replay of the log, where every attempt carries its hidden verdicts. (:meth:`Router.route`, one
attempt with nothing to stop on, keeps learning from the graded reward.)

Arms are built on first use and kept until :meth:`Router.close`, so a local model is loaded
once however many problems it is chosen for.
"""

from __future__ import annotations

import dataclasses
import enum
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from octoroute.arms.base import ArmBase, Sampling
from octoroute.arms.pool import Pool, register_arms
from octoroute.arms.prompts import flatten_messages
from octoroute.arms.repair import repair_request
from octoroute.episodes.inputs import selection_inputs
from octoroute.episodes.selection import Consensus, Selection
from octoroute.episodes.tree import Action, Move, Strategy
from octoroute.exceptions import ConfigError, StoreConflict
from octoroute.features import Featurizer, Trajectory, TrajectoryFeaturizer, TrajectoryStep
from octoroute.policies import BasePolicy
from octoroute.sandbox import Executor
from octoroute.sandbox.signature import sign_programs
from octoroute.store import DecisionRecord, Store, hash_text
from octoroute.types import Attempt, Completion, Decision, Problem, Verdict

__all__ = ["Episode", "Routed", "Router", "Step", "StopReason"]


@dataclass(frozen=True, slots=True)
class Routed:
    """One routed problem: the decision, the attempt it led to, and the reward learned from."""

    decision: Decision
    attempt: Attempt
    reward: float


class StopReason(enum.StrEnum):
    """Why an episode stopped."""

    SOLVED = "solved"
    """Every visible test passed."""
    NO_VISIBLE_TESTS = "no_visible_tests"
    """The problem has no visible test: nothing tells a better program apart, so the first
    judged one is submitted."""
    MAX_ATTEMPTS = "max_attempts"
    BUDGET = "budget"
    """The compute spent reached the budget before another attempt."""
    STRATEGY = "strategy"
    """The episode strategy chose to stop (:meth:`Router.play`)."""


@dataclass(frozen=True, slots=True)
class Step:
    """One attempt of an episode: the decision, what inference saw of it, and its log record.

    ``parent`` is the index of the step whose program this one repairs (None: a fresh
    attempt). ``visible`` is the verdict on the visible tests only, the one the episode
    decided on (None when the arm failed). ``attempt`` is as logged: graded on every test
    after the episode's last decision, with ``attempt_number`` ``index + 1`` and, when a store
    is used, its ``id`` and ``parent_attempt_id``. ``reward`` is the learning signal the
    decision was updated with (None: nothing was learned).
    """

    index: int
    parent: int | None
    decision: Decision
    visible: Verdict | None
    attempt: Attempt
    reward: float | None


@dataclass(frozen=True, slots=True)
class Episode:
    """One problem solved in up to T attempts, and the grade of the program it submitted.

    ``submitted`` is the index of the step whose program was submitted (None when no arm
    produced one): by the episode's selection rule, by default the program that passed the
    most visible tests, the latest on ties (so the one that passed them all when the episode is
    ``solved``). ``grade`` is that program's
    verdict on every test, ``cost`` the compute spent in ``cost_unit``.
    """

    problem_id: str
    steps: tuple[Step, ...]
    submitted: int | None
    grade: Verdict | None
    cost: float
    cost_unit: str
    stop: StopReason

    @property
    def code(self) -> str:
        """The submitted program (empty when none was)."""
        return "" if self.submitted is None else self.steps[self.submitted].attempt.code

    @property
    def reward(self) -> float:
        """The hidden tests' grade of the submitted program: 1.0 for a pass, else 0.0."""
        return 0.0 if self.grade is None else self.grade.reward

    @property
    def attempts(self) -> tuple[Attempt, ...]:
        """The attempts, in order."""
        return tuple(s.attempt for s in self.steps)

    @property
    def decisions(self) -> tuple[Decision, ...]:
        """The decisions, in order."""
        return tuple(s.decision for s in self.steps)


@dataclass(frozen=True, slots=True)
class _Live:
    """A step as the loop made it, before grading and logging."""

    decision: Decision
    completion: Completion
    visible: Verdict | None
    parent: int | None
    reward: float | None
    prompt_hash: str
    sampling: Sampling
    started: float
    finished: float
    sample: int = 0
    """A fresh start's sample index (0 greedy); logged as the attempt's ``sample_index``."""


@dataclass
class Router:
    """Routes problems to the arms of ``pool`` with ``policy`` over ``featurizer``'s features.

    ``cost_weight`` is the lambda of the cost-aware reward ``pass - lambda x cost / max_cost``,
    where ``arm_costs`` gives each arm's typical cost per problem in one unit (its mean recorded
    compute, or its parameter count) and ``max_cost`` is the largest of them, so the normalised
    cost is in [0, 1]; 0 routes on quality alone.

    :meth:`solve` chooses repairs with ``repair_policy`` (default: an unfitted clone of
    ``policy``, made on first use) over ``trajectory_featurizer`` (default: ``featurizer`` and
    the pool's arms).
    """

    pool: Pool
    policy: BasePolicy
    featurizer: Featurizer
    executor: Executor
    store: Store | None = None
    run_id: str = "route"
    cost_weight: float = 0.0
    arm_costs: Mapping[str, float] = field(default_factory=dict)
    learn: bool = True
    sampling: Sampling | None = None
    """Sampling settings of every request (default: each arm's own)."""
    build: Callable[[str], ArmBase] | None = None
    repair_policy: BasePolicy | None = None
    trajectory_featurizer: TrajectoryFeaturizer | None = None
    _arms: dict[str, ArmBase] = field(default_factory=dict, repr=False)

    def route(self, problem: Problem, arms: Sequence[str] | None = None) -> Routed:
        """Solve ``problem`` (prepared) with one attempt of the arm the policy picks."""
        offered = list(arms) if arms is not None else list(self.pool.names)
        view = problem.visible_only()  # what the policy and the arm may see
        x = self.featurizer.transform_one(view)
        decision = self.policy.choose(x, offered)
        arm = self._arm(decision.arm)
        started = time.time()
        sampling = self.sampling or arm.sampling
        completion = arm.generate(view, sampling)
        verdict = self.executor.check(problem, completion.code) if completion.ok else None
        attempt = Attempt.from_parts(
            self.run_id,
            problem,
            completion,
            verdict,
            prompt_hash=hash_text(f"{arm.style.value}\0{problem.prompt}"),
            sampling=sampling.record(),
            started_at=started,
            finished_at=time.time(),
        )
        reward = float(attempt.reward or 0.0) - self.cost_weight * self._cost_share(decision.arm)
        if self.store is not None:
            self._log(problem, attempt, decision)
        if self.learn and completion.ok:  # an arm error says nothing about the code
            self.policy.update(decision, x, reward)
        return Routed(decision, attempt, reward)

    def solve(
        self,
        problem: Problem,
        max_attempts: int = 3,
        budget: float | None = None,
        arms: Sequence[str] | None = None,
    ) -> Episode:
        """Solve ``problem`` (prepared) in up to ``max_attempts`` attempts; see the module doc.

        ``budget`` is in the arms' cost unit (FLOPs for local models): no attempt starts once
        the compute spent has reached it (the first always does; the last may overshoot).
        The attempts are logged in one transaction each, after the episode, with their
        decisions (``step`` 0, 1, ...) and the parent each repairs; a run holds one episode
        per problem.
        """
        offered = list(arms) if arms is not None else list(self.pool.names)
        unit = self._check_solve(offered, max_attempts, budget)
        view = problem.visible_only()
        trajectory = Trajectory(view)
        live: list[_Live] = []
        parent: int | None = None  # the last judged step: the program a repair starts from
        stop = StopReason.MAX_ATTEMPTS
        for k in range(max_attempts):
            if k > 0 and budget is not None and trajectory.cost >= budget:
                stop = StopReason.BUDGET
                break
            if k == 0:
                policy, x = self.policy, self.featurizer.transform_one(view)
            else:
                policy = self._repair_policy()
                x = self._trajectory_featurizer().transform_trajectory(trajectory)
            step = self._attempt(view, policy, x, offered, parent, live)
            live.append(step)
            trajectory = trajectory.with_step(
                TrajectoryStep.from_verdict(step.decision.arm, step.completion.cost, step.visible)
            )
            if step.visible is None:
                continue
            parent = k
            if not view.tests:
                stop = StopReason.NO_VISIBLE_TESTS
                break
            if step.visible.visible_passed:
                stop = StopReason.SOLVED
                break
        return self._finish(problem, live, trajectory.cost, stop, unit)

    def play(
        self,
        problem: Problem,
        strategy: Strategy,
        max_attempts: int = 3,
        budget: float | None = None,
        temperature: float = 0.8,
        online: bool = False,
        select: Selection | None = None,
        consensus_inputs: int = 8,
    ) -> Episode:
        """Solve ``problem`` (prepared) with an episode ``strategy``, live, by the rules its
        replay follows (:func:`~octoroute.episodes.tree.replay_episode`).

        Before each attempt the strategy sees the trajectory (visible verdicts only) and picks
        an arm and a move, or stops: a fresh start (greedy the first time an arm starts, then
        samples at ``temperature`` seeded by their index, as a collection draws them), or a
        repair of the last judged program. The episode stops on a visible pass (unless the
        strategy votes), at ``max_attempts`` or ``budget``; the selection rule ``select``
        (default: most visible tests passed) picks the program submitted; then the hidden tests
        grade. For :class:`~octoroute.episodes.selection.Consensus` (fitted: its arm
        reliabilities) the candidates are first run on ``consensus_inputs`` inputs made from
        the visible examples, as the replay's signatures are. Logged like :meth:`solve`. With
        ``online`` the strategy's ``observe`` learns from each attempt's visible outcome, as in
        an online replay.
        """
        offered = list(self.pool.names)
        unit = self._check_solve(offered, max_attempts, budget)
        view = problem.visible_only()
        trajectory = Trajectory(view)
        live: list[_Live] = []
        parent: int | None = None
        samples: dict[str, int] = {}
        stop = StopReason.MAX_ATTEMPTS
        stop_on_pass = getattr(strategy, "stop_on_pass", True)
        for k in range(max_attempts):
            if k > 0 and budget is not None and trajectory.cost >= budget:
                stop = StopReason.BUDGET
                break
            action = strategy.act(trajectory, k)
            if action is None:
                if k == 0:
                    raise ConfigError(f"strategy {strategy.name!r} made no first attempt")
                stop = StopReason.STRATEGY
                break
            if action.arm not in offered:
                raise ConfigError(f"strategy {strategy.name!r} chose {action.arm!r}, not an arm "
                                  f"of the pool ({', '.join(offered)})")  # fmt: skip
            fresh = action.move is Move.FRESH or parent is None
            sample = samples.get(action.arm, 0) if fresh else 0
            decision = Decision(action.arm, {action.arm: 1.0}, 1.0, policy=strategy.name)
            step = self._make(view, decision, None if fresh else parent, live, sample,
                              temperature)  # fmt: skip
            if fresh:
                samples[action.arm] = sample + 1
                step = dataclasses.replace(step, sample=sample)
            live.append(step)
            seen = TrajectoryStep.from_verdict(action.arm, step.completion.cost, step.visible)
            if online:
                taken = Action(action.arm, Move.FRESH if fresh else Move.REPAIR)
                strategy.observe(trajectory, taken, seen)
            trajectory = trajectory.with_step(seen)
            if step.visible is None:
                continue
            parent = k
            if stop_on_pass and not view.tests:
                stop = StopReason.NO_VISIBLE_TESTS
                break
            if stop_on_pass and step.visible.visible_passed:
                stop = StopReason.SOLVED
                break
        submitted = self._select(view, live, select, consensus_inputs)
        return self._finish(problem, live, trajectory.cost, stop, unit, submitted)

    def _select(
        self, view: Problem, live: Sequence[_Live], select: Selection | None, inputs: int
    ) -> int | None:
        """The step ``select`` submits (from what inference sees: ``view`` and the steps'
        visible verdicts); most visible tests passed when None."""
        if select is None:
            return _submitted(live)
        # The candidates as a rule reads them (arm, code, visible verdicts); id: step + 1.
        candidates = [
            Attempt("live", view.benchmark, view.id, s.decision.arm, id=k + 1,
                    code=s.completion.code, tests=None if s.visible is None else s.visible.tests)
            for k, s in enumerate(live)
        ]  # fmt: skip
        if isinstance(select, Consensus):
            judged = [a for a in candidates if a.tests is not None and a.code and a.id]
            signed = sign_programs(self.executor, view, [a.code for a in judged],
                                   selection_inputs(view, inputs))  # fmt: skip
            # Without inputs to run on, each candidate stands alone (no signature).
            ids = [a.id for a in judged if a.id is not None]
            sigs = {} if signed is None else dict(zip(ids, signed, strict=True))
            select = dataclasses.replace(select, signatures=sigs)
        chosen = select.choose(candidates)
        return None if chosen is None or chosen.id is None else chosen.id - 1

    def _finish(
        self,
        problem: Problem,
        live: Sequence[_Live],
        cost: float,
        stop: StopReason,
        unit: str,
        submitted: int | None = None,
    ) -> Episode:
        """Every decision is made: only now do the hidden tests grade the judged steps; the
        step ``submitted`` (default: most visible tests passed) is submitted; the steps are
        logged."""
        grades = [
            self.executor.check(problem, s.completion.code) if s.visible is not None else None
            for s in live
        ]
        if submitted is None:
            submitted = _submitted(live)
        steps = self._record(problem, live, grades)
        return Episode(
            problem_id=problem.id,
            steps=steps,
            submitted=submitted,
            grade=None if submitted is None else grades[submitted],
            cost=cost,
            cost_unit=live[0].completion.cost_unit if live else unit,
            stop=stop,
        )

    def close(self) -> None:
        """Close every arm built so far (unloads local models)."""
        for arm in self._arms.values():
            arm.close()
        self._arms.clear()

    def __enter__(self) -> Router:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _arm(self, name: str) -> ArmBase:
        if name not in self._arms:
            self._arms[name] = (self.build or self.pool.build)(name)
        return self._arms[name]

    def _repair_policy(self) -> BasePolicy:
        if self.repair_policy is None:
            self.repair_policy = self.policy.clone()
        return self.repair_policy

    def _trajectory_featurizer(self) -> TrajectoryFeaturizer:
        if self.trajectory_featurizer is None:
            self.trajectory_featurizer = TrajectoryFeaturizer(self.featurizer, self.pool.names)
        return self.trajectory_featurizer

    def _check_solve(self, offered: Sequence[str], max_attempts: int, budget: float | None) -> str:
        """Validate :meth:`solve`'s arguments; return the offered arms' cost unit."""
        if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or max_attempts < 1:
            raise ConfigError(f"max_attempts: expected a positive integer, found {max_attempts!r}")
        units = {self.pool.spec(a).cost.unit for a in offered}
        if budget is not None:
            if not isinstance(budget, int | float) or not math.isfinite(budget) or budget <= 0:
                raise ConfigError(f"budget: expected a positive number, found {budget!r}")
            if len(units) > 1:
                raise ConfigError(
                    f"a budget needs arms priced in one unit; the offered arms use {sorted(units)}"
                )
        return min(units) if units else "none"

    def _attempt(
        self,
        view: Problem,
        policy: BasePolicy,
        x: np.ndarray[Any, Any],
        offered: Sequence[str],
        parent: int | None,
        live: Sequence[_Live],
    ) -> _Live:
        """Choose, generate (fresh, or a repair of step ``parent``), judge on ``view``, learn."""
        decision = policy.choose(x, offered)
        made = self._make(view, decision, parent, live)
        if made.visible is not None and view.tests:  # no visible test: nothing observed
            share = self._cost_share(decision.arm)
            reward = float(made.visible.visible_passed) - self.cost_weight * share
            if self.learn:
                policy.update(decision, x, reward)
                made = dataclasses.replace(made, reward=reward)
        return made

    def _make(
        self,
        view: Problem,
        decision: Decision,
        parent: int | None,
        live: Sequence[_Live],
        sample: int = 0,
        temperature: float = 0.8,
    ) -> _Live:
        """Generate with ``decision``'s arm (fresh, or a repair of step ``parent``) and judge on
        ``view``. A fresh ``sample`` after the first (0, greedy) is drawn at ``temperature``
        with the sample index as seed, as a collection draws it."""
        arm = self._arm(decision.arm)
        sampling = self.sampling or arm.sampling
        if parent is None and sample > 0:
            sampling = dataclasses.replace(sampling, temperature=temperature, seed=sample)
        started = time.time()
        if parent is None:
            completion = arm.generate(view, sampling)
            prompt = view.prompt
        else:
            before = live[parent]
            assert before.visible is not None  # a parent is a judged step
            request = repair_request(
                view, before.completion.code, before.visible.feedback, arm.style
            )
            sampling = sampling.with_stop(request.stop)
            completion = arm.generate(request.messages, sampling, problem=view)
            prompt = flatten_messages(request.messages)
        visible = self.executor.check(view, completion.code) if completion.ok else None
        return _Live(
            decision=decision,
            completion=completion,
            visible=visible,
            parent=parent,
            reward=None,
            prompt_hash=hash_text(f"{arm.style.value}\0{prompt}"),
            sampling=sampling,
            started=started,
            finished=time.time(),
        )

    def _cost_share(self, arm: str) -> float:
        if self.cost_weight == 0.0:
            return 0.0
        if arm not in self.arm_costs:
            raise ConfigError(f"cost-aware routing needs the cost of arm {arm!r} in arm_costs")
        top = max(self.arm_costs.values())
        return 0.0 if top <= 0 else self.arm_costs[arm] / top

    def _register(self, problem: Problem, kind: str) -> None:
        assert self.store is not None
        self.store.add_run(self.run_id, config={"kind": kind}, command=kind)
        register_arms(self.store, self.pool)
        self.store.add_problems([problem])

    def _decision_record(self, problem: Problem, decision: Decision, step: int) -> DecisionRecord:
        return DecisionRecord(
            self.run_id,
            problem.benchmark,
            problem.id,
            policy=decision.policy,
            chosen_arm=decision.arm,
            step=step,
            features_hash=decision.context_hash or "",
            scores=dict(decision.scores),
            propensities=dict(decision.propensities or {decision.arm: decision.propensity}),
            created=time.time(),
        )

    def _log(self, problem: Problem, attempt: Attempt, decision: Decision) -> None:
        assert self.store is not None
        self._register(problem, "route")
        self.store.record_attempt(attempt, decision=self._decision_record(problem, decision, 0))

    def _record(
        self, problem: Problem, live: Sequence[_Live], grades: Sequence[Verdict | None]
    ) -> tuple[Step, ...]:
        """The episode's steps with their graded attempts, logged when a store is set."""
        if self.store is not None and live:
            self._register(problem, "solve")
        ids: list[int | None] = []
        steps: list[Step] = []
        for k, (s, grade) in enumerate(zip(live, grades, strict=True)):
            attempt = Attempt.from_parts(
                self.run_id,
                problem,
                s.completion,
                grade,
                attempt_number=k + 1,
                sample_index=s.sample,
                parent_attempt_id=None if s.parent is None else ids[s.parent],
                prompt_hash=s.prompt_hash,
                sampling=s.sampling.record(),
                started_at=s.started,
                finished_at=s.finished,
            )
            if self.store is not None:
                record = self._decision_record(problem, s.decision, k)
                if not self.store.record_attempt(attempt, decision=record):
                    raise StoreConflict(
                        f"run {self.run_id!r} already holds attempt {tuple(attempt.key)}: "
                        "a run holds one episode per problem"
                    )
                attempt = dataclasses.replace(
                    attempt, id=self.store.attempt_id(self.run_id, attempt.key)
                )
            ids.append(attempt.id)
            steps.append(Step(k, s.parent, s.decision, s.visible, attempt, s.reward))
        return tuple(steps)


def _submitted(live: Sequence[_Live]) -> int | None:
    """The step whose program is submitted: most visible tests passed, the latest on ties."""
    judged = [
        (sum(t.passed for t in s.visible.tests), k)
        for k, s in enumerate(live)
        if s.visible is not None
    ]
    return max(judged)[1] if judged else None
