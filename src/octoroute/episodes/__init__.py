"""Multi-step routing: the live router, the episode tree, the strategies, the outcome model.

:mod:`.router` runs episodes live (route, generate, judge, repair, learn); :mod:`.tree` rebuilds
the recorded tree of attempts per problem and replays any strategy on it exactly, naming the
nodes it lacks; :mod:`.strategies` holds the learned strategies and their cross-fitted
evaluation; :mod:`.outcome_model` predicts each arm's next attempt passing; :mod:`.fixrate`
counts how often one arm's repair fixes another's failure. Only the router talks to arms and
the sandbox; the rest replays what the outcome log holds.
"""

from octoroute.episodes.fixrate import FixCell, FixRates, fix_rates, fix_rates_from_store, wilson_ci
from octoroute.episodes.outcome_model import (
    OutcomeModel,
    OutcomeModelReport,
    evaluate_outcome_model,
    repair_dataset,
)
from octoroute.episodes.router import Episode, Routed, Router
from octoroute.episodes.strategies import evaluate_strategies, standard_strategies
from octoroute.episodes.tree import EpisodeTree, NodeRequest, Strategy, build_trees

__all__ = [
    "Episode",
    "EpisodeTree",
    "FixCell",
    "FixRates",
    "NodeRequest",
    "OutcomeModel",
    "OutcomeModelReport",
    "Routed",
    "Router",
    "Strategy",
    "build_trees",
    "evaluate_outcome_model",
    "evaluate_strategies",
    "fix_rates",
    "fix_rates_from_store",
    "repair_dataset",
    "standard_strategies",
    "wilson_ci",
]
