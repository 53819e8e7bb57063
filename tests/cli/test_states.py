"""``octoroute states`` with the real SmolLM2: computed once, then found in the cache."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.local_model import require

require("smollm2-135m", ("xllamacpp", "local"), ("gguf", "probes"))


def _states(*args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "octoroute", "states", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600)


def test_states_are_computed_once_then_cached(tmp_path: Path) -> None:
    args = ["humaneval", "--arm", "smollm2-135m", "--limit", "2", "--cache", str(tmp_path)]
    first = _states(*args, "--json")
    assert first.returncode == 0, first.stderr[-2000:]
    report = json.loads(first.stdout)
    assert (report["problems"], report["computed"]) == (2, 2)
    assert report["mean_tokens"] > 50 and report["mean_flops"] > 1e9
    assert all(r["ms"] > 0 for r in report["per_problem"])
    again = json.loads(_states(*args).stdout)
    assert (again["problems"], again["computed"]) == (2, 0)


def test_states_of_an_arm_that_is_not_local() -> None:
    done = _states("humaneval", "--arm", "no-such-arm", "--limit", "1")
    assert done.returncode == 2 and "error" in done.stderr
