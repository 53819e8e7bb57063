"""The shipped hidden states are what the model computes: one prompt recomputed and compared."""

from __future__ import annotations

import numpy as np

from octoroute.arms.llamacpp import LlamaCppArm
from octoroute.arms.pool import default_pool
from octoroute.features.hidden.cache import prompt_id
from octoroute.features.hidden.shipped import ShippedStates, bundle_path
from octoroute.features.hidden.states import PromptStates
from octoroute.tasks import load_benchmark
from tests.local_model import require

ARM = "qwen2.5-coder-0.5b-completion"  # the bundle's prompts are this arm's
MODEL = "qwen2.5-coder-0.5b"
require(MODEL, ("xllamacpp", "local"), ("gguf", "probes"))


def test_a_recomputed_vector_matches_the_shipped_one() -> None:
    shipped = ShippedStates(bundle_path(ARM))
    spec = default_pool([ARM]).spec(ARM)
    assert spec.path is not None and spec.sha256 == shipped.model_sha256
    arm = default_pool([ARM]).build(ARM)
    assert isinstance(arm, LlamaCppArm)
    problem = load_benchmark("humaneval")[0]
    fresh = PromptStates(spec.path, spec.sha256, spec.style.value, arm.prompt_tokens)
    with arm:
        states = fresh.get(problem)
    assert states.tokens == shipped.token_count(spec.sha256, prompt_id(fresh.style, problem))
    for layer, pooling in shipped.keys:
        want = shipped.vector(spec.sha256, prompt_id(fresh.style, problem), layer, pooling)
        assert want is not None, (layer, pooling)
        got = states.last[layer] if pooling == "last" else states.mean[layer]
        # float16 keeps about three significant digits
        assert np.allclose(got, want, rtol=2e-2, atol=2e-2 * float(np.abs(want).max()))
