"""Hidden states in numpy: the forward pass agrees with llama.cpp's on the same GGUF file.

The real SmolLM2-135M (Llama architecture) from the default pool: its next-token distribution
after a HumanEval prompt, computed from our last layer, is llama.cpp's own to within rounding.
Skipped, with the reason, without xllamacpp, gguf or the model (``scripts/test.sh`` installs
all three).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from octoroute.arms import LlamaCppArm, default_pool
from octoroute.arms.models import MODELS
from octoroute.arms.prompts import chat_messages
from octoroute.exceptions import ConfigError
from octoroute.features.hidden import ModelWeights, StateCache, forward, load_weights
from octoroute.features.hidden.cache import prompt_id
from octoroute.features.hidden.states import PromptStates
from octoroute.features.hidden.transformer import logits
from octoroute.features.probe import ProbeFeaturizer
from octoroute.tasks import load_humaneval
from octoroute.types import Problem
from tests.local_model import require

require("smollm2-135m", ("xllamacpp", "local"), ("gguf", "probes"))

MODEL = "smollm2-135m"


@pytest.fixture(scope="module")
def weights() -> ModelWeights:
    return load_weights(default_pool([MODEL]).specs[0].path)


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[list[int], dict[int, float]]]:
    """A HumanEval prompt as the chat arm sends it, its token ids from the model's own
    tokenizer, and llama.cpp's top-5 next tokens with their probabilities."""
    arm = default_pool([MODEL]).build(MODEL)
    assert isinstance(arm, LlamaCppArm)
    problem = {p.id: p for p in load_humaneval()}["HumanEval/23"]
    with arm:
        arm.start()
        assert arm.endpoint is not None
        url = arm.endpoint.rstrip("/").removesuffix("/v1")
        with httpx.Client(timeout=120) as client:
            messages = chat_messages(problem.visible_only())
            prompt = client.post(url + "/apply-template", json={"messages": messages}).json()
            text = prompt["prompt"] + "```python\n"
            tokens = client.post(url + "/tokenize", json={"content": text}).json()["tokens"]
            body = {"prompt": tokens, "n_predict": 1, "temperature": 0, "n_probs": 5}
            reply = client.post(url + "/completion", json=body).json()
    top = reply["completion_probabilities"][0]["top_logprobs"]
    yield tokens, {int(t["id"]): float(np.exp(t["logprob"])) for t in top}


def test_the_next_token_distribution_is_llamacpps(
    weights: ModelWeights, served: tuple[list[int], dict[int, float]]
) -> None:
    tokens, theirs = served
    states = forward(weights, tokens)
    scores = logits(weights, states)
    probs = np.exp(scores - scores.max())
    probs /= probs.sum()
    ours = [int(i) for i in np.argsort(-probs)[:5]]
    assert ours[:3] == list(theirs)[:3]
    for token, p in theirs.items():
        assert abs(float(probs[token]) - p) < 0.01, (token, float(probs[token]), p)


def test_every_layer_last_token_and_mean(
    weights: ModelWeights, served: tuple[list[int], dict[int, float]]
) -> None:
    tokens, _ = served
    states = forward(weights, tokens)
    assert states.last.shape == states.mean.shape == (weights.n_layers + 1, weights.width)
    assert states.tokens == len(tokens)
    assert np.allclose(states.layer(0, "last"), weights.tensors["token_embd.weight"][tokens[-1]])
    assert not np.allclose(states.layer(15, "last"), states.layer(15, "mean"))
    assert np.isfinite(states.last).all() and np.isfinite(states.mean).all()


def test_bad_token_ids_are_refused(weights: ModelWeights) -> None:
    with pytest.raises(ConfigError, match="vocabulary"):
        forward(weights, [])
    with pytest.raises(ConfigError, match="vocabulary"):
        forward(weights, [10**9])


def test_states_are_cached_per_model_file_and_prompt(
    weights: ModelWeights, served: tuple[list[int], dict[int, float]], tmp_path: Path
) -> None:
    tokens, _ = served
    sha = MODELS[MODEL].sha256
    cache = StateCache(tmp_path)
    prompt = prompt_id("chat", {p.id: p for p in load_humaneval()}["HumanEval/23"])
    assert cache.get(sha, prompt) is None
    states = forward(weights, tokens)
    cache.put(sha, prompt, states)
    back = cache.get(sha, prompt)
    assert back is not None and back.tokens == states.tokens
    for pooling in ("last", "mean"):
        a, b = states.layer(20, pooling), back.layer(20, pooling)
        assert np.allclose(a, b, rtol=2e-3, atol=2e-3 * float(np.abs(a).max()))
    assert cache.get(sha, prompt.replace("chat", "instruct")) is None  # another prompt
    assert cache.get("f" * 64, prompt) is None  # another model file
    for path in tmp_path.rglob("*.npz"):
        path.write_bytes(b"not a numpy file")
    assert cache.get(sha, prompt) is None  # a damaged file is a miss, not an error


def test_probe_features_from_cached_or_computed_states(
    weights: ModelWeights, tmp_path: Path
) -> None:
    """States computed once from the visible prompt (a canary hidden test never reaches the
    tokenizer), cached, then read by a featurizer with no tokenizer at all."""
    arm = default_pool([MODEL]).build(MODEL)
    assert isinstance(arm, LlamaCppArm)
    problems = [p for p in load_humaneval() if p.id in ("HumanEval/23", "HumanEval/45")]
    seen: list[Problem] = []

    def tokenize(problem: Problem) -> list[int]:
        seen.append(problem)
        return arm.prompt_tokens(problem)

    spec = default_pool([MODEL]).specs[0]
    with arm:
        states = PromptStates(
            spec.path, MODELS[MODEL].sha256, "chat", tokenize, StateCache(tmp_path)
        )
        states._weights = weights  # already loaded by the fixture
        probe = ProbeFeaturizer(MODEL, layer=20, pooling="mean", project=0).bind(states)
        first = probe.transform(problems)
    assert first.shape == (2, weights.width) and states.computed == 2
    assert all(not p.hidden_tests and p.reference == "" for p in seen)
    cached = PromptStates(spec.path, MODELS[MODEL].sha256, "chat", None, StateCache(tmp_path))
    again = ProbeFeaturizer(MODEL, layer=20, pooling="mean", project=0).bind(cached)
    assert (
        np.allclose(again.transform(problems), first, rtol=1e-2, atol=1e-2) and cached.computed == 0
    )
    with pytest.raises(ConfigError, match="no hidden states cached"):
        again.transform_one(load_humaneval()[0])
    with pytest.raises(ConfigError, match="layers 0 to"):
        ProbeFeaturizer(MODEL, layer=99).bind(cached).transform_one(problems[0])
