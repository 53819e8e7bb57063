"""The ``octoroute replay`` command: judge a routing policy on an outcome log.

Registered on the main app by :mod:`octoroute.cli`::

    app.command("replay")(replay_command)

Console messages and the progress bar go to stderr; ``--json`` prints one JSON object on stdout.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from octoroute.cli.featurespec import FeaturizerOpt
from octoroute.exceptions import ConfigError, OctorouteError

if TYPE_CHECKING:
    from octoroute.evaluation import OutcomeMatrix, ReplayResult

__all__ = ["load_pool_matrix", "parse_models", "parse_params", "replay_command"]

_err = Console(stderr=True, soft_wrap=True)

DEFAULT_N_FEATURES = 128

OutcomesOpt = Annotated[
    Path,
    typer.Option(
        "--outcomes",
        help="Outcome matrix: eval-arena .jsonl(.gz), an outcome log .db, or an export.",
    ),
]
ProblemsOpt = Annotated[
    str, typer.Option("--problems", help="Benchmark name, or a .jsonl of id and prompt per line.")
]
ModelsOpt = Annotated[
    str | None, typer.Option("--models", help="Comma-separated models, or a regex.")
]
MaxParamsOpt = Annotated[
    float | None, typer.Option("--max-params", help="Keep models of at most B billion.")
]
SizesOpt = Annotated[Path | None, typer.Option("--sizes", help="JSON object of model to billions.")]
RunOpt = Annotated[str | None, typer.Option("--run", help="Run, in an outcome log.")]
BenchmarkOpt = Annotated[
    str | None, typer.Option("--benchmark", help="Benchmark, in an outcome log.")
]


def load_pool_matrix(
    outcomes: Path,
    *,
    run: str | None,
    benchmark: str | None,
    models: str | None,
    max_params: float | None,
    sizes: Path | None,
) -> tuple[OutcomeMatrix, OutcomeMatrix, list[str]]:
    """The whole matrix, the pool selected from it, and the models excluded for unknown size."""
    from octoroute.evaluation import load_outcomes, load_sizes

    extra = load_sizes(sizes) if sizes is not None else None
    full = load_outcomes(outcomes, run=run, benchmark=benchmark, sizes=extra)
    pool, excluded = full.select(models=parse_models(models, full.arms), max_params=max_params)
    return full, pool, excluded


"""Hashed columns of the lexical featurizer in replay. The ridge policies keep a d x d matrix
per arm, so the featurizer's own default (4096 columns) would need about 136 MB per arm."""


def parse_params(items: list[str] | None) -> dict[str, Any]:
    """``["alpha=0.5", "arm=x"]`` to ``{"alpha": 0.5, "arm": "x"}`` (values read as JSON if
    they parse, else kept as text).

    >>> parse_params(["alpha=0.5", "arm=deepseek", "flag=true"])
    {'alpha': 0.5, 'arm': 'deepseek', 'flag': True}
    """
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--param: expected KEY=VALUE, found {item!r}")
        try:
            out[key.strip()] = json.loads(value)
        except (ValueError, RecursionError):  # not JSON, or nested deeper than Python decodes
            out[key.strip()] = value
    return out


def parse_models(spec: str | None, known: tuple[str, ...]) -> str | list[str] | None:
    """``--models``: a comma-separated list of names, or one regular expression.

    A value whose comma-separated items are all known names is a list; a single item that is
    not a known name is a regular expression (searched in each name); anything else is a list
    (and its unknown names an error later).

    >>> parse_models("a,b", ("a", "b", "c")), parse_models("^deep", ("a",))
    (['a', 'b'], '^deep')
    """
    if spec is None or not spec.strip():
        return None
    items = [s.strip() for s in spec.split(",") if s.strip()]
    if all(i in known for i in items):
        return items
    return spec.strip() if len(items) == 1 else items


