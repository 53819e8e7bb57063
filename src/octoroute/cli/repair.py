"""The ``octoroute repair-collect`` and ``octoroute fixrate`` commands: cross-arm repairs.

Registered on the main app by :mod:`octoroute.cli`::

    app.command("repair-collect")(repair_collect_command)
    app.command("fixrate")(fixrate_command)

Console messages and the progress bar go to stderr; tables and ``--json`` go to stdout.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from octoroute.cli.common import RayOpt, ray_runner
from octoroute.cli.progress import job_progress, prepare_with_bar
from octoroute.exceptions import ConfigError, OctorouteError

if TYPE_CHECKING:
    from octoroute.episodes.fixrate import FixRates
    from octoroute.report.model import Report
    from octoroute.store import Store

__all__ = ["fixrate_command", "fixrate_report", "repair_collect_command"]

_err = Console(stderr=True, soft_wrap=True)

DbOpt = Annotated[Path, typer.Option("--db", help="The outcome log (SQLite file).")]


def _fail(err: Exception) -> typer.Exit:
    _err.print(f"[red]error:[/red] {escape(str(err))}")
    return typer.Exit(2)


def repair_collect_command(
    db: DbOpt,
    source: Annotated[str, typer.Option("--from-run", help="Run whose failures to repair.")],
    benchmark: Annotated[str, typer.Option("--benchmark", help="Benchmark name or .jsonl.")],
    pool: Annotated[str, typer.Option("--pool", help="'default' or a pool TOML file.")] = "default",
    arms: Annotated[
        str | None, typer.Option("--arms", help="Comma-separated repairing arms.")
    ] = None,
    per_cell: Annotated[
        int | None,
        typer.Option("--per-cell", min=1, help="Failures repaired per source arm (default all)."),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the stratified sample.")] = 0,
    max_tokens: Annotated[
        int, typer.Option("--max-tokens", min=1, help="Tokens per repair.")
    ] = 512,
    run: Annotated[
        str | None, typer.Option("--run", help="Run id (default: repair/BENCHMARK).")
    ] = None,
    data: Annotated[Path | None, typer.Option("--data", help="Benchmark file or folder.")] = None,
    workers: Annotated[int | None, typer.Option("--workers", help="Sandbox workers.")] = None,
    ray: RayOpt = None,
) -> None:
    """Every arm of the pool repairs failed fresh attempts of a logged run; logged as a run.

    With --per-cell N, up to N failures per source arm are drawn (seeded, stratified by the
    failure kind on the visible tests); each is repaired by every arm. The prompt shows the
    failed program and its first failing visible test only; the hidden tests grade the repair.
    Resumable: run it again and it adds only what is missing. With --ray the repairs are
    made and judged on a Ray cluster's workers and logged by this process.
    """
    from octoroute.arms.pool import load_pool
    from octoroute.collection.repairs import RepairConfig, RepairProgress, collect_repairs
    from octoroute.sandbox import Executor
    from octoroute.store import open_store
    from octoroute.tasks import load_benchmark

    try:
        the_pool = load_pool(pool, arms.split(",") if arms else None)
        cfg = RepairConfig(per_cell=per_cell, seed=seed, max_tokens=max_tokens)
        problems = load_benchmark(benchmark, data)
        bench = problems[0].benchmark if problems else benchmark
        run_id = run or f"repair/{bench}"
        with open_store(db) as store:
            store.claim_run(run_id)  # before the sandbox starts: a second writer stops at once
            with (
                Executor(workers=workers) as ex,
                ray_runner(ray, the_pool) as runner,
                job_progress(_err) as bar,
            ):
                prepared = prepare_with_bar(bar, problems, ex)
                tasks: dict[str, Any] = {}
                fixed: dict[str, int] = {}

                def planned(arm: str, n: int) -> None:
                    tasks[arm] = bar.add_task(f"{arm} repairs", total=n, rate="")
                    fixed[arm] = 0

                def done(p: RepairProgress) -> None:
                    fixed[p.arm] += p.passed
                    bar.advance(tasks[p.arm])
                    bar.update(tasks[p.arm], rate=f"{fixed[p.arm]} fixed")

                summary = collect_repairs(store, ex, the_pool, prepared, source, run_id, cfg,
                                          on_planned=planned, on_repair=done,
                                          runner=runner)  # fmt: skip
    except OctorouteError as e:
        raise _fail(e) from e
    out = Console(soft_wrap=True)
    out.print(
        f"run {summary.run_id}: {summary.recorded} repairs logged ({summary.passed} pass the "
        f"hidden tests, {summary.arm_errors} arm errors), {summary.skipped} already present"
    )
    for arm in sorted(summary.failures):
        out.print(
            f"  failures of {arm}: {summary.sampled.get(arm, 0)} sampled of {summary.failures[arm]}"
        )
    kinds = ", ".join(f"{k} {n}" for k, n in sorted(summary.by_kind.items()))
    out.print(f"  sampled by failure kind: {kinds or 'none'}")
    out.print(
        f"  left out: {summary.visible_passed} failures that pass every visible test, "
        f"{summary.missing_problems} without a problem"
    )


def _repair_run(store: Store, run: str | None) -> str:
    """The run to analyse: ``run``, else the store's only repair run."""
    if run is not None:
        store.check_run(run)
        return run
    runs = [r.id for r in store.runs() if r.config.get("kind") == "repair"]
    if len(runs) != 1:
        found = ", ".join(runs) if runs else "none"
        raise ConfigError(f"--run: name the repair run to analyse (repair runs: {found})")
    return runs[0]


