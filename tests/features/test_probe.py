"""The probe featurizer's reduction: fixed, per prompt, and independent of other prompts."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from octoroute.arms.pool import default_pool
from octoroute.exceptions import ConfigError
from octoroute.features.hidden.shipped import ShippedStates, bundle_path
from octoroute.features.hidden.states import PromptStates
from octoroute.features.probe import ProbeFeaturizer
from octoroute.tasks import load_benchmark


def test_the_reduction_is_a_fixed_map_of_one_vector() -> None:
    rng = np.random.default_rng(1)
    v = rng.standard_normal(896) * 3 + 10
    probe = ProbeFeaturizer("m", 16)
    out = probe.reduce(v)
    assert out.shape == (64,) and probe.dim == 64
    assert np.isclose(np.linalg.norm(out), 1.0)
    # Another featurizer, after other prompts, gives the same columns: nothing is fitted.
    other = ProbeFeaturizer("m", 16)
    other.reduce(rng.standard_normal(896))
    assert np.allclose(other.reduce(v), out)
    # Scale-free: the model's next layer reads the vector at unit RMS, so does the probe.
    assert np.allclose(probe.reduce(5 * v), out)
    assert not np.allclose(ProbeFeaturizer("m", 16, seed=1).reduce(v), out)


def test_raw_activations_and_bad_parameters() -> None:
    v = np.arange(10, dtype=np.float64)
    assert np.array_equal(ProbeFeaturizer("m", 4, project=0).reduce(v), v)
    params = ProbeFeaturizer("m", 4).get_params()
    assert params == {"model": "m", "layer": 4, "pooling": "last", "project": 64, "seed": 0}
    with pytest.raises(ConfigError, match="projection"):
        ProbeFeaturizer("m", 4, project=-1)
    with pytest.raises(ConfigError, match="not bound"):
        ProbeFeaturizer("m", 4, project=0).dim  # noqa: B018


def test_shipped_prompts_need_no_model_and_others_say_what_is_missing() -> None:
    """The bundle serves features and token counts with no model file and no tokenizer."""
    model = "qwen2.5-coder-0.5b-completion"
    spec = default_pool([model]).spec(model)
    assert spec.sha256 is not None
    states = PromptStates(
        spec.path or "absent.gguf", spec.sha256, spec.style.value,
        shipped=ShippedStates(bundle_path(model)),
    )  # fmt: skip
    humaneval = load_benchmark("humaneval")
    probe = ProbeFeaturizer(model, 16).bind(states)
    assert probe.transform(humaneval[:2]).shape == (2, 64)
    assert 50 < states.token_count(humaneval[0]) < 400 and states.computed == 0
    unknown = replace(humaneval[0], id="user/1", prompt="def f(x):\n    return x  # mine\n")
    with pytest.raises(ConfigError, match="no hidden states cached"):
        probe.transform_one(unknown)
