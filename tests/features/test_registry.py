"""The package surface and a conformance check run over every registered featurizer."""

from __future__ import annotations

import json

import numpy as np
import pytest

import octoroute.features as features
from octoroute.exceptions import ConfigError, MissingDependencyError
from octoroute.features import FEATURIZERS, BaseFeaturizer, Featurizer, make_featurizer
from octoroute.types import Problem


def test_all_is_sorted_complete_and_resolves() -> None:
    exported = list(features.__all__)
    assert exported == sorted(exported)
    assert all(hasattr(features, name) for name in exported)
    public = {
        k
        for k, v in vars(features).items()
        if not k.startswith("_")
        and getattr(v, "__module__", "").startswith("octoroute.features")
        and callable(v)
    }
    assert public <= set(exported)


def test_make_featurizer() -> None:
    f = make_featurizer("lexical", n_features=128, seed=2)
    assert f.get_params()["n_features"] == 128 and f.get_params()["seed"] == 2
    with pytest.raises(ConfigError, match="unknown featurizer"):
        make_featurizer("embedding?")
    with pytest.raises(ConfigError, match="lexical"):
        make_featurizer("lexical", n_grams=3)


@pytest.mark.parametrize("name", sorted(FEATURIZERS))
def test_conformance(name: str, humaneval: list[Problem]) -> None:
    cls = FEATURIZERS[name]
    f = make_featurizer(name)
    assert isinstance(f, Featurizer) and isinstance(f, BaseFeaturizer)
    assert f.name == name
    params = f.get_params()
    assert json.loads(json.dumps(params)) == params  # JSON-safe
    clone = cls(**params)  # rebuilt from its params, gives the same output
    ps = humaneval[:8]
    try:
        mat = f.transform(ps)
    except MissingDependencyError as exc:  # an optional extra (embed) is not installed
        pytest.skip(str(exc))
    assert mat.shape == (len(ps), f.dim) and mat.dtype in (np.float32, np.float64)
    assert np.array_equal(mat, clone.transform(ps))
    assert np.array_equal(np.stack([f.transform_one(p) for p in ps]), mat)
    assert name in repr(f).lower()
