"""Live routing with the real SmolLM2 through llama.cpp, the real sandbox and the real log.

Episodes (``solve``) also run with scripted arms (``tests/fakes.py``) through the real sandbox.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from octoroute.arms.base import PromptStyle, Sampling
from octoroute.arms.models import model_status
from octoroute.arms.pool import Pool, load_pool
from octoroute.episodes.router import Router, StopReason
from octoroute.episodes.selection import Consensus
from octoroute.episodes.tree import Cascade, Fixed, Resample, Retry, Vote
from octoroute.exceptions import ConfigError, StoreConflict
from octoroute.features import make_featurizer
from octoroute.policies import FixedArm, LinUCB, RandomPolicy
from octoroute.sandbox import Executor, prepare
from octoroute.store import Store, open_store
from octoroute.tasks import load_benchmark
from octoroute.types import ArmErrorKind, Problem, TestCase, TestKind, Tier
from tests.arms.conftest import refused_url  # noqa: F401
from tests.fakes import ATTEMPT_FLOPS, Script, builder, scripted_pool

SMOLLM = "smollm2-135m"


def _pool(tmp_path: Path, dead_url: str):  # type: ignore[no-untyped-def]
    pool_file = tmp_path / "pool.toml"
    pool_file.write_text(
        f"""
[[arms]]
name = "dead"
backend = "openai"
model = "m"
endpoint = "{dead_url}"
retries = 1
backoff = 0.01
connect_timeout = 0.5

