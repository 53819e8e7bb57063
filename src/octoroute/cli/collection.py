"""The commands that make outcome data: ``collect`` (arms x problems) and ``rejudge``."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from octoroute.cli.common import (
    DataOpt,
    RayOpt,
    WorkersOpt,
    fail,
    load,
    progress,
    ray_runner,
)
from octoroute.cli.progress import prepare_with_bar
from octoroute.exceptions import ConfigError, OctorouteError


def collect(
    pool: Annotated[str, typer.Option("--pool", help="'default' or a pool TOML file.")],
    benchmark: Annotated[str, typer.Option("--benchmark", help="Benchmark name or .jsonl.")],
    db: Annotated[Path, typer.Option("--db", help="The outcome log (SQLite) to write.")],
    samples: Annotated[int, typer.Option("--samples", min=1, help="Samples per arm.")] = 1,
    arms: Annotated[str | None, typer.Option("--arms", help="Comma-separated arm names.")] = None,
    limit: Annotated[int | None, typer.Option("--limit", help="First N problems.")] = None,
    temperature: Annotated[
        float, typer.Option("--temperature", help="Temperature of samples after the first.")
    ] = 0.8,
    max_tokens: Annotated[int, typer.Option("--max-tokens", help="Tokens per answer.")] = 512,
    run: Annotated[
        str | None, typer.Option("--run", help="Run id (default: collect/BENCHMARK).")
    ] = None,
    data: DataOpt = None,
    workers: WorkersOpt = None,
    ray: RayOpt = None,
) -> None:
    """Every arm on every problem, K samples each, judged in the sandbox and logged.

    Sample 0 is greedy. Idempotent: kill it at any point, run it again, and it finishes with
    every attempt present exactly once. Arm failures are logged as arm errors and retried on
    the next run. One process writes a run at a time: a second collect of the same run of the
    same log exits 2 at once; collects of different --run values may share a log. With --ray
    the attempts are made and judged on a Ray cluster's workers and logged by this process.
    """
    from octoroute.arms.pool import load_pool
    from octoroute.collection.collect import CollectConfig
    from octoroute.collection.collect import collect as run_collect
    from octoroute.sandbox import Executor
    from octoroute.store import open_store

    try:
        chosen = [a for a in arms.split(",")] if arms else None
        the_pool = load_pool(pool, chosen)
        problems = load(benchmark, data)[:limit]
        bench = problems[0].benchmark if problems else benchmark
        cfg = CollectConfig(bench, samples, temperature, max_tokens)
        run_id = run or f"collect/{bench}"
        with open_store(db) as store:
            store.claim_run(run_id)  # before the sandbox starts: a second writer stops at once
            with (
                Executor(workers=workers) as ex,
                ray_runner(ray, the_pool) as runner,
                progress() as bar,
            ):
                prepared = prepare_with_bar(bar, problems, ex)
                tasks: dict[str, Any] = {}
                started: dict[str, float] = {}

                def planned(arm: str, n: int) -> None:
                    tasks[arm] = bar.add_task(f"{arm}", total=n, rate="")

                def done(p: Any) -> None:
                    # An arm's clock starts at its first attempt: arms run one after the
                    # other here (all are planned first), at once on a cluster.
                    t = tasks[p.arm]
                    bar.advance(t)
                    n = bar.tasks[[x.id for x in bar.tasks].index(t)].completed
                    first = started.setdefault(p.arm, time.monotonic())
                    if n > 1:
                        rate = (n - 1) / max(1e-9, time.monotonic() - first)
                        bar.update(t, rate=f"{rate:.2f}/s")

                summary = run_collect(store, ex, the_pool, prepared, cfg, run_id,
                                      on_planned=planned, on_attempt=done,
                                      runner=runner)  # fmt: skip
    except OctorouteError as e:
        fail(e)
        return
    Console().print(
        f"run {summary.run_id}: {summary.recorded} attempts logged "
        f"({summary.arm_errors} arm errors), {summary.skipped} already present"
    )
    for arm, tps in summary.tokens_per_second().items():
        Console().print(f"  {arm}: {tps:.1f} generated tokens/s")


def rejudge(
    db: Annotated[Path | None, typer.Option("--db", help="The outcome log (SQLite).")] = None,
    source: Annotated[
        str | None, typer.Option("--from-run", help="Run whose programs to re-judge.")
    ] = None,
    benchmark: Annotated[
        str | None, typer.Option("--benchmark", help="Benchmark whose tests judge.")
    ] = None,
    run: Annotated[
        str | None, typer.Option("--run", help="New run id (default: rejudge/BENCHMARK).")
    ] = None,
    log: Annotated[
        Path | None,
        typer.Option("--log", help="An attempts export to judge again in place (with --out)."),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Where --log's re-judged export goes.")
    ] = None,
    report: Annotated[
        Path | None, typer.Option("--report", help="JSON file listing every changed verdict.")
    ] = None,
    data: DataOpt = None,
    workers: WorkersOpt = None,
) -> None:
    """Execute logged programs again; nothing is generated again.

    With --db, --from-run and --benchmark: a run's programs against another benchmark's tests
    (for example humaneval to humaneval+), as a new run; resumable. Repairs are carried over
    under their parents' copies on the new benchmark (re-judge the parents' run first). With
    --log and --out: an attempts export (such as the shipped recorded log) judged again in
    place by this executor, every attempt on its own benchmark, repairs included; every
    verdict that changed is listed.
    """
    if log is not None:
        if out is None:
            fail(ConfigError("rejudge --log needs --out"))
            return
        _rejudge_log(log, out, report, data, workers)
        return
    if db is None or source is None or benchmark is None:
        fail(ConfigError("rejudge needs --db, --from-run and --benchmark (or --log and --out)"))
        return
    from octoroute.collection.rejudge import rejudge as run_rejudge
    from octoroute.sandbox import Executor
    from octoroute.store import open_store

    try:
        problems = load(benchmark, data)
        run_id = run or f"rejudge/{problems[0].benchmark if problems else benchmark}"
        with open_store(db) as store:
            store.claim_run(run_id)  # before the sandbox starts: a second writer stops at once
            with Executor(workers=workers) as ex, progress() as bar:
                prepared = prepare_with_bar(bar, problems, ex)
                total = store.count_attempts(source)
                task = bar.add_task("re-judging", total=total, rate="")
                summary = run_rejudge(store, ex, source, prepared, run_id,
                                      on_attempt=lambda _: bar.advance(task))  # fmt: skip
    except OctorouteError as e:
        fail(e)
        return
    Console().print(
        f"run {summary.run_id}: {summary.recorded} attempts re-judged from {summary.source_run} "
        f"({summary.skipped} already present, {summary.missing_problems} without a problem); "
        f"passed {summary.passed_before} before, {summary.passed_after} now"
    )
    if summary.orphans or summary.stale:
        Console().print(
            f"  left out: {summary.orphans} repairs whose parent has no copy on the new "
            f"benchmark (re-judge the parents' run first), {summary.stale} whose parent's "
            "visible verdicts changed there"
        )


def _rejudge_log(
    log: Path, out: Path, report: Path | None, data: Path | None, workers: int | None
) -> None:

    from octoroute.collection.rejudge import rejudge_log
    from octoroute.fileio.records import read_jsonl
    from octoroute.sandbox import Executor
    from octoroute.store.export import write_records

    try:
        records = [r.data for r in read_jsonl(log)]
        benchmarks = sorted({str(r.get("benchmark")) for r in records})
        with Executor(workers=workers) as ex, progress() as bar:
            problems = {
                (p.benchmark, p.id): p
                for name in benchmarks
                for p in prepare_with_bar(bar, load(name, data), ex)
            }
            task = bar.add_task("re-judging", total=len(records), rate="")
            found = rejudge_log(records, problems, ex, on_attempt=lambda _: bar.advance(task))
        write_records(found.records, out)
    except OctorouteError as e:
        fail(e)
        return
    if report is not None:
        summary = {"judged": found.judged, "changed": found.changed,
                   "stale_repairs": found.stale_repairs}  # fmt: skip
        report.write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    flipped = [c for c in found.changed if c["before"]["passed"] != c["after"]["passed"]]
    Console().print(
        f"{found.judged} attempts re-judged: {len(found.changed)} verdicts changed "
        f"({len(flipped)} passed/failed), {len(found.stale_repairs)} repairs of a program whose "
        f"visible verdicts changed; written to {out}"
    )
    for c in found.changed:
        Console().print(
            f"  {c['id']} {c['run_id']} {c['problem_id']} {c['arm']}: "
            f"{c['before']['counts']} -> {c['after']['counts']}"
        )
