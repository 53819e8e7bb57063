"""The routing service without HTTP: fallback, logging, feedback once, recovery after a crash.

Scripted arms stand in for models (failure injection); the log and the policy are real.
"""

from __future__ import annotations

import json
from collections.abc import Generator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from octoroute.arms.base import ArmBase, ArmFailure, FlopsCost, PromptStyle, Sampling
from octoroute.clarify.decide import AskModel
from octoroute.episodes.tree import Cascade
from octoroute.exceptions import ConfigError, RunBusy
from octoroute.features import make_featurizer
from octoroute.policies import LinUCB, make_policy, saved_meta
from octoroute.serve.asking import Asking
from octoroute.serve.errors import ApiError
from octoroute.serve.protocol import parse_chat
from octoroute.serve.service import CHAT, Answer, RoutingService, Streaming, check_features
from octoroute.store import open_store
from octoroute.types import ArmErrorKind, Problem
from tests.fakes import Script, builder, scripted_pool

ARMS = {"small": PromptStyle.CHAT, "large": PromptStyle.CHAT}


def _service(
    tmp_path: Path, script: Script, policy: LinUCB | None = None, *, opened: bool = True
) -> RoutingService:
    pool = scripted_pool(ARMS)
    arms = builder(pool, script)
    store = open_store(tmp_path / "log.db")
    service = RoutingService(pool, policy or make_policy("linucb"), make_featurizer("lexical",
                             n_features=32), store, tmp_path / "policy.json",
                             build=arms.__getitem__)  # type: ignore[arg-type]  # fmt: skip
    if opened:
        service.open()
    return service


def _ask(model: str = "octoroute", text: str = "Write add(a, b).") -> object:
    return parse_chat({"model": model, "messages": [{"role": "user", "content": text}]})


def test_a_failing_arm_falls_back_and_every_attempt_is_logged(tmp_path: Path) -> None:
    service = _service(tmp_path, Script([None, "def add(a, b):\n    return a + b\n"]))
    answer = service.chat(_ask())  # type: ignore[arg-type]
    assert answer.failed and answer.failed[0].endswith(":unavailable")
    assert answer.arm != answer.failed[0].split(":")[0] and answer.policy == "fallback"
    attempts = list(service.store.attempts("serve"))
    assert [a.attempt_number for a in attempts] == [1, 2] and attempts[0].error
    last = service.store.decision("serve", CHAT, answer.decision_id)
    assert last is not None and last.chosen_arm == answer.arm and last.step == 1


def test_an_arm_named_is_used_and_an_unknown_model_is_a_404(tmp_path: Path) -> None:
    service = _service(tmp_path, Script(["ok"]))
    answer = service.chat(_ask("large"))  # type: ignore[arg-type]
    assert answer.arm == "large" and answer.policy == "direct" and answer.propensity == 1.0
    with pytest.raises(ApiError) as caught:
        service.chat(_ask("gpt-4"))  # type: ignore[arg-type]
    assert caught.value.status == 404 and caught.value.param == "model"
    assert service.model_ids() == ["octoroute", "octoroute/linucb", "small", "large"]


def test_feedback_is_learned_once_and_saved_with_its_watermark(tmp_path: Path) -> None:
    service = _service(tmp_path, Script(["ok"]))
    answer = service.chat(_ask())  # type: ignore[arg-type]
    first = service.feedback(answer.decision_id, 1.0, "k")
    again = service.feedback(answer.decision_id, 1.0, "k")
    assert first.applied and not again.applied and first.arm == answer.arm
    assert saved_meta(tmp_path / "policy.json")["feedback_applied"] == 1
    with pytest.raises(ApiError) as conflict:
        service.feedback(answer.decision_id, 0.0, "k")
    assert conflict.value.status == 409
    for bad, status in ((("nope", 1.0, None)), 404), ((answer.decision_id, 2.0, None), 400):
        with pytest.raises(ApiError) as caught:
            service.feedback(*bad)
        assert caught.value.status == status


def test_feedback_logged_but_not_saved_is_learned_on_restart(tmp_path: Path) -> None:
    """A crash between logging a reward and saving the state: the restart learns it."""
    service = _service(tmp_path, Script(["ok"]))
    service.save()  # the state before any feedback
    before = (tmp_path / "policy.json").read_bytes()
    answer = service.chat(_ask())  # type: ignore[arg-type]
    service.feedback(answer.decision_id, 1.0, "k")
    (tmp_path / "policy.json").write_bytes(before)  # as if killed before the save
    service.store.close()
    policy = LinUCB.load(tmp_path / "policy.json")
    restarted = _service(tmp_path, Script(["ok"]), policy, opened=False)
    assert restarted.open(0) == 1 and restarted.recover(1) == 0
    assert saved_meta(tmp_path / "policy.json")["feedback_applied"] == 1
    learned = LinUCB.load(tmp_path / "policy.json").state_dict()["arms"][answer.arm]
    assert learned["n"] == 1  # the one reward, learned once


