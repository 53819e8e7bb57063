"""The routing loop: featurize, choose, generate, execute, reward, update, log.

With :mod:`octoroute.cli` and :mod:`octoroute.collect`, one of the modules that know every
package. :class:`Router` holds a policy, a featurizer and the arms it may build; :meth:`route`
solves one problem with one attempt: the policy sees only the problem's features (made from
its prompt, never from tests), the chosen arm generates, the sandbox judges, and the attempt is
logged with the decision that led to it (scores and propensities of every arm, for off-policy
evaluation later). Only the chosen arm's reward is observed, and the policy learns from it when
``learn`` is set: bandit feedback, as in deployment.

Arms are built on first use and kept until :meth:`Router.close`, so a local model is loaded
once however many problems it is chosen for.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from octoroute.arms.base import ArmBase, Sampling
from octoroute.arms.pool import Pool
from octoroute.exceptions import ConfigError
from octoroute.features import Featurizer
from octoroute.policies import BasePolicy
from octoroute.sandbox import Executor
from octoroute.store import DecisionRecord, Store, hash_text
from octoroute.types import Attempt, Decision, Problem

__all__ = ["Routed", "Router"]


@dataclass(frozen=True, slots=True)
class Routed:
    """One routed problem: the decision, the attempt it led to, and the reward learned from."""

    decision: Decision
    attempt: Attempt
    reward: float


@dataclass
class Router:
    """Routes problems to the arms of ``pool`` with ``policy`` over ``featurizer``'s features.

    ``cost_weight`` is the lambda of the cost-aware reward ``pass - lambda x cost / max_cost``,
    where ``arm_costs`` gives each arm's typical cost per problem in one unit (its mean recorded
    compute, or its parameter count) and ``max_cost`` is the largest of them, so the normalised
    cost is in [0, 1]; 0 routes on quality alone.
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
    _arms: dict[str, ArmBase] = field(default_factory=dict, repr=False)

    def route(self, problem: Problem, arms: Sequence[str] | None = None) -> Routed:
        """Solve ``problem`` (prepared) with one attempt of the arm the policy picks."""
        offered = list(arms) if arms is not None else list(self.pool.names)
        x = self.featurizer.transform_one(problem)
        decision = self.policy.choose(x, offered)
        arm = self._arm(decision.arm)
        started = time.time()
        sampling = self.sampling or arm.sampling
        completion = arm.generate(problem, sampling)
        verdict = self.executor.check(problem, completion.code) if completion.ok else None
        attempt = Attempt.from_parts(
            self.run_id,
            problem,
            completion,
            verdict,
            prompt_hash=hash_text(f"{arm.style.value}\0{problem.prompt}"),
            sampling=dataclasses.asdict(sampling),
            seed=sampling.seed,
            started_at=started,
            finished_at=time.time(),
        )
        reward = float(attempt.reward or 0.0) - self.cost_weight * self._cost_share(decision.arm)
        if self.store is not None:
            self._log(problem, attempt, decision)
        if self.learn and completion.ok:  # an arm error says nothing about the code
            self.policy.update(decision, x, reward)
        return Routed(decision, attempt, reward)

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

    def _cost_share(self, arm: str) -> float:
        if self.cost_weight == 0.0:
            return 0.0
        if arm not in self.arm_costs:
            raise ConfigError(f"cost-aware routing needs the cost of arm {arm!r} in arm_costs")
        top = max(self.arm_costs.values())
        return 0.0 if top <= 0 else self.arm_costs[arm] / top

    def _log(self, problem: Problem, attempt: Attempt, decision: Decision) -> None:
        assert self.store is not None
        self.store.add_run(self.run_id, config={"kind": "route"}, command="route")
        for spec in self.pool.specs:
            self.store.add_arm(spec.name, backend=spec.backend, model=spec.model,
                               cost_unit=spec.cost.unit)  # fmt: skip
        self.store.add_problems([problem])
        record = DecisionRecord(
            self.run_id,
            problem.benchmark,
            problem.id,
            policy=decision.policy,
            chosen_arm=decision.arm,
            features_hash=decision.context_hash or "",
            scores=dict(decision.scores),
            propensities=dict(decision.propensities or {decision.arm: decision.propensity}),
            created=time.time(),
        )
        self.store.record_attempt(attempt, decision=record)