def _lambdas(sweep: str | None) -> list[float]:
    """``--sweep``: comma-separated non-negative cost weights.

    >>> _lambdas("0, 0.5")
    [0.0, 0.5]
    """
    if not sweep:
        return []
    try:
        values = [float(v) for v in sweep.split(",") if v.strip()]
    except ValueError:
        raise ConfigError(f"--sweep: expected comma-separated numbers, found {sweep!r}") from None
    if not values or any(not v >= 0 for v in values):
        raise ConfigError(f"--sweep: expected non-negative cost weights, found {sweep!r}")
    return values


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=_err,
        transient=True,
    )


def _features(matrix: OutcomeMatrix, problems: str, featurizer: str, n_features: int) -> Any:
    from octoroute.cli.featurespec import open_featurizer
    from octoroute.evaluation import align_problems, load_problem_texts

    texts = align_problems(matrix.problem_ids, load_problem_texts(problems))
    with open_featurizer(featurizer, n_features) as f:
        x = f.transform(texts)
    return x, {"name": featurizer, **f.get_params()}


def _table(result: ReplayResult, data: dict[str, Any]) -> Table:
    """The report as a table: one row per router, compute relative to the largest arm."""
    largest = result.matrix.largest_arm()
    largest_cost = float(result.matrix.arm_cost()[result.matrix.arms.index(largest)])

    def ci(pair: list[float] | None) -> str:
        return "" if pair is None else f"[{pair[0]:.3f}, {pair[1]:.3f}]"

    def num(value: float | None) -> str:
        return "-" if value is None else f"{value:.3f}"

    def vs_largest(compute: float | None) -> str:
        return num(None if compute is None else compute / largest_cost)

    title = (
        f"{result.policy} ({result.mode.value}, {len(result.seeds)} seeds, "
        f"{data['n_problems']} problems, {len(result.matrix.arms)} arms)"
    )
    table = Table(title=title, caption=f"compute relative to {largest}")
    table.add_column("router")
    table.add_column("arm", overflow="fold")
    table.add_column("pass@1", justify="right")
    table.add_column("95% CI", justify="right")
    table.add_column("compute", justify="right")
    hs = data["best_single_hindsight"]
    basis = "train folds" if result.mode.value == "cv" else "hindsight"
    rows = [
        (result.policy, "", data["pass_at_1"], data["ci95"], data["compute"]["mean"]),
        (
            f"best single ({basis})",
            data["best_single_arm"],
            data["best_single_pass_at_1"],
            data["best_single_ci95"],
            data["best_single_compute"],
        ),
        ("best in hindsight", hs["arm"], hs["pass_at_1"], None, None),
        ("oracle", "", data["oracle_pass_at_1"], None, None),
    ]
    ref = data.get("reference")
    if ref:
        rows.append(("reference", ref["model"], ref["pass_at_1"], ref["ci95"], ref["compute"]))
    for label, arm, value, interval, compute in rows:
        table.add_row(label, arm, num(value), ci(interval), vs_largest(compute))
    return table


