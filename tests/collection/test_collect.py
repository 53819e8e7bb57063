"""Collection end to end: real SmolLM2 through llama.cpp, the real sandbox, the real log.

Also failure injection (a dead endpoint and one that answers garbage, beside a healthy local
arm) and a kill-and-resume run of the ``octoroute collect`` command that counts rows.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from octoroute.arms.models import model_status
from octoroute.arms.pool import load_pool
from octoroute.collection.collect import CollectConfig, collect
from octoroute.sandbox import Executor, prepare
from octoroute.store import open_store, stats
from octoroute.tasks import load_benchmark
from octoroute.types import ArmErrorKind
from tests.arms.conftest import FakeEndpoint, fake_endpoint, ok_json, refused_url  # noqa: F401

SMOLLM = "smollm2-135m"


def _need_smollm() -> None:
    if not model_status(SMOLLM).installed:
        pytest.skip("SmolLM2-135M is not installed: octoroute models install smollm2-135m")


def _problems(executor: Executor, tmp_path: Path, n: int) -> list:
    return prepare(load_benchmark("humaneval")[:n], executor, tmp_path / "cache")


def test_failures_are_arm_errors_and_other_arms_are_intact(
    tmp_path: Path,
    fake_endpoint: FakeEndpoint,  # noqa: F811
    refused_url: str,  # noqa: F811
) -> None:
    _need_smollm()
    fake_endpoint.handler = lambda path, body: (200, b"{not json")
    pool_file = tmp_path / "pool.toml"
    pool_file.write_text(
        f"""
[[arms]]
name = "dead"
backend = "openai"
model = "m"
endpoint = "{refused_url}"
retries = 1
backoff = 0.01
connect_timeout = 0.5

[[arms]]
name = "garbage"
backend = "openai"
model = "fake-model"
endpoint = "{fake_endpoint.url}"
retries = 1
backoff = 0.01

