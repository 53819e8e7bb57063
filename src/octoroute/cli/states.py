"""``octoroute states``: hidden states of a benchmark's prompts in a local arm's model, cached.

Registered on the main app by :mod:`octoroute.cli`. For each problem, the prompt the arm sends
(its style, the problem's visible part) is tokenized by the arm's own llama.cpp server, run
through the model's forward pass in numpy (:mod:`octoroute.features.hidden`), and every
layer's last-token and mean activations are cached; problems already cached are skipped, so a
killed run goes on where it stopped. Prints the cost per problem: milliseconds, tokens and
FLOPs (2 x parameters x tokens).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from octoroute.cli.common import BenchmarkArg, DataOpt, console, fail, load
from octoroute.exceptions import ConfigError, OctorouteError

if TYPE_CHECKING:
    from octoroute.arms.llamacpp import LlamaCppArm
    from octoroute.features.hidden.states import PromptStates
    from octoroute.types import Problem

__all__ = ["open_states", "parse_ship", "states_command"]


def parse_ship(spec: str) -> list[tuple[int, str]]:
    """``--ship``: comma-separated ``LAYER/POOLING`` pairs.

    >>> parse_ship("12/last, 16/mean")
    [(12, 'last'), (16, 'mean')]
    """
    from octoroute.features.probe import parse_key

    try:
        out = [parse_key(item) for item in spec.split(",") if item.strip()]
    except ConfigError as e:
        raise ConfigError(f"--ship: {e}") from None
    if not out:
        raise ConfigError("--ship: no LAYER/POOLING pair")
    return out


@contextlib.contextmanager
def open_states(arm: str, cache: Path | None) -> Iterator[tuple[PromptStates, LlamaCppArm, Path]]:
    """The hidden states of the prompts ``arm`` (a local arm of the default pool) sends, read
    from or written to ``cache`` (default: the cache folder's ``states``); the arm and the
    folder. The arm's server, which tokenizes, starts only if a prompt is not cached."""
    from octoroute.arms.llamacpp import LlamaCppArm
    from octoroute.arms.pool import default_pool
    from octoroute.config import Settings
    from octoroute.features.hidden import StateCache
    from octoroute.features.hidden.shipped import ShippedStates, bundle_path
    from octoroute.features.hidden.states import PromptStates

    pool = default_pool([arm])
    spec = pool.spec(arm)
    if spec.path is None or spec.sha256 is None:
        raise ConfigError(f"arm {arm!r} has no local model file")
    built = pool.build(arm)
    if not isinstance(built, LlamaCppArm):
        raise ConfigError(f"arm {arm!r} is not a local llama.cpp arm")
    folder = cache or Settings.from_env().cache_dir / "states"
    bundle = bundle_path(arm)
    shipped = ShippedStates(bundle) if bundle.is_file() else None
    with contextlib.ExitStack() as stack:
        started: list[bool] = []

        def tokenize(problem: Problem) -> list[int]:
            if not started:  # the first prompt not cached: start the server
                stack.enter_context(built)
                started.append(True)
            return built.prompt_tokens(problem)

        states = PromptStates(spec.path, spec.sha256, spec.style.value, tokenize,
                              StateCache(folder), shipped)  # fmt: skip
        yield states, built, folder


def states_command(
    benchmark: BenchmarkArg,
    arm: Annotated[str, typer.Option("--arm", help="A local arm of the default pool.")],
    data: DataOpt = None,
    cache: Annotated[
        Path | None,
        typer.Option("--cache", help="States folder (default: the cache folder's 'states')."),
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", help="First N problems.")] = None,
    bundle: Annotated[
        Path | None,
        typer.Option("--bundle", help="Also write the --ship vectors of every prompt to FILE."),
    ] = None,
    ship: Annotated[
        str, typer.Option("--ship", help="LAYER/POOLING pairs a bundle holds, comma-separated.")
    ] = "12/last",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Compute and cache the hidden states of a benchmark's prompts in a local arm's model
    (several benchmarks: comma-separated); with --bundle, write the vectors the package ships.

    The shipped bundles were written by (each arm's):
    octoroute states humaneval,humaneval+,mbpp+ --arm ARM --bundle
    src/octoroute/data/states/ARM.npz --ship LAYER/POOLING,...
    """
    from octoroute.features.hidden import StateCache
    from octoroute.features.hidden.cache import prompt_id
    from octoroute.features.hidden.shipped import write_bundle

    try:
        keys = parse_ship(ship)
        problems = [p for b in benchmark.split(",") if b.strip() for p in load(b.strip(), data)]
        problems = problems[:limit]
        rows: list[dict[str, Any]] = []
        with open_states(arm, cache) as (states, built, folder):
            flops_per_token = 2 * int(getattr(built.cost_model, "parameters", 0))
            for p in problems:
                start = time.perf_counter()
                before = states.computed
                s = states.get(p)
                ms = 1000 * (time.perf_counter() - start)
                fresh = states.computed > before
                rows.append({"id": p.id, "tokens": s.tokens, "computed": fresh,
                             "ms": round(ms, 1) if fresh else None,
                             "flops": float(flops_per_token * s.tokens)})  # fmt: skip
                note = f", {ms:.0f} ms" if fresh else " (cached)"
                console.print(f"{escape(p.id)}: {s.tokens} tokens{note}")
            written = None
            if bundle is not None:
                prompts = [prompt_id(states.style, p) for p in problems]
                written = write_bundle(bundle, StateCache(folder), states.model_sha256, prompts,
                                       keys)  # fmt: skip
    except OctorouteError as e:
        fail(e)
    fresh_ms = [float(r["ms"]) for r in rows if r["computed"]]
    n = max(1, len(rows))
    summary = {
        "arm": arm,
        "benchmark": benchmark,
        "problems": len(rows),
        "computed": len(fresh_ms),
        "cache": str(folder),
        "mean_tokens": sum(int(r["tokens"]) for r in rows) / n,
        "mean_ms_computed": sum(fresh_ms) / max(1, len(fresh_ms)),
        "mean_flops": sum(float(r["flops"]) for r in rows) / n,
        "bundle": None if bundle is None else {"path": str(bundle), "prompts": written},
    }
    if as_json:
        print(json.dumps({**summary, "per_problem": rows}))
    else:
        print(json.dumps(summary))
