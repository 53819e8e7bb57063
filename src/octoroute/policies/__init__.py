"""Routing policies: contextual bandits and the baselines they are judged against.

One algorithm per module, all derived from :class:`BasePolicy`; :data:`POLICIES` maps names to
classes and :func:`check_policy` is the conformance check every policy passes. Policies depend
on numpy only (never on arms, HTTP or the store).

>>> import numpy as np
>>> policy = make_policy("linucb", alpha=0.5, seed=0)
>>> decision = policy.choose(np.array([1.0, 0.0]), ["qwen-1.5b", "qwen-7b"])
>>> policy.update(decision, np.array([1.0, 0.0]), reward=1.0).arms
('qwen-1.5b', 'qwen-7b')
"""

from octoroute.policies.base import BasePolicy, Policy, saved_meta
from octoroute.policies.baselines import (
    BestSingleArm,
    Cheapest,
    FixedArm,
    Largest,
    Oracle,
    RandomPolicy,
)
from octoroute.policies.checks import check_policy
from octoroute.policies.epsilon_greedy import EpsilonGreedy
from octoroute.policies.linucb import LinUCB
from octoroute.policies.registry import POLICIES, make_policy
from octoroute.policies.squarecb import SquareCB
from octoroute.policies.thompson import LinearThompson

__all__ = [
    "BasePolicy",
    "BestSingleArm",
    "Cheapest",
    "EpsilonGreedy",
    "FixedArm",
    "Largest",
    "LinUCB",
    "LinearThompson",
    "Oracle",
    "POLICIES",
    "Policy",
    "RandomPolicy",
    "SquareCB",
    "check_policy",
    "make_policy",
    "saved_meta",
]
