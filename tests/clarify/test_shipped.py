"""The shipped clarification log: the users' words redacted, and the README's table replayed
from it without a model."""

from __future__ import annotations

import importlib.resources
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from octoroute.clarify.redact import REDACTED
from octoroute.cli import app
from octoroute.store import read_attempts_jsonl
from octoroute.tasks.humanevalcomm import load_humanevalcomm

ARM = "qwen2.5-coder-0.5b"


def _shipped() -> Path:
    return Path(
        str(importlib.resources.files("octoroute") / "data" / "humanevalcomm_asks.jsonl.gz")
    )


def test_the_users_words_are_not_shipped(shared_data: Path) -> None:
    attempts = read_attempts_jsonl(_shipped())
    answers = [a for a in attempts if a.run_id.startswith("clarify/") and a.attempt_number == 2]
    ratings = [a for a in attempts if a.run_id.startswith("clarify/") and a.attempt_number == 4]
    assert len(answers) == 480 and all(a.completion == REDACTED and not a.code for a in answers)
    assert len(ratings) == 240 and {a.completion for a in ratings} <= {"1", "2", "3", ""}
    originals = {p.metadata["original_prompt"] for p in
                 load_humanevalcomm(shared_data / "humanevalcomm", plus=shared_data)}  # fmt: skip
    said = "".join(a.completion for a in answers + ratings)
    assert not any(o.strip()[:80] in said for o in originals)


def test_the_readme_table_replays_from_the_shipped_log(
    shared_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OCTOROUTE_DATA_DIR", str(shared_data))
    result = CliRunner().invoke(app, ["clarify", "--log", str(_shipped()), "--arm", ARM,
                                      "--json"])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    rows = {(r["user"], r["policy"]): r for r in json.loads(result.stdout)["policies"]}
    code = rows[("oracle", "always_code")]["pass_at_1"]
    assert (code["modified"]["n"], code["original"]["n"]) == (197, 43)
    assert (code["modified"]["mean"], code["original"]["mean"]) == (0.4213, 0.7442)
    for user, rewrites, gain, false_asks in (("oracle", 0.5279, 0.1066, 0.0698),
                                             (ARM, 0.5178, 0.0964, 0.0465)):  # fmt: skip
        router = rows[(user, "router")]
        assert router["pass_at_1"]["modified"]["mean"] == rewrites
        assert router["gain_vs_always_code"]["modified"]["mean"] == gain
        assert router["gain_vs_always_code"]["modified"]["ci95"][0] > 0
        assert router["false_ask_rate"] == false_asks
    assert rows[(ARM, "always_ask")]["good_question_rate"] == 0.9137
