"""``octoroute clarify-collect`` (ask episodes, with the arms) and ``octoroute clarify`` (the
policies replayed on a log, without a model). Registered on the main app by :mod:`.app`."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from octoroute.cli.common import DataOpt, WorkersOpt, fail, load, progress
from octoroute.cli.progress import prepare_with_bar
from octoroute.exceptions import ConfigError, OctorouteError

if TYPE_CHECKING:
    from octoroute.clarify.replay import Outcomes

__all__ = ["clarify_collect_command", "clarify_command"]


def clarify_collect_command(
    db: Annotated[Path, typer.Option("--db", help="The outcome log (SQLite) to write.")],
    pool: Annotated[str, typer.Option("--pool", help="'default' or a pool TOML file.")] = "default",
    arms: Annotated[
        str | None, typer.Option("--arms", help="Comma-separated arms that ask and code.")
    ] = None,
    users: Annotated[
        str, typer.Option("--users", help="Comma-separated simulated users: oracle, pool arms.")
    ] = "oracle",
    benchmark: Annotated[str, typer.Option("--benchmark")] = "humanevalcomm",
    limit: Annotated[int | None, typer.Option("--limit", help="First N problems.")] = None,
    run: Annotated[str | None, typer.Option("--run", help="Run id.")] = None,
    data: DataOpt = None,
    workers: WorkersOpt = None,
) -> None:
    """Ask episodes: each arm asks one question, each user answers, the arm writes the code;
    every turn logged (resumable). Coding without asking is `octoroute collect` of the same
    benchmark into the same log."""
    from octoroute.arms.pool import load_pool
    from octoroute.clarify import collect_asks
    from octoroute.sandbox import Executor
    from octoroute.store import open_store

    try:
        the_pool = load_pool(pool)  # users may be arms that do not ask
        askers = [a.strip() for a in arms.split(",") if a.strip()] if arms else None
        problems = load(benchmark, data)[:limit]
        run_id = run or f"clarify/{problems[0].benchmark if problems else benchmark}"
        with open_store(db) as store:
            store.claim_run(run_id)
            with Executor(workers=workers) as ex, progress() as bar:
                prepared = prepare_with_bar(bar, problems, ex)
                chosen = [u.strip() for u in users.split(",") if u.strip()]
                n = len(askers) if askers is not None else len(the_pool.names)
                task = bar.add_task("ask episodes", total=len(prepared) * len(chosen) * n,
                                    rate="")  # fmt: skip
                summary = collect_asks(store, ex, the_pool, prepared, chosen, run_id,
                                       on_episode=lambda *_: bar.advance(task),
                                       askers=askers)  # fmt: skip
    except OctorouteError as e:
        fail(e)
        return
    Console().print(f"run {summary.run_id}: {summary.episodes} episodes, {summary.logged} turns "
                    f"logged, {summary.skipped} already present; passed after asking: "
                    f"{summary.passed}")  # fmt: skip


def clarify_command(
    log: Annotated[Path, typer.Option("--log", help="An outcome log (.db) or attempts export.")],
    arm: Annotated[str, typer.Option("--arm", help="The arm that asks and codes.")],
    benchmark: Annotated[str, typer.Option("--benchmark")] = "humanevalcomm",
    lambda_ask: Annotated[
        float, typer.Option("--lambda-ask", help="The cost of a user's turn, in pass@1.")
    ] = 0.1,
    folds: Annotated[int, typer.Option("--folds", min=2)] = 5,
    direct_run: Annotated[
        str | None, typer.Option("--direct-run", help="Run of the direct attempts.")
    ] = None,
    ask_run: Annotated[
        str | None, typer.Option("--ask-run", help="Run of the ask episodes.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    data: DataOpt = None,
    with_consistency: Annotated[
        bool,
        typer.Option(
            "--consistency/--no-consistency",
            help="Run each direct candidate on the claims its request's examples make (in the "
            "sandbox); the router reads the share met (the README's router; off: words only).",
        ),
    ] = True,
    probe: Annotated[
        str | None,
        typer.Option(
            "--probe",
            help="MODEL[@LAYER/POOLING]: the router also reads a probe of the request's "
            "hidden state in that local arm's model (its visible part only).",
        ),
    ] = None,
) -> None:
    """Replay always-code, always-ask and the learned router on a log, per simulated user:
    pass@1 on modified and original prompts with intervals, communication and false-ask rates."""
    from octoroute.clarify.consistency import direct_consistency
    from octoroute.clarify.replay import clarify_summary, outcomes
    from octoroute.evaluation import read_log
    from octoroute.sandbox import Executor

    try:
        problems = load(benchmark, data)
        bench = problems[0].benchmark if problems else benchmark
        direct = direct_run or f"collect/{bench}"
        asked = ask_run or f"clarify/{bench}"
        attempts = list(read_log(log))
        found = outcomes(attempts, problems, arm, direct, asked)
        if not found:
            raise ConfigError(f"{log}: no problem with both a direct attempt of arm {arm!r} "
                              f"(run {direct}: octoroute collect) and an ask episode (run "
                              f"{asked}: octoroute clarify-collect)")  # fmt: skip
        claims = None
        if with_consistency:
            with Executor() as ex:
                claims = direct_consistency(ex, attempts, problems, arm, direct)
        probes = None if probe is None else _probe_features(probe, found)
        summary = clarify_summary(found, lambda_ask=lambda_ask, folds=folds,
                                  consistency=claims, probe=probes)  # fmt: skip
    except OctorouteError as e:
        fail(e)
        return
    if as_json:
        print(json.dumps(summary, indent=2))
        return
    _print_table(summary)


def _print_table(summary: dict[str, Any]) -> None:
    """The summary as a table: one row per user and policy."""
    from rich.table import Table

    def rate(r: dict[str, Any], sign: str = "") -> str:
        if r.get("mean") is None:
            return "-"
        lo, hi = r["ci95"]
        return f"{r['mean']:{sign}.3f} [{lo:{sign}.3f}, {hi:{sign}.3f}]"

    def share(x: float | None) -> str:
        return "-" if x is None else f"{100 * x:.1f}%"

    table = Table(title=f"lambda_ask {summary['lambda_ask']}; gains over always_code")
    for name in ("user", "policy", "pass@1 rewrites", "gain", "pass@1 originals", "gain",
                 "asks", "false asks", "compute"):  # fmt: skip
        table.add_column(name, no_wrap=True)
    for r in summary["policies"]:
        p, g = r["pass_at_1"], r["gain_vs_always_code"]
        table.add_row(
            r["user"], r["policy"], rate(p["modified"]), rate(g["modified"], "+"),
            rate(p["original"]), rate(g["original"], "+"), share(r["communication_rate"]),
            share(r["false_ask_rate"]),
            "-" if r["compute_ratio"] is None else f"{r['compute_ratio']:.2f}x",
        )  # fmt: skip
    # A pipe gets the whole table, not one squeezed to 80 columns.
    Console(width=max(Console().width, 180)).print(table)


def _probe_features(spec: str, found: Sequence[Outcomes]) -> dict[str, Any]:
    """Per problem id of ``found``, the probe ``probe:SPEC`` of its request (shipped, cached
    or computed by the local arm's model)."""
    from octoroute.cli.featurespec import open_featurizer

    if spec.startswith("probe:") or "+" in spec:  # a malformed layer: open_featurizer says
        raise ConfigError(f"--probe {spec!r}: expected MODEL[@LAYER/POOLING] (no 'probe:', no sum)")
    problems = {p.id: p for o in found for p in o.problems}
    with open_featurizer(f"probe:{spec}", 0) as featurizer:
        rows = featurizer.transform(list(problems.values()))
    return dict(zip(problems, rows, strict=True))
