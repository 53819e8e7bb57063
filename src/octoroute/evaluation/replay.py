"""Replay a routing policy on an outcome matrix, over many seeds, in two regimes.

``online`` (the deployment regime). Per seed, one pass over the problems in a random order.
Each decision is made before its outcome is revealed, and only the chosen arm's outcome is
revealed (bandit feedback), starting from an untrained policy (cold start included). When the
matrix holds pass *rates* (fractions), the policy is updated with a 0/1 outcome drawn with that
probability by the seed's generator, as in deployment, while pass@1 is scored with the
probability itself (the same mean, with less variance).

``cv`` (the offline-trained regime). Per seed, a seeded K-fold split; for each fold a fresh
policy is trained with full information on the other folds (every arm updated on every training
problem with its expected reward) and routes the held-out fold without learning from it, so
every problem is routed by a policy that never saw it. Since nothing is learned there, the
policy routes by exploitation (``exploit``: its best estimated reward, no exploration bonus or
random draw) when it offers that; exploration serves learning, which the online mode judges.
The best single arm is chosen on the same training folds and judged on the held-out fold: the
honest baseline. In ``online`` mode there
are no training folds, and the baseline is the best single arm in hindsight (labelled so).

**Cost-aware reward.** With ``lam > 0`` the policy learns from ``pass - lam x cost_norm``,
where ``cost_norm`` is the cost divided by the most expensive arm's mean cost in the pool;
sweeping ``lam`` traces the quality-compute frontier (:mod:`.frontier`). The baseline's arm is
chosen by the same cost-aware reward.

**Budget mode.** ``budget`` is the allowed mean cost per problem, as a fraction of the most
expensive arm's mean cost. Before each decision, an arm is offered only if choosing it keeps
the running mean cost of the decisions so far within the budget, judged by the arm's mean cost
over the pool (its known price; the realised cost of a problem is not known before choosing).
The cheapest arm is always offered, so a decision is always possible. In ``cv`` mode the
running mean restarts with each held-out fold.

Randomness comes from :class:`numpy.random.SeedSequence` seeded by each seed (orders, splits,
draws and the policies' own seeds); the global generator is never used, so a replay is
deterministic for its seeds.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from octoroute.evaluation.outcomes import OutcomeMatrix
from octoroute.evaluation.result import Mode, Reference, ReplayResult
from octoroute.exceptions import ConfigError
from octoroute.policies import Policy, make_policy

__all__ = ["PolicySpec", "replay"]

FloatArray = np.ndarray[Any, np.dtype[np.float64]]


@dataclass(frozen=True, slots=True)
class PolicySpec:
    """A policy by registry name and hyperparameters; :meth:`build` makes a fresh seeded one.

    Baselines that need the pool's numbers get them from the matrix unless given:
    ``cheapest`` its arms' mean costs, ``largest`` their ranks in the matrix's size order
    (:meth:`~octoroute.evaluation.outcomes.OutcomeMatrix.size_order`: parameters, then cost).
    ``factory``, if set, builds the policy instead of the registry (for policies of your own;
    ``name`` then only labels the report).

    >>> PolicySpec("linucb", {"alpha": 0.5}).build(3, None)
    LinUCB(alpha=0.5, l2=10.0, seed=3)
    """

    name: str
    params: Mapping[str, Any] = field(default_factory=dict)
    factory: Callable[[int], Policy] | None = None

    def build(self, seed: int, matrix: OutcomeMatrix | None) -> Policy:
        """A fresh policy with generator seed ``seed``."""
        if self.factory is not None:
            return self.factory(seed)
        if "seed" in self.params:
            raise ConfigError("policy parameter 'seed' is set by the replay's seeds")
        params = dict(self.params)
        if matrix is not None and self.name == "cheapest" and "costs" not in params:
            params["costs"] = _known(matrix.arms, matrix.arm_cost(), "cost")
        if matrix is not None and self.name == "largest" and "sizes" not in params:
            # Ranks of the matrix's size order: two arms of one model are told apart by cost.
            params["sizes"] = {a: float(i) for i, a in enumerate(matrix.size_order())}
        return make_policy(self.name, seed=seed, **params)


def _known(arms: Iterable[str], values: FloatArray, what: str) -> dict[str, float]:
    out = {a: float(v) for a, v in zip(arms, values, strict=True) if np.isfinite(v)}
    if not out:
        raise ConfigError(f"no arm has a known {what}")
    return out


def _child_seed(*key: int) -> int:
    """A policy seed derived from the replay seed (and fold), independent of the others."""
    return int(np.random.SeedSequence(list(key)).generate_state(1)[0])


class _BudgetGate:
    """Offers the arms that keep the running mean cost within the budget (cheapest always)."""

    def __init__(self, price: FloatArray, budget: float | None) -> None:
        self.price = price
        self.limit = None if budget is None else budget * float(price.max())
        self.cheapest = int(np.argmin(price))
        self.spent = 0.0
        self.steps = 0

    def offered(self, arms: tuple[str, ...]) -> list[str]:
        if self.limit is None:
            return list(arms)
        allowed = (self.spent + self.price) / (self.steps + 1) <= self.limit + 1e-12
        allowed[self.cheapest] = True
        return [a for a, ok in zip(arms, allowed, strict=True) if ok]

    def spend(self, cost: float) -> None:
        self.spent += cost
        self.steps += 1


@dataclass(frozen=True, eq=False)
class _Setup:
    """What every seed shares: the matrix, the features and the cost-aware rewards."""

    matrix: OutcomeMatrix
    x: FloatArray
    spec: PolicySpec
    lam: float
    budget: float | None
    cost_norm: FloatArray
    price: FloatArray

    @property
    def expected(self) -> FloatArray:
        """Cost-aware expected reward of every cell (full-information training signal)."""
        return self.matrix.rewards - self.lam * self.cost_norm

    def route(
        self,
        policy: Policy,
        problems: Iterable[int],
        choices: np.ndarray[Any, Any],
        draws: np.random.Generator | None,
    ) -> None:
        """Route ``problems`` in order; learn from the chosen arm's outcome if ``draws``."""
        arms = self.matrix.arms
        index = {a: j for j, a in enumerate(arms)}
        gate = _BudgetGate(self.price, self.budget)
        for i in problems:
            offered = gate.offered(arms)
            # Without learning (cv's held-out fold), exploration buys nothing: exploit.
            exploit = getattr(policy, "exploit", None) if draws is None else None
            decision = (exploit or policy.choose)(self.x[i], offered)
            j = index[decision.arm]
            choices[i] = j
            if self.budget is not None:
                gate.spend(float(self.matrix.cost[i, j]))
            if draws is not None:
                outcome = float(draws.random() < self.matrix.rewards[i, j])
                policy.update(decision, self.x[i], outcome - self.lam * self.cost_norm[i, j])


