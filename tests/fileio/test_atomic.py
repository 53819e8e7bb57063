"""A file written atomically is whole or untouched, and readable by others."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from octoroute.fileio import atomic_write


def test_an_interrupted_write_leaves_the_old_file_and_no_debris(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_write(target, "w") as f:
        f.write("half of the new")
        raise RuntimeError("killed midway")
    assert target.read_text() == "old" and sorted(tmp_path.iterdir()) == [target]


def test_a_whole_write_replaces_the_file_with_the_permissions_asked(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "x.bin"
    with atomic_write(target, durable=True) as f:
        f.write(b"\x00new")
    assert target.read_bytes() == b"\x00new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600  # private unless said otherwise
    with atomic_write(target, permissions=0o644) as f:
        f.write(b"shared")
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    with pytest.raises(ValueError, match="mode"), atomic_write(target, "a"):
        pass
