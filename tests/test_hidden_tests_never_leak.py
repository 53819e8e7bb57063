"""Hidden tests never reach a prompt, a feature, a feedback or a stopping decision.

A problem's hidden tests (and its reference and metadata) carry canary strings. An episode runs
through the real sandbox with scripted arms that record every request (a wrong program, one
that raises with its input in the message, then a correct one), and featurizers that record
every input. The canary must appear nowhere the episode decided from; and with the hidden
tests altered so that the same final program fails them, every decision, prompt, feature
vector and the stop are identical: only the grade differs.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from octoroute.arms.base import PromptStyle
from octoroute.episodes.router import Episode, Router, StopReason
from octoroute.features import LexicalFeaturizer, Trajectory, TrajectoryFeaturizer
from octoroute.features.base import FloatArray
from octoroute.policies import LinUCB
from octoroute.sandbox import Executor
from octoroute.store import open_store
from octoroute.types import Problem, TestCase, TestKind, Tier
from tests.fakes import Script, builder, scripted_pool

CANARY = "CANARY_7f3a9c1e"
PROMPT = 'def tag(s: str) -> str:\n    """Return s with "!" appended.\n    >>> tag("a")\n    \'a!\'\n    """\n'
WRONG = "```python\ndef tag(s):\n    return s\n```"
RAISES = '```python\ndef tag(s):\n    raise ValueError("bad input " + s)\n```'
RIGHT = '```python\ndef tag(s):\n    return s + "!"\n```'


def _problem(hidden_pass: bool) -> Problem:
    """The problem; its hidden expectations match ``RIGHT`` only when ``hidden_pass``."""

    def want(s: str) -> str:
        return s + "!" if hidden_pass else s + "?"

    a, b, c = f"{CANARY}_a", f"{CANARY}_b", f"{CANARY}_c"
    visible = (
        TestCase(TestKind.CALL, Tier.VISIBLE, ("a",), "a!", has_expected=True),
        TestCase(TestKind.CALL, Tier.VISIBLE, ("bc",), "bc!", has_expected=True),
    )
    hidden = (
        TestCase(TestKind.CALL, Tier.BASE, (a,), want(a), has_expected=True),
        TestCase(TestKind.ASSERT, Tier.BASE, f"assert tag({b!r}) == {want(b)!r}"),
        TestCase(TestKind.CALL, Tier.PLUS, (c,), want(c), has_expected=True),
    )
    return Problem(
        "leak/0",
        "leak",
        PROMPT,
        "tag",
        f'def tag(s):\n    return s + "!"  # {CANARY}_reference\n',
        # Hidden tests first, so visible indices differ between the problem and its view.
        hidden + visible,
        metadata={"note": f"{CANARY}_metadata"},
    )


class RecordingLexical(LexicalFeaturizer):
    """A lexical featurizer that records every problem it is given."""

    def __init__(self, n_features: int = 64) -> None:
        super().__init__(n_features=n_features)
        self.seen: list[Problem] = []

    def transform_one(self, problem: Problem) -> FloatArray:
        self.seen.append(problem)
        return super().transform_one(problem)


class RecordingTrajectory(TrajectoryFeaturizer):
    """A trajectory featurizer that records every trajectory and vector."""

    def __init__(self, base: Any, arms: Any, cost_scale: float = 1e9) -> None:
        super().__init__(base, arms, cost_scale)
        self.seen: list[tuple[Trajectory, FloatArray]] = []

    def transform_trajectory(self, trajectory: Trajectory) -> FloatArray:
        x = super().transform_trajectory(trajectory)
        self.seen.append((trajectory, x))
        return x


@dataclass
class Run:
    episode: Episode
    script: Script
    lexical: RecordingLexical
    trajectory: RecordingTrajectory


@pytest.fixture(scope="module")
def executor() -> Iterator[Executor]:
    with Executor(workers=1) as ex:
        yield ex


def _run(executor: Executor, tmp_path: Path, hidden_pass: bool) -> Run:
    pool = scripted_pool({"chatty": PromptStyle.CHAT, "plain": PromptStyle.COMPLETION})
    script = Script([WRONG, RAISES, RIGHT])
    arms = builder(pool, script)
    lexical = RecordingLexical()
    trajectory = RecordingTrajectory(lexical, pool.names)
    with open_store(tmp_path / f"log-{hidden_pass}.db") as store:
        router = Router(pool, LinUCB(alpha=1.0, seed=0), lexical, executor, store,
                        run_id="leak", build=arms.__getitem__,
                        repair_policy=LinUCB(alpha=1.0, seed=1),
                        trajectory_featurizer=trajectory)  # fmt: skip
        episode = router.solve(_problem(hidden_pass), max_attempts=4)
        logged = {a.id: a for a in store.attempts("leak")}
        decisions = store.decisions("leak")
    # The log links each repair to the attempt it repairs, and each decision to its attempt.
    assert [a.attempt_number for a in logged.values()] == [1, 2, 3]
    assert [a.parent_attempt_id for a in logged.values()] == [None, *list(logged)[:2]]
    assert [d.step for d in decisions] == [0, 1, 2]
    assert [d.attempt_id for d in decisions] == list(logged)
    return Run(episode, script, lexical, trajectory)


