"""The policy protocol and the template base class every policy derives from.

:class:`BasePolicy` does the work shared by all policies, so that an algorithm module only
says how it scores arms and how it picks among them:

* only the offered arms are considered, and an arm never seen before is registered on the spot
  (a new LLM plugs in as a new arm, with a fresh per-arm model);
* ties are broken, and every random draw is made, by the policy's own
  :class:`numpy.random.Generator`, seeded from ``seed`` (never the global one);
* the propensity of the choice, in (0, 1], is recorded in the :class:`~octoroute.types.Decision`;
* learned state round-trips through a JSON-safe :meth:`~BasePolicy.state_dict` (generator
  included, so a restored policy makes the same next decisions) and is saved atomically.

Constructors are cheap and pure (scikit-learn's contract): ``__init__`` stores its keyword
hyperparameters under their own names and nothing else; learned state is created lazily.
"""

from __future__ import annotations

import abc
import hashlib
import inspect
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Protocol, Self, runtime_checkable

import numpy as np

from octoroute.exceptions import DataError
from octoroute.fileio.atomic import atomic_write
from octoroute.fileio.text import read_json
from octoroute.types import Decision

__all__ = ["ArmModel", "BasePolicy", "Policy", "saved_meta"]

FloatArray = np.ndarray[Any, np.dtype[np.float64]]


@runtime_checkable
class Policy(Protocol):
    """A routing policy: picks one of the offered arms for a context, learns from the reward."""

    def choose(self, context: np.ndarray[Any, Any], arms: Sequence[str]) -> Decision:
        """Pick one of ``arms`` for ``context``."""
        ...

    def update(
        self, decision_or_arm: Decision | str, context: np.ndarray[Any, Any], reward: float
    ) -> Policy:
        """Learn from the reward of one arm on one context; return the policy."""
        ...


class ArmModel(Protocol):
    """Per-arm learned state: JSON-safe through ``to_state``."""

    def to_state(self) -> dict[str, Any]:
        """The model as JSON-safe data."""
        ...


def context_hash(x: FloatArray) -> str:
    """A short stable identifier of a context vector."""
    return hashlib.blake2b(x.tobytes(), digest_size=8).hexdigest()


