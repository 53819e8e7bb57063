"""``arms list``, ``arms check`` and ``models list`` as a user runs them (in-process)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from octoroute.cli.arms import arms_app, models_app
from tests.arms.conftest import FakeEndpoint, ok_json


def run(app: Any, *args: str) -> tuple[int, Any]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, json.loads(result.stdout) if "--json" in args else result.stdout


def pool_file(tmp_path: Path, url: str, model: str = "fake-model") -> Path:
    path = tmp_path / "pool.toml"
    path.write_text(f'[[arms]]\nname = "fake"\nbackend = "openai"\nmodel = "{model}"\n'
                    f'endpoint = "{url}"\nretries = 0\n')  # fmt: skip
    return path


def test_list_default_pool() -> None:
    code, out = run(arms_app, "list", "--pool", "default", "--json")
    assert code == 0
    assert [a["name"] for a in out["arms"]] == ["smollm2-135m", "gemma3-270m",
                                                 "qwen2.5-coder-0.5b", "qwen2.5-coder-0.5b-completion",
                                                 "qwen2.5-coder-1.5b", "qwen2.5-coder-1.5b-completion"]  # fmt: skip
    assert {a["style"] for a in out["arms"]} == {"chat", "completion", "instruct"}
    assert all(a["cost_unit"] == "flops" and "flops" in a["cost"] for a in out["arms"])


def test_list_selects_arms() -> None:
    code, out = run(arms_app, "list", "--pool", "default", "--arms", "gemma3-270m", "--json")
    assert code == 0 and [a["name"] for a in out["arms"]] == ["gemma3-270m"]


def test_check_a_serving_endpoint(tmp_path: Path, fake_endpoint: FakeEndpoint) -> None:
    fake_endpoint.handler = lambda path, body: ok_json(model=body["model"])
    code, out = run(
        arms_app, "check", "--pool", str(pool_file(tmp_path, fake_endpoint.url)), "--json"
    )
    assert code == 0 and out["ready"]
    (arm,) = out["arms"]
    assert arm["up"] and arm["serves_model"] and arm["served"] == ["fake-model"]


def test_check_an_endpoint_serving_another_model(
    tmp_path: Path, fake_endpoint: FakeEndpoint
) -> None:
    fake_endpoint.models = ["impostor"]
    fake_endpoint.handler = lambda path, body: ok_json(model="impostor")
    code, out = run(
        arms_app, "check", "--pool", str(pool_file(tmp_path, fake_endpoint.url)), "--json"
    )
    assert code == 1 and not out["ready"]
    assert out["arms"][0]["up"] and out["arms"][0]["serves_model"] is False
    assert "impostor" in out["arms"][0]["detail"]


def test_check_a_dead_endpoint(tmp_path: Path, refused_url: str) -> None:
    code, out = run(arms_app, "check", "--pool", str(pool_file(tmp_path, refused_url)), "--json")
    assert code == 1 and out["arms"][0]["up"] is False


def test_check_local_models_without_loading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OCTOROUTE_CACHE_DIR", str(tmp_path))
    code, out = run(arms_app, "check", "--pool", "default", "--no-load", "--json")
    assert code == 1  # nothing is installed in this empty cache
    assert all(a["installed"] is False and "models install" in a["detail"] for a in out["arms"])


def test_bad_pool_file_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[arms]]\nname = "a"\nbackend = "nope"\n')
    result = CliRunner().invoke(arms_app, ["list", "--pool", str(bad)])
    assert result.exit_code == 2
    assert "field arms[0].backend: expected 'openai' or 'llamacpp'" in result.output


def test_models_list(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OCTOROUTE_CACHE_DIR", str(tmp_path))
    code, out = run(models_app, "list", "--json")
    assert code == 0 and [m["installed"] for m in out["models"]] == [False] * 4