@pytest.fixture(scope="module")
def runs(executor: Executor, tmp_path_factory: pytest.TempPathFactory) -> tuple[Run, Run]:
    tmp = tmp_path_factory.mktemp("leak")
    return _run(executor, tmp, hidden_pass=True), _run(executor, tmp, hidden_pass=False)


def test_the_episode_repairs_twice_and_is_graded_on_hidden_tests(runs: tuple[Run, Run]) -> None:
    passing, failing = runs
    for run in runs:
        ep = run.episode
        assert ep.stop is StopReason.SOLVED and len(ep.steps) == 3 and ep.submitted == 2
        assert [s.parent for s in ep.steps] == [None, 0, 1]
        assert [s.visible is not None and s.visible.visible_passed for s in ep.steps] == [
            False, False, True,
        ]  # fmt: skip
        # Every attempt is graded on the hidden tiers too, after the last decision.
        assert all(s.attempt.pass_base is not None for s in ep.steps)
    assert passing.episode.reward == 1.0 and passing.episode.grade is not None
    assert failing.episode.reward == 0.0 and failing.episode.grade is not None
    assert failing.episode.grade.tier_passed(Tier.VISIBLE) is True
    assert failing.episode.grade.tier_passed(Tier.BASE) is False
    # The policies learned from the visible outcome, the only one deployment has.
    assert [s.reward for s in failing.episode.steps] == [0.0, 0.0, 1.0]


def _text(payload: str | list[dict[str, str]]) -> str:
    return payload if isinstance(payload, str) else "\n".join(m["content"] for m in payload)


def test_no_prompt_holds_a_canary(runs: tuple[Run, Run]) -> None:
    for run in runs:
        sent = run.script.requests
        assert len(sent) == 3 and {arm for arm, _, _ in sent} <= {"chatty", "plain"}
        texts = [_text(payload) for _, payload, _ in sent]
        for text in texts:
            assert CANARY not in text
        # The repair prompts show the visible failures (so the check above has teeth).
        assert "Got: 'a'" in texts[1] and "ValueError: bad input a" in texts[2]


def test_featurizers_see_only_visible_data(runs: tuple[Run, Run]) -> None:
    for run in runs:
        assert run.lexical.seen  # step 0 and inside every trajectory vector
        for problem in run.lexical.seen:
            assert not problem.hidden_tests and not problem.reference and not problem.metadata
            assert CANARY not in repr(problem)
        assert len(run.trajectory.seen) == 2  # the two repair decisions
        for trajectory, _ in run.trajectory.seen:
            assert CANARY not in repr(trajectory)
            for step in trajectory.steps:
                assert all(t.tier is Tier.VISIBLE for t in step.tests)


def test_feedback_and_decisions_hold_no_canary(runs: tuple[Run, Run]) -> None:
    for run in runs:
        for step in run.episode.steps:
            assert step.visible is not None
            assert all(t.tier is Tier.VISIBLE for t in step.visible.tests)
            assert CANARY not in repr(step.visible) and CANARY not in repr(step.decision)


def _decided(run: Run) -> list[Any]:
    """Everything the episode decided from and on, without timings."""
    ep = run.episode
    return [
        [(s.decision, s.parent, s.reward, s.attempt.code, s.attempt.prompt_hash) for s in ep.steps],
        [
            [(t.index, t.tier, t.outcome, t.detail) for t in s.visible.tests]
            for s in ep.steps
            if s.visible is not None
        ],
        [s.visible.feedback for s in ep.steps if s.visible is not None],
        [(arm, payload, sampling) for arm, payload, sampling in run.script.requests],
        ep.stop,
        ep.submitted,
        ep.cost,
    ]


def test_hidden_outcomes_change_no_decision(runs: tuple[Run, Run]) -> None:
    passing, failing = runs
    assert _decided(passing) == _decided(failing)
    vectors = [[x for _, x in run.trajectory.seen] for run in runs]
    assert all(np.array_equal(a, b) for a, b in zip(*vectors, strict=True))
    assert passing.episode.reward != failing.episode.reward


def test_consensus_sees_no_hidden_test() -> None:
    """The selection inputs and the candidates' signatures come from the visible examples
    only: the same with the hidden tests altered, or gone, and no canary in any input."""
    from octoroute.collection.signatures import behaviour_signatures
    from octoroute.episodes.inputs import selection_inputs
    from octoroute.episodes.tree import EpisodeTree
    from octoroute.types import Attempt

    made = [selection_inputs(p, 16) for p in (_problem(True), _problem(False))]
    made.append(selection_inputs(_problem(True).visible_only(), 16))
    assert made[0] == made[1] == made[2] and len(made[0]) > 2
    assert CANARY not in repr([t.input for t in made[0]])
    signatures = []
    with Executor(workers=1) as ex:
        for hidden_pass in (True, False):
            tree = EpisodeTree(_problem(hidden_pass))
            for i, text in enumerate((WRONG, RIGHT)):
                code = text.split("```python\n")[1].split("```")[0]
                verdict = ex.check(tree.problem, code)
                tree.fresh[("a", i)] = Attempt("r", "leak", "leak/0", "a", code=code, id=i + 1,
                                               tests=verdict.tests, passed=verdict.passed)  # fmt: skip
            signatures.append(behaviour_signatures(ex, [tree], 16))
    assert signatures[0] == signatures[1] and signatures[0][1] != signatures[0][2]
