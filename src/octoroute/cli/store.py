"""Commands on the outcome log: ``import eval-arena``, ``import attempts``, ``stats``, ``export``.

Registered on the main app by :mod:`octoroute.cli`::

    app.add_typer(import_app, name="import")
    app.command("stats")(stats_command)
    app.command("export")(export_command)
"""

from __future__ import annotations

import dataclasses
import enum
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from octoroute.exceptions import OctorouteError

__all__ = [
    "ExportFormat",
    "export_command",
    "import_app",
    "import_attempts_command",
    "stats_command",
]

_err = Console(stderr=True, soft_wrap=True)

DbOpt = Annotated[Path, typer.Option("--db", help="The outcome log (SQLite file).")]
RunOpt = Annotated[str | None, typer.Option("--run", help="Only this run.")]
BenchmarkOpt = Annotated[str | None, typer.Option("--benchmark", help="Only this benchmark.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]

import_app = typer.Typer(
    help="Import outcomes published elsewhere into an outcome log.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class ExportFormat(enum.StrEnum):
    """Formats of ``octoroute export``."""

    JSONL = "jsonl"
    PARQUET = "parquet"


def _fail(err: Exception) -> typer.Exit:
    _err.print(f"[red]error:[/red] {escape(str(err))}")
    return typer.Exit(2)


@import_app.command("eval-arena")
def import_eval_arena_command(
    file: Annotated[
        Path, typer.Argument(help="An eval-arena outcome matrix (.jsonl or .jsonl.gz).")
    ],
    benchmark: Annotated[
        str, typer.Option("--benchmark", help="Benchmark the problems belong to, e.g. humaneval+.")
    ],
    db: DbOpt,
    as_json: JsonOpt = False,
) -> None:
    """Load published per-problem outcomes (one arm per model) as a run named after FILE.

    Importing the same file twice adds nothing.
    """
    from octoroute.store import import_eval_arena, open_store, read_eval_arena

    try:
        rows = read_eval_arena(file)  # a bad file is reported before the store is touched
        with open_store(db) as store:
            result = import_eval_arena(store, file, benchmark, rows=rows)
    except OctorouteError as e:
        raise _fail(e) from e
    if as_json:
        print(json.dumps({"db": str(db), **dataclasses.asdict(result)}, indent=2))
        return
    Console(soft_wrap=True).print(
        f"{result.run_id}: {result.models} models x {result.problems} problems, "
        f"{result.rows} rows ({result.inserted} new) into {db}"
    )


@import_app.command("attempts")
def import_attempts_command(
    file: Annotated[Path, typer.Argument(help="An attempts export (full or --slim, .gz or not).")],
    db: DbOpt,
    pool: Annotated[
        str, typer.Option("--pool", help="'default' or a pool TOML file: the arms to register.")
    ] = "default",
    rename: Annotated[
        list[str] | None,
        typer.Option("--rename", help="OLD=NEW: log the export's arm OLD as the pool's NEW."),
    ] = None,
) -> None:
    """Log an attempts export in an outcome log, runs, parents and verdicts as they were.

    How a collection goes on from its committed export on a new machine: import, then run the
    same command again (an imported run takes the config of the first command that writes to
    it). Importing the same file twice adds nothing.
    """
    from octoroute.arms.pool import load_pool, register_arms
    from octoroute.clarify import ORACLE, register_oracle
    from octoroute.exceptions import ConfigError
    from octoroute.serve.asking import USER, register_user
    from octoroute.store import import_attempts, open_store, read_attempts_jsonl

    try:
        pairs = [item.split("=", 1) for item in rename or []]
        if any(len(p) != 2 or not all(p) for p in pairs):
            raise ConfigError(f"--rename: expected OLD=NEW, found {rename}")
        mapping = {old: new for old, new in pairs}
        the_pool = load_pool(pool)
        attempts = read_attempts_jsonl(file)  # a bad file is reported before the store is touched
        arms = {mapping.get(a.arm, a.arm) for a in attempts}
        # The simulated users of clarification logs are logged as arms of their own.
        users = {ORACLE: register_oracle, USER: register_user}
        unknown = sorted(arms - set(the_pool.names) - set(users))
        if unknown:
            raise ConfigError(f"{file}: arms {', '.join(unknown)} are not in pool {pool!r} "
                              "(--rename OLD=NEW maps an arm to one of the pool's)")  # fmt: skip
        with open_store(db) as store:
            register_arms(store, the_pool)
            for name in sorted(arms & set(users) - set(the_pool.names)):
                users[name](store)
            result = import_attempts(store, attempts, mapping)
    except OctorouteError as e:
        raise _fail(e) from e
    Console(soft_wrap=True).print(
        f"{result.added} attempts logged ({result.present} already there) in {db}, runs: "
        f"{', '.join(result.runs)}"
    )


def _fmt_rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _fmt_number(value: float) -> str:
    return f"{value:.3g}" if value else "0"


def stats_command(
    db: DbOpt,
    run: RunOpt = None,
    benchmark: BenchmarkOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Summarise the outcome log: attempts, arm errors, pass@1, tokens and compute per arm."""
    from octoroute.store import open_store, stats

    try:
        with open_store(db, readonly=True) as store:
            summary = stats(store, run, benchmark=benchmark)
    except OctorouteError as e:
        raise _fail(e) from e
    if as_json:
        print(json.dumps(summary, indent=2))
        return
    scope = f"run {run}" if run else f"{len(summary['runs'])} run(s)"
    table = Table(title=f"{db}: {scope}" + (f", {benchmark}" if benchmark else ""))
    table.add_column("arm", overflow="fold")
    for col in ("attempts", "errors", "pass@1", "base", "plus", "tokens", "FLOPs"):
        table.add_column(col, justify="right")
    for arm, s in summary["per_arm"].items():
        p = s["pass@1"]
        table.add_row(
            arm,
            str(s["attempts"]),
            str(s["arm_errors"]),
            _fmt_rate(p["all"]),
            _fmt_rate(p["base"]),
            _fmt_rate(p["plus"]),
            str(s["tokens"]),
            _fmt_number(s["compute"]),
        )
    console = Console(soft_wrap=True)
    console.print(table)
    console.print(
        f"{summary['attempts']} attempts on {summary['problems']} problems, "
        f"{summary['arm_errors']} arm errors; compute in FLOPs (2 x parameters x tokens); "
        "pass@1 counts arm errors as failures"
    )


def export_command(
    db: DbOpt,
    out: Annotated[Path, typer.Option("--out", help="Output file (.jsonl, .jsonl.gz, .parquet).")],
    fmt: Annotated[ExportFormat, typer.Option("--format", help="Output format.")] = (
        ExportFormat.JSONL
    ),
    run: RunOpt = None,
    benchmark: BenchmarkOpt = None,
    slim: Annotated[
        bool, typer.Option("--slim", help="JSONL with test counts per tier, not every verdict.")
    ] = False,
    redact: Annotated[
        bool,
        typer.Option(
            "--redact-answers",
            help="JSONL without the simulated users' words in clarification runs (answers "
            "made from the original problems; ratings kept as their digit).",
        ),
    ] = False,
) -> None:
    """Export attempts to JSONL or Parquet (Parquet needs pyarrow: the parquet extra)."""
    from octoroute.clarify.redact import redactor
    from octoroute.store import export_attempts, open_store

    try:
        with open_store(db, readonly=True) as store:
            n = export_attempts(store, out, fmt.value, run=run, benchmark=benchmark, slim=slim,
                                transform=redactor(store.runs()) if redact else None)  # fmt: skip
    except OctorouteError as e:
        raise _fail(e) from e
    _err.print(f"wrote {n} attempts to {out}")
