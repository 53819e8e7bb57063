"""``octoroute states`` with the real SmolLM2: computed once, then found in the cache."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

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
    # Again, from the cache, and the bundle the package would ship of them.
    bundle = tmp_path / "smollm2-135m.npz"
    again = json.loads(_states(*args, "--bundle", str(bundle), "--ship", "15/last,3/mean").stdout)
    assert (again["problems"], again["computed"]) == (2, 0)
    assert again["bundle"] == {"path": str(bundle), "prompts": 2}
    _bundle_matches_the_cache(bundle, tmp_path)


def _bundle_matches_the_cache(bundle: Path, cache_dir: Path) -> None:
    from octoroute.arms.pool import default_pool
    from octoroute.features.hidden import StateCache
    from octoroute.features.hidden.shipped import ShippedStates
    from octoroute.features.hidden.states import PromptStates
    from octoroute.tasks import load_benchmark

    spec = default_pool(["smollm2-135m"]).spec("smollm2-135m")
    assert spec.path is not None and spec.sha256 is not None
    shipped = ShippedStates(bundle)
    cached = PromptStates(spec.path, spec.sha256, spec.style.value, None, StateCache(cache_dir))
    # No cache and no tokenizer: only the bundle can answer.
    from_bundle = PromptStates(spec.path, spec.sha256, spec.style.value, None, None, shipped)
    for problem in load_benchmark("humaneval")[:2]:
        for layer, pooling in ((15, "last"), (3, "mean")):
            want = cached.vector(problem, layer, pooling)
            got = from_bundle.vector(problem, layer, pooling)
            assert np.allclose(got, want, rtol=1e-2, atol=1e-2)
    assert from_bundle.computed == 0
    # Another model file's states are never taken from it.
    assert shipped.vector("0" * 64, next(iter(shipped.rows)), 15, "last") is None


def test_states_of_an_arm_that_is_not_local() -> None:
    done = _states("humaneval", "--arm", "no-such-arm", "--limit", "1")
    assert done.returncode == 2 and "error" in done.stderr
