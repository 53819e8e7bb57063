"""Frozen data model shared by every package: problems, tests and verdicts.

This module imports nothing of octoroute's, so any package may import it.

>>> t = TestCase(kind=TestKind.CALL, tier=Tier.BASE, input=((1, 2),), expected=3)
>>> t.visible
False
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple


class TestKind(enum.StrEnum):
    """How one test exercises a program."""

    CALL = "call"
    """Call the entry point with ``input`` (a tuple of arguments); compare with ``expected``."""
    ASSERT = "assert"
    """Run ``input`` (Python assert statements) in a harness where the entry point is a proxy."""
    STDIO = "stdio"
    """Run the program as ``__main__`` with ``input`` on stdin; compare stdout with ``expected``."""


TestKind.__test__ = False  # type: ignore[attr-defined]  # not a pytest class


class Tier(enum.StrEnum):
    """Which set a test belongs to. Only ``visible`` tests may inform a decision."""

    VISIBLE = "visible"
    BASE = "base"
    PLUS = "plus"


class Compare(enum.StrEnum):
    """How a CALL test's output is judged against the reference output (EvalPlus special cases).

    Every mode but ``POLY_ROOT`` then falls back, as EvalPlus does, on a tolerance for floats
    (``sandbox/compare.py`` has the rules).
    """

    EXACT = "exact"
    """Equal as in Python with exact types (ints and floats compare as numbers, never bools)."""
    SET = "set"
    """Compare as sets (order and duplicates ignored)."""
    POLY_ROOT = "poly_root"
    """The output is a root of the polynomial given as the first argument, within ``atol``."""
    SAME_TYPE = "same_type"
    """Any output of the reference output's type (Mbpp/164: EvalPlus accepts every answer)."""
    EQUAL_OR_ZERO = "equal_or_zero"
    """Equal, or the number zero (Mbpp/295, as EvalPlus judges it)."""
    DIGIT_DISTANCE = "digit_distance"
    """Equal, or equal to EvalPlus's zero-padded digit distance of the arguments (Mbpp/558)."""
    PYRAMID_SURFACE = "pyramid_surface"
    """Equal, or within ``atol`` of EvalPlus's square-pyramid surface formula (Mbpp/581)."""
    PYTHON_EQ = "python_eq"
    """What ``assert output == expected`` says: Python's ``==`` on the plain values, no tolerance
    and no type rule of ours (an assert test of that one shape, run as a call)."""


class Transform(enum.StrEnum):
    """A transformation applied to a CALL output inside the sandbox before it is sent back."""

    NONE = "none"
    NOT_NONE = "not_none"
    """Send ``output is not None``: for tasks whose reference returns a ``re.Match``."""


@dataclass(frozen=True, slots=True)
class TestCase:
    """One test of a problem.

    ``expected`` is the reference output for CALL and STDIO tests (filled in by running the
    reference solution) and unused for ASSERT tests, whose expectations live in their code.
    ``reference_cpu`` is the reference solution's CPU time on this test, measured on the same
    executor; the executor derives the test's time limit from it.
    """

    __test__ = False  # not a pytest class

    kind: TestKind
    tier: Tier
    input: Any
    expected: Any = None
    has_expected: bool = False
    atol: float = 0.0
    compare: Compare = Compare.EXACT
    transform: Transform = Transform.NONE
    reference_cpu: float | None = None
    expected_size: int | None = None
    """Bytes of the reference's encoded output, when it was recorded: a program's reply to this
    test may be a small multiple of it at most (a larger one cannot be equal)."""
    expected_digest: bytes | None = None
    """BLAKE2b-128 of the reference's encoded output, when it was recorded and holds no NaN: a
    reply with the same bytes is the same value, so it passes without being decoded."""

    @property
    def visible(self) -> bool:
        """True for the examples a model may see and a router may use."""
        return self.tier is Tier.VISIBLE


