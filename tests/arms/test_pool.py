"""Pool files: valid ones load, invalid ones fail naming the file, the field and the expectation."""

from __future__ import annotations

from pathlib import Path

import pytest

from octoroute.arms import (
    FlopsCost,
    LlamaCppArm,
    OpenAICompatArm,
    PriceCost,
    PromptStyle,
    default_pool,
    load_pool,
)
from octoroute.arms.models import MODELS
from octoroute.exceptions import ConfigError, DataError

GOOD = """
[[arms]]
name = "hosted"
backend = "openai"
model = "gpt-4o-mini"
endpoint = "https://api.example.com/v1"
api_key_env = "EXAMPLE_KEY"
concurrency = 8
sampling = { temperature = 0.2, max_tokens = 256, seed = 7, stop = ["\\nclass"] }
cost = { unit = "usd", usd_per_m_prompt = 0.15, usd_per_m_completion = 0.6 }

[[arms]]
name = "vllm"
backend = "openai"
model = "Qwen/Qwen2.5-Coder-7B-Instruct"
endpoint = "http://127.0.0.1:8000/v1"
style = "completion"
cost = { unit = "flops", parameters = 7615616512 }

[[arms]]
name = "local"
backend = "llamacpp"
local_model = "qwen2.5-coder-0.5b"
threads = 1

[[arms]]
name = "file"
backend = "llamacpp"
path = "/models/tiny.gguf"
n_ctx = 2048
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pool.toml"
    path.write_text(text)
    return path


def test_a_valid_pool_loads(tmp_path: Path) -> None:
    pool = load_pool(write(tmp_path, GOOD))
    assert pool.names == ("hosted", "vllm", "local", "file")
    hosted, vllm, local, file = pool.specs
    assert hosted.sampling.temperature == 0.2 and hosted.sampling.stop == ("\nclass",)
    assert hosted.cost.unit == "usd" and "usd" in hosted.cost_label
    assert vllm.style is PromptStyle.COMPLETION and vllm.cost.parameters == 7615616512
    assert local.style is PromptStyle.COMPLETION and local.threads == 1
    assert local.sha256 == MODELS["qwen2.5-coder-0.5b"].sha256
    assert local.model == "qwen2.5-coder-0.5b-instruct-q4_k_m"
    assert file.model == "tiny" and file.n_ctx == 2048 and file.sha256 is None
    for spec in pool.specs:
        assert spec.cost.unit in spec.cost_label  # every figure says its unit

    arm = pool.build("hosted")
    assert isinstance(arm, OpenAICompatArm) and arm.concurrency == 8
    assert arm.cost_model == PriceCost(0.15, 0.6)
    assert pool.build("vllm").cost_model == FlopsCost(7615616512)
    local_arm = pool.build("local")
    assert isinstance(local_arm, LlamaCppArm) and not local_arm.running


def test_select_keeps_the_given_order(tmp_path: Path) -> None:
    pool = load_pool(write(tmp_path, GOOD), ["local", "hosted"])
    assert pool.names == ("local", "hosted")
    with pytest.raises(ConfigError, match=r"no arm 'nope'.*expected one of"):
        pool.select(["nope"])


@pytest.mark.parametrize(
    ("text", "field", "message"),
    [
        ("arms = []", "arms", "non-empty"),
        ('[[arms]]\nname = "a"\nbackend = "grpc"\nmodel = "m"', "arms[0].backend",
         "expected 'openai' or 'llamacpp', found 'grpc'"),
        ('[[arms]]\nname = "a"\nbackend = "openai"\nmodel = "m"', "arms[0].endpoint",
         "expected a non-empty string, found nothing"),
        ('[[arms]]\nname = "a"\nbackend = "openai"\nmodel = "m"\nendpoint = "ftp://x"',
         "arms[0].endpoint", "http"),
        ('[[arms]]\nname = "a"\nbackend = "openai"\nmodel = "m"\nendpoint = "http://x"\n'
         "sampling = { temperature = -1 }", "arms[0].sampling.temperature", "found -1"),
        ('[[arms]]\nname = "a"\nbackend = "openai"\nmodel = "m"\nendpoint = "http://x"\n'
         'sampling = { max_tokens = "many" }', "arms[0].sampling.max_tokens", "integer"),
        ('[[arms]]\nname = "a"\nbackend = "openai"\nmodel = "m"\nendpoint = "http://x"\n'
         "sampling = { temprature = 1 }", "arms[0].sampling.temprature", "unknown field"),
        ('[[arms]]\nname = "a"\nbackend = "openai"\nmodel = "m"\nendpoint = "http://x"\n'
         'cost = { unit = "flops" }', "arms[0].cost.parameters", "integer"),
        ('[[arms]]\nname = "a"\nbackend = "openai"\nmodel = "m"\nendpoint = "http://x"\n'
         'cost = { unit = "eur" }', "arms[0].cost.unit", "'flops' or 'usd'"),
        ('[[arms]]\nname = "a"\nbackend = "openai"\nmodel = "m"\nendpoint = "http://x"\n'
         "concurrency = true", "arms[0].concurrency", "found True"),
        ('[[arms]]\nname = "a"\nbackend = "llamacpp"', "arms[0].path", "exactly one of"),
        ('[[arms]]\nname = "a"\nbackend = "llamacpp"\nlocal_model = "gpt-5"',
         "arms[0].local_model", "smollm2-135m"),
        ('[[arms]]\nname = "a"\nbackend = "llamacpp"\npath = "/m.gguf"\nendpoint = "http://x"',
         "arms[0].endpoint", "no such field"),
        ('[[arms]]\nname = "a"\nbackend = "llamacpp"\npath = "/m.gguf"\n'
         '[[arms]]\nname = "a"\nbackend = "llamacpp"\npath = "/n.gguf"', "arms[1].name",
         "duplicate"),
    ],
)  # fmt: skip
def test_invalid_pools_name_file_field_and_expectation(
    tmp_path: Path, text: str, field: str, message: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(DataError) as info:
        load_pool(path)
    assert info.value.path == str(path)
    assert info.value.field == field
    assert message in str(info.value)


def test_not_toml(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not valid TOML"):
        load_pool(write(tmp_path, "[[arms]\n"))


def test_toml_error_names_the_line(tmp_path: Path) -> None:
    with pytest.raises(DataError) as info:
        load_pool(write(tmp_path, GOOD + "\nbroken = [1,,]\n"))
    assert info.value.line == GOOD.count("\n") + 2 and "not valid TOML" in str(info.value)


def test_pool_file_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "pool.toml"
    path.write_bytes(b'[[arms]]\nname = "caf\xe9"\n')
    with pytest.raises(DataError) as info:
        load_pool(path)
    assert str(info.value) == (
        f"{path}, line 2: not UTF-8 text: byte 0xe9 at column 12 (invalid continuation byte); "
        "expected UTF-8"
    )


def test_pool_nested_too_deeply(tmp_path: Path) -> None:
    path = write(tmp_path, '[[arms]]\nname = "a"\nsampling = ' + "[" * 200_000 + "]" * 200_000)
    with pytest.raises(DataError) as info:
        load_pool(path)
    assert (info.value.line, info.value.field) == (3, "arms.sampling")
    assert "nested too deeply" in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"nope\.toml: no such file"):
        load_pool(tmp_path / "nope.toml")


def test_default_pool_needs_no_configuration(tmp_path: Path) -> None:
    pool = load_pool("default")
    assert pool.names == ("smollm2-135m", "gemma3-270m", "qwen2.5-coder-0.5b",
                          "qwen2.5-coder-0.5b-completion", "qwen2.5-coder-1.5b",
                          "qwen2.5-coder-1.5b-completion")  # fmt: skip
    # The prompt is part of an arm: one model, two styles, two arms.
    styles = {s.name: (s.local_model, s.style.value) for s in pool.specs}
    assert styles["qwen2.5-coder-1.5b"] == ("qwen2.5-coder-1.5b", "instruct")
    assert styles["qwen2.5-coder-1.5b-completion"] == ("qwen2.5-coder-1.5b", "completion")
    assert all(s.backend == "llamacpp" and s.cost.unit == "flops" for s in pool.specs)
    assert default_pool(["gemma3-270m"], tmp_path).specs[0].path == (
        tmp_path / "gemma-3-270m-q4_k_m.gguf"
    )
    # Building arms does no I/O: nothing is loaded until the first request.
    assert not any(arm.running for arm in pool.arms())  # type: ignore[attr-defined]