CANARY = "CANARY-hidden-7f3a"
PROBLEM = {
    "id": "add",
    "prompt": 'def add(a, b):\n    """Add a and b: add(1, 2) == 3."""\n',
    "entry_point": "add",
    "tests": [
        {"kind": "call", "input": [1, 2], "expected": 3, "tier": "visible"},
        {"kind": "assert", "input": f"assert add(20, 22) == 42  # {CANARY}"},
    ],
}


def test_a_verified_answer_is_repaired_on_visible_tests_and_graded_on_all(
    tmp_path: Path,
) -> None:
    script = Script(["def add(a, b):\n    return a - b\n", "def add(a, b):\n    return a + b\n"])
    service = _service(tmp_path, script)
    request = parse_chat({"model": "octoroute", "messages": [{"role": "user", "content": "add"}],
                          "octoroute": {"problem": PROBLEM, "max_attempts": 3}})  # fmt: skip
    try:
        answer = service.chat(request)
    finally:
        service.close()
    v = answer.verification
    assert v is not None and v["passed"] and v["tests"] == 2 == v["tests_passed"]
    assert [a["move"] for a in v["attempts"]] == ["fresh", "repair"]
    assert [a["visible_passed"] for a in v["attempts"]] == [False, True]
    assert "return a + b" in answer.text and v["stop"] == "solved"
    # The hidden test graded the program but never reached a model.
    assert script.requests and all(CANARY not in str(sent) for _, sent, _ in script.requests)
    assert saved_meta(tmp_path / "policy.json")["feedback_applied"] == 0  # learned, saved


def test_a_verified_request_to_the_router_plays_the_default_strategy(tmp_path: Path) -> None:
    """With a strategy set, ``octoroute`` plays it (here a cascade: the small arm, then the
    large one afresh after a visible failure); ``octoroute/POLICY`` runs the policy's
    episode, which repairs."""
    wrong, right = "def add(a, b):\n    return a - b\n", "def add(a, b):\n    return a + b\n"
    script = Script([wrong, right, wrong, right])
    service = _service(tmp_path, script)
    service.strategy = Cascade(("small", "large"))
    body = {"messages": [{"role": "user", "content": "add"}], "octoroute": {"problem": PROBLEM}}
    try:
        played = service.chat(parse_chat({"model": "octoroute", **body}))
        policy = service.chat(parse_chat({"model": f"octoroute/{service.policy.name}", **body}))
    finally:
        service.close()
    v = played.verification
    assert v is not None and v["passed"] and played.policy == "cascade small > large"
    assert [(a["arm"], a["move"]) for a in v["attempts"]] == [("small", "fresh"),
                                                             ("large", "fresh")]  # fmt: skip
    w = policy.verification
    assert w is not None and policy.policy == "linucb"
    assert [a["move"] for a in w["attempts"]] == ["fresh", "repair"]


UNCLEAR = 'def f(x):\n    """Ambiguous and vague: unclear what f returns."""\n'
CLEAR = "Write sort_list(xs) returning xs sorted in ascending order."


def _asking(lambda_ask: float = 0.1) -> Asking:
    """An ask model that learned: asking pays on vague requests, not on clear ones."""
    vague = [Problem(f"v{i}", "t", f"{UNCLEAR} case {i}", "f", "", ()) for i in range(12)]
    clear = [Problem(f"c{i}", "t", f"{CLEAR} case {i}", "f", "", ()) for i in range(12)]
    code = np.array([0.0] * 12 + [1.0] * 12)
    model = AskModel(lambda_ask).fit([*vague, *clear], code, np.ones(24))
    return Asking(model, "small")


