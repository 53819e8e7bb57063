"""What the commands share: the console, argument types, the exit on a clear error."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress

from octoroute.cli.progress import job_progress
from octoroute.types import Problem

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


def fail(err: Exception) -> None:
    console.print(f"[red]error:[/red] {escape(str(err))}")
    raise typer.Exit(2)


def load(benchmark: str, data: Path | None) -> list[Problem]:
    from octoroute.tasks import load_benchmark

    return load_benchmark(benchmark, data)


def progress() -> Progress:
    return job_progress(console)