def _setup(
    matrix: OutcomeMatrix, x: FloatArray, spec: PolicySpec, lam: float, budget: float | None
) -> _Setup:
    if not matrix.complete:
        raise ConfigError(f"{matrix.source}: the matrix has missing cells; select() drops them")
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] != len(matrix.problem_ids):
        raise ConfigError(
            f"features must have one row per problem ({len(matrix.problem_ids)}), got {x.shape}"
        )
    if not np.isfinite(lam) or lam < 0:
        raise ConfigError(f"lambda must be a non-negative number, got {lam}")
    if budget is not None and not 0.0 < budget <= 1.0:
        raise ConfigError(f"budget is a fraction of the largest arm's cost in (0, 1], got {budget}")
    price = matrix.arm_cost()
    unknown = matrix.unknown_cost()
    if (lam > 0 or budget is not None) and unknown:
        raise ConfigError(
            "lambda and budget need every arm's cost; unknown for " + ", ".join(unknown)
        )
    # Without costs lambda is 0 (checked above), so the normalised cost is never used.
    cost_norm = np.zeros_like(matrix.cost) if unknown else matrix.cost / float(price.max())
    return _Setup(matrix, x, spec, float(lam), budget, cost_norm, price)


def _online(setup: _Setup, seed: int) -> tuple[np.ndarray[Any, Any], ...]:
    n = len(setup.matrix.problem_ids)
    order_ss, draw_ss = np.random.SeedSequence(seed).spawn(2)
    order = np.random.default_rng(order_ss).permutation(n)
    choices = np.zeros(n, dtype=np.int64)
    policy = setup.spec.build(_child_seed(seed), setup.matrix)
    setup.route(policy, order, choices, np.random.default_rng(draw_ss))
    baseline = np.full(n, int(np.argmax(setup.expected.mean(axis=0))), dtype=np.int64)
    return choices, order, baseline


