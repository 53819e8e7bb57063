"""``octoroute episodes``: replay repair strategies on a real log, growing what is missing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from octoroute.arms.models import model_status
from octoroute.arms.pool import load_pool
from octoroute.episodes.strategies import DEFAULT_STRATEGY, strategy_name
from octoroute.evaluation.sizes import by_size
from octoroute.sandbox import Executor, prepare
from octoroute.store import open_store
from octoroute.tasks import load_benchmark
from octoroute.types import Attempt, Completion

SMOLLM = "smollm2-135m"
WRONG = "def truncate_number(number: float) -> float:\n    return -1.0\n"


def _episodes(*args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-c", "from octoroute.cli import main; main()", "episodes", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


def test_episodes_grows_the_repairs_a_strategy_needs(tmp_path: Path) -> None:
    if not model_status(SMOLLM).installed:
        pytest.skip("SmolLM2-135M is not installed: octoroute models install smollm2-135m")
    pool_file = tmp_path / "pool.toml"
    pool_file.write_text(f'[[arms]]\nname = "{SMOLLM}"\nbackend = "llamacpp"\n'
                         f'local_model = "{SMOLLM}"\nstyle = "chat"\n')  # fmt: skip
    spec = load_pool(pool_file).spec(SMOLLM)
    db = tmp_path / "log.db"
    with Executor(workers=1) as ex, open_store(db) as store:
        (problem,) = prepare(load_benchmark("humaneval")[2:3], ex, tmp_path / "cache")
        store.add_run("collect/humaneval", config={"kind": "collect"})
        store.add_arm(SMOLLM, backend=spec.backend, model=spec.model, cost_unit="flops")
        store.add_problems([problem])
        completion = Completion(arm=SMOLLM, model=spec.model, text=WRONG, code=WRONG, cost=1e9)
        store.record_attempt(Attempt.from_parts("collect/humaneval", problem, completion,
                                                ex.check(problem, WRONG)))  # fmt: skip
    common = ["--db", str(db), "--benchmark", "humaneval", "--pool", str(pool_file),
              "--seeds", "1", "--folds", "2", "--max-attempts", "2", "--budget", "100"]  # fmt: skip
    before = _episodes(*common, "--strategies", f"retry {SMOLLM}", "--json")
    assert before.returncode == 0, before.stderr
    assert json.loads(before.stdout)["missing_nodes"] == 1  # the repair is not in the log
    out = tmp_path / "episodes.html"
    # One round: grow, then replay again, so the summary counts the grown repair.
    grown = _episodes(*common, "--strategies", f"retry {SMOLLM}", "--grow", "--rounds", "1",
                      "--json", "--out", str(out))  # fmt: skip
    assert grown.returncode == 0, grown.stderr
    data = json.loads(grown.stdout)
    assert data["missing_nodes"] == 0 and data["problems"] == 1
    rows = {r["name"]: r for r in data["strategies"]}
    assert rows[f"retry {SMOLLM}"]["mean_attempts"] == 2.0
    assert rows[f"{SMOLLM} alone"]["pass"] == 0.0
    page = out.read_text()
    assert page.startswith("<!doctype html>") and f"retry {SMOLLM}" in page
    with open_store(db, create=False) as store:
        (repair,) = store.attempts("grow/humaneval")
    assert repair.attempt_number == 2 and repair.arm == SMOLLM
    # The learned strategies and the outcome model read probe features from the shipped
    # bundle (the default pool's Qwen 0.5B reading HumanEval/2): no model is loaded.
    spec_ = "lexical+probe:qwen2.5-coder-0.5b-completion"
    probed = _episodes(*common, "--featurizer", spec_, "--strategies", f"retry {SMOLLM}", "--json")
    assert probed.returncode == 0, probed.stderr
    described = json.loads(probed.stdout)["featurizer"]
    assert described["name"] == spec_ and described["parts"][1]["layer"] == 16
    # A learned strategy cannot be cross-fitted on one problem: said, not a traceback.
    alone = _episodes(*common, "--featurizer", spec_, "--strategies", "outcome model one-shot")
    assert alone.returncode == 2 and "no training problems" in alone.stderr
    bad = _episodes(*common, "--strategies", "nope")
    assert bad.returncode == 2 and "unknown strategies ['nope']" in bad.stderr


def test_episodes_replays_the_shipped_export_read_only(tmp_path: Path) -> None:
    """Anyone can replay the README's episode numbers from the shipped log, no model needed."""
    from octoroute.demo import recorded_log

    log = str(recorded_log())
    common = ["--db", log, "--benchmark", "humaneval", "--problems", "20", "--seeds", "1",
              "--strategies", "retry qwen2.5-coder-1.5b"]  # fmt: skip
    figure = tmp_path / "frontier.png"
    done = _episodes(*common, "--json", "--figure", str(figure))
    assert figure.read_bytes().startswith(b"\x89PNG")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["benchmark"] == "humaneval" and data["problems"] == 20
    for row in data["strategies"]:
        assert {"name", "pass", "ci95", "compute_ratio", "gain_vs_largest", "default"} <= set(row)
        assert set(row["gain_vs_largest"]) == {"mean", "ci95"}
    # The default strategy is always replayed beside those asked for, and marked.
    arms = by_size(load_pool("default").names)
    default = [r["name"] for r in data["strategies"] if r["default"]]
    assert default == [strategy_name(DEFAULT_STRATEGY, arms)]
    refused = _episodes(*common, "--grow")
    assert refused.returncode == 2 and "import attempts" in refused.stderr


def test_ray_without_grow_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "log.db"
    with open_store(db):
        pass
    out = _episodes("--db", str(db), "--benchmark", "humaneval", "--ray", "local")
    assert out.returncode == 2 and "--ray runs the growth of --grow" in out.stderr