[[arms]]
name = "{SMOLLM}"
backend = "llamacpp"
local_model = "{SMOLLM}"
style = "chat"
"""
    )
    return load_pool(pool_file)


def test_route_logs_decisions_and_learns_only_from_judged_code(
    tmp_path: Path,
    refused_url: str,  # noqa: F811
) -> None:
    if not model_status(SMOLLM).installed:
        pytest.skip("SmolLM2-135M is not installed: octoroute models install smollm2-135m")
    pool = _pool(tmp_path, refused_url)
    policy = LinUCB(alpha=1.0, seed=0)
    with Executor(workers=1) as ex, open_store(tmp_path / "log.db") as store:
        problems = prepare(load_benchmark("humaneval")[:4], ex, tmp_path / "cache")
        featurizer = make_featurizer("lexical")
        router = Router(pool, policy, featurizer, ex, store, run_id="live",
                        sampling=Sampling(max_tokens=48, seed=0))  # fmt: skip
        with router:
            routed = [router.route(p) for p in problems]
        chosen = {r.decision.arm for r in routed}
        assert chosen == {"dead", SMOLLM}  # LinUCB tries both arms before it knows either
        for r in routed:
            assert sum(r.decision.propensities.values()) == pytest.approx(1.0)
            if r.decision.arm == "dead":
                assert r.attempt.error is ArmErrorKind.UNAVAILABLE and not r.attempt.judged
            else:
                assert r.attempt.judged and r.attempt.completion_tokens > 0
        # The dead arm's failures taught the policy nothing; SmolLM2's judged attempts did.
        state = policy.state_dict()["arms"]
        n_smol = sum(r.decision.arm == SMOLLM for r in routed)
        assert state["dead"] == LinUCB(alpha=1.0).clone()._new_model(featurizer.dim).to_state()
        assert n_smol >= 1
        decisions = store.decisions("live")
        attempts = {a.id: a for a in store.attempts("live")}
        assert len(decisions) == len(attempts) == 4
        for d in decisions:
            assert d.policy == "linucb" and d.attempt_id in attempts
            assert attempts[d.attempt_id].arm == d.chosen_arm
            assert set(d.scores) == {"dead", SMOLLM}


def test_cost_aware_reward_needs_arm_costs() -> None:
    with Executor(workers=1) as ex:
        pool = load_pool("default").select([SMOLLM])
        router = Router(pool, FixedArm(arm=SMOLLM), make_featurizer("lexical"), ex,
                        cost_weight=0.5)  # fmt: skip
        with pytest.raises(ConfigError, match="arm_costs"):
            router._cost_share(SMOLLM)
        router.arm_costs = {SMOLLM: 1.0, "big": 4.0}
        assert router._cost_share(SMOLLM) == 0.25
        assert router._cost_share("big") == 1.0


# -- episodes: solve() ---------------------------------------------------------------------

ADD = Problem(
    "add/0", "demo", "def add(a, b):\n    \"\"\"Add a and b.\"\"\"\n", "add", "",
    (TestCase(TestKind.CALL, Tier.VISIBLE, (1, 2), 3, has_expected=True),
     TestCase(TestKind.CALL, Tier.BASE, (2, 3), 5, has_expected=True)),
)  # fmt: skip
WRONG = "```python\ndef add(a, b):\n    return a - b\n```"
RIGHT = "```python\ndef add(a, b):\n    return a + b\n```"


@pytest.fixture(scope="module")
def executor() -> Iterator[Executor]:
    with Executor(workers=1) as ex:
        yield ex


def _router(executor: Executor, script: Script, store: Store | None = None, **kw: Any) -> Router:
    pool = scripted_pool({"chatty": PromptStyle.CHAT, "plain": PromptStyle.COMPLETION})
    arms = builder(pool, script)
    return Router(pool, RandomPolicy(seed=0), make_featurizer("lexical", n_features=64), executor,
                  store, run_id="ep", build=arms.__getitem__, **kw)  # fmt: skip


def test_solve_with_smollm2_logs_each_repair_with_its_parent(tmp_path: Path) -> None:
    if not model_status(SMOLLM).installed:
        pytest.skip("SmolLM2-135M is not installed: octoroute models install smollm2-135m")
    pool = load_pool("default").select([SMOLLM])
    with Executor(workers=1) as ex, open_store(tmp_path / "log.db") as store:
        (problem,) = prepare(load_benchmark("humaneval")[2:3], ex, tmp_path / "cache")
        router = Router(pool, FixedArm(arm=SMOLLM), make_featurizer("lexical"), ex, store,
                        run_id="live", sampling=Sampling(max_tokens=64, seed=0))  # fmt: skip
        with router:
            episode = router.solve(problem, max_attempts=2)
        logged = list(store.attempts("live"))
        decisions = store.decisions("live")
    assert episode.steps and episode.stop in (StopReason.SOLVED, StopReason.MAX_ATTEMPTS)
    assert episode.cost > 0 and episode.cost_unit == "flops"
    assert [a.id for a in episode.attempts] == [a.id for a in logged]
    assert [a.attempt_number for a in logged] == list(range(1, len(logged) + 1))
    assert logged[0].parent_attempt_id is None
    for step, attempt in zip(episode.steps, logged, strict=True):
        assert attempt.judged and attempt.completion_tokens > 0 and attempt.pass_base is not None
        if step.parent is not None:  # a repair points at the attempt it repairs
            assert attempt.parent_attempt_id == logged[step.parent].id
    assert [d.step for d in decisions] == list(range(len(logged)))
    assert [d.attempt_id for d in decisions] == [a.id for a in logged]
    if episode.stop is StopReason.MAX_ATTEMPTS:  # SmolLM2 did not pass: it was asked to repair
        assert len(logged) == 2 and logged[1].parent_attempt_id == logged[0].id
        assert logged[1].prompt_hash != logged[0].prompt_hash


def test_budget_stops_before_another_attempt(executor: Executor) -> None:
    episode = _router(executor, Script([WRONG])).solve(ADD, max_attempts=3, budget=ATTEMPT_FLOPS)
    assert episode.stop is StopReason.BUDGET and len(episode.steps) == 1
    assert episode.cost == ATTEMPT_FLOPS and episode.submitted == 0 and episode.reward == 0.0
    budget = 1.5 * ATTEMPT_FLOPS  # the second attempt starts, and overshoots
    episode = _router(executor, Script([WRONG])).solve(ADD, max_attempts=3, budget=budget)
    assert episode.stop is StopReason.BUDGET and len(episode.steps) == 2


def test_arm_failure_is_followed_by_a_fresh_attempt(executor: Executor, tmp_path: Path) -> None:
    script = Script([None, WRONG, RIGHT])
    with open_store(tmp_path / "log.db") as store:
        router = _router(executor, script, store)
        episode = router.solve(ADD, max_attempts=3)
        logged = list(store.attempts("ep"))
        with pytest.raises(StoreConflict, match="one episode per problem"):
            _router(executor, Script([RIGHT]), store).solve(ADD, max_attempts=1)
    assert episode.stop is StopReason.SOLVED and episode.submitted == 2 and episode.reward == 1.0
    assert [s.parent for s in episode.steps] == [None, None, 1]
    assert [s.reward for s in episode.steps] == [None, 0.0, 1.0]  # an arm error teaches nothing
    assert episode.steps[0].attempt.error is not None and episode.steps[0].visible is None
    assert [a.parent_attempt_id for a in logged] == [None, None, logged[1].id]
    # The second request was a fresh prompt again; the third, a repair of the second program.
    texts = [p if isinstance(p, str) else p[-1]["content"] for _, p, _ in script.requests]
    assert "return a - b" not in texts[1] and "return a - b" in texts[2]
    assert router.repair_policy is not None and router.repair_policy is not router.policy


def test_no_visible_tests_submits_the_first_program(executor: Executor) -> None:
    hidden_only = dataclasses.replace(ADD, tests=ADD.hidden_tests)
    episode = _router(executor, Script([RIGHT])).solve(hidden_only, max_attempts=3)
    assert episode.stop is StopReason.NO_VISIBLE_TESTS and len(episode.steps) == 1
    assert episode.steps[0].reward is None and episode.reward == 1.0


def test_solve_arguments_are_checked(executor: Executor) -> None:
    router = _router(executor, Script([RIGHT]))
    with pytest.raises(ConfigError, match="max_attempts"):
        router.solve(ADD, max_attempts=0)
    with pytest.raises(ConfigError, match="budget"):
        router.solve(ADD, budget=-1.0)
    mixed = Pool((*router.pool.specs, *scripted_pool({"paid": PromptStyle.CHAT}, "usd").specs))
    router = dataclasses.replace(router, pool=mixed)
    with pytest.raises(ConfigError, match="one unit"):
        router.solve(ADD, budget=1.0)


# -- episodes: play() with a strategy --------------------------------------------------------


def test_play_follows_a_strategys_moves_live(executor: Executor, tmp_path: Path) -> None:
    """A cascade starts each arm afresh; a resample draws sample 1 at temperature with seed 1;
    a vote goes on after a visible pass; a strategy that stops is obeyed."""
    with open_store(tmp_path / "log.db") as store:
        script = Script([WRONG, RIGHT])
        cascade = _router(executor, script, store).play(ADD, Cascade(("plain", "chatty")))
        logged = list(store.attempts("ep"))
    assert cascade.stop is StopReason.SOLVED and cascade.reward == 1.0
    assert [s.decision.arm for s in cascade.steps] == ["plain", "chatty"]
    assert [s.parent for s in cascade.steps] == [None, None]  # both fresh starts
    assert [a.parent_attempt_id for a in logged] == [None, None]
    assert {s.decision.policy for s in cascade.steps} == {"cascade plain > chatty"}

    script = Script([WRONG, RIGHT])
    with open_store(tmp_path / "resample.db") as store:
        resampled = _router(executor, script, store).play(ADD, Resample("chatty"), max_attempts=3)
        logged = list(store.attempts("ep"))
    assert resampled.reward == 1.0 and len(resampled.steps) == 2
    (_, _, greedy), (_, _, sample) = script.requests
    assert (greedy.temperature, sample.temperature, sample.seed) == (0.0, 0.8, 1)
    assert [a.sample_index for a in logged] == [0, 1]

    stopped = _router(executor, Script([WRONG])).play(ADD, Fixed("plain"), max_attempts=3)
    assert stopped.stop is StopReason.STRATEGY and len(stopped.steps) == 1

    class Watching(Retry):
        def __init__(self, arm: str) -> None:
            super().__init__(arm)
            self.seen: list[tuple[str, bool]] = []

        def observe(self, trajectory: Any, action: Any, step: Any) -> None:
            self.seen.append((action.move.value, step.n_failed == 0))

    watcher = Watching("plain")
    _router(executor, Script([WRONG, RIGHT])).play(ADD, watcher, online=True)
    assert watcher.seen == [("fresh", False), ("repair", True)]

    voted = _router(executor, Script([RIGHT, WRONG, RIGHT])).play(ADD, Vote(("chatty",) * 3))
    assert len(voted.steps) == 3 and voted.stop is StopReason.MAX_ATTEMPTS
    assert voted.submitted == 2 and voted.reward == 1.0

    retried = _router(executor, Script([WRONG])).play(ADD, Retry("plain"), max_attempts=2)
    assert [s.parent for s in retried.steps] == [None, 0]  # the second repairs the first
    with pytest.raises(ConfigError, match="not an arm of the pool"):
        _router(executor, Script([RIGHT])).play(ADD, Fixed("absent"))


def test_play_submits_by_live_consensus(executor: Executor) -> None:
    """Three candidates pass the visible test; two agree on the inputs made from it, the last
    fits the example only: most visible submits the last (latest on ties), consensus the
    agreeing pair's latest."""
    fits = "```python\ndef add(a, b):\n    return 3 if (a, b) == (1, 2) else a * b\n```"
    alike = "```python\ndef add(a, b):\n    return b + a\n```"
    script = [RIGHT, alike, fits]
    plain = _router(executor, Script(script)).play(ADD, Vote(("chatty",) * 3))
    assert plain.submitted == 2 and plain.reward == 0.0  # the example fitter fails (2, 3)
    rule = Consensus({})  # unfitted: every arm counts 1
    voted = _router(executor, Script(script)).play(ADD, Vote(("chatty",) * 3), select=rule)
    assert voted.submitted == 1 and voted.reward == 1.0
    assert [s.visible is not None and s.visible.visible_passed for s in voted.steps] == [True] * 3


def test_live_consensus_without_a_call_example_submits_by_the_visible_verdicts(
    executor: Executor,
) -> None:
    """No visible call test to make inputs from: each candidate stands alone, and consensus
    submits the latest of the visible best, as most visible does."""
    asserted = dataclasses.replace(ADD, tests=(
        TestCase(TestKind.ASSERT, Tier.VISIBLE, "assert add(1, 2) == 3"),
        ADD.tests[1],
    ))  # fmt: skip
    voted = _router(executor, Script([RIGHT, WRONG, RIGHT])).play(
        asserted, Vote(("chatty",) * 3), select=Consensus({})
    )
    assert voted.submitted == 2 and voted.reward == 1.0
