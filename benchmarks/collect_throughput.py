"""Collection throughput: generated tokens per second per arm during ``collect``, side by side
with the same model's raw decode speed through xllamacpp, and with the prompt's KV cache reused
across requests or not, in the same run.

For each local arm it measures, on the first ``--limit`` HumanEval problems (greedy):

- ``raw decode``: llama.cpp's own decode speed for forced tokens (``LlamaCppArm.raw_speed``);
- ``in requests``: completion tokens / summed request latency (prompt processing included);
- ``end to end``: completion tokens / wall time of the whole collection of that arm (model
  load, prompting, sandbox judging and logging included);

each twice: with ``cache_prompt`` off (every prompt processed whole: the baseline) and on (the
prefix a prompt shares with the previous one, the chat template, system prompt and
instruction, is read from the KV cache). The gap between raw decode and end to end is overhead
to remove. Run from the project root::

    .venv/bin/python benchmarks/collect_throughput.py --limit 10
    .venv/bin/python benchmarks/collect_throughput.py --arms smollm2-135m,qwen2.5-coder-0.5b
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def main() -> None:
    """Measure and print the table."""
    from octoroute.arms.llamacpp import LlamaCppArm
    from octoroute.arms.pool import default_pool
    from octoroute.collection.collect import CollectConfig, collect
    from octoroute.config import Settings
    from octoroute.sandbox import Executor, prepare
    from octoroute.store import open_store
    from octoroute.tasks import load_benchmark

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arms", default=None, help="comma-separated arm names (default: all)")
    parser.add_argument("--limit", type=int, default=10, help="HumanEval problems per arm")
    parser.add_argument("--max-tokens", type=int, default=512)
    args = parser.parse_args()
    pool = default_pool(args.arms.split(",") if args.arms else None)
    rows = []
    with Executor(workers=2) as ex, tempfile.TemporaryDirectory() as tmp:
        problems = prepare(load_benchmark("humaneval")[: args.limit], ex,
                           Settings.from_env().cache_dir)  # fmt: skip
        for name in pool.names:
            arm = pool.build(name)
            assert isinstance(arm, LlamaCppArm)
            raw = arm.raw_speed(tokens=128)
            arm.close()
            for cache in (False, True):

                def build(n: str, cache: bool = cache) -> LlamaCppArm:
                    built = pool.build(n)
                    assert isinstance(built, LlamaCppArm)
                    built.cache_prompt = cache
                    return built

                with open_store(Path(tmp) / f"{name}-{cache}.db") as store:
                    cfg = CollectConfig("humaneval", samples=1, max_tokens=args.max_tokens)
                    start = time.monotonic()
                    summary = collect(store, ex, pool.select([name]), problems, cfg, "bench",
                                      build=build)  # fmt: skip
                    wall = time.monotonic() - start
                tokens = summary.completion_tokens.get(name, 0)
                latency = summary.generation_seconds.get(name, 0.0)
                rows.append((name, "on" if cache else "off", raw.decode,
                             tokens / latency if latency else 0.0,
                             tokens / wall if wall else 0.0, tokens, wall))  # fmt: skip
    print(f"{len(problems)} HumanEval problems per arm, greedy, max {args.max_tokens} tokens")
    head = (
        f"{'arm':<31}{'kv cache':>9}{'raw decode':>12}{'in requests':>13}{'end to end':>12}"
        f"{'tokens':>8}{'wall s':>8}"
    )
    print(head)
    print("-" * len(head))
    for name, cache, raw_tps, req_tps, e2e_tps, tokens, wall in rows:
        print(f"{name:<31}{cache:>9}{raw_tps:>12.1f}{req_tps:>13.1f}{e2e_tps:>12.1f}"
              f"{tokens:>8}{wall:>8.1f}")  # fmt: skip
    print("(tokens per second; raw decode is the same model's llama.cpp decode speed)")


if __name__ == "__main__":
    main()
