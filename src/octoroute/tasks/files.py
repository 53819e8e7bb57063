"""Where a benchmark's release file is: an explicit path, or ``OCTOROUTE_DATA_DIR``."""

from __future__ import annotations

from pathlib import Path

from octoroute.config import Settings
from octoroute.exceptions import DataError

__all__ = ["resolve_data_file"]


def resolve_data_file(path: str | Path | None, filename: str) -> Path:
    """Locate a benchmark release file.

    An explicit ``path`` (the file itself or the folder holding ``filename``) wins; otherwise
    ``filename`` is looked up in ``OCTOROUTE_DATA_DIR``. Raises DataError saying where it looked.
    """
    if path is not None:
        candidate = Path(path)
        if candidate.is_dir():
            candidate = candidate / filename
        if not candidate.is_file():
            raise DataError(candidate, f"no such file (expected the release file {filename})")
        return candidate
    data_dir = Settings.from_env().data_dir
    if data_dir is None:
        raise DataError(
            filename,
            "no path given and OCTOROUTE_DATA_DIR is not set: set it to the folder holding "
            f"{filename}, or pass the file's path",
        )
    candidate = data_dir / filename
    if not candidate.is_file():
        raise DataError(
            candidate,
            f"not found in OCTOROUTE_DATA_DIR ({data_dir}): put {filename} there, point "
            "OCTOROUTE_DATA_DIR at the folder holding it, or pass the file's path",
        )
    return candidate
