"""``octoroute probes``: how well a local model's hidden states predict each arm's success.

Registered on the main app by :mod:`octoroute.cli`. Reads an outcome matrix as ``replay`` does
(a published eval-arena matrix, an outcome log or an export), the problems' prompts, and one
local model's hidden states over them (:mod:`octoroute.features.hidden`, cached; computed on
demand through the arm's own tokenizer), then runs :func:`octoroute.evaluation.probes.probe_study`.
The model reads each prompt as the arm ``--model`` would send it, visible part only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from octoroute.cli.common import console, fail
from octoroute.cli.replay import (
    BenchmarkOpt,
    MaxParamsOpt,
    ModelsOpt,
    OutcomesOpt,
    ProblemsOpt,
    RunOpt,
    SizesOpt,
    load_pool_matrix,
)
from octoroute.cli.states import open_states
from octoroute.exceptions import ConfigError, OctorouteError

__all__ = ["parse_layers", "probes_command"]

LEXICAL_FEATURES = 128


def parse_layers(spec: str | None) -> list[int] | None:
    """``--layers``: comma-separated layer numbers, or ``all`` (None).

    >>> parse_layers("0, 8,16"), parse_layers("all")
    ([0, 8, 16], None)
    """
    if spec is None or spec.strip().lower() == "all":
        return None
    try:
        return [int(x) for x in spec.split(",") if x.strip()]
    except ValueError:
        raise ConfigError(f"--layers: expected comma-separated numbers, found {spec!r}") from None


def probes_command(
    outcomes: OutcomesOpt,
    problems: ProblemsOpt,
    model: Annotated[
        str, typer.Option("--model", help="The local arm whose model reads the prompts.")
    ],
    layers: Annotated[
        str,
        typer.Option("--layers", help="Layers to choose from (comma-separated, or 'all')."),
    ] = "0,4,8,12,16,20,24",
    folds: Annotated[int, typer.Option("--folds", min=2, help="Outer folds.")] = 5,
    seed: Annotated[int, typer.Option("--seed", help="Fold and bootstrap seed.")] = 0,
    models: ModelsOpt = None,
    max_params: MaxParamsOpt = None,
    sizes: SizesOpt = None,
    run: RunOpt = None,
    benchmark: BenchmarkOpt = None,
    cache: Annotated[
        Path | None,
        typer.Option("--cache", help="States folder (default: the cache folder's 'states')."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Held-out AUC of a linear probe of each arm's success on a local model's hidden states
    (layer and pooling chosen by nested cross-validation), beside prompt length, the lexical
    features and the base rate, and once prompt length is regressed out."""
    import numpy as np

    from octoroute.evaluation import align_problems, load_problem_texts
    from octoroute.evaluation.probes import check_layers, probe_study, stack_states
    from octoroute.features import make_featurizer

    try:
        _, pool, _ = load_pool_matrix(
            outcomes, run=run, benchmark=benchmark, models=models, max_params=max_params,
            sizes=sizes,
        )  # fmt: skip
        texts = align_problems(pool.problem_ids, load_problem_texts(problems))
        wanted = parse_layers(layers)
        with open_states(model, cache) as (states, _, _):
            hidden = [states.get(texts[0])]
            check_layers(hidden[0].last.shape[0], wanted)  # before the long part
            hidden += [states.get(p) for p in texts[1:]]
        table = stack_states([(h.last, h.mean) for h in hidden], wanted)
        length = np.array([h.tokens for h in hidden], dtype=np.float64)
        lexical = make_featurizer("lexical", n_features=LEXICAL_FEATURES).transform(texts)
        study = probe_study(
            model, table, length, lexical,
            {a: pool.rewards[:, j] for j, a in enumerate(pool.arms)}, folds=folds, seed=seed,
        )  # fmt: skip
    except OctorouteError as e:
        fail(e)
    data = {**study.to_json(), "n_problems": len(texts), "computed": states.computed}
    if as_json:
        print(json.dumps(data))
        return
    console.print(_table(data))


def _table(data: dict[str, object]) -> Table:
    def num(v: object) -> str:
        return "-" if v is None else f"{float(v):.3f}"  # type: ignore[arg-type]

    table = Table(
        title=f"probes of {data['model']} ({data['n_problems']} problems, {data['folds']} folds)",
        caption=f"most chosen layer/pooling: {data['layer']}",
    )
    for col in ("arm", "base rate", "AUC", "95% CI", "length", "lexical", "residual"):
        table.add_column(col, justify="left" if col == "arm" else "right")
    per_arm = data["per_arm"]
    assert isinstance(per_arm, dict)
    for arm, p in per_arm.items():
        ci = p["ci95"]
        interval = "" if ci is None else f"[{ci[0]:.3f}, {ci[1]:.3f}]"
        aucs = [num(p[k]) for k in ("auc_length", "auc_lexical", "auc_residual")]
        table.add_row(escape(arm), num(p["base_rate"]), num(p["auc"]), interval, *aucs)
    table.add_row("mean", "", num(data["mean_auc"]), "", num(data["mean_auc_length"]),
                  num(data["mean_auc_lexical"]), num(data["mean_auc_residual"]))  # fmt: skip
    return table
