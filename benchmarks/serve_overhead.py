"""What the routing server adds to a request: latency over calling the arm directly, and
requests per second, with a fake instant arm (so the figures show the server, not a model).

In one run, on loopback, each server in its own process (as deployed; in one process the
servers' threads would contend for the interpreter lock and the figure would show that):

1. an upstream: a minimal OpenAI-compatible endpoint (Starlette under uvicorn) that answers
   every chat request at once with a fixed completion;
2. ``direct`` (the baseline): ``--requests`` sequential chat requests straight to it;
3. ``octoroute``: the same requests to ``octoroute serve``'s application (LinUCB over two
   endpoint arms that both reach the upstream, the lexical featurizer, every request logged
   to the SQLite outcome log), its latency minus the direct one's is the routing overhead;
4. throughput: ``--clients`` threads sending requests to each, requests per second.

Goal (issue 17): under 2 ms p50 overhead. Run from the project root::

    .venv/bin/python benchmarks/serve_overhead.py
    .venv/bin/python benchmarks/serve_overhead.py --requests 500 --clients 8
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

MODEL = "instant"
ASK = {"messages": [{"role": "user", "content": "Write add(a, b) returning a + b."}],
       "max_tokens": 16}  # fmt: skip


def upstream_app() -> Starlette:
    """An OpenAI-compatible endpoint that answers at once."""

    async def models(request: Request) -> JSONResponse:
        return JSONResponse({"object": "list", "data": [{"id": MODEL, "object": "model"}]})

    async def chat(request: Request) -> JSONResponse:
        await request.body()
        return JSONResponse({
            "id": "x", "object": "chat.completion", "created": 0, "model": MODEL,
            "choices": [{"index": 0, "finish_reason": "stop", "message": {
                "role": "assistant", "content": "def add(a, b):\n    return a + b\n"}}],
            "usage": {"prompt_tokens": 20, "completion_tokens": 12, "total_tokens": 32},
        })  # fmt: skip

    return Starlette(routes=[Route("/v1/models", models),
                             Route("/v1/chat/completions", chat, methods=["POST"])])  # fmt: skip


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(*role: str) -> tuple[str, subprocess.Popen[bytes]]:
    """Run this script as ``role`` (upstream, or router with its upstream's URL) on a free
    loopback port in its own process; its base URL, once it answers, and the process."""
    port = _port()
    proc = subprocess.Popen([sys.executable, __file__, "--serve", str(port), *role])
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(url + "/v1/models", timeout=1)
            return url, proc
        except httpx.TransportError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit(f"the {role[0]} did not start")


def serve(port: int, role: str, upstream: str | None) -> None:
    """The body of a server process."""
    with tempfile.TemporaryDirectory() as tmp:
        app = upstream_app() if role == "upstream" else router_app(str(upstream), Path(tmp))
        uvicorn.run(app, host="127.0.0.1", port=port, log_level="error", access_log=False)


def router_app(upstream: str, state: Path) -> Any:
    """``octoroute serve``'s application over two endpoint arms reaching ``upstream``."""
    from octoroute.arms.pool import load_pool
    from octoroute.features import make_featurizer
    from octoroute.policies import make_policy
    from octoroute.serve.app import create_app
    from octoroute.serve.service import RoutingService
    from octoroute.store import open_store

    toml = state / "pool.toml"
    toml.write_text("".join(
        f'[[arms]]\nname = "{name}"\nbackend = "openai"\nmodel = "{MODEL}"\n'
        f'endpoint = "{upstream}/v1"\napi_key_env = "NO_KEY_NEEDED"\n'
        'cost = { unit = "usd", usd_per_m_prompt = 0.1, usd_per_m_completion = 0.2 }\n'
        for name in ("fast-a", "fast-b")))  # fmt: skip
    os.environ.setdefault("NO_KEY_NEEDED", "unused")
    service = RoutingService(load_pool(toml), make_policy("linucb"),
                             make_featurizer("lexical", n_features=128),
                             open_store(state / "log.db"), state / "policy.json")  # fmt: skip
    service.open()
    return create_app(service)


def latencies(call: Callable[[], None], n: int) -> np.ndarray[Any, Any]:
    """Seconds per call, ``n`` calls one after another (after 10 unmeasured)."""
    for _ in range(10):
        call()
    out = np.empty(n)
    for i in range(n):
        t = time.perf_counter()
        call()
        out[i] = time.perf_counter() - t
    return out


def throughput(call: Callable[[], None], n: int, clients: int) -> float:
    """Requests per second with ``clients`` threads sending ``n`` requests in all."""
    t = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(lambda _: call(), range(n)))
    return n / (time.perf_counter() - t)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--serve", nargs="+", help=argparse.SUPPRESS)  # PORT ROLE [UPSTREAM]
    args = parser.parse_args()
    if args.serve:
        port, role, *rest = args.serve
        serve(int(port), role, rest[0] if rest else None)
        return
    print(f"serve_overhead: {args.requests} requests, {args.clients} clients; "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores")  # fmt: skip
    upstream, up_proc = start("upstream")
    router, r_proc = start("router", upstream)
    try:
        with httpx.Client(timeout=30) as client:

            def direct() -> None:
                r = client.post(f"{upstream}/v1/chat/completions", json={"model": MODEL, **ASK})
                r.raise_for_status()

            def routed() -> None:
                r = client.post(f"{router}/v1/chat/completions",
                                json={"model": "octoroute", **ASK})  # fmt: skip
                r.raise_for_status()
                assert r.headers["x-octoroute-arm"] in ("fast-a", "fast-b")

            d = latencies(direct, args.requests) * 1000
            r = latencies(routed, args.requests) * 1000
            d_rps = throughput(direct, args.requests, args.clients)
            r_rps = throughput(routed, args.requests, args.clients)
    finally:
        for proc in (r_proc, up_proc):
            proc.terminate()
            proc.wait(timeout=30)
    print(f"\n{'':<22}{'p50 ms':>10}{'p99 ms':>10}{'req/s':>10}")
    print(f"{'direct (baseline)':<22}{np.percentile(d, 50):>10.2f}{np.percentile(d, 99):>10.2f}"
          f"{d_rps:>10.0f}")  # fmt: skip
    print(f"{'through octoroute':<22}{np.percentile(r, 50):>10.2f}{np.percentile(r, 99):>10.2f}"
          f"{r_rps:>10.0f}")  # fmt: skip
    over50 = np.percentile(r, 50) - np.percentile(d, 50)
    over99 = np.percentile(r, 99) - np.percentile(d, 99)
    print(f"routing overhead: p50 {over50:.2f} ms, p99 {over99:.2f} ms (goal: p50 under 2 ms)")


if __name__ == "__main__":
    main()