@dataclass(frozen=True, slots=True)
class Problem:
    """A coding problem: prompt, entry point, reference solution and tests.

    ``reference`` is a complete program (prompt stub plus canonical body where the benchmark
    splits them). ``harness`` is trusted Python run before ASSERT tests in the grading harness
    (imports, helper functions the tests call); the candidate never sees it.
    ``program_mode`` is True for stdin/stdout problems, whose programs run as ``__main__``.
    """

    id: str
    benchmark: str
    prompt: str
    entry_point: str
    reference: str
    tests: tuple[TestCase, ...]
    harness: str = ""
    program_mode: bool = False
    metadata: Mapping[str, Any] = field(default_factory=dict)

    @property
    def visible_tests(self) -> tuple[TestCase, ...]:
        """Tests a model and a router may see."""
        return tuple(t for t in self.tests if t.visible)

    @property
    def hidden_tests(self) -> tuple[TestCase, ...]:
        """Tests used only to grade."""
        return tuple(t for t in self.tests if not t.visible)

    @property
    def tiers(self) -> tuple[Tier, ...]:
        """The tiers present, in canonical order."""
        present = {t.tier for t in self.tests}
        return tuple(t for t in Tier if t in present)

    def visible_only(self) -> Problem:
        """What inference may see: a copy without hidden tests, reference solution or metadata.

        Every prompt, feature and stopping decision of an episode is made from this copy; the
        full problem grades the submitted program only. The harness stays (trusted code the
        executor runs before visible assert tests; no prompt or featurizer reads it). Test
        indices in verdicts of the copy count its own tests.

        >>> t = TestCase(TestKind.CALL, Tier.VISIBLE, (1,), 1, has_expected=True)
        >>> tests = (t, replace(t, tier=Tier.BASE))
        >>> p = Problem("P/1", "demo", "", "f", "def f(x): return x", tests)
        >>> v = p.visible_only()
        >>> v.tiers, v.hidden_tests, v.reference
        ((<Tier.VISIBLE: 'visible'>,), (), '')
        """
        return replace(self, tests=self.visible_tests, reference="", metadata={})


class Outcome(enum.StrEnum):
    """What happened on one test."""

    PASS = "pass"
    WRONG_ANSWER = "wrong_answer"
    BAD_OUTPUT_TYPE = "bad_output_type"
    SYNTAX_ERROR = "syntax_error"
    MISSING_ENTRY_POINT = "missing_entry_point"
    RUNTIME_ERROR = "runtime_error"
    TIMEOUT = "timeout"
    MEMORY_LIMIT = "memory_limit"
    OUTPUT_LIMIT = "output_limit"
    CRASH = "crash"
    EARLY_EXIT = "early_exit"
    SANDBOX_VIOLATION = "sandbox_violation"


@dataclass(frozen=True, slots=True)
class TestVerdict:
    """The verdict of one test. ``detail`` names the exception type, signal or reason."""

    __test__ = False  # not a pytest class

    index: int
    tier: Tier
    outcome: Outcome
    detail: str = ""
    cpu_time: float = 0.0

    @property
    def passed(self) -> bool:
        """True when the test passed."""
        return self.outcome is Outcome.PASS


@dataclass(frozen=True, slots=True)
class Feedback:
    """What a repair prompt may show: the first failing *visible* test, never a hidden one.

    Values are ``repr`` strings, trimmed.
    """

    test_index: int
    outcome: Outcome
    input: str
    expected: str
    actual: str
    detail: str = ""
    traceback: str = ""


@dataclass(frozen=True, slots=True)
class Verdict:
    """The judgement of one program on one problem.

    ``passed`` means every hidden test passed (every test when a problem has no hidden ones);
    ``reward`` is 1.0 when passed, else 0.0. ``isolation`` lists the layers that were in force,
    ``flags`` the static observations about the code (information, not a verdict).
    """

    problem_id: str
    tests: tuple[TestVerdict, ...]
    isolation: tuple[str, ...]
    flags: tuple[str, ...] = ()
    feedback: Feedback | None = None
    wall_time: float = 0.0

    def tier_passed(self, tier: Tier) -> bool | None:
        """True if every test of ``tier`` passed; ``None`` if the problem has no such tier."""
        ts = [t for t in self.tests if t.tier is tier]
        return all(t.passed for t in ts) if ts else None

    @property
    def passed(self) -> bool:
        """True when every hidden test (or every test, if none is hidden) passed."""
        hidden = [t for t in self.tests if t.tier is not Tier.VISIBLE]
        graded = hidden or list(self.tests)
        return bool(graded) and all(t.passed for t in graded)

    @property
    def visible_passed(self) -> bool:
        """True when every visible test passed (what an episode may stop on)."""
        return all(t.passed for t in self.tests if t.tier is Tier.VISIBLE)

    @property
    def reward(self) -> float:
        """1.0 for a pass, 0.0 otherwise."""
        return 1.0 if self.passed else 0.0

    def counts(self) -> dict[str, int]:
        """How many tests ended in each outcome."""
        out: dict[str, int] = {}
        for t in self.tests:
            out[t.outcome.value] = out.get(t.outcome.value, 0) + 1
        return out


