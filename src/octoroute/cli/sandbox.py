"""The sandbox's commands: ``validate`` a benchmark's references, ``check`` one program."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from octoroute.cli.common import (
    BenchmarkArg,
    DataOpt,
    WorkersOpt,
    fail,
    load,
    progress,
)
from octoroute.config import Settings
from octoroute.exceptions import OctorouteError
from octoroute.types import Tier, Verdict


def validate(
    benchmark: BenchmarkArg,
    data: DataOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    workers: WorkersOpt = None,
    limit: Annotated[int | None, typer.Option("--limit", help="Only the first N problems.")] = None,
) -> None:
    """Run every reference solution against all its tests; report those that fail.

    Exits 0 when all pass, 1 when some fail, 2 on bad input.
    """
    from octoroute.sandbox import Executor
    from octoroute.sandbox import validate as run_validation

    try:
        problems = load(benchmark, data)[:limit]
        settings = Settings.from_env()
        with Executor(workers=workers) as ex, progress() as bar:
            task = bar.add_task(f"validating {benchmark}", total=2 * len(problems), rate="")
            result = run_validation(
                problems, ex, settings.cache_dir, on_step=lambda: bar.advance(task)
            )
            layers, memory_bound = ex.isolation, ex.memory_bound
    except OctorouteError as e:
        fail(e)
        return
    if as_json:
        out = {
            "benchmark": benchmark,
            "total": result.total,
            "passed": result.passed,
            "failed": sorted(result.failed),
            "reasons": result.failed,
            "isolation": list(layers),
            "memory_bound": memory_bound,
        }
        print(json.dumps(out, indent=2))
    else:
        table = Table(title=f"{benchmark}: reference solutions")
        for col in ("problems", "passed", "failed"):
            table.add_column(col, justify="right")
        table.add_row(str(result.total), str(result.passed), str(len(result.failed)))
        Console().print(table)
        for pid, why in sorted(result.failed.items()):
            Console().print(f"[red]{pid}[/red]: {why}")
        Console().print(f"isolation: {', '.join(layers)}")
        Console().print(f"memory bound: {memory_bound}")
    raise typer.Exit(0 if not result.failed else 1)


def verdict_json(v: Verdict) -> dict[str, Any]:
    """A verdict as plain JSON data."""
    return {
        "problem": v.problem_id,
        "passed": v.passed,
        "reward": v.reward,
        "visible_passed": v.visible_passed,
        "tiers": {t.value: v.tier_passed(t) for t in Tier if v.tier_passed(t) is not None},
        "counts": v.counts(),
        "tests": [
            {
                "index": t.index,
                "tier": t.tier.value,
                "verdict": t.outcome.value,
                "detail": t.detail,
                "cpu_time": round(t.cpu_time, 6),
            }
            for t in v.tests
        ],
        "feedback": dataclasses.asdict(v.feedback) if v.feedback else None,
        "isolation": list(v.isolation),
        "flags": list(v.flags),
        "wall_time": round(v.wall_time, 4),
    }


def check(
    benchmark: Annotated[str, typer.Option("--benchmark", help="Benchmark name or .jsonl file.")],
    problem: Annotated[str, typer.Option("--problem", help="Problem id, e.g. HumanEval/0.")],
    code: Annotated[Path, typer.Option("--code", help="File with the program ('-' for stdin).")],
    data: DataOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Judge one program on one problem. Exits 0 whenever the program was judged."""
    from octoroute.fileio.text import decode_utf8, read_text
    from octoroute.sandbox import Executor, prepare

    try:
        if str(code) == "-":
            source = decode_utf8(sys.stdin.buffer.read(), "<stdin>")
        else:
            source = read_text(code)
        problems = {p.id: p for p in load(benchmark, data)}
        if problem not in problems:
            raise OctorouteError(f"no problem {problem!r} in {benchmark}")
        with Executor(workers=1) as ex:
            (prepared,) = prepare([problems[problem]], ex, Settings.from_env().cache_dir)
            verdict = ex.check(prepared, source)
            memory_bound = ex.memory_bound
    except OctorouteError as e:
        fail(e)
        return
    out = {**verdict_json(verdict), "memory_bound": memory_bound}
    if as_json:
        print(json.dumps(out, indent=2))
        return
    status = "[green]passed[/green]" if verdict.passed else "[red]failed[/red]"
    Console().print(f"{verdict.problem_id}: {status}  reward={verdict.reward}  {out['counts']}")
    for tier, ok in out["tiers"].items():
        Console().print(f"  {tier}: {'pass' if ok else 'fail'}")
    if verdict.feedback:
        Console().print(f"  first failing visible test: {escape(repr(verdict.feedback))}")
    Console().print(f"  isolation: {', '.join(verdict.isolation)}")
    Console().print(f"  memory bound: {memory_bound}")
    if verdict.flags:
        Console().print(f"  flags: {', '.join(verdict.flags)}")
