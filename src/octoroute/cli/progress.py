"""Progress bars shared by the commands that prepare a benchmark and then run a long job."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from octoroute.config import Settings
from octoroute.types import Problem

if TYPE_CHECKING:  # the sandbox is imported when a command runs, not when the CLI starts
    from octoroute.sandbox import Executor

__all__ = ["job_progress", "prepare_with_bar"]


def job_progress(console: Console) -> Progress:
    """Bars with a count, a free ``rate`` field and the time remaining; gone when done."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )


def prepare_with_bar(bar: Progress, problems: Sequence[Problem], ex: Executor) -> list[Problem]:
    """:func:`octoroute.sandbox.prepare` the problems (cached), with a bar while it runs."""
    from octoroute.sandbox import prepare

    task = bar.add_task("preparing tests", total=len(problems), rate="")
    prepared = prepare(problems, ex, Settings.from_env().cache_dir,
                       on_done=lambda _: bar.advance(task))  # fmt: skip
    bar.remove_task(task)
    return prepared
