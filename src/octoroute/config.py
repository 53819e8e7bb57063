"""Typed settings: the only module that reads environment variables.

``OCTOROUTE_DATA_DIR``   where benchmark release files are looked up (no default).
``OCTOROUTE_CACHE_DIR``  where derived data (reference outputs, timings, joined model files) is
                         cached; default ``$XDG_CACHE_HOME/octoroute`` or ``~/.cache/octoroute``.
``OCTOROUTE_THREADS``    CPU threads of each default-pool model (default 2); set it to 1 to run
                         two jobs side by side on two cores without their spinning threads
                         contending (each then runs at about 0.63x the speed of 2 threads).

API keys of hosted arms are read from the variable a pool file names (``api_key_env``), through
:func:`secret`, so that this module stays the only reader of the environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from octoroute.exceptions import ConfigError


@dataclass(frozen=True, slots=True)
class Settings:
    """Process-wide settings read once from the environment."""

    data_dir: Path | None
    cache_dir: Path
    threads: int = 2

    @property
    def models_dir(self) -> Path:
        """Where the joined GGUF files of the offline pool are kept.

        >>> Settings(data_dir=None, cache_dir=Path("/c")).models_dir
        PosixPath('/c/models')
        """
        return self.cache_dir / "models"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        """Read the settings from ``env`` (default: ``os.environ``).

        >>> Settings.from_env({"OCTOROUTE_CACHE_DIR": "/c"}).cache_dir
        PosixPath('/c')
        >>> Settings.from_env({"OCTOROUTE_THREADS": "1"}).threads
        1
        """
        env = dict(os.environ) if env is None else env
        data = env.get("OCTOROUTE_DATA_DIR") or None
        cache = env.get("OCTOROUTE_CACHE_DIR")
        if not cache:
            base = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
            cache = str(Path(base) / "octoroute")
        raw = env.get("OCTOROUTE_THREADS") or "2"
        try:
            threads = int(raw)
        except ValueError:
            threads = 0
        if threads < 1:
            raise ConfigError(
                f"OCTOROUTE_THREADS: expected a positive integer (CPU threads), found {raw!r}"
            )
        return cls(data_dir=Path(data) if data else None, cache_dir=Path(cache), threads=threads)


def secret(name: str, env: Mapping[str, str] | None = None) -> str | None:
    """The value of the environment variable ``name`` (an API key), or None when unset or empty.

    >>> secret("MY_KEY", {"MY_KEY": "sk-1"})
    'sk-1'
    >>> secret("MY_KEY", {}) is None
    True
    """
    source = os.environ if env is None else env
    return source.get(name) or None
