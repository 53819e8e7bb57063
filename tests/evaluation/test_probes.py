"""Nested cross-validated probes on synthetic states: signal found where it is, length unmasked."""

from __future__ import annotations

import numpy as np
import pytest

from octoroute.evaluation.probes import probe_study, stack_states
from octoroute.exceptions import ConfigError

N, WIDTH = 100, 12


def _data(
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    rng = np.random.default_rng(seed)
    y = (rng.random(N) < 0.4).astype(float)
    length = rng.integers(50, 400, N).astype(float)
    lexical = rng.normal(size=(N, 8))
    per_problem = []
    for i in range(N):
        last = rng.normal(size=(3, WIDTH))
        mean = rng.normal(size=(3, WIDTH))
        last[2, :4] += 1.5 * (2 * y[i] - 1)  # layer 2's last token knows the answer
        mean[1, 0] += np.log(length[i])  # layer 1's mean only knows the prompt's length
        per_problem.append((last, mean))
    return y, length, lexical, per_problem


def test_the_probe_finds_the_layer_that_knows() -> None:
    y, length, lexical, per_problem = _data()
    study = probe_study("m", stack_states(per_problem, [1, 2]), length, lexical, {"arm": y})
    probe = study.per_arm["arm"]
    assert probe.auc is not None and probe.auc > 0.9
    assert probe.ci95 is not None and probe.ci95[0] > 0.8
    assert probe.chosen == {"2/last": 5}
    assert study.layer == "2/last"
    assert probe.auc_length is not None and abs(probe.auc_length - 0.5) < 0.2
    assert probe.auc_residual is not None and probe.auc_residual > 0.85
    data = study.to_json()
    assert set(data["per_arm"]["arm"]) >= {"auc", "auc_length", "auc_lexical", "auc_residual"}
    assert data["mean_auc"] == probe.auc


def test_a_probe_that_only_reads_length_is_unmasked() -> None:
    _, length, lexical, per_problem = _data(1)
    y = (length > np.median(length)).astype(float)  # success is the prompt's length
    only_length = stack_states(per_problem, [1])
    study = probe_study("m", {k: v for k, v in only_length.items() if k[1] == "mean"},
                        length, lexical, {"arm": y})  # fmt: skip
    probe = study.per_arm["arm"]
    assert probe.auc is not None and probe.auc > 0.65
    assert probe.auc_length is not None and probe.auc_length > 0.95
    assert probe.auc_residual is not None and probe.auc_residual < 0.6


def test_an_arm_with_too_few_of_a_class_has_no_auc() -> None:
    _, length, lexical, per_problem = _data()
    y = np.zeros(N)
    y[:3] = 1
    y[3] = np.nan
    probe = probe_study("m", stack_states(per_problem, [0]), length, lexical, {"a": y}).per_arm["a"]
    assert probe.auc is None and probe.n == N - 1


def test_layers_out_of_range_are_refused() -> None:
    _, _, _, per_problem = _data()
    with pytest.raises(ConfigError, match="layers 0 to 2"):
        stack_states(per_problem, [3])