[[arms]]
name = "{SMOLLM}"
backend = "llamacpp"
local_model = "{SMOLLM}"
style = "chat"
"""
    )
    pool = load_pool(pool_file)
    with Executor(workers=1) as ex, open_store(tmp_path / "log.db") as store:
        problems = _problems(ex, tmp_path, 2)
        cfg = CollectConfig("humaneval", samples=1, max_tokens=48)
        summary = collect(store, ex, pool, problems, cfg, "r")
        assert summary.recorded == 6 and summary.arm_errors == 4
        rows = list(store.attempts("r"))
        kinds = {(a.arm, a.error) for a in rows}
        assert ("dead", ArmErrorKind.UNAVAILABLE) in kinds
        assert ("garbage", ArmErrorKind.BAD_RESPONSE) in kinds
        local = [a for a in rows if a.arm == SMOLLM]
        assert len(local) == 2 and all(a.error is None and a.judged for a in local)
        assert all(a.completion_tokens > 0 and a.cost > 0 and a.cost_unit == "flops" for a in local)
        report = stats(store, "r")
        assert report["arm_errors"] == 4 and report["per_arm"][SMOLLM]["attempts"] == 2
        # A second run retries the arm errors and leaves the judged attempts alone.
        again = collect(store, ex, pool, problems, cfg, "r")
        assert again.recorded == 4 and again.skipped == 2
        assert store.count_attempts("r") == 6


def _count(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM attempts").fetchone()[0])
    except sqlite3.OperationalError:
        return 0  # the schema is not there yet


def test_kill_and_resume_collect(tmp_path: Path) -> None:
    _need_smollm()
    db = tmp_path / "log.db"
    cmd = [sys.executable, "-c", "from octoroute.cli import main; main()", "collect",
           "--pool", "default", "--arms", SMOLLM, "--benchmark", "humaneval", "--limit", "4",
           "--samples", "2", "--max-tokens", "32", "--db", str(db)]  # fmt: skip
    env = {**os.environ, "OCTOROUTE_CACHE_DIR": str(tmp_path / "cache")}
    first = subprocess.Popen(cmd, env=env, start_new_session=True,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 240
    while _count(db) < 2 and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    killed_at = _count(db)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    assert killed_at >= 2
    second = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr
    with sqlite3.connect(db) as conn:
        keys = conn.execute(
            "SELECT problem_id, arm, sample_index, COUNT(*) FROM attempts GROUP BY 1, 2, 3"
        ).fetchall()
    assert len(keys) == 8 and all(n == 1 for *_, n in keys)
    out = subprocess.run([*cmd[:3], "stats", "--db", str(db), "--json"], env=env,
                         capture_output=True, text=True, check=True)  # fmt: skip
    report = json.loads(out.stdout)
    assert report["attempts"] == 8 and report["per_arm"][SMOLLM]["attempts"] == 8


def test_one_run_is_collected_arm_by_arm(tmp_path: Path) -> None:
    """``--arms a`` then ``--arms b`` extend one run (arms are not part of its config)."""
    from octoroute.arms.base import PromptStyle
    from tests.fakes import Script, builder, scripted_pool

    pool = scripted_pool({"a": PromptStyle.CHAT, "b": PromptStyle.CHAT})
    arms = builder(pool, Script(["```python\ndef add(a, b):\n    return a + b\n```"]))
    with Executor(workers=1) as ex, open_store(tmp_path / "log.db") as store:
        problems = _problems(ex, tmp_path, 2)
        cfg = CollectConfig("humaneval", samples=1, max_tokens=16)
        for name in ("a", "b"):
            collect(store, ex, pool.select([name]), problems, cfg, "r", build=arms.__getitem__)
        assert {(a.arm, a.problem_id) for a in store.attempts("r")} == {
            (arm, p.id) for arm in "ab" for p in problems
        }


def test_hostile_programs_are_logged_and_the_run_goes_on(
    tmp_path: Path,
    fake_endpoint: FakeEndpoint,  # noqa: F811
) -> None:
    """An arm that writes nothing but hostile programs (both red-team corpora and the
    two-line forgery of issue 12): every one is judged and logged as a failure, and the run
    finishes; a resumed run makes no attempt again."""
    corpora = Path(__file__).resolve().parents[1].parent / "shared" / "redteam"
    if not corpora.is_dir():
        pytest.skip(f"red-team corpora not found at {corpora}")
    programs = ['import os\n_ = os.write(4, b"\\x02\\x00\\x00\\x00\\xc2N")\n']
    for name in ("humaneval0.jsonl", "executor-2.jsonl"):
        for line in (corpora / name).read_text().splitlines():
            row = json.loads(line)
            # Rows that also hold a correct solution are left out: the arm's code extraction
            # may keep only the function, which then rightly passes.
            honest = "abs(numbers[i] - numbers[j])" in row["code"]
            if row["expect"] == "fail" and row["problem"] == "HumanEval/0" and not honest:
                programs.append(row["code"])
    served = iter(programs * 2)
    fake_endpoint.handler = lambda path, body: ok_json(f"```python\n{next(served)}```\n")
    pool_file = tmp_path / "pool.toml"
    pool_file.write_text(
        f'[[arms]]\nname = "hostile"\nbackend = "openai"\nmodel = "fake-model"\n'
        f'endpoint = "{fake_endpoint.url}"\nretries = 0\n'
    )
    pool = load_pool(pool_file)
    with Executor(workers=1) as ex, open_store(tmp_path / "log.db") as store:
        problem = _problems(ex, tmp_path, 1)[0]
        cfg = CollectConfig("humaneval", samples=len(programs), temperature=0.5, max_tokens=64)
        summary = collect(store, ex, pool, [problem], cfg, "hostile")
        assert summary.recorded == len(programs) and summary.arm_errors == 0
        attempts = list(store.attempts("hostile"))
        assert len(attempts) == len(programs)
        assert not [a.code for a in attempts if a.passed]
        assert collect(store, ex, pool, [problem], cfg, "hostile").recorded == 0
        # The executor is intact: the reference still passes.
        assert ex.check(problem, problem.reference).passed


@pytest.mark.slow
def test_collect_reproduces_the_shipped_log(tmp_path: Path) -> None:
    """The recorded log is real: greedy decoding, the same arm and problem, the same answer
    and verdict (two HumanEval problems with the 0.5B arm; 2 threads, as it was recorded)."""
    from octoroute.demo import recorded_log
    from octoroute.store import read_attempts_jsonl

    arm = "qwen2.5-coder-0.5b"
    if not model_status(arm).installed:
        pytest.skip(f"{arm} is not installed: octoroute models install {arm}")
    shipped = {
        a.problem_id: a
        for a in read_attempts_jsonl(recorded_log())
        if a.run_id == "collect/humaneval" and a.arm == arm and a.attempt_number == 1
    }
    pool = load_pool("default", [arm])
    with Executor(workers=1) as ex, open_store(tmp_path / "log.db") as store:
        problems = _problems(ex, tmp_path, 2)
        collect(store, ex, pool, problems, CollectConfig("humaneval"), "again")
        again = list(store.attempts("again"))
    assert len(again) == 2
    for a in again:
        old = shipped[a.problem_id]
        assert (a.code, a.completion_tokens, a.passed) == (
            old.code,
            old.completion_tokens,
            old.passed,
        )
