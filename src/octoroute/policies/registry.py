"""Policies by name, for configuration files and the command line.

>>> make_policy("linucb", alpha=0.5)
LinUCB(alpha=0.5, l2=10.0, seed=0)
>>> make_policy("nope")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
octoroute.exceptions.ConfigError: unknown policy 'nope'; known: best_single, cheapest, ...
"""

from __future__ import annotations

import inspect
from typing import Any

from octoroute.exceptions import ConfigError
from octoroute.policies.base import BasePolicy
from octoroute.policies.baselines import (
    BestSingleArm,
    Cheapest,
    FixedArm,
    Largest,
    RandomPolicy,
)
from octoroute.policies.epsilon_greedy import EpsilonGreedy
from octoroute.policies.linucb import LinUCB
from octoroute.policies.squarecb import SquareCB
from octoroute.policies.thompson import LinearThompson

__all__ = ["POLICIES", "make_policy"]

POLICIES: dict[str, type[BasePolicy]] = {
    cls.name: cls
    for cls in (
        BestSingleArm,
        Cheapest,
        EpsilonGreedy,
        FixedArm,
        Largest,
        LinUCB,
        LinearThompson,
        RandomPolicy,
        SquareCB,
    )
}


def make_policy(name: str, **params: Any) -> BasePolicy:
    """Build the policy registered as ``name`` with keyword hyperparameters ``params``."""
    try:
        cls = POLICIES[name]
    except KeyError:
        known = ", ".join(sorted(POLICIES))
        raise ConfigError(f"unknown policy {name!r}; known: {known}") from None
    sig = inspect.signature(cls.__init__)
    try:
        sig.bind(None, **params)
    except TypeError as exc:
        accepted = ", ".join(p for p in sig.parameters if p != "self")
        raise ConfigError(f"policy {name!r}: {exc}; accepted: {accepted}") from None
    return cls(**params)
