"""Selection rules and consensus: which candidate an episode submits, replayed on trees."""

from __future__ import annotations

from pathlib import Path

from octoroute.collection.signatures import behaviour_signatures
from octoroute.episodes.inputs import selection_inputs
from octoroute.episodes.selection import Consensus, MostVisible
from octoroute.episodes.tree import EpisodeTree, Vote, build_trees, replay_episode
from octoroute.sandbox import Executor, prepare
from octoroute.tasks import load_benchmark
from octoroute.types import Attempt, Outcome, Problem, TestCase, TestKind, TestVerdict, Tier


def _attempt(i: int, arm: str, visible: tuple[bool, ...], passed: bool, k: int = 0) -> Attempt:
    tests = tuple(TestVerdict(j, Tier.VISIBLE, Outcome.PASS if ok else Outcome.WRONG_ANSWER)
                  for j, ok in enumerate(visible))  # fmt: skip
    return Attempt("r", "b", "p", arm, sample_index=k, tests=tests, passed=passed, cost=1.0,
                   id=i, code=f"# {i}")  # fmt: skip


def test_most_visible_takes_the_best_and_the_latest_on_ties() -> None:
    a, b, c = (_attempt(1, "x", (True, False), False), _attempt(2, "y", (True, True), True),
               _attempt(3, "z", (True, True), False))  # fmt: skip
    assert MostVisible().choose([a, b, c]) is c
    assert MostVisible().choose([a]) is a
    assert MostVisible().choose([]) is None


def test_consensus_takes_the_largest_reliable_group_of_the_visible_best() -> None:
    one, two, three, four = (_attempt(1, "x", (True,), True), _attempt(2, "y", (True,), True),
                             _attempt(3, "z", (True,), False), _attempt(4, "w", (False,), True))  # fmt: skip
    sigs = {1: "s", 2: "s", 3: "t", 4: "s"}
    assert Consensus(sigs).choose([one, two, three, four]) is two  # four failed a visible test
    # A reliable arm outweighs two unreliable ones.
    weighted = Consensus(sigs, {"x": 0.1, "y": 0.1, "z": 0.9})
    assert weighted.choose([one, two, three]) is three
    # Without signatures every candidate is its own group: the latest wins the tie.
    assert Consensus({}).choose([one, two, three]) is three
    # Fitted, an arm the training problems never measured counts 1/2, not more.
    assert Consensus({1: "s", 3: "t"}, {"x": 0.6}).choose([one, three]) is one


def test_consensus_fits_each_arms_reliability_on_training_trees() -> None:
    p = Problem("p", "b", "", "f", "", ())
    tree = EpisodeTree(p)
    tree.fresh[("x", 0)] = _attempt(1, "x", (True,), True)
    tree.fresh[("y", 0)] = _attempt(2, "y", (True,), False)
    fitted = Consensus({}).fitted([tree])
    assert fitted.reliability == {"x": 2 / 3, "y": 1 / 3}


def test_a_vote_goes_on_after_a_visible_pass_and_consensus_picks() -> None:
    test = TestCase(TestKind.CALL, Tier.VISIBLE, (1,))
    p = Problem("p", "b", "def f(x):\n", "f", "", (test,))
    nodes = [_attempt(1, "big", (True,), True), _attempt(2, "big", (True,), True, k=1),
             _attempt(3, "big", (True,), False, k=2)]  # fmt: skip
    (tree,) = build_trees(nodes, [p]).values()
    vote = Vote(("big",) * 3)
    plain = replay_episode(tree, vote, max_attempts=3)
    assert plain.path == ("big",) * 3 and not plain.passed  # most visible: the latest
    agree = replay_episode(tree, vote, max_attempts=3, select=Consensus({1: "a", 2: "a", 3: "b"}))
    assert agree.passed and agree.checked


def test_signatures_group_programs_that_answer_alike(tmp_path: Path) -> None:
    with Executor(workers=1) as ex:
        (p,) = prepare(load_benchmark("humaneval")[:1], ex, tmp_path / "cache")
        assert len(selection_inputs(p, 8)) > len(p.visible_tests)
        right = p.reference
        same = right + "\n# another spelling of the same function\n"
        wrong = right.replace("< threshold", "<= threshold")
        crash = "def has_close_elements(numbers, threshold):\n    raise ValueError(numbers)\n"
        # Another program failing alike: the same exception type, another message and line.
        crash2 = "def has_close_elements(numbers, threshold):\n    x = 1\n    raise ValueError(x)\n"
        tree = EpisodeTree(p)
        for i, code in enumerate((right, same, wrong, crash, crash2)):
            verdict = ex.check(p, code)
            tree.fresh[("a", i)] = Attempt("r", p.benchmark, p.id, "a", code=code, id=i + 1,
                                           tests=verdict.tests, passed=verdict.passed)  # fmt: skip
        sigs = behaviour_signatures(ex, [tree], 8)
    assert sigs[1] == sigs[2] and len({sigs[1], sigs[3], sigs[4]}) == 3
    assert sigs[4] == sigs[5]
