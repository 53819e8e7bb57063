"""The ``octoroute demo`` and ``octoroute report`` commands (see :mod:`octoroute.demo`).

Registered on the main app by :mod:`octoroute.cli`. Progress bars and messages go to stderr;
the tables to stdout.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from octoroute.cli.featurespec import FeaturizerOpt
from octoroute.cli.replay import (
    BenchmarkOpt,
    MaxParamsOpt,
    ModelsOpt,
    OutcomesOpt,
    ProblemsOpt,
    RunOpt,
    SizesOpt,
    load_pool_matrix,
    parse_params,
)
from octoroute.exceptions import OctorouteError

__all__ = ["demo_command", "report_command"]

_err = Console(stderr=True, soft_wrap=True)


def demo_command(
    log: Annotated[
        Path | None,
        typer.Option("--log", help="Recorded log (.jsonl.gz export or .db; default: bundled)."),
    ] = None,
    out_dir: Annotated[Path, typer.Option("--out-dir", help="Where to write.")] = Path(
        "octoroute-demo"
    ),
    policy: Annotated[str, typer.Option("--policy", help="The main policy.")] = "linucb",
    param: Annotated[
        list[str] | None, typer.Option("--param", help="Main policy hyperparameter k=v.")
    ] = None,
    seeds: Annotated[int, typer.Option("--seeds", min=1, help="Replay seeds.")] = 5,
    live: Annotated[
        int, typer.Option("--live", min=0, help="Held-out HumanEval problems routed live.")
    ] = 5,
    featurizer: FeaturizerOpt = "lexical",
) -> None:
    """Replay the recorded log to train and judge the policies, route a few problems live
    through the local models, and write the HTML report."""
    from octoroute import demo
    from octoroute.cli.featurespec import open_featurizer
    from octoroute.evaluation import read_log
    from octoroute.report import Report, render_table, write_html
    from octoroute.report.episodes import episodes_report

    out = Console(width=130)  # the table has 8 columns: never fold it to 80
    try:
        cfg = demo.DemoConfig(
            log=log or demo.recorded_log(),
            out_dir=out_dir,
            policy=policy,
            params=parse_params(param),
            seeds=seeds,
            live=live,
            featurizer=featurizer,
        )
        if not cfg.log.exists():
            raise OctorouteError(f"{cfg.log}: no recorded log there")
        sections = []
        summaries: dict[str, Any] = {}
        started = time.monotonic()
        with _bars() as bars, open_featurizer(featurizer, demo.N_FEATURES) as features:
            progress = _tasks(bars)
            attempts = read_log(cfg.log)
            matrices = demo.load_matrices(cfg, attempts)
            for name, matrix, texts in matrices:
                x = features.transform(texts)
                report, results = demo.evaluate_benchmark(matrix, x, cfg, name, progress,
                                                          features)  # fmt: skip
                sections.append(report)
                summaries[name] = [r.to_json() for r in results]
                out.print(render_table(report))
            he = next((m for n, m, _ in matrices if n.startswith("humaneval")), None)
            rows = []
            if he is not None and cfg.live:
                rows = demo.live_routing(he, cfg, progress, features=features,
                                         log_attempts=attempts,
                                         on_row=lambda r: _err.print(
                    f"  {r.problem_id}: {' -> '.join(r.steps)}; hidden tests "
                    f"{'passed' if r.passed else 'failed'} ({r.seconds:.1f} s)"))  # fmt: skip
                largest = he.largest_arm()
                sections.append(demo.live_report(rows, largest))
                out.print(sections[-1].subtitle)
            for bench, summary in demo.replay_episodes(attempts, cfg, features):
                sections.append(episodes_report(summary, bench))
                summaries[f"episodes/{bench}"] = summary
                out.print(render_table(sections[-1]))
        page = Report(
            "octoroute: routing the default local pool",
            subtitle=f"recorded log {cfg.log.name}; main policy {cfg.policy} on {featurizer} "
            "features",
            sections=sections,
        )
        cfg.out_dir.mkdir(parents=True, exist_ok=True)
        path = write_html(page, cfg.out_dir / "report.html")
        (cfg.out_dir / "replay.json").write_text(json.dumps(summaries, indent=1))
    except OctorouteError as e:
        _err.print(f"[red]error:[/red] {escape(str(e))}")
        raise typer.Exit(2) from e
    _err.print(f"report: {path}  ({time.monotonic() - started:.0f} s)")


def report_command(
    outcomes: OutcomesOpt,
    problems: ProblemsOpt,
    out: Annotated[Path, typer.Option("--out", help="The HTML page to write.")] = Path(
        "report.html"
    ),
    policies: Annotated[
        str, typer.Option("--policies", help="Comma-separated policies to replay.")
    ] = ",".join(("linucb", "thompson", "epsilon_greedy", "squarecb", "best_single", "random")),
    policy: Annotated[str, typer.Option("--policy", help="Policy whose frontier is traced.")] = (
        "linucb"
    ),
    seeds: Annotated[int, typer.Option("--seeds", min=1, help="Replay seeds.")] = 5,
    models: ModelsOpt = None,
    max_params: MaxParamsOpt = None,
    sizes: SizesOpt = None,
    run: RunOpt = None,
    benchmark: BenchmarkOpt = None,
    featurizer: FeaturizerOpt = "lexical",
) -> None:
    """Replay several policies in both modes on an outcome matrix, trace the main policy's
    quality-compute frontier, write one self-contained HTML page and print the same table."""
    from octoroute import demo
    from octoroute.cli.featurespec import open_featurizer
    from octoroute.evaluation import align_problems, load_problem_texts
    from octoroute.report import Report, render_table, write_html

    try:
        _, pool, excluded = load_pool_matrix(
            outcomes,
            run=run,
            benchmark=benchmark,
            models=models,
            max_params=max_params,
            sizes=sizes,
        )
        texts = align_problems(pool.problem_ids, load_problem_texts(problems))
        names = [p.strip() for p in policies.split(",") if p.strip()]
        cfg = demo.DemoConfig(policy=policy, policies=names, seeds=seeds, featurizer=featurizer)
        with open_featurizer(featurizer, demo.N_FEATURES) as features:
            x = features.transform(texts)
        with _bars() as bars:
            section, _ = demo.evaluate_benchmark(pool, x, cfg, outcomes.name, _tasks(bars),
                                                 features)  # fmt: skip
        notes = list(section.notes)
        if excluded:
            notes.append("excluded for unknown size: " + ", ".join(excluded))
        page = Report(f"octoroute report: {outcomes.name}", sections=[section], notes=notes)
        path = write_html(page, out)
    except OctorouteError as e:
        _err.print(f"[red]error:[/red] {escape(str(e))}")
        raise typer.Exit(2) from e
    Console(width=130).print(render_table(section))
    for note in notes:
        _err.print(note)
    _err.print(f"report: {path}")


def _bars() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=_err,
    )


def _tasks(bars: Progress) -> Callable[[str, int], Callable[[], None]]:
    def start(description: str, total: int) -> Callable[[], None]:
        task = bars.add_task(description, total=total)
        return lambda: bars.advance(task)

    return start