def _cv(
    setup: _Setup, seed: int, folds: int, on_step: Callable[[], None] | None
) -> tuple[np.ndarray[Any, Any], ...]:
    n = len(setup.matrix.problem_ids)
    order = np.random.default_rng(np.random.SeedSequence(seed)).permutation(n)
    parts = np.array_split(order, folds)
    choices = np.zeros(n, dtype=np.int64)
    baseline = np.zeros(n, dtype=np.int64)
    expected = setup.expected
    arms = setup.matrix.arms
    for f, test in enumerate(parts):
        train = np.concatenate([p for g, p in enumerate(parts) if g != f])
        policy = setup.spec.build(_child_seed(seed, f + 1), setup.matrix)
        for i in train:
            for j, arm in enumerate(arms):
                policy.update(arm, setup.x[i], float(expected[i, j]))
        baseline[test] = int(np.argmax(expected[train].mean(axis=0)))
        setup.route(policy, test, choices, None)
        if on_step is not None:
            on_step()
    return choices, order, baseline


def replay(
    matrix: OutcomeMatrix,
    x: FloatArray,
    policy: PolicySpec | str,
    *,
    params: Mapping[str, Any] | None = None,
    mode: Mode | str = Mode.CV,
    seeds: int | Iterable[int] = 5,
    folds: int = 5,
    lam: float = 0.0,
    budget: float | None = None,
    reference: Reference | None = None,
    excluded_unknown_size: Iterable[str] = (),
    featurizer: Mapping[str, Any] | None = None,
    on_step: Callable[[], None] | None = None,
) -> ReplayResult:
    """Replay ``policy`` on ``matrix`` with features ``x`` (one row per problem).

    ``seeds`` is a count (seeds ``0..N-1``) or the seeds themselves. ``on_step`` is called
    after each seed (online) or fold (cv), for progress bars. See the module docstring for the
    regimes, the cost-aware reward and the budget.
    """
    spec = PolicySpec(policy, dict(params or {})) if isinstance(policy, str) else policy
    try:
        mode = Mode(mode)
    except ValueError:
        raise ConfigError(f"mode: expected cv or online, found {mode!r}") from None
    seed_list = tuple(range(seeds)) if isinstance(seeds, int) else tuple(int(s) for s in seeds)
    if not seed_list:
        raise ConfigError("at least one seed is needed")
    n = len(matrix.problem_ids)
    if mode is Mode.CV and not 2 <= folds <= n:
        raise ConfigError(f"folds must be between 2 and the number of problems ({n}), got {folds}")
    setup = _setup(matrix, x, spec, lam, budget)
    start = time.perf_counter()
    rows = []
    for seed in seed_list:
        if mode is Mode.ONLINE:
            rows.append(_online(setup, seed))
            if on_step is not None:
                on_step()
        else:
            rows.append(_cv(setup, seed, folds, on_step))
    choices, order, baseline = (np.stack(col) for col in zip(*rows, strict=True))
    return ReplayResult(
        policy=spec.name,
        params=dict(spec.params),
        mode=mode,
        seeds=seed_list,
        folds=folds if mode is Mode.CV else None,
        lam=float(lam),
        budget=budget,
        matrix=matrix,
        choices=choices,
        order=order,
        baseline=baseline,
        baseline_basis="training folds" if mode is Mode.CV else "hindsight (all problems)",
        reference=reference,
        excluded_unknown_size=tuple(excluded_unknown_size),
        featurizer=dict(featurizer or {}),
        elapsed=time.perf_counter() - start,
    )
