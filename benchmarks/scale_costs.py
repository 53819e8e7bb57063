"""What crosses the network when collection runs on Ray: per attempt, the pickled job sent to a
worker (the problem's visible part, the sampling, a repair's parent) and the pickled attempt
sent back (program, verdicts, tokens, cost); once per problem and node, the full problem with
its hidden tests, through Ray's object store. Over every problem of HumanEval+ and MBPP+ and
every attempt of the shipped log. Then the one writer's pace: the shipped log's attempts
recorded one transaction each, as the driver records them, into a new outcome log on this
machine's disk. The figures behind docs/MULTI_NODE.md::

    OCTOROUTE_DATA_DIR=DIR .venv/bin/python benchmarks/scale_costs.py
"""

from __future__ import annotations

import dataclasses
import importlib.resources
import pickle
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any


def _row(name: str, sizes: list[int]) -> str:
    sizes = sorted(sizes)
    p95 = sizes[int(0.95 * (len(sizes) - 1))]
    return (
        f"{name:<36}{len(sizes):>7}{statistics.median(sizes) / 1024:>10.1f}"
        f"{p95 / 1024:>10.1f}{sizes[-1] / 1024:>10.1f}{sum(sizes) / len(sizes) / 1024:>10.1f}"
    )


def main() -> None:
    """Measure and print the table (KiB)."""
    from octoroute.collection.collect import CollectConfig
    from octoroute.config import Settings
    from octoroute.sandbox import Executor, prepare
    from octoroute.store.export import read_attempts_jsonl
    from octoroute.tasks import load_benchmark

    cfg = CollectConfig("", max_tokens=512)
    rows = []
    with Executor(workers=2) as ex:
        for bench in ("humaneval+", "mbpp+"):
            problems = prepare(load_benchmark(bench), ex, Settings.from_env().cache_dir)
            jobs = [cfg.job("run", "arm", p, 0) for p in problems]
            slim = [dataclasses.replace(j, problem=j.problem.visible_only()) for j in jobs]
            rows.append(_row(f"job as sent ({bench})", [len(pickle.dumps(j)) for j in slim]))
            rows.append(_row(f"full problem, once ({bench})",
                             [len(pickle.dumps(p)) for p in problems]))  # fmt: skip
    shipped = importlib.resources.files("octoroute") / "data" / "default_pool.jsonl.gz"
    with importlib.resources.as_file(shipped) as path:
        attempts = read_attempts_jsonl(path)
    rows.append(_row("attempt, sent back (shipped log)", [len(pickle.dumps(a)) for a in attempts]))
    head = f"{'object':<36}{'count':>7}{'median':>10}{'p95':>10}{'max':>10}{'mean':>10}"
    print(head + "   (KiB, pickled)")
    print("-" * len(head))
    print("\n".join(rows))
    print(f"one writer: {_writer_rate(attempts):.0f} attempts/s recorded (a transaction each)")


def _writer_rate(attempts: list[Any]) -> float:
    """Attempts per second :meth:`Store.record_attempt` logs into a new log (this disk)."""
    from octoroute.store import open_store
    from octoroute.tasks import load_benchmark

    with tempfile.TemporaryDirectory() as tmp, open_store(Path(tmp) / "log.db") as store:
        store.add_run("bench", config={"kind": "collect"})
        for arm in sorted({a.arm for a in attempts}):
            store.add_arm(arm, backend="llamacpp", model=arm, cost_unit="flops")
        for bench in sorted({a.benchmark for a in attempts}):
            store.add_problems(load_benchmark(bench))
        start = time.perf_counter()
        for a in attempts:
            store.record_attempt(
                dataclasses.replace(a, id=None, run_id="bench", parent_attempt_id=None)
            )
        return len(attempts) / (time.perf_counter() - start)


if __name__ == "__main__":
    main()
