"""The ``octoroute`` command: thin commands that wire the packages together."""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table

from octoroute.cli_progress import job_progress, prepare_with_bar
from octoroute.config import Settings
from octoroute.exceptions import ConfigError, OctorouteError
from octoroute.types import Problem, Tier, Verdict

app = typer.Typer(
    help="Route coding problems to small frozen LLMs; judge their code in a sandbox.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True, soft_wrap=True)

BenchmarkArg = Annotated[
    str, typer.Argument(help="humaneval, humaneval+, mbpp+, mbpp, or a problems .jsonl file.")
]
DataOpt = Annotated[
    Path | None,
    typer.Option("--data", help="Benchmark file or folder (default: $OCTOROUTE_DATA_DIR)."),
]
WorkersOpt = Annotated[int | None, typer.Option("--workers", help="Parallel sandbox workers.")]


def _fail(err: Exception) -> None:
    console.print(f"[red]error:[/red] {escape(str(err))}")
    raise typer.Exit(2)


def _load(benchmark: str, data: Path | None) -> list[Problem]:
    from octoroute.tasks import load_benchmark

    return load_benchmark(benchmark, data)


def _progress() -> Progress:
    return job_progress(console)


@app.command()
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
        problems = _load(benchmark, data)[:limit]
        settings = Settings.from_env()
        with Executor(workers=workers) as ex, _progress() as bar:
            task = bar.add_task(f"validating {benchmark}", total=2 * len(problems), rate="")
            result = run_validation(
                problems, ex, settings.cache_dir, on_step=lambda: bar.advance(task)
            )
            layers, memory_bound = ex.isolation, ex.memory_bound
    except OctorouteError as e:
        _fail(e)
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


@app.command()
def check(
    benchmark: Annotated[str, typer.Option("--benchmark", help="Benchmark name or .jsonl file.")],
    problem: Annotated[str, typer.Option("--problem", help="Problem id, e.g. HumanEval/0.")],
    code: Annotated[Path, typer.Option("--code", help="File with the program ('-' for stdin).")],
    data: DataOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Judge one program on one problem. Exits 0 whenever the program was judged."""
    from octoroute.sandbox import Executor, prepare
    from octoroute.textio import decode_utf8, read_text

    try:
        if str(code) == "-":
            source = decode_utf8(sys.stdin.buffer.read(), "<stdin>")
        else:
            source = read_text(code)
        problems = {p.id: p for p in _load(benchmark, data)}
        if problem not in problems:
            raise OctorouteError(f"no problem {problem!r} in {benchmark}")
        with Executor(workers=1) as ex:
            (prepared,) = prepare([problems[problem]], ex, Settings.from_env().cache_dir)
            verdict = ex.check(prepared, source)
            memory_bound = ex.memory_bound
    except OctorouteError as e:
        _fail(e)
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


@app.command()
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
) -> None:
    """Every arm on every problem, K samples each, judged in the sandbox and logged.

    Sample 0 is greedy. Idempotent: kill it at any point, run it again, and it finishes with
    every attempt present exactly once. Arm failures are logged as arm errors and retried on
    the next run. One process writes a run at a time: a second collect of the same run of the
    same log exits 2 at once; collects of different --run values may share a log.
    """
    from octoroute.arms.pool import load_pool
    from octoroute.collect import CollectConfig
    from octoroute.collect import collect as run_collect
    from octoroute.sandbox import Executor
    from octoroute.store import open_store

    try:
        chosen = [a for a in arms.split(",")] if arms else None
        the_pool = load_pool(pool, chosen)
        problems = _load(benchmark, data)[:limit]
        bench = problems[0].benchmark if problems else benchmark
        cfg = CollectConfig(bench, samples, temperature, max_tokens)
        run_id = run or f"collect/{bench}"
        with open_store(db) as store:
            store.claim_run(run_id)  # before the sandbox starts: a second writer stops at once
            with Executor(workers=workers) as ex, _progress() as bar:
                prepared = prepare_with_bar(bar, problems, ex)
                tasks: dict[str, Any] = {}
                started: dict[str, float] = {}

                def planned(arm: str, n: int) -> None:
                    tasks[arm] = bar.add_task(f"{arm}", total=n, rate="")
                    started[arm] = time.monotonic()

                def done(p: Any) -> None:
                    t = tasks[p.arm]
                    bar.advance(t)
                    n = bar.tasks[[x.id for x in bar.tasks].index(t)].completed
                    rate = n / max(1e-9, time.monotonic() - started[p.arm])
                    bar.update(t, rate=f"{rate:.2f}/s")

                summary = run_collect(store, ex, the_pool, prepared, cfg, run_id,
                                      on_planned=planned, on_attempt=done)  # fmt: skip
    except OctorouteError as e:
        _fail(e)
        return
    Console().print(
        f"run {summary.run_id}: {summary.recorded} attempts logged "
        f"({summary.arm_errors} arm errors), {summary.skipped} already present"
    )
    for arm, tps in summary.tokens_per_second().items():
        Console().print(f"  {arm}: {tps:.1f} generated tokens/s")


@app.command()
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
    (for example humaneval to humaneval+), as a new run; resumable. With --log and --out: an
    attempts export (such as the shipped recorded log) judged again in place by this executor,
    every attempt on its own benchmark, repairs included; every verdict that changed is listed.
    """
    if log is not None:
        if out is None:
            _fail(ConfigError("rejudge --log needs --out"))
            return
        _rejudge_log(log, out, report, data, workers)
        return
    if db is None or source is None or benchmark is None:
        _fail(ConfigError("rejudge needs --db, --from-run and --benchmark (or --log and --out)"))
        return
    from octoroute.rejudge import rejudge as run_rejudge
    from octoroute.sandbox import Executor
    from octoroute.store import open_store

    try:
        problems = _load(benchmark, data)
        run_id = run or f"rejudge/{problems[0].benchmark if problems else benchmark}"
        with open_store(db) as store:
            store.claim_run(run_id)  # before the sandbox starts: a second writer stops at once
            with Executor(workers=workers) as ex, _progress() as bar:
                prepared = prepare_with_bar(bar, problems, ex)
                total = store.count_attempts(source)
                task = bar.add_task("re-judging", total=total, rate="")
                summary = run_rejudge(store, ex, source, prepared, run_id,
                                      on_attempt=lambda _: bar.advance(task))  # fmt: skip
    except OctorouteError as e:
        _fail(e)
        return
    Console().print(
        f"run {summary.run_id}: {summary.recorded} attempts re-judged from {summary.source_run} "
        f"({summary.skipped} already present, {summary.missing_problems} without a problem); "
        f"passed {summary.passed_before} before, {summary.passed_after} now"
    )


def _rejudge_log(
    log: Path, out: Path, report: Path | None, data: Path | None, workers: int | None
) -> None:
    import json

    from octoroute.rejudge import rejudge_log
    from octoroute.sandbox import Executor
    from octoroute.store.export import write_records
    from octoroute.tasks.io import read_jsonl

    try:
        records = [r.data for r in read_jsonl(log)]
        benchmarks = sorted({str(r.get("benchmark")) for r in records})
        with Executor(workers=workers) as ex, _progress() as bar:
            problems = {
                (p.benchmark, p.id): p
                for name in benchmarks
                for p in prepare_with_bar(bar, _load(name, data), ex)
            }
            task = bar.add_task("re-judging", total=len(records), rate="")
            found = rejudge_log(records, problems, ex, on_attempt=lambda _: bar.advance(task))
        write_records(found.records, out)
    except OctorouteError as e:
        _fail(e)
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


def _register() -> None:
    # Sub-commands live in their own modules; importing them is cheap (no heavy imports).
    from octoroute.cli_arms import arms_app, models_app
    from octoroute.cli_demo import demo_command, report_command
    from octoroute.cli_episodes import episodes_command
    from octoroute.cli_eval import replay_command
    from octoroute.cli_repair import fixrate_command, repair_collect_command
    from octoroute.cli_store import export_command, import_app, stats_command

    app.add_typer(arms_app, name="arms")
    app.add_typer(models_app, name="models")
    app.add_typer(import_app, name="import")
    app.command("demo")(demo_command)
    app.command("stats")(stats_command)
    app.command("export")(export_command)
    app.command("replay")(replay_command)
    app.command("report")(report_command)
    app.command("repair-collect")(repair_collect_command)
    app.command("fixrate")(fixrate_command)
    app.command("episodes")(episodes_command)


_register()


def main() -> None:
    """Console entry point."""
    app()


if __name__ == "__main__":
    main()
