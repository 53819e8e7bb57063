"""``octoroute states``: hidden states of a benchmark's prompts in a local arm's model, cached.

Registered on the main app by :mod:`octoroute.cli`. For each problem, the prompt the arm sends
(its style, the problem's visible part) is tokenized by the arm's own llama.cpp server, run
through the model's forward pass in numpy (:mod:`octoroute.features.hidden`), and every
layer's last-token and mean activations are cached; problems already cached are skipped, so a
killed run goes on where it stopped. Prints the cost per problem: milliseconds, tokens and
FLOPs (2 x parameters x tokens).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from octoroute.cli.common import BenchmarkArg, DataOpt, console, fail, load
from octoroute.exceptions import ConfigError, OctorouteError

__all__ = ["states_command"]


def states_command(
    benchmark: BenchmarkArg,
    arm: Annotated[str, typer.Option("--arm", help="A local arm of the default pool.")],
    data: DataOpt = None,
    cache: Annotated[
        Path | None,
        typer.Option("--cache", help="States folder (default: the cache folder's 'states')."),
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", help="First N problems.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Compute and cache the hidden states of a benchmark's prompts in a local arm's model."""
    from octoroute.arms.llamacpp import LlamaCppArm
    from octoroute.arms.pool import default_pool
    from octoroute.config import Settings
    from octoroute.features.hidden import StateCache
    from octoroute.features.hidden.states import PromptStates

    try:
        pool = default_pool([arm])
        spec = pool.spec(arm)
        if spec.path is None or spec.sha256 is None:
            raise ConfigError(f"arm {arm!r} has no local model file")
        built = pool.build(arm)
        if not isinstance(built, LlamaCppArm):
            raise ConfigError(f"arm {arm!r} is not a local llama.cpp arm")
        problems = load(benchmark, data)[:limit]
        folder = cache or Settings.from_env().cache_dir / "states"
        states = PromptStates(spec.path, spec.sha256, spec.style.value, built.prompt_tokens,
                              StateCache(folder))  # fmt: skip
        flops_per_token = 2 * int(getattr(built.cost_model, "parameters", 0))
        rows: list[dict[str, Any]] = []
        with built:
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
    }
    if as_json:
        print(json.dumps({**summary, "per_problem": rows}))
    else:
        print(json.dumps(summary))