def test_a_vague_request_is_asked_back_and_the_reply_continues_the_episode(
    tmp_path: Path,
) -> None:
    question, code = "Should f return x squared or x doubled?", "def f(x):\n    return x * x\n"
    script = Script([question, code, "def sort_list(xs):\n    return sorted(xs)\n"])
    service = _service(tmp_path, script, opened=False)
    service.asking = _asking()
    service.open()
    asked = service.chat(_ask(text=UNCLEAR))  # type: ignore[arg-type]
    assert asked.action == "ask" and asked.text == question and asked.policy == "ask"
    turns = [{"role": "user", "content": UNCLEAR}, {"role": "assistant", "content": question},
             {"role": "user", "content": "x squared."}]  # fmt: skip
    coded = service.chat(parse_chat({"model": "octoroute", "messages": turns}))
    assert coded.action == "code" and coded.episode == asked.episode and "x * x" in coded.text
    assert asked.decision_id != coded.decision_id  # each turn takes its own feedback
    sent = script.requests[-1][1]  # the code turn saw the request, the question and the reply
    assert isinstance(sent, list) and "x squared." in sent[-1]["content"]
    assert "`f`" in sent[-1]["content"]  # the function the request names
    routed = service.chat(_ask(text=CLEAR))  # type: ignore[arg-type]
    assert routed.action == "" and routed.policy == "linucb"
    logged = [a for a in service.store.attempts("serve") if a.problem_id == asked.episode]
    assert [(a.attempt_number, a.arm) for a in logged] == [(1, "small"), (2, "user"),
                                                          (3, "small")]  # fmt: skip
    assert [a.parent_attempt_id for a in logged] == [None, logged[0].id, logged[1].id]
    # Feedback on the question and on the code: two decisions, neither teaches the policy.
    before = json.dumps(service.policy.state_dict(), sort_keys=True, default=lambda v: v.tolist())
    assert service.feedback(asked.decision_id, 0.0, None).applied
    assert service.feedback(coded.decision_id, 1.0, None).applied
    assert (
        json.dumps(service.policy.state_dict(), sort_keys=True, default=lambda v: v.tolist())
        == before
    )
    service.close()
    service.store.close()
    # A restarted server still knows the question: a reply to it (sent again) continues the
    # episode, logged as the second reply, nothing overwritten.
    again = _service(tmp_path, Script([code]), opened=False)
    again.asking = _asking()
    again.open()
    replied = again.chat(parse_chat({"model": "octoroute", "messages": turns}))
    assert replied.action == "code" and replied.episode == asked.episode
    logged = [a for a in again.store.attempts("serve") if a.problem_id == asked.episode]
    assert [(a.attempt_number, a.sample_index) for a in logged] == [(1, 0), (2, 0), (3, 0),
                                                                    (2, 1), (3, 1)]  # fmt: skip


def test_asking_needs_its_arm_in_the_pool(tmp_path: Path) -> None:
    pool = scripted_pool(ARMS)
    with pytest.raises(ConfigError, match="asking arm 'huge'"):
        RoutingService(pool, make_policy("linucb"), make_featurizer("lexical"),
                       open_store(":memory:"), tmp_path / "p.json",
                       asking=Asking(_asking().model, "huge"))  # fmt: skip


def test_a_bad_problem_is_a_400_naming_its_field(tmp_path: Path) -> None:
    service = _service(tmp_path, Script(["x"]))
    bad = {**PROBLEM, "tests": [{"kind": "call", "input": [1], "expectd": 2}]}
    request = parse_chat({"model": "octoroute", "messages": [{"role": "user", "content": "add"}],
                          "octoroute": {"problem": bad}})  # fmt: skip
    with pytest.raises(ApiError) as caught:
        service.chat(request)
    assert caught.value.status == 400 and "tests[0]" in (caught.value.param or "")
    unknown = parse_chat({"model": "octoroute", "messages": [{"role": "user", "content": "x"}],
                          "octoroute": {"problem_id": "LeetCode/1"}})  # fmt: skip
    with pytest.raises(ApiError) as missing:
        service.chat(unknown)
    assert missing.value.status == 404


def test_a_stream_falls_back_before_its_first_piece_and_is_logged_after_its_last(
    tmp_path: Path,
) -> None:
    service = _service(tmp_path, Script([None, "def add(a, b):\n    return a + b\n"]))
    request = parse_chat({"model": "octoroute", "stream": True,
                          "messages": [{"role": "user", "content": "add"}]})  # fmt: skip
    streaming = service.stream(request)
    assert streaming.head.failed and streaming.head.policy == "fallback"
    assert len(list(service.store.attempts("serve"))) == 1  # the failure, not yet the answer
    assert "".join(streaming.pieces) == "def add(a, b):\n    return a + b\n"
    assert streaming.finish_reason == "stop"
    attempts = list(service.store.attempts("serve"))
    assert len(attempts) == 2 and attempts[1].arm == streaming.head.arm and not attempts[1].error