def replay_command(
    outcomes: OutcomesOpt,
    problems: ProblemsOpt,
    policy: Annotated[str, typer.Option("--policy", help="Registered policy name.")],
    param: Annotated[
        list[str] | None, typer.Option("--param", help="Policy hyperparameter KEY=VALUE.")
    ] = None,
    mode: Annotated[str, typer.Option("--mode", help="cv (cross-fitted) or online.")] = "cv",
    seeds: Annotated[int, typer.Option("--seeds", min=1, help="Number of seeds.")] = 5,
    folds: Annotated[int, typer.Option("--folds", min=2, help="Folds in cv mode.")] = 5,
    models: ModelsOpt = None,
    max_params: MaxParamsOpt = None,
    sizes: SizesOpt = None,
    featurizer: FeaturizerOpt = "lexical",
    n_features: Annotated[
        int, typer.Option("--n-features", min=1, help="Hashed columns of the lexical features.")
    ] = DEFAULT_N_FEATURES,
    lam: Annotated[
        float, typer.Option("--lambda", min=0.0, help="Cost weight: reward = pass - L x cost.")
    ] = 0.0,
    budget: Annotated[
        float | None,
        typer.Option("--budget", help="Mean cost allowed, as a fraction of the largest arm's."),
    ] = None,
    reference: Annotated[
        str | None,
        typer.Option("--reference", help="A model (outside the pool too) to compare with."),
    ] = None,
    sweep: Annotated[
        str | None,
        typer.Option("--sweep", help="Comma-separated lambdas: add the frontier and its AIQ."),
    ] = None,
    run: RunOpt = None,
    benchmark: BenchmarkOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    per_problem: Annotated[
        bool, typer.Option("--per-problem", help="Add per-problem choices to the JSON.")
    ] = False,
    out: Annotated[
        Path | None, typer.Option("--out", help="Also write the JSON (per-problem) to FILE.")
    ] = None,
) -> None:
    """Replay a policy on an outcome matrix over several seeds: pass@1 with 95% intervals,
    the best single arm chosen on the same training data, the oracle, compute and arm shares.

    --mode online: one pass in a random order with bandit feedback (deployment).
    --mode cv: trained with full information on the other folds, routes the held-out fold.
    """
    from octoroute.evaluation import (
        Mode,
        PolicySpec,
        Reference,
        arm_points,
        oracle_point,
        policy_frontier,
        replay,
    )

    started = time.perf_counter()
    try:
        try:
            the_mode = Mode(mode)
        except ValueError:
            raise ConfigError(f"--mode: expected cv or online, found {mode!r}") from None
        if budget is not None and not 0.0 < budget <= 1.0:
            raise ConfigError(f"--budget: expected a fraction in (0, 1], found {budget}")
        full, pool, excluded = load_pool_matrix(
            outcomes,
            run=run,
            benchmark=benchmark,
            models=models,
            max_params=max_params,
            sizes=sizes,
        )
        x, feat = _features(pool, problems, featurizer, n_features)
        spec = PolicySpec(policy, parse_params(param))
        ref = Reference.from_matrix(full, reference, pool) if reference else None
        lambdas = _lambdas(sweep)
        steps = len(range(seeds)) * (folds if the_mode is Mode.CV else 1)
        with _progress() as bar:
            task = bar.add_task(f"replaying {policy}", total=steps * (1 + len(lambdas)))
            result = replay(
                pool,
                x,
                spec,
                mode=the_mode,
                seeds=seeds,
                folds=folds,
                lam=lam,
                budget=budget,
                reference=ref,
                excluded_unknown_size=excluded,
                featurizer=feat,
                on_step=lambda: bar.advance(task),
            )
            frontier = None
            if lambdas:
                frontier = policy_frontier(
                    pool,
                    x,
                    spec,
                    lambdas=lambdas,
                    mode=the_mode,
                    seeds=seeds,
                    folds=folds,
                    on_step=lambda: bar.advance(task),
                )
    except OctorouteError as e:
        _err.print(f"[red]error:[/red] {escape(str(e))}")
        raise typer.Exit(2) from e
    data = result.to_json(per_problem=per_problem)
    if frontier is not None:
        arms = arm_points(pool)
        data["frontier"] = {
            "policy": frontier.to_json(),
            "single_arms": arms.to_json(),
            "oracle": oracle_point(pool).to_json(),
        }
    data["elapsed_seconds"] = round(time.perf_counter() - started, 2)
    if out is not None:
        # The file always carries the per-problem detail (what a report is built from).
        full_data = {**result.to_json(per_problem=True), **data}
        try:
            out.write_text(json.dumps(full_data, indent=2) + "\n", encoding="utf-8")
        except OSError as e:
            _err.print(f"[red]error:[/red] cannot write {escape(str(out))}: {escape(str(e))}")
            raise typer.Exit(2) from e
    if as_json:
        print(json.dumps(data, indent=2))
        return
    Console(soft_wrap=True).print(_table(result, data))
    if excluded:
        _err.print(f"excluded for unknown size: {', '.join(excluded)}")
    if pool.dropped_problems:
        _err.print(f"{len(pool.dropped_problems)} problem(s) dropped: a model had no outcome")
