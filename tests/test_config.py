"""Settings read from the environment: defaults, overrides and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from octoroute.arms.pool import default_pool
from octoroute.config import Settings
from octoroute.exceptions import ConfigError


def test_defaults_without_variables(tmp_path: Path) -> None:
    settings = Settings.from_env({"XDG_CACHE_HOME": str(tmp_path)})
    assert settings.data_dir is None
    assert settings.cache_dir == tmp_path / "octoroute"
    assert settings.threads == 2


@pytest.mark.parametrize("raw", ["0", "-1", "two", "1.5"])
def test_bad_thread_count_names_the_variable(raw: str) -> None:
    with pytest.raises(ConfigError, match="OCTOROUTE_THREADS.*positive integer.*" + raw):
        Settings.from_env({"OCTOROUTE_THREADS": raw})


def test_default_pool_takes_its_threads_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OCTOROUTE_THREADS", "1")
    assert {s.threads for s in default_pool().specs} == {1}
    assert {s.threads for s in default_pool(threads=3).specs} == {3}
    monkeypatch.delenv("OCTOROUTE_THREADS")
    assert {s.threads for s in default_pool().specs} == {2}
