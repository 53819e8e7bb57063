"""Live routing with the real SmolLM2 through llama.cpp, the real sandbox and the real log."""

from __future__ import annotations

from pathlib import Path

import pytest

from octoroute.arms.base import Sampling
from octoroute.arms.models import model_status
from octoroute.arms.pool import load_pool
from octoroute.episode import Router
from octoroute.exceptions import ConfigError
from octoroute.features import make_featurizer
from octoroute.policies import FixedArm, LinUCB
from octoroute.sandbox import Executor, prepare
from octoroute.store import open_store
from octoroute.tasks import load_benchmark
from octoroute.types import ArmErrorKind
from tests.arms.conftest import refused_url  # noqa: F401

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
