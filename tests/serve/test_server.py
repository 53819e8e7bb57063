"""``octoroute serve`` on loopback with the real SmolLM2 arm, called by the official client.

The server runs as its own process (``python -m octoroute serve``), as a user starts it, so
the SIGKILL test kills the real thing. Every request is short (16 tokens).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from octoroute.types import Problem
from tests.local_model import require

require("smollm2-135m", ("xllamacpp", "local"), ("starlette", "serve"), ("openai", "dev"))

import openai  # noqa: E402  (after the skip: the dev extra brings it)

ARM = "smollm2-135m"
KEY = "feedback-secret"
ASK = [{"role": "user", "content": "Write a Python function add(a, b) returning a + b."}]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """One ``octoroute serve`` process on a free loopback port."""

    def __init__(self, state: Path, *extra: str, env: dict[str, str] | None = None) -> None:
        self.state = state
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "OCTOROUTE_API_KEY": KEY, "OCTOROUTE_THREADS": "1", **(env or {})}
        cmd = [sys.executable, "-m", "octoroute", "serve", "--arms", ARM, "--state", str(state),
               "--port", str(self.port), "--max-body", "4096", *extra]  # fmt: skip
        self.log = state / f"server-{self.port}.log"
        with self.log.open("w") as out:  # the child holds its own copy of the descriptor
            self.proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"the server exited: {self.log.read_text()}")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.3)
        raise AssertionError("the server did not answer /health within 120 s")

    def client(self) -> openai.OpenAI:
        return openai.OpenAI(base_url=self.url + "/v1", api_key="unused", max_retries=0,
                             timeout=120)  # fmt: skip

    def stop(self, sig: int = signal.SIGTERM) -> None:
        self.proc.send_signal(sig)
        self.proc.wait(timeout=60)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    s = Server(tmp_path_factory.mktemp("serve"))
    yield s
    s.stop()


def test_the_openai_client_is_routed_and_told_which_arm_answered(server: Server) -> None:
    client = server.client()
    assert {m.id for m in client.models.list()} == {"octoroute", "octoroute/linucb", ARM}
    raw = client.chat.completions.with_raw_response.create(model="octoroute", messages=ASK,
                                                           max_tokens=16)  # type: ignore[arg-type]  # fmt: skip
    answer = raw.parse()
    assert raw.headers["x-octoroute-arm"] == ARM == answer.model
    assert raw.headers["x-octoroute-policy"] == "linucb"
    assert 0.0 < float(raw.headers["x-octoroute-propensity"]) <= 1.0
    assert answer.choices[0].message.content and answer.usage is not None
    assert answer.usage.completion_tokens <= 16
    # Streamed: the same kind of answer in chunks, the arm named in the chunks.
    stream = client.chat.completions.create(model=ARM, messages=ASK, max_tokens=16,
                                            stream=True)  # type: ignore[arg-type]  # fmt: skip
    chunks = list(stream)
    pieces = [
        c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content
    ]
    assert len(pieces) > 1  # passed on as the model writes them, not in one block
    assert chunks[-1].choices[0].finish_reason in ("stop", "length")
    assert {c.model for c in chunks} == {ARM}


def test_feedback_needs_the_key_and_counts_once(server: Server) -> None:
    raw = server.client().chat.completions.with_raw_response.create(
        model="octoroute", messages=ASK, max_tokens=8)  # type: ignore[arg-type]  # fmt: skip
    decision = raw.headers["x-octoroute-decision-id"]
    body = {"decision_id": decision, "reward": 1.0}
    url = server.url + "/v1/feedback"
    refused = httpx.post(url, json=body)
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "invalid_api_key"
    auth = {"Authorization": f"Bearer {KEY}", "Idempotency-Key": f"fb-{decision}"}
    first = httpx.post(url, json=body, headers=auth)
    again = httpx.post(url, json=body, headers=auth)
    assert first.status_code == again.status_code == 200
    assert first.json()["applied"] and not again.json()["applied"]
    assert (
        httpx.post(url, json={"decision_id": "nope", "reward": 1}, headers=auth).status_code == 404
    )


def test_bad_requests_get_openai_error_objects(server: Server) -> None:
    url = server.url + "/v1/chat/completions"
    cases = [
        (httpx.post(url, content=b"{not json"), 400, "invalid_json"),
        (httpx.post(url, json={"model": "octoroute"}), 400, "missing_field"),
        (httpx.post(url, json={"model": "gpt-9", "messages": ASK}), 404, "model_not_found"),
        (httpx.post(url, json={"model": ARM, "messages": ASK, "pad": "x" * 5000}), 413,
         "body_too_large"),
        (httpx.get(server.url + "/v1/nothing"), 404, "not_found"),
    ]  # fmt: skip
    for response, status, code in cases:
        assert response.status_code == status, response.text
        assert response.json()["error"]["code"] == code
    with pytest.raises(openai.NotFoundError):
        server.client().chat.completions.create(model="gpt-9", messages=ASK)  # type: ignore[arg-type]


def test_a_verified_answer_carries_its_verdicts(server: Server) -> None:
    """A request naming a benchmark problem: an episode runs (visible tests only reach the
    model) and the answer says how the submitted program fared on every test."""
    raw = server.client().chat.completions.with_raw_response.create(
        model="octoroute", messages=ASK,
        extra_body={"octoroute": {"problem_id": "HumanEval/0", "max_attempts": 2}},
    )  # type: ignore[arg-type]  # fmt: skip
    assert raw.headers["x-octoroute-verdict"] in ("passed", "failed")
    verification = raw.http_response.json()["octoroute"]
    assert (
        1
        <= len(verification["attempts"])
        <= 2
        == int(raw.headers["x-octoroute-attempts"]) + (2 - len(verification["attempts"]))
    )
    assert verification["tests"] > 0 and verification["cost_unit"] == "flops"


def test_concurrent_clients_are_all_answered(server: Server) -> None:
    client = server.client()

    def ask(i: int) -> str:
        raw = client.chat.completions.with_raw_response.create(
            model="octoroute", max_tokens=8,
            messages=[{"role": "user", "content": f"Write f{i}(x) returning x + {i}."}],
        )  # fmt: skip
        return raw.headers["x-octoroute-decision-id"]

    started = time.monotonic()
    with ThreadPoolExecutor(4) as pool:
        ids = list(pool.map(ask, range(4)))
    assert len(set(ids)) == 4 and time.monotonic() - started < 120


def test_a_killed_server_restarts_with_every_decision_and_reward(tmp_path: Path) -> None:
    first = Server(tmp_path)
    client = first.client()
    decisions = []
    for _ in range(2):
        raw = client.chat.completions.with_raw_response.create(
            model="octoroute", messages=ASK, max_tokens=8)  # type: ignore[arg-type]  # fmt: skip
        decisions.append(raw.headers["x-octoroute-decision-id"])
    auth = {"Authorization": f"Bearer {KEY}", "Idempotency-Key": "only-once"}
    body = {"decision_id": decisions[0], "reward": 1.0}
    assert httpx.post(first.url + "/v1/feedback", json=body, headers=auth).json()["applied"]
    first.stop(signal.SIGKILL)
    second = Server(tmp_path)
    try:
        health = httpx.get(second.url + "/health").json()
        assert health["feedback_applied"] == 1
        retried = httpx.post(second.url + "/v1/feedback", json=body, headers=auth)
        assert retried.status_code == 200 and not retried.json()["applied"]
        meta = json.loads((tmp_path / "policy.json").read_text())["meta"]
        assert meta["feedback_applied"] == 1 and meta["featurizer"]["name"] == "lexical"
    finally:
        second.stop()
    from octoroute.store import open_store

    with open_store(tmp_path / "log.db", create=False, readonly=True) as log:
        logged = {d.problem_id for d in log.decisions("serve")}
        assert set(decisions) <= logged and len(log.feedback()) == 1


def test_a_second_server_on_the_same_state_stops_at_once(server: Server) -> None:
    cmd = [sys.executable, "-m", "octoroute", "serve", "--arms", ARM, "--state",
           str(server.state), "--port", str(_free_port())]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "another octoroute serve uses it" in done.stderr


def _clarify_log(path: Path, problems: list[Problem]) -> None:
    """SmolLM2's clarification log, as clarify-collect and collect write it: coding at once
    passes the originals only; after the oracle's answer every program passes."""
    from octoroute.store import open_store
    from octoroute.types import Attempt, Outcome, TestVerdict, Tier

    def judged(ok: bool) -> tuple[TestVerdict, ...]:
        return (TestVerdict(0, Tier.BASE, Outcome.PASS if ok else Outcome.WRONG_ANSWER),)

    direct, asked = "collect/humanevalcomm", "clarify/humanevalcomm"
    with open_store(path) as store:
        store.add_run(direct, config={})
        store.add_run(asked, config={})
        store.add_problems(problems)
        for arm in (ARM, "oracle"):
            store.add_arm(arm, backend="openai", model=arm, cost_unit="flops")
        for p in problems:
            original = p.id.endswith("/original")
            store.record_attempt(Attempt(direct, p.benchmark, p.id, ARM, tests=judged(original),
                                         passed=original, code="x"))  # fmt: skip
            q = Attempt(asked, p.benchmark, p.id, ARM, completion="?")
            store.record_attempt(q)
            qid = store.attempt_id(asked, q.key)
            a = Attempt(asked, p.benchmark, p.id, "oracle", sample_index=qid, attempt_number=2,
                        parent_attempt_id=qid, completion="!")  # fmt: skip
            store.record_attempt(a)
            aid = store.attempt_id(asked, a.key)
            store.record_attempt(Attempt(asked, p.benchmark, p.id, ARM, sample_index=aid,
                                         attempt_number=3, parent_attempt_id=aid,
                                         tests=judged(True), passed=True, code="y"))  # fmt: skip


