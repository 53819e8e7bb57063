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
to remove. Greedy answers may differ in a few tokens between the two (a cached prefix changes
the floating-point sums), so a second table isolates what the cache saves: the same
requests (each arm's own prompt for each problem, in order) with one token to generate, and
llama.cpp's own count of the prompt tokens it evaluated and the milliseconds it took.

With ``--ray`` it measures the scale-out instead: attempts per second of plain local collection
against Ray collection with one and two workers (actors), in the same run, on a Ray instance
started on this machine. First with a fake endpoint arm of fixed latency (``--latency``
seconds per answer, one request at a time per worker), so the figure shows the scheduler and
not the CPU; then with a real local arm (``--local-arm``, one llama.cpp thread per worker).
Run from the project root::

    .venv/bin/python benchmarks/collect_throughput.py --limit 10
    .venv/bin/python benchmarks/collect_throughput.py --arms smollm2-135m,qwen2.5-coder-0.5b
    .venv/bin/python benchmarks/collect_throughput.py --ray --limit 40
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import tempfile
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


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
    parser.add_argument("--ray", action="store_true", help="measure Ray scale-out instead")
    parser.add_argument("--latency", type=float, default=0.5, help="fake arm's seconds/answer")
    parser.add_argument("--local-arm", default="smollm2-135m", help="real arm of the Ray run")
    args = parser.parse_args()
    if args.ray:
        ray_main(args)
        return
    pool = default_pool(args.arms.split(",") if args.arms else None)
    rows = []
    prefix_rows = []
    with Executor(workers=2) as ex, tempfile.TemporaryDirectory() as tmp:
        problems = prepare(load_benchmark("humaneval")[: args.limit], ex,
                           Settings.from_env().cache_dir)  # fmt: skip
        for name in pool.names:
            arm = pool.build(name)
            assert isinstance(arm, LlamaCppArm)
            raw = arm.raw_speed(tokens=128)
            # Cache on first: a slot keeps the last prompt it read even with the cache off, and
            # llama.cpp hands a request the slot most like it, so the second pass would find
            # each whole prompt from the first.
            for cache in (True, False):
                prefix_rows.append((name, "on" if cache else "off",
                                    *prompt_processing(arm, problems, cache)))  # fmt: skip
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
    print()
    print("prompt processing, the same requests with 1 token to generate (llama.cpp's timings)")
    head = f"{'arm':<31}{'kv cache':>9}{'prompt tokens':>15}{'evaluated':>11}{'ms/request':>12}"
    print(head)
    print("-" * len(head))
    for name, cache, total, evaluated, ms in prefix_rows:
        n = max(len(problems), 1)
        print(f"{name:<31}{cache:>9}{total / n:>15.1f}{evaluated / n:>11.1f}{ms / n:>12.1f}")
    print("(means per request; evaluated: prompt tokens not read from the KV cache)")


def prompt_processing(arm: Any, problems: list[Any], cache: bool) -> tuple[int, int, float]:
    """Each problem's request as ``arm`` makes it, with one token to generate, in order:
    the prompt tokens in all, those llama.cpp evaluated (not read from the KV cache) and its
    prompt milliseconds, summed."""
    from octoroute.arms.base import Sampling
    from octoroute.arms.prompts import problem_request

    client = arm._client  # the arm's own HTTP client: the same body, the same endpoint
    total = evaluated = 0
    ms = 0.0
    for problem in problems:
        payload, stops = problem_request(problem.visible_only(), arm.style)
        body = client._body(payload, Sampling(max_tokens=1, stop=stops), arm.model)
        body["cache_prompt"] = cache
        path = "completions" if isinstance(payload, str) else "chat/completions"
        data = client._post_once(path, body)
        timings = data["timings"]
        evaluated += int(timings["prompt_n"])
        total += int(data["usage"]["prompt_tokens"])
        ms += float(timings["prompt_ms"])
    return total, evaluated, ms


@contextlib.contextmanager
def fake_endpoint(latency: float) -> Iterator[str]:
    """An OpenAI-compatible endpoint on loopback answering every request after ``latency``
    seconds with the same short program; yields its ``/v1`` URL."""
    answer = json.dumps({
        "model": "fake-model",
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": "def f():\n    return 1\n"}}],
        "usage": {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110},
    }).encode()  # fmt: skip

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            time.sleep(latency)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


def ray_main(args: argparse.Namespace) -> None:
    """Plain local collection against Ray with one and two workers, same problems, same run."""
    import ray

    from octoroute.arms.pool import ArmSpec, Pool, default_pool
    from octoroute.collection.collect import CollectConfig, collect
    from octoroute.collection.jobs import Runner
    from octoroute.config import Settings
    from octoroute.sandbox import Executor, prepare
    from octoroute.scale import RayRunner, model_resource
    from octoroute.store import open_store
    from octoroute.tasks import load_benchmark

    local = default_pool([args.local_arm], threads=1)
    local_spec = dataclasses.replace(local.specs[0], concurrency=1)
    resource = model_resource(local_spec)
    assert resource is not None
    rows = []
    with fake_endpoint(args.latency) as url, Executor(workers=1) as ex, \
            tempfile.TemporaryDirectory() as tmp:  # fmt: skip
        problems = prepare(load_benchmark("humaneval")[: args.limit], ex,
                           Settings.from_env().cache_dir)  # fmt: skip

        def fakes(*names: str) -> Pool:
            return Pool(tuple(ArmSpec(n, "openai", "fake-model", endpoint=url, concurrency=1)
                              for n in names), source="fake")  # fmt: skip

        # One Ray instance for every Ray row: two units of the local model, so two workers fit.
        ray.init(num_cpus=2, resources={resource: 2}, include_dashboard=False,
                 log_to_driver=False, configure_logging=False)  # fmt: skip
        try:
            for label, pool, n in [
                (f"fake arm ({args.latency:.2f} s)", fakes("fake"), len(problems)),
                ("two fake arms", fakes("fake-a", "fake-b"), len(problems)),
                (f"{args.local_arm} (1 thread)", Pool((local_spec,), "default"),
                 min(len(problems), 10)),
            ]:  # fmt: skip
                runners: list[tuple[str, Runner | None]] = [
                    ("local (no Ray)", None),
                    ("Ray, 1 worker", RayRunner(workers=1)),
                    ("Ray, 2 workers", RayRunner(workers=2)),
                ]
                for how, runner in runners:
                    with open_store(Path(tmp) / f"{len(rows)}.db") as store:
                        cfg = CollectConfig("humaneval", samples=1, max_tokens=64)
                        start = time.monotonic()
                        summary = collect(store, ex, pool, problems[:n], cfg, "bench",
                                          runner=runner)  # fmt: skip
                        wall = time.monotonic() - start
                    made = n * len(pool.specs)
                    assert summary.recorded == made and summary.arm_errors == 0, summary
                    rows.append((label, how, made, wall, made / wall))
        finally:
            ray.shutdown()
    print(f"HumanEval problems, one greedy attempt each; fake arm: {args.latency} s per answer")
    head = f"{'arm':<30}{'runner':<18}{'attempts':>9}{'wall s':>9}{'attempts/s':>12}"
    print(head)
    print("-" * len(head))
    for label, how, n, wall, rate in rows:
        print(f"{label:<30}{how:<18}{n:>9}{wall:>9.1f}{rate:>12.2f}")
    print(
        "(wall time includes starting the actors and loading the model in each worker; "
        "Ray runs a pool's arms at once, each on its own workers)"
    )


if __name__ == "__main__":
    main()
