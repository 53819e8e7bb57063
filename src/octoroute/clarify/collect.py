"""Ask episodes recorded in the outcome log, every turn an attempt, resumable.

For each problem and each arm of the pool (the asker, who also writes the code) and each
simulated user, an episode is three attempts of the run, chained by their parents:

1. the **question**: the arm's completion (``attempt_number`` 1, ``sample_index`` 0), not judged;
2. the **answer**: the user's (``attempt_number`` 2; its arm is the user: ``oracle`` or a pool
   arm; ``sample_index`` the question's id), not judged;
3. the **code**: the arm's program after the answer (``attempt_number`` 3, ``sample_index`` the
   answer's id), judged on the hidden tests;
4. for a user that is an arm, its **rating** of the question, 1 to 3 (``attempt_number`` 4,
   ``sample_index`` the question's id), not judged.

A question serves every user; keys follow the repairs' convention (a child is keyed by its
parent's id), so a run killed at any point and started again adds only what is missing, and
arm failures are retried. An answer imported from a redacted export (:mod:`.redact`) whose
code is missing is made again in memory (the oracle's exactly; an arm's by greedy decoding).
Coding without asking is a plain ``octoroute collect`` of the same benchmark: the replay
(:mod:`.replay`) reads both.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from octoroute.arms.base import ArmBase
from octoroute.arms.pool import ArmRegistry, Pool, register_arms
from octoroute.clarify.episode import ask, original_of, write
from octoroute.clarify.redact import is_redacted
from octoroute.clarify.users import ArmUser, OracleUser, SimulatedUser
from octoroute.exceptions import ConfigError
from octoroute.sandbox import Executor
from octoroute.store import Store, hash_text
from octoroute.types import Attempt, AttemptKey, Completion, Problem

__all__ = ["ORACLE", "AskSummary", "collect_asks", "register_oracle"]

ORACLE = "oracle"
"""The user that answers with the original description (logged as an arm of that name)."""


def register_oracle(registry: ArmRegistry) -> None:
    """Register the oracle user in the log (idempotent): the arm its answers are logged under."""
    registry.add_arm(ORACLE, backend=ORACLE, model="original description", cost_unit="flops")


@dataclass
class AskSummary:
    """What a call of :func:`collect_asks` did: episodes finished, turns logged and skipped."""

    run_id: str
    episodes: int = 0
    logged: int = 0
    skipped: int = 0
    passed: dict[str, int] = field(default_factory=dict)
    """Per user: programs written after its answer that pass the hidden tests."""


def collect_asks(
    store: Store,
    executor: Executor,
    pool: Pool,
    problems: Sequence[Problem],
    users: Sequence[str],
    run_id: str,
    build: Callable[[str], ArmBase] | None = None,
    on_episode: Callable[[str, str, Attempt | None], None] | None = None,
    askers: Sequence[str] | None = None,
) -> AskSummary:
    """Record (or resume) the ask episodes of ``askers`` (default: every arm of ``pool``) on
    ``problems`` (prepared, from the humanevalcomm loader) with each of ``users`` (``oracle``
    or arms of the pool); see the module doc. ``on_episode(arm, user, code_attempt)`` is
    called after each episode."""
    if ORACLE in pool.names:
        raise ConfigError(f"the pool has an arm named {ORACLE!r}: that name is the oracle user's")
    for u in users:
        if u != ORACLE and u not in pool.names:
            raise ConfigError(f"user {u!r}: expected {ORACLE!r} or an arm of the pool "
                              f"({', '.join(pool.names)})")  # fmt: skip
    asking = list(askers) if askers is not None else list(pool.names)
    for a in asking:
        pool.spec(a)  # ConfigError naming the choices
    originals = {p.id: original_of(p) for p in problems}  # every problem must carry its own
    store.claim_run(run_id)
    # Users may be added later (a question serves every user): not part of the config.
    store.add_run(run_id, config={"kind": "clarify", "pool": pool.source},
                  command="clarify-collect")  # fmt: skip
    register_arms(store, pool)
    if ORACLE in users:
        register_oracle(store)
    store.add_problems(problems)
    store.delete_arm_errors(run_id)
    summary = AskSummary(run_id)
    built: dict[str, ArmBase] = {}

    def arm(name: str) -> ArmBase:
        if name not in built:
            built[name] = (build or pool.build)(name)
        return built[name]

    def user_of(name: str) -> SimulatedUser:
        return OracleUser(ORACLE) if name == ORACLE else ArmUser(arm(name))

    def logged(problem: Problem, done: Completion, n: int, key: int, parent: int | None,
               judged: bool) -> Attempt:  # fmt: skip
        """Log one turn (``key`` its sample index); the attempt as stored, with its id."""
        verdict = executor.check(problem, done.code) if judged and done.ok else None
        attempt = Attempt.from_parts(
            run_id, problem, done, verdict, sample_index=key, attempt_number=n,
            parent_attempt_id=parent, prompt_hash=hash_text(f"clarify {n}\0{problem.prompt}"),
            started_at=time.time(), finished_at=time.time(),
        )  # fmt: skip
        store.record_attempt(attempt)
        summary.logged += 1
        found = store.get_attempt(store.attempt_id(run_id, attempt.key) or -1)
        assert found is not None  # just logged
        return found

    def existing(key: AttemptKey) -> Attempt | None:
        found = store.attempt_id(run_id, key)
        return None if found is None else store.get_attempt(found)

    try:
        for name in asking:
            for problem in problems:
                view = problem.visible_only()
                q = existing(AttemptKey(problem.benchmark, problem.id, name, 0, 1))
                if q is None:
                    q = logged(problem, ask(arm(name), view), 1, 0, None, judged=False)
                else:
                    summary.skipped += 1
                for u in users:
                    code = _episode(problem, view, name, u, q, existing, logged, arm, user_of,
                                    originals[problem.id], summary)  # fmt: skip
                    summary.episodes += 1
                    if code is not None and code.passed:
                        summary.passed[u] = summary.passed.get(u, 0) + 1
                    if on_episode is not None:
                        on_episode(name, u, code)
    finally:
        for built_arm in built.values():
            built_arm.close()
    return summary


def _episode(problem: Problem, view: Problem, name: str, user: str, q: Attempt,
             existing: Callable[[AttemptKey], Attempt | None],
             logged: Callable[..., Attempt], arm: Callable[[str], ArmBase],
             user_of: Callable[[str], SimulatedUser], original: str,
             summary: AskSummary) -> Attempt | None:  # fmt: skip
    """The answer and the code of one (arm, user) episode after question ``q``, each made
    unless logged; the code attempt, or None when a turn failed."""
    if q.error is not None or q.id is None:
        return None
    a = existing(AttemptKey(problem.benchmark, problem.id, user, q.id, 2))
    if a is None:
        answer = user_of(user).answer(original, q.completion.strip())
        a = logged(problem, answer, 2, q.id, q.id, judged=False)
    else:
        summary.skipped += 1
    if (
        user != ORACLE
        and existing(AttemptKey(problem.benchmark, problem.id, user, q.id, 4)) is None
    ):
        rater = user_of(user)
        assert isinstance(rater, ArmUser)
        logged(problem, rater.rate(original, view.prompt, q.completion.strip()), 4, q.id, q.id,
               judged=False)  # fmt: skip
    if a.error is not None or a.id is None:
        return None
    c = existing(AttemptKey(problem.benchmark, problem.id, name, a.id, 3))
    if c is None:
        said = a.completion
        if is_redacted(a):  # imported from a redacted export: the answer is made again
            again = user_of(user).answer(original, q.completion.strip())
            if not again.ok:
                return None  # tried again by the next run
            said = again.text
        c = logged(problem, write(arm(name), view, q.completion, said), 3, a.id, a.id,
                   judged=True)  # fmt: skip
    else:
        summary.skipped += 1
    return c
