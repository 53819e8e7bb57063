"""The shared work of BasePolicy, the registry and persistence."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from octoroute.exceptions import ConfigError, DataError
from octoroute.policies import (
    POLICIES,
    EpsilonGreedy,
    LinearThompson,
    LinUCB,
    Policy,
    SquareCB,
    make_policy,
)
from octoroute.types import Decision

X = np.array([0.6, 0.8, 0.0])


def test_constructor_stores_only_hyperparameters() -> None:
    p = LinUCB(alpha=0.3, l2=2.0, seed=4)
    assert vars(p) == {"alpha": 0.3, "l2": 2.0, "seed": 4}
    assert p.get_params() == {"alpha": 0.3, "l2": 2.0, "seed": 4}
    assert isinstance(p, Policy)


def test_decision_records_scores_propensities_and_hash() -> None:
    d = EpsilonGreedy(epsilon=0.2, seed=0).choose(X, ["m", "n"])
    assert isinstance(d, Decision)
    assert d.policy == "epsilon_greedy"
    assert set(d.scores) == {"m", "n"}
    assert d.propensities == {"m": 0.5, "n": 0.5}
    assert d.context_hash and len(d.context_hash) == 16


def test_update_accepts_an_arm_name_and_returns_self() -> None:
    p = LinUCB(alpha=0.0, seed=0)  # no optimism: the untried arm is not preferred
    assert p.update("m", X, 1.0) is p
    assert p.choose(X, ["m", "n"]).arm == "m"
    assert LinUCB(alpha=1.0, seed=0).update("m", X, 1.0).choose(X, ["m", "n"]).arm == "n"


def test_ties_are_broken_by_the_policy_generator() -> None:
    picks = {LinUCB(seed=s).choose(X, ["a", "b", "c"]).arm for s in range(30)}
    assert picks == {"a", "b", "c"}


@pytest.mark.parametrize(
    ("context", "arms", "message"),
    [
        (np.zeros((2, 2)), ["a"], "1-D"),
        (np.array([np.nan, 0.0]), ["a"], "non-finite"),
        (np.zeros(2), [], "no arm"),
        (np.zeros(2), ["a", "a"], "twice"),
    ],
)
def test_bad_inputs_are_rejected(context: np.ndarray, arms: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        LinUCB().choose(context, arms)


def test_context_size_is_fixed_once_seen() -> None:
    p = LinUCB()
    p.choose(np.zeros(3), ["a"])
    with pytest.raises(ValueError, match="fitted on 3"):
        p.update("a", np.zeros(4), 1.0)


def test_save_is_atomic_and_load_checks_the_policy(tmp_path: Path) -> None:
    p = SquareCB(gamma=10.0, seed=1)
    p.update("a", X, 1.0)
    path = tmp_path / "p.json"
    p.save(path)
    assert sorted(f.name for f in tmp_path.iterdir()) == ["p.json"]
    q = SquareCB.load(path)
    assert q.get_params() == p.get_params() and q.state_dict() == p.state_dict()
    with pytest.raises(DataError, match="not 'linucb'"):
        LinUCB.load(path)
    (tmp_path / "bad.json").write_text("{", encoding="utf-8")
    with pytest.raises(DataError):
        LinUCB.load(tmp_path / "bad.json")


def test_load_reports_bad_files_as_data_errors(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text('{"policy": "linucb", "params": {}, "state": ' + "[" * 200_000
                    + "]" * 200_000 + "}", encoding="utf-8")  # fmt: skip
    with pytest.raises(DataError, match=r"p\.json, line 1, field state: nested too deeply"):
        LinUCB.load(path)
    path.write_bytes(b'{"policy": "linucb\xff"}')
    with pytest.raises(DataError, match="not UTF-8 text: byte 0xff"):
        LinUCB.load(path)
    path.write_text('{"policy": "linucb", "params": {"nope": 1}, "state": {}}', encoding="utf-8")
    with pytest.raises(DataError, match="not a saved linucb policy"):
        LinUCB.load(path)
    path.write_text('{"policy": "linucb", "params": {}, "state": []}', encoding="utf-8")
    with pytest.raises(DataError, match="not a saved linucb policy"):
        LinUCB.load(path)


def test_load_state_refuses_another_policy() -> None:
    state = LinUCB().state_dict()
    with pytest.raises(ValueError, match="linucb"):
        LinearThompson().load_state(state)


def test_state_dict_is_json_safe() -> None:
    p = LinearThompson(seed=2)
    for t in range(5):
        p.update(p.choose(X * t, ["a", "b"]), X * t, 0.5)
    assert json.loads(json.dumps(p.state_dict())) == p.state_dict()


def test_registry_names_match_classes() -> None:
    for name, cls in POLICIES.items():
        assert cls.name == name


def test_make_policy_translates_errors() -> None:
    with pytest.raises(ConfigError, match="unknown policy 'nope'"):
        make_policy("nope")
    with pytest.raises(ConfigError, match="alhpa"):
        make_policy("linucb", alhpa=1.0)
    assert make_policy("squarecb", gamma=3.0).gamma == 3.0  # type: ignore[attr-defined]


def test_squarecb_inverse_gap_weighting() -> None:
    p = SquareCB(gamma=10.0, l2=1.0, seed=0)
    x = np.array([1.0])
    for _ in range(50):
        p.update("good", x, 1.0)
        p.update("bad", x, 0.0)
    d = p.choose(x, ["good", "bad"])
    assert d.propensities is not None
    gap = d.scores["good"] - d.scores["bad"]
    assert d.propensities["bad"] == pytest.approx(1.0 / (2 + 10.0 * gap))


def test_thompson_propensity_estimate_is_close_to_exact() -> None:
    p = LinearThompson(v=1.0, n_draws=4000, seed=0)
    d = p.choose(np.array([1.0]), ["a", "b"])  # identical posteriors: exactly 1/2 each
    assert d.propensity == pytest.approx(0.5, abs=0.03)