def test_a_vague_request_comes_back_as_a_question_and_the_reply_gets_code(
    tmp_path: Path, shared_data: Path
) -> None:
    """With an ask model fitted on a clarification log, the router asks back about a vague
    request (a header says so) and the client's next turn, with the reply, gets the code."""
    from octoroute.tasks.humanevalcomm import load_humanevalcomm

    loaded = load_humanevalcomm(shared_data / "humanevalcomm", plus=shared_data)
    problems = [p for p in loaded if int(p.id.split("/")[1]) < 12]
    log = tmp_path / "clarify.db"
    _clarify_log(log, problems)
    (tmp_path / "state").mkdir()
    server = Server(tmp_path / "state", "--ask-log", str(log), "--ask-arm", ARM,
                    env={"OCTOROUTE_DATA_DIR": str(shared_data)})  # fmt: skip
    try:
        vague = next(p for p in problems if not p.id.endswith("/original"))
        first = [{"role": "user", "content": vague.prompt}]
        raw = server.client().chat.completions.with_raw_response.create(
            model="octoroute", messages=first, max_tokens=16)  # type: ignore[arg-type]  # fmt: skip
        assert raw.headers["x-octoroute-action"] == "ask"
        episode = raw.headers["x-octoroute-episode"]
        question = raw.parse().choices[0].message.content
        assert question
        turns = [*first, {"role": "assistant", "content": question},
                 {"role": "user", "content": "Return the list sorted."}]  # fmt: skip
        raw = server.client().chat.completions.with_raw_response.create(
            model="octoroute", messages=turns, max_tokens=16)  # type: ignore[arg-type]  # fmt: skip
        assert raw.headers["x-octoroute-action"] == "code"
        assert raw.headers["x-octoroute-episode"] == episode
    finally:
        server.stop()
