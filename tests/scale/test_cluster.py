"""A real Ray cluster on loopback (``ray start --head`` and a second node, 127.0.0.1 only):
collection across its workers ends with every attempt logged once, through a worker killed
mid-run and through a driver killed and started again. Slow suite: ``-m slow``."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from octoroute.arms.models import model_status
from octoroute.arms.pool import load_pool
from octoroute.collection.collect import ArmProgress, CollectConfig, collect
from octoroute.sandbox import Executor, prepare
from octoroute.scale import RayRunner
from octoroute.store import open_store
from octoroute.tasks import load_benchmark
from tests.arms.conftest import FakeEndpoint, fake_endpoint, ok_json  # noqa: F401

pytestmark = pytest.mark.slow
ray = pytest.importorskip("ray")
SMOLLM = "smollm2-135m"
RAY = Path(sys.executable).with_name("ray")


@dataclass
class Cluster:
    """A running loopback cluster: its address and the environment its clients need."""

    address: str
    env: dict[str, str]
    temp: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _stop(temp: Path) -> None:
    """Kill this cluster's processes only (those started under its temp dir, and children)."""
    import psutil

    mine = [p for p in psutil.process_iter(["cmdline"])
            if any(str(temp) in part for part in (p.info["cmdline"] or []))]  # fmt: skip
    for p in mine:
        for q in [*p.children(recursive=True), p]:
            with contextlib.suppress(psutil.Error):
                q.kill()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    temp = tmp_path_factory.mktemp("ray")
    # Loopback only, so no token: the driver in this process reads Ray's auth settings when
    # ray is imported, before a fixture could set them (a real cluster uses token auth).
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "OCTOROUTE_THREADS": "1"}
    port = _free_port()
    resources = json.dumps({f"model:{SMOLLM}": 1})
    common = ["--node-ip-address=127.0.0.1", "--num-cpus=1", f"--resources={resources}",
              "--object-store-memory=100000000", "--disable-usage-stats"]  # fmt: skip
    head = [str(RAY), "start", "--head", f"--port={port}", f"--temp-dir={temp}",
            "--include-dashboard=false", *common]  # fmt: skip
    node = [str(RAY), "start", f"--address=127.0.0.1:{port}", *common]
    try:
        for cmd in (head, node):
            subprocess.run(cmd, env=env, check=True, capture_output=True, timeout=120)
        yield Cluster(f"127.0.0.1:{port}", env, temp)
    finally:
        if ray.is_initialized():
            ray.shutdown()
        _stop(temp)


def _pool_file(tmp_path: Path, url: str, local: bool) -> Path:
    text = f"""
[[arms]]
name = "endpoint"
backend = "openai"
model = "fake-model"
endpoint = "{url}"
concurrency = 2
cost = {{ unit = "flops", parameters = 1000000 }}
"""
    if local:
        text += f"""
[[arms]]
name = "{SMOLLM}"
backend = "llamacpp"
local_model = "{SMOLLM}"
style = "chat"
threads = 1
"""
    path = tmp_path / "pool.toml"
    path.write_text(text)
    return path


