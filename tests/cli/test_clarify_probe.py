"""``octoroute clarify --probe``: a real local model reads each request, and the router reads
its hidden state beside the request's words."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from octoroute.cli import app
from octoroute.config import Settings
from octoroute.tasks.humanevalcomm import load_humanevalcomm
from tests.clarify.test_replay import _log
from tests.local_model import require

require("smollm2-135m", ("xllamacpp", "local"), ("gguf", "probes"))


def test_the_router_reads_the_probe(shared_data: Path, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    # The states are computed into a fresh cache folder that sees the installed models.
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "models").symlink_to(Settings.from_env().models_dir)
    monkeypatch.setenv("OCTOROUTE_CACHE_DIR", str(cache))
    monkeypatch.setenv("OCTOROUTE_DATA_DIR", str(shared_data))
    loaded = load_humanevalcomm(shared_data / "humanevalcomm", plus=shared_data)
    db = tmp_path / "log.db"
    _log(db, [p for p in loaded if p.id.split("/")[1] in {"0", "1", "2"}])
    args = ["clarify", "--log", str(db), "--arm", "a", "--folds", "2", "--json"]
    result = CliRunner().invoke(app, [*args, "--probe", "smollm2-135m@15/last"])
    assert result.exit_code == 0, result.stderr
    rows = {(r["user"], r["policy"]) for r in json.loads(result.stdout)["policies"]}
    assert ("oracle", "router") in rows and ("oracle", "router_words") in rows
    bad = CliRunner().invoke(app, [*args, "--probe", "probe:smollm2-135m"])
    assert bad.exit_code != 0 and "expected MODEL[@LAYER/POOLING]" in bad.stderr
    bad = CliRunner().invoke(app, [*args, "--probe", "smollm2-135m@x/top"])
    assert bad.exit_code != 0 and "LAYER/POOLING" in bad.stderr
