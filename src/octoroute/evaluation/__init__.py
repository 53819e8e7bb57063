"""Evaluation: replay routing policies on outcome matrices, with intervals, regret, frontiers.

Layout: :mod:`.outcomes` (the outcome matrix and its loaders), :mod:`.sizes` (parameter counts
of models), :mod:`.problems` (problem texts to featurize), :mod:`.replay` (the online and
cross-fitted regimes), :mod:`.result` (what a replay produced and its report), :mod:`.metrics`
(bootstrap intervals, regret, shares), :mod:`.frontier` (quality-compute frontier, AIQ),
:mod:`.offpolicy` (IPS, SNIPS and doubly robust estimates from logged decisions). Multi-step
episodes, their outcome model and fix rates are :mod:`octoroute.episodes`'.

>>> import numpy as np
>>> m = OutcomeMatrix(("p1", "p2", "p3", "p4"), ("a-1b", "b-7b"),
...                   np.array([[1.0, 1.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]]),
...                   np.array([[1.0, 7.0]] * 4), "params_b", {"a-1b": 1.0, "b-7b": 7.0})
>>> r = replay(m, np.eye(4), "random", mode="cv", seeds=2, folds=2)
>>> r.to_json()["oracle_pass_at_1"]
1.0
"""

from octoroute.evaluation.frontier import (
    DEFAULT_LAMBDAS,
    Frontier,
    FrontierPoint,
    aiq,
    arm_points,
    oracle_point,
    policy_frontier,
    upper_hull,
)
from octoroute.evaluation.metrics import (
    arm_shares,
    bootstrap_ci,
    cumulative_regret,
    paired_bootstrap_ci,
)
from octoroute.evaluation.offpolicy import (
    Estimate,
    doubly_robust,
    fit_reward_model,
    ips,
    one_hot,
    snips,
    target_probabilities,
)
from octoroute.evaluation.outcomes import (
    PARAMS_UNIT,
    OutcomeMatrix,
    from_attempts,
    from_eval_arena,
    from_store,
    load_outcomes,
    read_log,
)
from octoroute.evaluation.problems import align_problems, load_problem_texts, read_prompts_jsonl
from octoroute.evaluation.replay import PolicySpec, replay
from octoroute.evaluation.result import Mode, Reference, ReplayResult
from octoroute.evaluation.sizes import default_sizes, load_sizes, model_sizes, params_from_name

__all__ = [
    "DEFAULT_LAMBDAS",
    "Estimate",
    "Frontier",
    "FrontierPoint",
    "Mode",
    "OutcomeMatrix",
    "PARAMS_UNIT",
    "PolicySpec",
    "Reference",
    "ReplayResult",
    "aiq",
    "align_problems",
    "arm_points",
    "arm_shares",
    "bootstrap_ci",
    "cumulative_regret",
    "default_sizes",
    "doubly_robust",
    "fit_reward_model",
    "from_attempts",
    "from_eval_arena",
    "from_store",
    "ips",
    "load_outcomes",
    "load_problem_texts",
    "load_sizes",
    "model_sizes",
    "one_hot",
    "oracle_point",
    "paired_bootstrap_ci",
    "params_from_name",
    "policy_frontier",
    "read_log",
    "read_prompts_jsonl",
    "replay",
    "snips",
    "target_probabilities",
    "upper_hull",
]