def _keys(db: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return conn.execute("SELECT benchmark, problem_id, arm, sample_index, attempt_number, "
                            "arm_error FROM attempts").fetchall()  # fmt: skip


def test_a_worker_killed_mid_run_leaves_every_attempt_logged_once(
    cluster: Cluster,
    tmp_path: Path,
    fake_endpoint: FakeEndpoint,  # noqa: F811
) -> None:
    local = model_status(SMOLLM).installed
    fake_endpoint.stall = 0.3  # a fixed latency: the kill lands while jobs are in flight
    pool = load_pool(_pool_file(tmp_path, fake_endpoint.url, local))
    runner = RayRunner(cluster.address)
    killed: list[int] = []

    def kill_one(p: ArmProgress) -> None:
        if p.arm == "endpoint" and not killed:
            pid = ray.get(runner.actors["endpoint"][0].pid.remote())
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    try:
        with Executor(workers=1) as ex, open_store(tmp_path / "log.db") as store:
            problems = prepare(load_benchmark("humaneval")[:6], ex, tmp_path / "cache")
            cfg = CollectConfig("humaneval", samples=2, max_tokens=32)
            summary = collect(store, ex, pool, problems, cfg, "r", on_attempt=kill_one,
                              runner=runner)  # fmt: skip
            pids_seen = {a.arm for a in store.attempts("r")}
    finally:
        runner.close()
    planned = 6 * 2 * len(pool.specs)
    keys = _keys(tmp_path / "log.db")
    assert killed, "no worker was killed"
    assert summary.recorded == planned == len(keys) == len({k[:5] for k in keys})
    assert summary.arm_errors == 0 and all(k[5] is None for k in keys)
    assert pids_seen == set(pool.names)
    # Two workers (the endpoint's concurrency) called it, each judging in its own sandbox.
    assert fake_endpoint.posts >= 12


def test_a_driver_killed_and_started_again_ends_with_the_exact_count(
    cluster: Cluster,
    tmp_path: Path,
    fake_endpoint: FakeEndpoint,  # noqa: F811
) -> None:
    fake_endpoint.stall = 0.2
    pool = _pool_file(tmp_path, fake_endpoint.url, local=False)
    db = tmp_path / "log.db"
    cmd = [sys.executable, "-m", "octoroute.cli", "collect", "--pool", str(pool), "--benchmark",
           "humaneval", "--limit", "10", "--samples", "2", "--db", str(db), "--workers", "1",
           "--ray", cluster.address]  # fmt: skip
    err = tmp_path / "first.err"
    with err.open("wb") as sink:
        first = subprocess.Popen(cmd, env=cluster.env, stdout=subprocess.DEVNULL, stderr=sink)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and first.poll() is None:
        with contextlib.suppress(sqlite3.OperationalError):  # the log is being created
            if db.exists() and len(_keys(db)) >= 4:
                break
        time.sleep(0.1)
    assert first.poll() is None, err.read_text()
    first.send_signal(signal.SIGKILL)
    first.wait()
    before = len(_keys(db))
    assert 4 <= before < 20
    again = subprocess.run(cmd, env=cluster.env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert f"{20 - before} attempts logged (0 arm errors), {before} already present" in again.stdout
    keys = _keys(db)
    assert len(keys) == len({k[:5] for k in keys}) == 20


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "octoroute.cli", *args], env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip


def test_repairs_and_episode_growth_run_on_the_cluster(
    cluster: Cluster,
    tmp_path: Path,
    fake_endpoint: FakeEndpoint,  # noqa: F811
) -> None:
    # A new wrong program at every request, so that no episode stops on a repeated program.
    fake_endpoint.handler = lambda path, body: ok_json(
        f"def f():\n    return {len(fake_endpoint.requests)}\n", chat="chat" in path
    )
    pool = str(_pool_file(tmp_path, fake_endpoint.url, local=False))
    db = str(tmp_path / "log.db")
    common = ["--benchmark", "humaneval", "--pool", pool, "--db", db, "--workers", "1"]
    made = _cli("collect", *common, "--limit", "4", env=cluster.env)  # here, without Ray
    assert "4 attempts logged (0 arm errors)" in made.stdout, made.stderr
    on_ray = ["--ray", cluster.address]
    repaired = _cli("repair-collect", *common, "--from-run", "collect/humaneval", *on_ray,
                    env=cluster.env)  # fmt: skip
    assert "4 repairs logged (0 pass the hidden tests, 0 arm errors)" in repaired.stdout, (
        repaired.stderr
    )
    again = _cli("repair-collect", *common, "--from-run", "collect/humaneval", *on_ray,
                 env=cluster.env)  # fmt: skip
    assert "0 repairs logged" in again.stdout and "4 already present" in again.stdout
    grown = _cli("episodes", *common, "--strategies", "retry endpoint", "--max-attempts", "3",
                 "--seeds", "1", "--folds", "2", "--budget", "100", "--grow", "--rounds", "1", "--json",
                 *on_ray,
                 env=cluster.env)  # fmt: skip
    assert grown.returncode == 0, grown.stderr
    assert "growing 4 missing attempts" in grown.stderr
    assert json.loads(grown.stdout)["missing_nodes"] == 0
    keys = _keys(Path(db))
    assert len(keys) == len({k[:5] for k in keys}) == 4 + 4 + 4  # fresh, repairs, depth 3