class ArmErrorKind(enum.StrEnum):
    """Why an arm produced no usable completion (an arm failure, never a code failure)."""

    TIMEOUT = "timeout"
    UNAVAILABLE = "unavailable"
    """Connection refused, DNS failure, server not started."""
    HTTP_ERROR = "http_error"
    """A 4xx/5xx answer that retries did not cure."""
    BAD_RESPONSE = "bad_response"
    """Malformed JSON or a response without the expected fields."""
    EMPTY = "empty"
    """The model returned no text."""
    WRONG_MODEL = "wrong_model"
    """The endpoint serves another model than the one the arm names."""
    CANCELLED = "cancelled"
    """The answer was cut short on our side (a client that left a streamed answer)."""


@dataclass(frozen=True, slots=True)
class Completion:
    """What an arm returned for one request.

    ``cost`` is in ``cost_unit``: ``"flops"`` (2 x parameters x tokens, the default for local
    models) or ``"usd"`` (price per million tokens, hosted APIs). ``error`` is set when the arm
    failed; then ``text`` and ``code`` are empty and the attempt is not judged.
    """

    arm: str
    model: str
    text: str
    code: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency: float = 0.0
    cost: float = 0.0
    cost_unit: str = "flops"
    finish_reason: str = ""
    error: ArmErrorKind | None = None
    error_detail: str = ""

    @property
    def ok(self) -> bool:
        """True when the arm produced text (which may still be wrong code)."""
        return self.error is None


class AttemptKey(NamedTuple):
    """What makes an attempt unique within a run; a resumed run skips the keys it has."""

    benchmark: str
    problem_id: str
    arm: str
    sample_index: int = 0
    attempt_number: int = 1


def _tier_rate(value: bool | None) -> float | None:
    return None if value is None else float(value)


