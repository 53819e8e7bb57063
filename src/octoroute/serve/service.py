"""What the routing server does per request, apart from HTTP.

:class:`RoutingService` holds the pool, the policy, the featurizer and the outcome log.
:meth:`~RoutingService.chat` featurizes the request's user messages, lets the policy choose an
arm (or takes the arm the client named), has it answer, and when an arm fails tries the next
best one; every attempt and decision is in the log before the answer leaves, under a decision
id. :meth:`~RoutingService.feedback` takes a reward for a decision: it is logged once per
idempotency key, the policy learns from it, and the policy's state is saved atomically with
the id of the last feedback it has learned from, so a server killed at any point and started
again (:meth:`~RoutingService.recover`) learns exactly what was acknowledged, once.

Like :mod:`octoroute.episodes.router`, this module knows arms, features, policies and the log.
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from octoroute.arms.base import ArmBase, Sampling
from octoroute.arms.pool import Pool, register_arms
from octoroute.arms.prompts import flatten_messages
from octoroute.clarify.prompts import ask_messages, code_messages
from octoroute.exceptions import ConfigError, DataError, OctorouteError, StoreConflict
from octoroute.features import Featurizer
from octoroute.policies import BasePolicy
from octoroute.serve.asking import (
    ASK,
    CODE,
    USER,
    Asking,
    Continuation,
    Question,
    register_user,
)
from octoroute.serve.errors import ApiError
from octoroute.serve.protocol import ChatRequest
from octoroute.store import DecisionRecord, Store, hash_text
from octoroute.types import Attempt, Completion, Decision, Problem

if TYPE_CHECKING:
    from octoroute.arms.base import CompletionStream
    from octoroute.episodes.tree import Strategy
    from octoroute.sandbox import Executor

__all__ = [
    "CHAT",
    "ROUTER",
    "Answer",
    "FeedbackResult",
    "RoutingService",
    "Streaming",
    "check_features",
    "describe",
]

CHAT = "chat"
"""The benchmark name under which served requests are logged (one problem per request)."""
ROUTER = "octoroute"
"""The model name that routes (also ``octoroute/POLICY``)."""
BENCHMARKS = {"HumanEval": "humaneval", "Mbpp": "mbpp+"}
"""Problem id prefixes a verified request may name, and the benchmark each is read from."""
MAX_TRIES = 3
"""Arms tried for one request before the server gives up (the chosen one, then the next)."""


@dataclass(frozen=True, slots=True)
class Answer:
    """A served answer: what was said, by which arm, chosen how."""

    decision_id: str
    arm: str
    policy: str
    propensity: float
    text: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    failed: tuple[str, ...] = ()
    """``arm:error`` of each arm that failed before ``arm`` answered."""
    verification: Mapping[str, Any] | None = None
    """For a verified request: the episode's attempts and the submitted program's verdict."""
    action: str = ""
    """``ask`` when the answer is a clarifying question, ``code`` when it is the code written
    after the user's reply to one (:mod:`.asking`); empty otherwise."""
    episode: str = ""
    """For ``ask`` and ``code``: the id of the ask episode the turn belongs to."""


@dataclass(frozen=True, slots=True)
class Streaming:
    """A streamed answer: who answers (``head``, its text empty), the text's ``pieces``, and
    the arm's stream, whose ``completion`` (finish reason, usage) is set once they are out."""

    head: Answer
    pieces: Iterator[str]
    stream: CompletionStream

    @property
    def finish_reason(self) -> str:
        """Why the answer ended (known once every piece is out)."""
        done = self.stream.completion
        return (done.finish_reason if done is not None else "") or "stop"

    @property
    def failure(self) -> str | None:
        """What broke the answer off, once every piece is out (None: it ended well)."""
        done = self.stream.completion
        if done is None or done.ok:
            return None
        return f"{done.error.value if done.error else 'error'}: {done.error_detail}"


@dataclass(frozen=True, slots=True)
class FeedbackResult:
    """A feedback report as acknowledged: ``applied`` is False for a repeated key."""

    decision_id: str
    arm: str
    reward: float
    applied: bool


