"""What the commands share: the console, argument types, the exit on a clear error."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress

from octoroute.cli.progress import job_progress
from octoroute.types import Problem

if TYPE_CHECKING:
    from octoroute.arms.pool import Pool
    from octoroute.collection.jobs import Runner

console = Console(stderr=True, soft_wrap=True)

BenchmarkArg = Annotated[
    str,
    typer.Argument(
        help="humaneval, humaneval+, mbpp+, mbpp, humanevalcomm, or a problems .jsonl file."
    ),
]
DataOpt = Annotated[
    Path | None,
    typer.Option("--data", help="Benchmark file or folder (default: $OCTOROUTE_DATA_DIR)."),
]
WorkersOpt = Annotated[int | None, typer.Option("--workers", help="Parallel sandbox workers.")]
RayOpt = Annotated[
    str | None,
    typer.Option(
        "--ray",
        metavar="[ADDRESS]",
        help="Run the jobs on a Ray cluster: HOST:PORT, 'auto' (the cluster this node is in), "
        "or no value / 'local' (Ray started on this machine). Needs the ray extra.",
    ),
]


@contextmanager
def ray_runner(address: str | None, pool: Pool) -> Iterator[Runner | None]:
    """The Ray runner for ``--ray ADDRESS`` (None without it: jobs run here, Ray never imported),
    joined to its cluster in this thread; the cluster is left, and a local instance stopped, on
    exit."""
    if address is None:
        yield None
        return
    from octoroute.scale import RayRunner

    runner = RayRunner(address)
    try:
        runner.connect(pool)
        yield runner
    finally:
        runner.close()


def fail(err: Exception) -> None:
    console.print(f"[red]error:[/red] {escape(str(err))}")
    raise typer.Exit(2)


def load(benchmark: str, data: Path | None) -> list[Problem]:
    from octoroute.tasks import load_benchmark

    return load_benchmark(benchmark, data)


def progress() -> Progress:
    return job_progress(console)