@dataclass(frozen=True, slots=True)
class Attempt:
    """One logged attempt: an arm's completion for a problem and, if judged, its verdicts.

    ``sample_index`` numbers independent samples of the same arm on the same problem (0 for the
    first); ``attempt_number`` is 1 for a fresh attempt and grows along a repair episode, whose
    attempts point at the one they repair through ``parent_attempt_id``.

    ``tests`` is ``None`` when the attempt was not judged (the arm failed: ``error`` is set).
    The tier rates are in [0, 1] and ``None`` when the problem has no such tier: ``pass_visible``
    and ``pass_base`` say whether every test of that tier passed; ``pass_plus`` follows EvalPlus
    and says whether every base *and* plus test passed. They are 0.0 or 1.0 for one judged
    program; a fraction only for imported aggregates (a published pass@1 over several samples),
    which is also why ``reward`` is a float. ``started_at`` and ``finished_at`` are Unix times.
    ``id`` is assigned by the store.

    >>> a = Attempt(run_id="r", benchmark="humaneval", problem_id="HumanEval/0", arm="m")
    >>> a.key.arm, tuple(a.key)
    ('m', ('humaneval', 'HumanEval/0', 'm', 0, 1))
    >>> a.judged, a.tokens
    (False, 0)
    """

    run_id: str
    benchmark: str
    problem_id: str
    arm: str
    sample_index: int = 0
    attempt_number: int = 1
    parent_attempt_id: int | None = None
    prompt_hash: str = ""
    sampling: Mapping[str, Any] = field(default_factory=dict)
    seed: int | None = None
    completion: str = ""
    code: str = ""
    finish_reason: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency: float = 0.0
    cost: float = 0.0
    cost_unit: str = "none"
    error: ArmErrorKind | None = None
    error_detail: str = ""
    tests: tuple[TestVerdict, ...] | None = None
    pass_visible: float | None = None
    pass_base: float | None = None
    pass_plus: float | None = None
    passed: bool | None = None
    reward: float | None = None
    flags: tuple[str, ...] = ()
    isolation: tuple[str, ...] = ()
    exec_time: float = 0.0
    started_at: float = 0.0
    finished_at: float = 0.0
    id: int | None = None

    @property
    def key(self) -> AttemptKey:
        """The attempt's unique key within its run."""
        return AttemptKey(
            self.benchmark, self.problem_id, self.arm, self.sample_index, self.attempt_number
        )

    @property
    def greedy_first(self) -> bool:
        """True for a fresh attempt's greedy first sample (what a one-shot collection makes):
        attempt 1, sample 0, no parent."""
        first = self.attempt_number == 1 and self.parent_attempt_id is None
        return first and self.sample_index == 0

    @property
    def judged(self) -> bool:
        """True when the program was executed against the tests (or an outcome was imported)."""
        return self.passed is not None

    @property
    def tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens

    @classmethod
    def from_parts(
        cls,
        run_id: str,
        problem: Problem,
        completion: Completion,
        verdict: Verdict | None,
        *,
        sample_index: int = 0,
        attempt_number: int = 1,
        parent_attempt_id: int | None = None,
        prompt_hash: str = "",
        sampling: Mapping[str, Any] | None = None,
        started_at: float = 0.0,
        finished_at: float = 0.0,
    ) -> Attempt:
        """Build the attempt to log from what an episode produced.

        ``verdict`` must be ``None`` when the arm failed (an arm error is never judged as code).
        ``sampling`` is the request's settings as logged (``Sampling.record()``); the attempt's
        ``seed`` is the one they hold.

        >>> p = Problem("P/1", "demo", "", "f", "", (TestCase(TestKind.CALL, Tier.BASE, (1,)),))
        >>> c = Completion(arm="m", model="m", text="x", code="x", cost=6.0)
        >>> v = Verdict("P/1", (TestVerdict(0, Tier.BASE, Outcome.PASS),), isolation=())
        >>> a = Attempt.from_parts("run", p, c, v, sampling={"temperature": 0.0, "seed": 1})
        >>> a.passed, a.reward, a.pass_base, a.pass_plus, a.cost_unit, a.seed
        (True, 1.0, 1.0, None, 'flops', 1)
        """
        if completion.error is not None and verdict is not None:
            raise ValueError(f"arm {completion.arm} failed ({completion.error}): nothing to judge")
        if verdict is not None and verdict.problem_id != problem.id:
            raise ValueError(f"verdict is for {verdict.problem_id}, not for {problem.id}")
        sampling = dict(sampling or {})
        return cls(
            run_id=run_id,
            benchmark=problem.benchmark,
            problem_id=problem.id,
            arm=completion.arm,
            sample_index=sample_index,
            attempt_number=attempt_number,
            parent_attempt_id=parent_attempt_id,
            prompt_hash=prompt_hash,
            sampling=sampling,
            seed=sampling.get("seed"),
            completion=completion.text,
            code=completion.code,
            finish_reason=completion.finish_reason,
            prompt_tokens=completion.prompt_tokens,
            completion_tokens=completion.completion_tokens,
            latency=completion.latency,
            cost=completion.cost,
            cost_unit=completion.cost_unit,
            error=completion.error,
            error_detail=completion.error_detail,
            started_at=started_at,
            finished_at=finished_at,
            **_judged_fields(verdict),
        )

    def rejudged(
        self,
        run_id: str,
        problem: Problem,
        verdict: Verdict | None,
        started_at: float,
        finished_at: float,
    ) -> Attempt:
        """This attempt's program judged again on ``problem``, as a first attempt of ``run_id``.

        Everything the arm produced (completion, code, tokens, cost, sampling, prompt hash,
        sample index, arm error) is kept; the benchmark is ``problem``'s, the verdicts and times
        are the new ones. ``verdict`` is ``None`` exactly when the arm failed.

        >>> p = Problem("HumanEval/0", "humaneval+", "", "f", "", ())
        >>> old = Attempt("collect/humaneval", "humaneval", "HumanEval/0", "m",
        ...               error=ArmErrorKind.TIMEOUT, id=7)
        >>> new = old.rejudged("rejudge/humaneval+", p, None, 1.0, 2.0)
        >>> new.run_id, new.benchmark, new.error.value, new.id
        ('rejudge/humaneval+', 'humaneval+', 'timeout', None)
        """
        if problem.id != self.problem_id:
            raise ValueError(f"attempt {tuple(self.key)} cannot be judged on {problem.id}")
        if (verdict is None) != (self.error is not None):
            raise ValueError(
                f"attempt {tuple(self.key)}: judge a program exactly when the arm "
                f"produced one (arm error: {self.error})"
            )
        if verdict is not None and verdict.problem_id != problem.id:
            raise ValueError(f"verdict is for {verdict.problem_id}, not for {problem.id}")
        return replace(
            self,
            run_id=run_id,
            benchmark=problem.benchmark,
            attempt_number=1,
            parent_attempt_id=None,
            started_at=started_at,
            finished_at=finished_at,
            id=None,
            **_judged_fields(verdict),
        )

    def with_verdict(self, verdict: Verdict | None) -> Attempt:
        """This attempt (same run, key, parent and times) with the fields of a new verdict on
        the same problem: what a fixed executor says of the same program.

        >>> old = Attempt("r", "b", "P/1", "m", id=3, error=ArmErrorKind.TIMEOUT)
        >>> old.with_verdict(None) == old
        True
        """
        if (verdict is None) != (self.error is not None):
            raise ValueError(f"attempt {tuple(self.key)}: a verdict exactly when there is code")
        if verdict is not None and verdict.problem_id != self.problem_id:
            raise ValueError(f"verdict is for {verdict.problem_id}, not for {self.problem_id}")
        return replace(self, **_judged_fields(verdict)) if verdict is not None else self