class RoutingService:
    """Routes chat requests over ``pool`` with ``policy``; logs to ``store``; keeps the
    policy's state at ``state_path``. :meth:`open` before the first request, :meth:`close`
    after the last."""

    def __init__(
        self,
        pool: Pool,
        policy: BasePolicy,
        featurizer: Featurizer,
        store: Store,
        state_path: Path,
        *,
        run_id: str = "serve",
        build: Callable[[str], ArmBase] | None = None,
        strategy: Strategy | None = None,
        asking: Asking | None = None,
    ) -> None:
        if asking is not None and asking.arm not in pool.names:
            raise ConfigError(f"the asking arm {asking.arm!r} is not in the pool "
                              f"({', '.join(pool.names)})")  # fmt: skip
        if asking is not None and USER in pool.names:
            raise ConfigError(f"the pool has an arm named {USER!r}: that name logs users' replies")
        self.pool = pool
        self.asking = asking
        """Clarifying questions (:mod:`.asking`); None: a routed request is never asked back."""
        self.strategy = strategy
        """The episode strategy a verified request to ``octoroute`` plays (the default one);
        None, or a request to ``octoroute/POLICY``: the policy's episode."""
        self.policy = policy
        self.featurizer = featurizer
        self.store = store
        self.state_path = Path(state_path)
        self.run_id = run_id
        self._build = build or pool.build
        self._arms: dict[str, ArmBase] = {}
        self._arms_lock = threading.Lock()
        self._lock = threading.RLock()  # the policy and the feedback watermark
        self._episodes = threading.Lock()
        # Featurizers cache and load lazily (a probe's weights, its projection): one caller at
        # a time, whichever path calls, and apart from the policy's lock.
        self._features = _LockedFeaturizer(featurizer, threading.Lock())
        self.applied = 0
        """Id of the last feedback row the policy has learned from."""
        self._sandbox: Executor | None = None
        self._benchmarks: dict[str, dict[str, Problem]] = {}

    def open(self, applied: int = 0) -> int:
        """Claim the log's serving runs (a second server on the same log stops at once:
        RunBusy), register the pool, learn the feedback logged after row ``applied`` (what a
        crash left unlearned), and save the state; how many reports were caught up."""
        self.store.claim_run(self.run_id)
        self.store.claim_run(self.verified_run)
        self.store.add_run(self.run_id, config={"kind": "serve"}, command="serve")
        register_arms(self.store, self.pool)
        if self.asking is not None:
            register_user(self.store)
            self._reopen_questions()
        caught_up = self.recover(applied)
        with self._lock:
            self.save()
        return caught_up

    @property
    def verified_run(self) -> str:
        """The run the episodes of verified answers are logged in."""
        return f"{self.run_id}/verified"

    # -- models -----------------------------------------------------------------------------

    @property
    def router_names(self) -> tuple[str, ...]:
        """The model names that route: ``octoroute`` and ``octoroute/POLICY``."""
        return (ROUTER, f"{ROUTER}/{self.policy.name}")

    def model_ids(self) -> list[str]:
        """Every model a client may name: the router's, then each arm's."""
        return [*self.router_names, *self.pool.names]

    # -- chat -------------------------------------------------------------------------------

    def chat(self, request: ChatRequest) -> Answer:
        """Answer ``request``: route (or take the named arm), generate, fall back, log; a
        request with tests gets a verified answer (:meth:`solve`)."""
        if request.verified:
            return self.solve(request)
        if self.asking is not None and request.model in self.router_names:
            turn = self._clarify(request, self.asking)
            if turn is not None:
                return turn
        problem, decision, order = self._decide(request)
        failed: list[str] = []
        for step, (name, arm, sampling, chosen) in enumerate(self._tries(request, decision, order)):
            started = time.time()
            completion = arm.generate(list(request.messages), sampling)
            self._log(problem, completion, chosen, step, sampling, started)
            if completion.ok:
                return Answer(problem.id, name, chosen.policy, chosen.propensity,
                              completion.text, completion.finish_reason,
                              completion.prompt_tokens, completion.completion_tokens,
                              tuple(failed))  # fmt: skip
            failed.append(_failure(completion))
        raise ApiError(502, f"no arm could answer ({', '.join(failed)})", code="arms_failed")

    def stream(self, request: ChatRequest) -> Streaming:
        """Like :meth:`chat`, the text passed on as the arm writes it. An arm that fails
        before its first piece hands over to the next; the attempt is logged once its last
        piece has been passed on."""
        problem, decision, order = self._decide(request)
        failed: list[str] = []
        for step, (name, arm, sampling, chosen) in enumerate(self._tries(request, decision, order)):
            started = time.time()
            stream = arm.stream(list(request.messages), sampling)
            pieces = iter(stream)
            first = next(pieces, None)
            if first is None:  # over before any text: the failure is in its completion
                assert stream.completion is not None
                self._log(problem, stream.completion, chosen, step, sampling, started)
                failed.append(_failure(stream.completion))
                continue
            head = Answer(problem.id, name, chosen.policy, chosen.propensity, "", "", 0, 0,
                          tuple(failed))  # fmt: skip
            # The decision is logged before its id leaves in the headers; its attempt when the
            # last piece is out, or when the reader leaves (marked cancelled, with the text
            # passed on), so feedback on a streamed answer always finds it.
            self.store.record_decision(self._record(problem, chosen, step))

            def rest(
                first: str = first, pieces: Iterator[str] = pieces, stream: Any = stream,
                chosen: Decision = chosen, step: int = step, sampling: Sampling = sampling,
                started: float = started,
            ) -> Iterator[str]:  # fmt: skip
                try:
                    yield first
                    yield from pieces
                finally:
                    if stream.completion is None:
                        close = getattr(pieces, "close", None)
                        if close is not None:
                            close()
                    done = stream.completion or stream.cancel()
                    self._log(problem, done, chosen, step, sampling, started)

            return Streaming(head, rest(), stream)
        raise ApiError(502, f"no arm could answer ({', '.join(failed)})", code="arms_failed")

    def _tries(
        self, request: ChatRequest, decision: Decision, order: list[str]
    ) -> Iterator[tuple[str, ArmBase, Sampling, Decision]]:
        """Each arm to try in turn, with its sampling and the decision that sends it there."""
        for step, name in enumerate(order):
            arm = self._arm(name)
            yield name, arm, self._sampling(arm.sampling, request), (
                decision if step == 0 else _fallback(name))  # fmt: skip

    def _decide(self, request: ChatRequest) -> tuple[Problem, Decision, list[str]]:
        """The request as a logged problem, the decision, and the arms to try in order (the
        chosen one, then for a routed request the others, best scored first)."""
        routed = request.model in self.router_names
        if not routed:
            self._check_model(request)
        problem = Problem(uuid.uuid4().hex, CHAT, request.prompt, "", "", ())
        self.store.add_problems([problem])
        x = self._features.transform_one(problem)
        with self._lock:
            if routed:
                decision = self.policy.choose(x, list(self.pool.names))
            else:
                one = {request.model: 1.0}
                decision = Decision(request.model, one, 1.0, one, "direct")
        order = [decision.arm]
        if routed:
            order += sorted((a for a in self.pool.names if a != decision.arm),
                            key=lambda a: -decision.scores.get(a, -math.inf))  # fmt: skip
        return problem, decision, order[:MAX_TRIES]

    def _check_model(self, request: ChatRequest) -> str:
        """The arm the request names; ApiError 404 if it names neither an arm nor the router."""
        if request.model not in self.pool.names:
            raise ApiError(404, f"model {request.model!r} is not served here (GET /v1/models "
                           "lists the router and every arm)", param="model",
                           code="model_not_found")  # fmt: skip
        return request.model

    def _arm(self, name: str) -> ArmBase:
        with self._arms_lock:  # built once, kept: a local model loads once
            if name not in self._arms:
                self._arms[name] = self._build(name)
            return self._arms[name]

    @staticmethod
    def _sampling(base: Sampling, request: ChatRequest) -> Sampling:
        out = base
        for field in ("temperature", "top_p", "max_tokens", "seed"):
            value = getattr(request, field)
            if value is not None:
                out = replace(out, **{field: value})
        return out.with_stop(request.stop) if request.stop else out

    def _log(
        self,
        problem: Problem,
        completion: Completion,
        decision: Decision,
        step: int,
        sampling: Sampling,
        started: float,
    ) -> None:
        attempt = Attempt.from_parts(
            self.run_id, problem, completion, None, attempt_number=step + 1,
            prompt_hash=hash_text(problem.prompt), sampling=sampling.record(),
            started_at=started, finished_at=time.time(),
        )  # fmt: skip
        self.store.record_attempt(attempt, decision=self._record(problem, decision, step))

    def _record(self, problem: Problem, decision: Decision, step: int) -> DecisionRecord:
        return DecisionRecord(
            self.run_id, CHAT, problem.id, policy=decision.policy, chosen_arm=decision.arm,
            step=step, features_hash=decision.context_hash or "", scores=dict(decision.scores),
            propensities=dict(decision.propensities or {decision.arm: decision.propensity}),
            created=time.time(),
        )  # fmt: skip

    # -- clarifying questions -----------------------------------------------------------------

    def _clarify(self, request: ChatRequest, asking: Asking) -> Answer | None:
        """A question for a first turn the ask model would rather ask about, or the code for a
        turn that replies to one; None: route as usual."""
        going_on = asking.continuation(request.messages)
        if going_on is not None:
            return self._code_after_reply(request, asking, going_on)
        request_text = asking.first_turn(request.messages)
        if request_text is None or not request_text.strip():
            return None
        choice = asking.choose(request_text)
        if not choice.ask:
            return None
        arm = self._arm(asking.arm)
        sampling = self._sampling(arm.sampling, request)
        problem = Problem(uuid.uuid4().hex, CHAT, request_text, "", "", ())
        self.store.add_problems([problem])
        messages = ask_messages(request_text)
        started = time.time()
        completion = arm.generate(messages, sampling)
        chosen = Decision(asking.arm, {asking.arm: choice.p_ask}, 1.0, {asking.arm: 1.0}, ASK)
        asked = self._turn(problem.id, completion, number=1, sample=0, parent=None,
                           decision=chosen, step=0, prompt=flatten_messages(messages),
                           sampling=sampling, started=started)  # fmt: skip
        if not completion.ok:
            return None  # no question: route the request as usual
        asking.remember(request_text, completion.text, Question(problem.id, asked))
        return Answer(f"{problem.id}/0", asking.arm, ASK, 1.0, completion.text.strip(),
                      completion.finish_reason, completion.prompt_tokens,
                      completion.completion_tokens, action="ask", episode=problem.id)  # fmt: skip

    def _code_after_reply(
        self, request: ChatRequest, asking: Asking, going_on: Continuation
    ) -> Answer:
        """Log the user's reply, then the asking arm's code written after it."""
        question = going_on.question
        n = asking.next_reply(question)
        reply = Completion(arm=USER, model=USER, text=going_on.reply, code="")
        replied = self._turn(question.problem_id, reply, number=2, sample=n,
                             parent=question.attempt_id,
                             decision=Decision(USER, {}, 1.0, {USER: 1.0}, USER),
                             step=1 + 2 * n, prompt=going_on.text)  # fmt: skip
        arm = self._arm(asking.arm)
        sampling = self._sampling(arm.sampling, request)
        messages = code_messages(going_on.request, going_on.text, going_on.reply,
                                 going_on.entry_point)  # fmt: skip
        started = time.time()
        completion = arm.generate(messages, sampling)
        step = 2 + 2 * n
        self._turn(question.problem_id, completion, number=3, sample=n, parent=replied,
                   decision=Decision(asking.arm, {}, 1.0, {asking.arm: 1.0}, CODE), step=step,
                   prompt=flatten_messages(messages), sampling=sampling,
                   started=started)  # fmt: skip
        if not completion.ok:
            raise ApiError(502, f"the asking arm could not answer ({_failure(completion)})",
                           code="arms_failed")  # fmt: skip
        return Answer(f"{question.problem_id}/{step}", asking.arm, CODE, 1.0, completion.text,
                      completion.finish_reason, completion.prompt_tokens,
                      completion.completion_tokens, action="code",
                      episode=question.problem_id)  # fmt: skip

    def _turn(
        self,
        problem_id: str,
        completion: Completion,
        *,
        number: int,
        sample: int,
        parent: int | None,
        decision: Decision,
        step: int,
        prompt: str,
        sampling: Sampling | None = None,
        started: float | None = None,
    ) -> int:
        """Log one turn of an ask episode (attempt ``number``, the ``sample``-th of its kind,
        under ``parent``; ``prompt``: what it was written from); its attempt id."""
        problem = Problem(problem_id, CHAT, "", "", "", ())
        now = time.time()
        attempt = Attempt.from_parts(
            self.run_id, problem, completion, None, attempt_number=number,
            parent_attempt_id=parent, sample_index=sample, prompt_hash=hash_text(prompt),
            sampling=(sampling or Sampling()).record(), started_at=started or now,
            finished_at=now,
        )  # fmt: skip
        if not self.store.record_attempt(attempt, decision=self._record(problem, decision, step)):
            raise StoreConflict(f"{self.store.path}: ask episode {problem_id} already holds "
                                f"attempt {tuple(attempt.key)}")  # fmt: skip
        logged = self.store.attempt_id(self.run_id, attempt.key)
        assert logged is not None  # just recorded
        return logged

    def _reopen_questions(self) -> None:
        """The questions asked before a restart, with their replies counted, so that a reply
        still continues its episode."""
        assert self.asking is not None
        decisions = self.store.decisions(self.run_id)
        replies = Counter(d.problem_id for d in decisions if d.policy == USER)
        for d in decisions:
            if d.policy == ASK and d.attempt_id is not None:
                asked = self.store.get_attempt(d.attempt_id)
                request = self.store.prompt(CHAT, d.problem_id)
                if asked is not None and asked.error is None and asked.completion and request:
                    question = Question(d.problem_id, d.attempt_id, replies[d.problem_id])
                    self.asking.remember(request, asked.completion, question)

    # -- verified answers -------------------------------------------------------------------

    def solve(self, request: ChatRequest) -> Answer:
        """Run an episode on the request's problem: route, generate, judge in the sandbox,
        repair within the caps; answer with the submitted program and its verdicts. Only the
        visible tests reach a model. To ``octoroute`` the episode is the default strategy's
        (:attr:`strategy`, when set); to ``octoroute/POLICY`` or an arm, the policy's, which
        learns from each attempt's visible verdict. Episodes run one at a time."""
        from octoroute.episodes.router import Router
        from octoroute.sandbox import prepare

        offered = None if request.model in self.router_names else [self._check_model(request)]
        problem = self._problem(request)
        self.store.add_problems([problem])
        # One episode at a time (one sandbox); other requests go on meanwhile: the router
        # reaches the shared policy only through the lock.
        with self._episodes:
            executor = self._executor()
            (prepared,) = prepare([problem], executor, None)
            shared = cast(BasePolicy, _Locked(self.policy, self._lock))
            router = Router(self.pool, shared, cast(Featurizer, self._features), executor,
                            self.store, run_id=self.verified_run, build=self._arm)  # fmt: skip
            if request.model == ROUTER and self.strategy is not None:
                episode = router.play(prepared, self.strategy, request.max_attempts,
                                      request.budget)  # fmt: skip
            else:
                episode = router.solve(prepared, request.max_attempts, request.budget, offered)
            with self._lock:
                self.save()
        if not episode.steps:
            raise ApiError(502, "no arm could answer", code="arms_failed")
        first = episode.steps[0].decision
        shown = episode.steps[episode.submitted if episode.submitted is not None else -1]
        code = episode.code
        grade = episode.grade
        verification = {
            "passed": bool(grade and grade.passed),
            "tests": 0 if grade is None else len(grade.tests),
            "tests_passed": 0 if grade is None else sum(t.passed for t in grade.tests),
            "stop": episode.stop.value,
            "cost": episode.cost,
            "cost_unit": episode.cost_unit,
            "attempts": [
                {"arm": s.decision.arm, "move": "fresh" if s.parent is None else "repair",
                 "visible_passed": None if s.visible is None else s.visible.visible_passed}
                for s in episode.steps
            ],
        }  # fmt: skip
        attempt = shown.attempt
        return Answer(problem.id, shown.decision.arm, first.policy, first.propensity,
                      f"```python\n{code}```\n" if code else "", "stop",
                      attempt.prompt_tokens, attempt.completion_tokens,
                      verification=verification)  # fmt: skip

    def _problem(self, request: ChatRequest) -> Problem:
        """The request's problem under a fresh id (the log keys problems by id)."""
        from octoroute.fileio.records import Record
        from octoroute.tasks.jsonl import problem_from_record

        if request.problem is not None:
            record = Record("request", 1, request.problem, prefix="octoroute.problem.")
            try:
                problem = problem_from_record(record, CHAT)
            except DataError as e:
                raise ApiError(400, str(e), param=e.field, code="invalid_problem") from None
        else:
            problem = self._benchmark_problem(str(request.problem_id))
        meta = {**problem.metadata, "source_id": problem.id, "source": problem.benchmark}
        return replace(problem, id=uuid.uuid4().hex, benchmark=CHAT, metadata=meta)

    def _benchmark_problem(self, problem_id: str) -> Problem:
        from octoroute.tasks import load_benchmark

        name = BENCHMARKS.get(problem_id.split("/")[0])
        if name is None:
            raise ApiError(404, f"problem {problem_id!r}: known prefixes are "
                           f"{', '.join(BENCHMARKS)}", param="octoroute.problem_id",
                           code="problem_not_found")  # fmt: skip
        if name not in self._benchmarks:
            try:
                self._benchmarks[name] = {p.id: p for p in load_benchmark(name)}
            except OctorouteError as e:
                raise ApiError(404, f"benchmark {name}: {e}", param="octoroute.problem_id",
                               code="problem_not_found") from None  # fmt: skip
        found = self._benchmarks[name].get(problem_id)
        if found is None:
            raise ApiError(404, f"no problem {problem_id!r} in {name}",
                           param="octoroute.problem_id", code="problem_not_found")  # fmt: skip
        return found

    def _executor(self) -> Executor:
        from octoroute.sandbox import Executor

        if self._sandbox is None:
            self._sandbox = Executor(workers=1)
        return self._sandbox

    # -- feedback ---------------------------------------------------------------------------

    def feedback(self, decision_id: str, reward: float, key: str | None) -> FeedbackResult:
        """Log ``reward`` for the decision and learn from it, once per ``key`` (default: the
        decision id, so a decision takes one reward)."""
        if not math.isfinite(reward) or not 0.0 <= reward <= 1.0:
            raise ApiError(400, f"expected a reward from 0 to 1, found {reward!r}",
                           param="reward", code="invalid_value")  # fmt: skip
        record = self._decision(decision_id)
        if record is None or record.id is None:
            raise ApiError(404, f"no decision {decision_id!r} was made here",
                           param="decision_id", code="decision_not_found")  # fmt: skip
        with self._lock:
            try:
                fb = self.store.record_feedback(record.id, reward, key or f"decision:{decision_id}")
            except StoreConflict as e:
                raise ApiError(409, str(e), param="Idempotency-Key", code="conflict") from e
            # A report logged before a failure to learn it is learned by its retry.
            learn = fb.id > self.applied
            if learn:
                self._learn(record, fb.reward, fb.id)
        return FeedbackResult(decision_id, record.chosen_arm, fb.reward, learn)

    def _decision(self, decision_id: str) -> DecisionRecord | None:
        """The decision a feedback report names: a chat answer's last (the arm that answered),
        a verified answer's first (the router's own choice), or an ask episode's turn
        (``EPISODE/STEP``)."""
        episode, _, step = decision_id.partition("/")
        if step.isdigit():
            return self.store.decision(self.run_id, CHAT, episode, step=int(step))
        found = self.store.decision(self.run_id, CHAT, decision_id)
        return found or self.store.decision(self.verified_run, CHAT, decision_id, step=0)

    def _learn(self, record: DecisionRecord, reward: float, feedback_id: int) -> None:
        """Update the policy (the lock held) and save its state with the watermark. Only what
        routing chose teaches the policy (its own choice, a fallback, an arm the client named);
        a reward for an ask turn or a strategy's episode is logged, not learned."""
        if record.policy in (self.policy.name, "fallback", "direct"):
            prompt = self.store.prompt(CHAT, record.problem_id) or ""
            problem = Problem(record.problem_id, CHAT, prompt, "", "", ())
            self.policy.update(record.chosen_arm, self._features.transform_one(problem), reward)
        self.applied = max(self.applied, feedback_id)
        self.save()

    def save(self) -> None:
        """Write the policy's state, its features and the feedback watermark atomically."""
        meta = {"feedback_applied": self.applied, "featurizer": describe(self.featurizer)}
        self.policy.save(self.state_path, meta=meta)

    def recover(self, applied: int) -> int:
        """Learn from the feedback logged after row ``applied`` (acknowledged before a crash,
        not yet in the saved state); how many were applied."""
        self.applied = applied
        pending = [f for f in self.store.feedback() if f.id > applied]
        if not pending:
            return 0
        runs = (self.run_id, self.verified_run)
        by_id = {d.id: d for run in runs for d in self.store.decisions(run)}
        learned = 0
        with self._lock:
            for fb in pending:
                record = by_id.get(fb.decision_id)
                if record is not None:
                    self._learn(record, fb.reward, fb.id)
                    learned += 1
        return learned

    def close(self) -> None:
        """Stop the arms' servers and models."""
        with self._arms_lock:
            arms, self._arms = list(self._arms.values()), {}
        for arm in arms:
            arm.close()
        if self._sandbox is not None:
            self._sandbox.close()
            self._sandbox = None

    def describe(self) -> dict[str, Any]:
        """What ``GET /health`` reports."""
        return {"status": "ok", "policy": self.policy.name, "arms": list(self.pool.names),
                "feedback_applied": self.applied}  # fmt: skip


