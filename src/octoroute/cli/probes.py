"""``octoroute probes``: how well a local model's hidden states predict each arm's success.

Registered on the main app by :mod:`octoroute.cli`. Reads an outcome matrix as ``replay`` does
(a published eval-arena matrix, an outcome log or an export), the problems' prompts, and one
local model's hidden states over them (:mod:`octoroute.features.hidden`, cached; computed on
demand through the arm's own tokenizer), then runs :func:`octoroute.evaluation.probes.probe_study`.
The model reads each prompt as the arm ``--model`` would send it, visible part only. With
``--model own``, each arm that is a local arm of the default pool is probed on its own model's
states reading its own prompts; the other arms are listed as skipped, with the reason.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

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
from octoroute.exceptions import ConfigError, DataError, MissingDependencyError, OctorouteError

if TYPE_CHECKING:
    from octoroute.evaluation.probes import ProbeStudy
    from octoroute.features.base import FloatArray
    from octoroute.types import Problem

__all__ = ["OWN", "parse_layers", "probes_command"]

LEXICAL_FEATURES = 128
OWN = "own"
"""``--model own``: every local arm reads its own prompts with its own model."""


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
        str,
        typer.Option(
            "--model",
            help="The local arm whose model reads the prompts, or 'own': each local arm's own.",
        ),
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
    from octoroute.evaluation import align_problems, load_problem_texts
    from octoroute.features import make_featurizer

    try:
        _, pool, _ = load_pool_matrix(
            outcomes, run=run, benchmark=benchmark, models=models, max_params=max_params,
            sizes=sizes,
        )  # fmt: skip
        texts = align_problems(pool.problem_ids, load_problem_texts(problems))
        wanted = parse_layers(layers)
        lexical = make_featurizer("lexical", n_features=LEXICAL_FEATURES).transform(texts)
        outcomes_of = {a: pool.rewards[:, j] for j, a in enumerate(pool.arms)}
        inputs = _Inputs(texts, wanted, lexical, folds, seed, cache)
        if model == OWN:
            data = _own_study(outcomes_of, inputs)
        else:
            study, computed = _study(model, outcomes_of, inputs)
            data = {**study.to_json(), "computed": computed}
    except OctorouteError as e:
        fail(e)
    data["n_problems"] = len(texts)
    if as_json:
        print(json.dumps(data))
        return
    console.print(_table(data))
    for arm, why in data.get("skipped", {}).items():
        console.print(f"skipped {escape(arm)}: {escape(why)}")


@dataclass(frozen=True)
class _Inputs:
    """What every probe study of one run reads: the prompts, the layers to choose from, the
    lexical features, the folds and seed, the states folder."""

    texts: list[Problem]
    wanted: list[int] | None
    lexical: FloatArray
    folds: int
    seed: int
    cache: Path | None


def _study(model: str, outcomes: dict[str, FloatArray], inputs: _Inputs) -> tuple[ProbeStudy, int]:
    """The probes of ``outcomes`` on ``model``'s states; how many prompts were computed."""
    import numpy as np

    from octoroute.evaluation.probes import check_layers, probe_study, stack_states

    texts = inputs.texts
    with open_states(model, inputs.cache) as (states, _, _):
        hidden = [states.get(texts[0])]
        check_layers(hidden[0].last.shape[0], inputs.wanted)  # before the long part
        hidden += [states.get(p) for p in texts[1:]]
    table = stack_states([(h.last, h.mean) for h in hidden], inputs.wanted)
    length = np.array([h.tokens for h in hidden], dtype=np.float64)
    study = probe_study(model, table, length, inputs.lexical, outcomes, folds=inputs.folds,
                        seed=inputs.seed)  # fmt: skip
    return study, states.computed


def _own_study(outcomes: dict[str, FloatArray], inputs: _Inputs) -> dict[str, Any]:
    """``--model own``: each local arm probed on its own states; the others skipped."""
    from octoroute.arms.pool import default_pool
    from octoroute.evaluation.probes import ProbeStudy

    local = set(default_pool().names)
    per_arm: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    computed = 0
    candidates: tuple[Any, ...] = ()
    for arm, rewards in outcomes.items():
        if arm not in local:
            skipped[arm] = "not a local arm of the default pool"
            continue
        try:
            study, n = _study(arm, {arm: rewards}, inputs)
        # An architecture the forward pass does not run, a model not installed, no gguf.
        except (DataError, ConfigError, MissingDependencyError) as e:
            skipped[arm] = str(e)
            continue
        per_arm.update(study.per_arm)
        computed += n
        candidates = candidates or study.candidates
    if not per_arm:
        reasons = "; ".join(f"{a}: {r}" for a, r in skipped.items())
        raise ConfigError(f"probes --model own: no arm's own states can be read ({reasons})")
    merged = ProbeStudy(OWN, per_arm, inputs.folds, inputs.seed, candidates).to_json()
    return {**merged, "computed": computed, "skipped": skipped}


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
