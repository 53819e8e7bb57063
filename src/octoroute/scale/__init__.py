"""Scale-out: collection jobs performed on a Ray cluster, recorded by one writer.

:mod:`.dispatch` keeps a set of workers busy with jobs, puts back the jobs of a worker that died
and yields each attempt once; :mod:`.placement` says where an arm may run (a local model's
arm only on a node that holds the model, a custom resource ``model:NAME``); :mod:`.cluster`
is :class:`RayRunner`, the :class:`~octoroute.collection.jobs.Runner` whose workers are Ray
actors, each with the arm and a sandbox of its own. The driver (the process that called
:func:`~octoroute.collection.collect`) stays the outcome log's one writer. Ray is an extra
(``pip install 'octoroute[ray]'``), imported only when a runner is used.
"""

from octoroute.scale.cluster import LOCAL, RayRunner
from octoroute.scale.dispatch import WorkerLost, dispatch
from octoroute.scale.placement import MODEL_RESOURCE, model_resource, node_resources

__all__ = ["LOCAL", "MODEL_RESOURCE", "RayRunner", "WorkerLost", "dispatch", "model_resource",
           "node_resources"]  # fmt: skip