def describe(featurizer: Featurizer) -> dict[str, Any]:
    """What a policy's contexts are made of, saved with its state: a state learned on other
    features cannot route on these."""
    return {"name": getattr(featurizer, "name", ""), **featurizer.get_params()}


def check_features(state: Path, meta: Mapping[str, Any], featurizer: Featurizer) -> None:
    """Refuse (ConfigError) to go on from a state saved with other features."""
    learned_on = meta.get("featurizer")
    if learned_on is not None and learned_on != describe(featurizer):
        name = learned_on.get("name") if isinstance(learned_on, dict) else learned_on
        raise ConfigError(
            f"{state}: the policy learned on other features ({name!r}); start with the "
            "--featurizer it was started with, or with a new --state"
        )


def _fallback(arm: str) -> Decision:
    """The decision to try ``arm`` after the chosen one failed (no policy chose it)."""
    return Decision(arm, {arm: 1.0}, 1.0, None, "fallback")


def _failure(completion: Completion) -> str:
    """``arm:error`` for the fallback header."""
    return f"{completion.arm}:{completion.error.value if completion.error else 'error'}"


class _Locked:
    """A policy whose choices and updates take ``lock``, for a caller (the episode router)
    that does not know other threads share it; everything else is the policy's."""

    def __init__(self, policy: BasePolicy, lock: threading.RLock) -> None:
        self._policy = policy
        self._lock = lock

    def choose(self, x: Any, arms: Any) -> Decision:
        with self._lock:
            return self._policy.choose(x, arms)

    def update(self, decision: Any, x: Any, reward: float) -> None:
        with self._lock:
            self._policy.update(decision, x, reward)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._policy, name)


class _LockedFeaturizer:
    """A featurizer whose calls take ``lock`` (it may cache and load lazily); everything else
    is the featurizer's."""

    def __init__(self, featurizer: Featurizer, lock: threading.Lock) -> None:
        self._featurizer = featurizer
        self._lock = lock

    def transform_one(self, problem: Problem) -> Any:
        with self._lock:
            return self._featurizer.transform_one(problem)

    def transform(self, problems: Any) -> Any:
        with self._lock:
            return self._featurizer.transform(problems)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._featurizer, name)