def _judged_fields(verdict: Verdict | None) -> dict[str, Any]:
    """An attempt's fields that come from its verdict (the defaults when not judged)."""
    if verdict is None:
        return {
            "tests": None,
            "pass_visible": None,
            "pass_base": None,
            "pass_plus": None,
            "passed": None,
            "reward": None,
            "flags": (),
            "isolation": (),
            "exec_time": 0.0,
        }
    base = verdict.tier_passed(Tier.BASE)
    plus = verdict.tier_passed(Tier.PLUS)
    return {
        "tests": verdict.tests,
        "pass_visible": _tier_rate(verdict.tier_passed(Tier.VISIBLE)),
        "pass_base": _tier_rate(base),
        "pass_plus": None if plus is None else float(plus and base is not False),
        "passed": verdict.passed,
        "reward": verdict.reward,
        "flags": verdict.flags,
        "isolation": verdict.isolation,
        "exec_time": verdict.wall_time,
    }


@dataclass(frozen=True, slots=True)
class Decision:
    """What a policy chose for one context, and how likely that choice was.

    ``scores`` holds every offered arm's score (the policy's own scale: an upper confidence
    bound, a sampled reward, a predicted reward). ``propensity`` is the probability with which
    the policy chose ``arm`` given the context, in (0, 1], as off-policy estimators need it;
    ``propensities`` gives it for every offered arm (summing to 1) when the policy knows it.
    ``context_hash`` identifies the context vector, to join a decision to its features.

    >>> d = Decision("m", {"m": 0.5, "n": 0.1}, 0.9, {"m": 0.9, "n": 0.1}, "epsilon_greedy")
    >>> d.arm, d.propensity
    ('m', 0.9)
    """

    arm: str
    scores: Mapping[str, float]
    propensity: float
    propensities: Mapping[str, float] | None = None
    policy: str = ""
    context_hash: str | None = None
