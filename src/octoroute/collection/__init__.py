"""Collection: everything that makes outcome data with the arms, judged in the sandbox and logged.

:mod:`.jobs` is the unit of work (a :class:`Job`, :func:`perform`) and where it runs (a
:class:`Runner`: here, or on a cluster with :class:`octoroute.scale.RayRunner`); the loops
below plan jobs and are the log's one writer. :mod:`.collect` runs every arm of a pool on
every problem (K samples each); :mod:`.rejudge`
executes a logged run's programs again on a stronger suite, or an exported log with today's
executor; :mod:`.repairs` has every arm repair logged failures and grows the episode trees'
missing nodes. Every run is resumable: attempts are keyed, and a restarted run skips what the
log holds. This package and :mod:`octoroute.episodes.router` are where all the pieces meet.
"""

from octoroute.collection.collect import (
    ArmProgress,
    CollectConfig,
    CollectSummary,
    collect,
)
from octoroute.collection.jobs import Job, LocalRunner, Runner, perform, run_arms
from octoroute.collection.rejudge import RejudgeSummary, rejudge, rejudge_log
from octoroute.collection.repairs import RepairConfig, collect_repairs, grow

__all__ = [
    "ArmProgress",
    "CollectConfig",
    "CollectSummary",
    "Job",
    "LocalRunner",
    "RejudgeSummary",
    "RepairConfig",
    "Runner",
    "collect",
    "collect_repairs",
    "grow",
    "perform",
    "rejudge",
    "rejudge_log",
    "run_arms",
]
