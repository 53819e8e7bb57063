"""A benchmark's release file: an explicit path or OCTOROUTE_DATA_DIR, else a clear error."""

from __future__ import annotations

from pathlib import Path

import pytest

from octoroute.exceptions import DataError
from octoroute.tasks.files import resolve_data_file


def test_resolve_data_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "Data.jsonl.gz").write_bytes(b"")
    assert resolve_data_file(tmp_path, "Data.jsonl.gz") == tmp_path / "Data.jsonl.gz"
    assert resolve_data_file(tmp_path / "Data.jsonl.gz", "x") == tmp_path / "Data.jsonl.gz"
    with pytest.raises(DataError, match="no such file"):
        resolve_data_file(tmp_path / "nope", "Data.jsonl.gz")

    monkeypatch.delenv("OCTOROUTE_DATA_DIR", raising=False)
    with pytest.raises(DataError, match="OCTOROUTE_DATA_DIR is not set"):
        resolve_data_file(None, "Data.jsonl.gz")
    monkeypatch.setenv("OCTOROUTE_DATA_DIR", str(tmp_path))
    assert resolve_data_file(None, "Data.jsonl.gz") == tmp_path / "Data.jsonl.gz"
    with pytest.raises(DataError, match=r"Other\.json.*OCTOROUTE_DATA_DIR"):
        resolve_data_file(None, "Other.json")