class BasePolicy(abc.ABC):
    """Template for policies: subclasses implement ``_new_model``, ``_model_from_state``,
    ``_scores`` and ``_update_model``, and may override ``_choose`` (greedy by default).
    """

    name: ClassVar[str] = ""
    """The registry name, recorded in decisions and saved files."""
    learns: ClassVar[bool] = True
    """False for baselines that do not learn from rewards (the conformance check then skips
    the learning test)."""

    seed: int | None

    # -- learned state (created lazily, never in __init__) ------------------------------------

    def _ensure_state(self) -> None:
        if "_models" not in self.__dict__:
            self._models: dict[str, ArmModel] = {}
            self._dim: int | None = None
            self._rng: np.random.Generator = np.random.default_rng(self.seed)

    # -- hooks -------------------------------------------------------------------------------

    @abc.abstractmethod
    def _new_model(self, dim: int) -> ArmModel:
        """A fresh model for a newly registered arm."""

    @abc.abstractmethod
    def _model_from_state(self, data: dict[str, Any]) -> ArmModel:
        """Rebuild a model from its ``to_state`` data."""

    @abc.abstractmethod
    def _scores(self, x: FloatArray, arms: Sequence[str]) -> FloatArray:
        """One score per offered arm (higher is better)."""

    @abc.abstractmethod
    def _update_model(self, model: ArmModel, x: FloatArray, reward: float) -> None:
        """Learn from one reward of the arm ``model`` belongs to."""

    def _predict(self, x: FloatArray, arms: Sequence[str]) -> FloatArray:
        """Each arm's estimated reward, without exploration (used by :meth:`exploit`).

        The default is the score; policies whose score adds exploration override it.
        """
        return self._scores(x, arms)

    def _choose(
        self, x: FloatArray, arms: Sequence[str], scores: FloatArray
    ) -> tuple[int, FloatArray]:
        """Pick an index into ``arms``; return it with every arm's propensity.

        The default is greedy: the best score, ties broken uniformly by the generator.
        """
        return self._greedy(scores)

    # -- helpers for subclasses --------------------------------------------------------------

    def _greedy(self, scores: FloatArray) -> tuple[int, FloatArray]:
        best = np.flatnonzero(scores == scores.max())
        probs = np.zeros(len(scores))
        probs[best] = 1.0 / len(best)
        idx = int(best[0]) if len(best) == 1 else int(self._rng.choice(best))
        return idx, probs

    def _sample(self, probs: FloatArray) -> int:
        """Draw an index from ``probs`` with the policy's generator."""
        u = float(self._rng.random())
        idx = int(np.searchsorted(np.cumsum(probs), u * probs.sum(), side="right"))
        idx = min(idx, len(probs) - 1)
        while probs[idx] <= 0.0:  # guard against rounding at the upper edge
            idx -= 1
        return idx

    def _model(self, arm: str) -> ArmModel:
        return self._models[arm]

    # -- the shared work ---------------------------------------------------------------------

    def _context(self, context: np.ndarray[Any, Any]) -> FloatArray:
        x = np.asarray(context, dtype=np.float64)
        if x.ndim != 1:
            raise ValueError(f"context must be a 1-D vector, got shape {x.shape}")
        if not np.all(np.isfinite(x)):
            raise ValueError("context has non-finite values")
        self._ensure_state()
        if self._dim is None:
            self._dim = int(x.shape[0])
        elif x.shape[0] != self._dim:
            raise ValueError(
                f"context has {x.shape[0]} features, the policy was fitted on {self._dim}"
            )
        return x

    def _register(self, arm: str) -> None:
        if arm not in self._models:
            if not isinstance(arm, str) or not arm:
                raise ValueError(f"arm names are non-empty strings, got {arm!r}")
            assert self._dim is not None  # set by _context, which always runs first
            self._models[arm] = self._new_model(self._dim)

    def choose(self, context: np.ndarray[Any, Any], arms: Sequence[str]) -> Decision:
        """Pick one of ``arms`` for ``context``; unseen arms are registered first."""
        return self._decide(context, arms, explore=True)

    def exploit(self, context: np.ndarray[Any, Any], arms: Sequence[str]) -> Decision:
        """The arm of best estimated reward, without exploration (ties broken by the generator).

        For a policy trained offline and then deployed without learning further, as cross-fitted
        evaluation judges it: exploration only pays when its outcome is learned from.
        """
        return self._decide(context, arms, explore=False)

    def _decide(
        self, context: np.ndarray[Any, Any], arms: Sequence[str], explore: bool
    ) -> Decision:
        arms = list(arms)
        if not arms:
            raise ValueError("no arm offered")
        if len(set(arms)) != len(arms):
            raise ValueError(f"arms offered twice: {arms}")
        x = self._context(context)
        for arm in arms:
            self._register(arm)
        if explore:
            scores = np.asarray(self._scores(x, arms), dtype=np.float64)
            idx, probs = self._choose(x, arms, scores)
        else:
            scores = np.asarray(self._predict(x, arms), dtype=np.float64)
            idx, probs = self._greedy(scores)
        return Decision(
            arm=arms[idx],
            scores={a: float(s) for a, s in zip(arms, scores, strict=True)},
            propensity=float(probs[idx]),
            propensities={a: float(p) for a, p in zip(arms, probs, strict=True)},
            policy=self.name,
            context_hash=context_hash(x),
        )

    def update(
        self, decision_or_arm: Decision | str, context: np.ndarray[Any, Any], reward: float
    ) -> Self:
        """Learn that the arm earned ``reward`` on ``context``; any arm may be updated
        (full-information training updates arms that were not chosen)."""
        arm = decision_or_arm.arm if isinstance(decision_or_arm, Decision) else decision_or_arm
        reward = float(reward)
        if not np.isfinite(reward):
            raise ValueError(f"reward must be finite, got {reward}")
        x = self._context(context)
        self._register(arm)
        self._update_model(self._models[arm], x, reward)
        return self

    # -- parameters, cloning and persistence -------------------------------------------------

    def get_params(self) -> dict[str, Any]:
        """The constructor's keyword hyperparameters, by name."""
        names = [
            p.name
            for p in inspect.signature(type(self).__init__).parameters.values()
            if p.name != "self" and p.kind is not p.VAR_KEYWORD
        ]
        return {n: getattr(self, n) for n in names}

    def clone(self) -> Self:
        """An unfitted copy with the same hyperparameters."""
        return type(self)(**self.get_params())

    @property
    def arms(self) -> tuple[str, ...]:
        """The arms registered so far, in order of appearance."""
        self._ensure_state()
        return tuple(self._models)

    def state_dict(self) -> dict[str, Any]:
        """The learned state as JSON-safe data (generator state included)."""
        self._ensure_state()
        return {
            "policy": self.name,
            "dim": self._dim,
            "arms": {a: m.to_state() for a, m in self._models.items()},
            "rng": self._rng.bit_generator.state,
        }

    def load_state(self, state: Mapping[str, Any]) -> Self:
        """Restore what :meth:`state_dict` returned; return the policy."""
        if state.get("policy") != self.name:
            raise ValueError(f"state is for policy {state.get('policy')!r}, not {self.name!r}")
        self._ensure_state()
        self._dim = None if state["dim"] is None else int(state["dim"])
        self._models = {a: self._model_from_state(m) for a, m in state["arms"].items()}
        self._rng = np.random.default_rng()
        self._rng.bit_generator.state = dict(state["rng"])
        return self

    def save(self, path: str | Path, meta: Mapping[str, Any] | None = None) -> None:
        """Write hyperparameters and state to ``path`` atomically (temporary file, rename),
        with the caller's ``meta`` (JSON data: for example what the state has learned from,
        read back by :func:`saved_meta`)."""
        path = Path(path)
        data = {"policy": self.name, "params": self.get_params(), "state": self.state_dict(),
                "meta": dict(meta or {})}  # fmt: skip
        with atomic_write(path, "w", durable=True) as f:
            json.dump(data, f)

    @classmethod
    def load(cls, path: str | Path) -> Self:
        """Build the policy saved at ``path`` by :meth:`save`."""
        data = read_json(path)
        if not isinstance(data, dict) or data.get("policy") != cls.name:
            found = data.get("policy") if isinstance(data, dict) else None
            raise DataError(path, f"holds policy {found!r}, not {cls.name!r}", field="policy")
        try:
            return cls(**data["params"]).load_state(data["state"])
        except (KeyError, TypeError, ValueError, AttributeError) as exc:  # a state of another shape
            raise DataError(path, f"not a saved {cls.name} policy: {exc!r}") from exc

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({params})"


def saved_meta(path: str | Path) -> dict[str, Any]:
    """The ``meta`` a policy was saved with at ``path`` (empty for files saved without)."""
    data = read_json(path)
    meta = data.get("meta", {}) if isinstance(data, dict) else {}
    if not isinstance(meta, dict):
        raise DataError(path, f"expected an object, found {type(meta).__name__}", field="meta")
    return meta
