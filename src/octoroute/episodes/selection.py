"""Which of an episode's candidate programs is submitted: the selection rules.

An episode may make several programs; the hidden tests grade only the one submitted. A rule
sees what inference may see: each candidate's visible verdicts, its arm, and for consensus the
candidate's *behaviour signature* (its outputs on the selection inputs of
:mod:`octoroute.episodes.inputs`, made from the visible examples; computed by running the
candidates, outside replay: :func:`octoroute.collection.signatures.behaviour_signatures`, and
live by :meth:`octoroute.episodes.router.Router.play`).

- :class:`MostVisible`: the candidate that passed the most visible tests, the latest on ties.
- :class:`Consensus`: among the candidates that passed the most visible tests, group those
  with identical outputs on every selection input; submit from the group whose arms are most
  reliable in sum (an arm's reliability: the share of its greedy attempts that passed on the
  training problems, smoothed; every arm counts 1 until fitted, an arm the training problems
  did not measure 1/2), the latest of it. A candidate
  without a signature is a group of its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from octoroute.types import Attempt, Tier

__all__ = ["Consensus", "MostVisible", "Selection", "Signatures", "visible_passes"]

Signatures = Mapping[int, str]
"""Attempt id -> the candidate's behaviour signature on its problem's selection inputs."""


def visible_passes(a: Attempt) -> int:
    """How many visible tests the attempt passed (0 for an unjudged one)."""
    return 0 if a.tests is None else sum(t.passed for t in a.tests if t.tier is Tier.VISIBLE)


class Selection(Protocol):
    """Chooses the submitted program among an episode's candidates."""

    @property
    def name(self) -> str:
        """The rule's name, as reports show it."""
        ...

    def fitted(self, trees: Sequence[Any]) -> Selection:
        """The rule as fitted on training trees (:class:`~octoroute.episodes.tree.EpisodeTree`:
        typed loosely, the tree module builds on this one), itself when nothing is learned."""
        ...

    def choose(self, candidates: Sequence[Attempt]) -> Attempt | None:
        """The submitted program among the judged ``candidates`` (in the order made), or None."""
        ...


@dataclass(frozen=True)
class MostVisible:
    """The candidate with the most visible tests passed, the latest on ties."""

    name: str = "most-visible"

    def fitted(self, trees: Sequence[Any]) -> MostVisible:
        """Nothing to learn."""
        return self

    def choose(self, candidates: Sequence[Attempt]) -> Attempt | None:
        """The best on the visible tests, the latest on ties."""
        judged = [(visible_passes(a), k) for k, a in enumerate(candidates) if a.tests is not None]
        return candidates[max(judged)[1]] if judged else None


@dataclass(frozen=True)
class Consensus:
    """Execution-based consensus among the visible-best candidates (see the module doc)."""

    signatures: Signatures
    reliability: Mapping[str, float] = field(default_factory=dict)
    name: str = "consensus"

    def fitted(self, trees: Sequence[Any]) -> Consensus:
        """The rule with each arm's reliability measured on ``trees`` (training problems):
        (passed + 1) / (greedy attempts + 2) of its greedy fresh attempts."""
        counts: dict[str, list[int]] = {}
        for tree in trees:
            for (arm, k), a in tree.fresh.items():
                if k == 0 and a.tests is not None:
                    c = counts.setdefault(arm, [0, 0])
                    c[0] += bool(a.passed)
                    c[1] += 1
        weights = {arm: (p + 1) / (n + 2) for arm, (p, n) in counts.items()}
        return Consensus(self.signatures, weights, self.name)

    def choose(self, candidates: Sequence[Attempt]) -> Attempt | None:
        """The latest candidate of the most reliable group of alike visible-best candidates."""
        judged = [(k, a) for k, a in enumerate(candidates) if a.tests is not None]
        if not judged:
            return None
        top = max(visible_passes(a) for _, a in judged)
        groups: dict[str, list[tuple[int, Attempt]]] = {}
        for k, a in judged:
            if visible_passes(a) == top:
                sig = f"#{k}" if a.id is None else self.signatures.get(a.id, f"#{k}")
                groups.setdefault(sig, []).append((k, a))

        # Unfitted, every arm counts 1; fitted, an arm the training trees never saw counts as
        # the smoothing prior (1/2), never more than the arms that were measured.
        unseen = 0.5 if self.reliability else 1.0

        def weight(group: list[tuple[int, Attempt]]) -> tuple[float, int]:
            return (sum(self.reliability.get(a.arm, unseen) for _, a in group), group[-1][0])

        return max(groups.values(), key=weight)[-1][1]