def _pct(x: float | None) -> str:
    return "" if x is None else f"{x:.2f}"


def _ci(x: tuple[float, float] | None) -> str:
    return "" if x is None else f"[{x[0]:.2f}, {x[1]:.2f}]"


def fixrate_report(result: FixRates) -> Report:
    """The fix-rate matrices (overall, then per failure kind) as a report page."""
    from octoroute.episodes.fixrate import ALL_KINDS
    from octoroute.report.model import MatrixSection, Report

    matrices = []
    for kind in (ALL_KINDS, *result.kinds):
        intervals = [
            [None if (c := result.cell(i, j, kind)) is None else c.ci95 for j in result.repairers]
            for i in result.sources
        ]
        matrices.append(
            MatrixSection(
                f"P(repair passes the hidden tests | source failed), failures: {kind}",
                result.sources,
                result.repairers,
                result.matrix(kind),
                result.counts(kind),
                intervals,
                row_label="failed arm (source)",
                column_label="repairing arm",
            )
        )
    fresh = "; ".join(f"{f.arm} {_pct(f.rate)} {_ci(f.ci95)} (n={f.n})" for f in result.fresh)
    notes = (
        f"{result.repairs} repairs of failures on {result.problems} problems "
        f"(source runs: {', '.join(result.source_runs)}).",
        f"Fresh pass rate of each arm on the same problems: {fresh}.",
        "Intervals: Wilson 95%. A repair is greedy and sees only the first failing visible test.",
    )
    return Report(f"Cross-arm fix rates: {result.run}", notes=notes, matrices=matrices)


def _print_tables(result: FixRates) -> None:
    from octoroute.episodes.fixrate import ALL_KINDS

    out = Console(soft_wrap=True)
    matrix = Table(title=f"{result.run}: P(repair by column passes hidden | row failed)")
    matrix.add_column("failed \\ repairer")
    for j in result.repairers:
        matrix.add_column(j, justify="right")
    for i in result.sources:
        row = [i]
        for j in result.repairers:
            c = result.cell(i, j)
            row.append("" if c is None else f"{_pct(c.rate)} n={c.n}\n{_ci(c.ci95)}")
        matrix.add_row(*row)
    out.print(matrix)
    cells = Table(title="per cell: fix rate vs the repairer starting fresh on the same problems")
    for col in ("failed", "repairer", "kind", "n", "fix rate", "95% CI", "fresh", "fresh CI",
                "gain", "gain CI", "arm errors"):  # fmt: skip
        cells.add_column(col, justify="left" if col in ("failed", "repairer", "kind") else "right")
    for c in sorted(
        result.cells, key=lambda c: (c.kind != ALL_KINDS, c.kind, c.source, c.repairer)
    ):
        cells.add_row(c.source, c.repairer, c.kind, str(c.n), _pct(c.rate), _ci(c.ci95),
                      _pct(c.fresh_rate), _ci(c.fresh_ci95), _pct(c.gain), _ci(c.gain_ci95),
                      str(c.arm_errors))  # fmt: skip
    out.print(cells)
    fresh = Table(title=f"fresh pass rate on the {result.problems} problems repaired")
    for col in ("arm", "n", "pass rate", "95% CI"):
        fresh.add_column(col, justify="left" if col == "arm" else "right")
    for f in result.fresh:
        fresh.add_row(f.arm, str(f.n), _pct(f.rate), _ci(f.ci95))
    out.print(fresh)


def fixrate_command(
    db: DbOpt,
    run: Annotated[
        str | None, typer.Option("--run", help="The repair run (default: the only one).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write an HTML page with heatmaps.")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the bootstrap.")] = 0,
) -> None:
    """P(arm j's repair passes the hidden tests | arm i failed), overall and per failure kind,
    with counts and 95% intervals, next to each arm's fresh pass rate on the same problems.
    """
    from octoroute.episodes.fixrate import fix_rates_from_store
    from octoroute.report import write_html
    from octoroute.store import open_store

    try:
        with open_store(db, readonly=True) as store:
            result = fix_rates_from_store(store, _repair_run(store, run), seed=seed)
        if out is not None:
            write_html(fixrate_report(result), out)
    except OctorouteError as e:
        raise _fail(e) from e
    if as_json:
        data = result.to_json()
        if out is not None:
            data["report"] = str(out)
        print(json.dumps(data, indent=2))
        return
    _print_tables(result)
    if out is not None:
        _err.print(f"report written to {out}")
