"""Model sizes: from names, from the shipped file, from a user's file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from octoroute.evaluation import default_sizes, load_sizes, model_sizes, params_from_name
from octoroute.exceptions import DataError


@pytest.mark.parametrize(
    ("name", "size"),
    [
        ("deepseek-coder-6.7b-instruct", 6.7),
        ("Qwen--Qwen1.5-72B-Chat", 72.0),
        ("mixtral-8x7b-instruct", 56.0),
        ("speechless-coding-7b-16k-tora", 7.0),
        ("deepseek-coder-7b-instruct-v1.5", 7.0),
        ("open-hermes-2.5-code-290k-13b", 13.0),
        ("white-rabbit-neo-33b-v1", 33.0),
        ("qwen2.5-coder-1.5b", 1.5),
        ("smollm2-135m", 0.135),
        ("HuggingFaceH4--starchat2-15b-v0.1", 15.0),
        ("gpt-4-1106-preview", None),
        ("claude-3-opus-20240229", None),
        ("xdan-l1-chat", None),
        ("databricks--dbrx-instruct", None),
        ("phi-2", None),
    ],
)
def test_params_from_name(name: str, size: float | None) -> None:
    assert params_from_name(name) == size


def test_shipped_sizes_are_the_documented_ones() -> None:
    assert default_sizes() == {
        "dolphin-2.6": 7.0,
        "microsoft--Phi-3-mini-4k-instruct": 3.8,
        "octocoder": 15.5,
        "openchat": 7.0,
        "phi-2": 2.7,
    }


def test_user_sizes_override_and_extend(tmp_path: Path) -> None:
    path = tmp_path / "sizes.json"
    path.write_text(json.dumps({"xdan-l1-chat": 7, "phi-2": 3.0}))
    sizes = model_sizes(["xdan-l1-chat", "phi-2", "gpt-4"], load_sizes(path))
    assert sizes == {"xdan-l1-chat": 7.0, "phi-2": 3.0, "gpt-4": None}


@pytest.mark.parametrize(
    ("text", "field"),
    [('{"m": "seven"}', "m"), ('{"m": -1}', "m"), ('{"m": true}', "m"), ("[1]", None)],
)
def test_bad_sizes_file_names_file_and_model(tmp_path: Path, text: str, field: str | None) -> None:
    path = tmp_path / "sizes.json"
    path.write_text(text)
    with pytest.raises(DataError) as err:
        load_sizes(path)
    assert err.value.path == str(path)
    assert err.value.field == field


def test_sizes_file_not_json(tmp_path: Path) -> None:
    path = tmp_path / "sizes.json"
    path.write_text("{")
    with pytest.raises(DataError, match="not valid JSON"):
        load_sizes(path)
    with pytest.raises(DataError, match=r"absent\.json: no such file"):
        load_sizes(tmp_path / "absent.json")
    path.write_bytes(b'{\n  "phi-2": 2.7,\n  "caf\xe9": 1\n}')
    with pytest.raises(DataError, match=r"sizes\.json, line 3: not UTF-8 text: byte 0xe9"):
        load_sizes(path)
    path.write_text('{"m": ' + "[" * 200_000 + "]" * 200_000 + "}")
    with pytest.raises(DataError, match=r"line 1, field m: nested too deeply"):
        load_sizes(path)