def test_an_unexpected_failure_is_an_openai_error_object(tmp_path: Path) -> None:
    """Failure injection through the application: a bug answers 500 in the API's shape."""
    from starlette.testclient import TestClient

    from octoroute.serve.app import create_app

    service = _service(tmp_path, Script(["ok"]))

    def broken(request: object) -> object:
        raise RuntimeError("injected")

    service.chat = broken  # type: ignore[method-assign]
    with TestClient(create_app(service), raise_server_exceptions=False) as client:
        reply = client.post("/v1/chat/completions", json={"model": "octoroute", "messages": [
            {"role": "user", "content": "x"}]})  # fmt: skip
    assert reply.status_code == 500
    assert reply.json()["error"]["code"] == "internal_error" and "injected" not in reply.text


def test_a_streams_decision_is_logged_before_its_pieces_and_a_left_stream_is_cancelled(
    tmp_path: Path,
) -> None:
    service = _service(tmp_path, Script(["def add(a, b):\n    return a + b\n"]))
    request = parse_chat({"model": "octoroute", "stream": True,
                          "messages": [{"role": "user", "content": "add"}]})  # fmt: skip
    streaming = service.stream(request)
    # Feedback may come as soon as the headers are out: the decision is there already.
    assert service.store.decision("serve", CHAT, streaming.head.decision_id) is not None
    pieces = iter(streaming.pieces)
    next(pieces)
    pieces.close()  # type: ignore[attr-defined]  # the client went away
    (attempt,) = service.store.attempts("serve")
    assert attempt.error is ArmErrorKind.CANCELLED and attempt.completion
    linked = service.store.decision("serve", CHAT, streaming.head.decision_id)
    assert linked is not None and linked.attempt_id is not None
    assert service.feedback(streaming.head.decision_id, 0.0, None).applied


class _BreaksOff(ArmBase):
    """An arm that writes one piece, then fails (failure injection)."""

    name, backend, model, style = "brittle", "openai", "x", PromptStyle.CHAT
    sampling = Sampling()
    cost_model = FlopsCost(1)

    def _request_stream(self, payload: Any, sampling: Sampling) -> Generator[str, None, Any]:
        yield "def add(a, b):\n"
        raise ArmFailure(ArmErrorKind.TIMEOUT, "stalled")


def test_an_arm_that_breaks_off_mid_stream_ends_it_with_an_error_event() -> None:
    from octoroute.serve.app import _events

    stream = _BreaksOff().stream([{"role": "user", "content": "add"}])
    head = Answer("d", "brittle", "linucb", 1.0, "", "", 0, 0)
    events = list(_events(Streaming(head, iter(stream), stream)))
    assert '"content": "def add(a, b):\\n"' in events[1]
    assert '"error"' in events[-2] and "timeout: stalled" in events[-2]
    assert events[-1] == "data: [DONE]\n\n"


def test_feedback_on_a_verified_answer_reaches_its_first_decision(tmp_path: Path) -> None:
    script = Script(["def add(a, b):\n    return a + b\n"])
    service = _service(tmp_path, script)
    request = parse_chat({"model": "octoroute", "messages": [{"role": "user", "content": "add"}],
                          "octoroute": {"problem": PROBLEM}})  # fmt: skip
    try:
        answer = service.chat(request)
    finally:
        service.close()
    assert service.feedback(answer.decision_id, 1.0, "k").applied


def test_a_retried_report_is_learned_if_learning_failed_the_first_time(tmp_path: Path) -> None:
    service = _service(tmp_path, Script(["ok"]))
    answer = service.chat(_ask())  # type: ignore[arg-type]
    update = service.policy.update
    service.policy.update = lambda *a: (_ for _ in ()).throw(OSError("disk full"))  # type: ignore[method-assign]
    with pytest.raises(OSError):
        service.feedback(answer.decision_id, 1.0, "k")  # logged, not learned
    service.policy.update = update  # type: ignore[method-assign]
    assert service.feedback(answer.decision_id, 1.0, "k").applied
    assert not service.feedback(answer.decision_id, 1.0, "k").applied


def test_one_server_per_state_and_no_state_on_other_features(tmp_path: Path) -> None:
    service = _service(tmp_path, Script(["ok"]))
    with pytest.raises(RunBusy):
        _service(tmp_path, Script(["ok"]))  # a second server on the same state
    service.save()
    meta = saved_meta(tmp_path / "policy.json")
    check_features(tmp_path / "policy.json", meta, service.featurizer)  # the same: fine
    with pytest.raises(ConfigError, match="other features"):
        check_features(tmp_path / "policy.json", meta, make_featurizer("lexical", n_features=64))
