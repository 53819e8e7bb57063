"""Writing a file so that a reader, or a process killed midway, never sees half of it.

:func:`atomic_write` hands out a temporary file beside the target (same file system, so the
final rename is atomic) and replaces the target with it only when the ``with`` block ends
without an exception; otherwise the temporary file is removed and the target left as it was.
``durable=True`` also flushes the data, then the rename, to disk (a state that must survive a
power loss, not only a killed process). The file is private to its owner (``0600``, as
``mkstemp`` makes it) unless ``permissions`` says otherwise (``0o644`` for what others read).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

__all__ = ["atomic_write"]


@contextlib.contextmanager
def atomic_write(
    path: str | Path, mode: str = "wb", *, durable: bool = False, permissions: int | None = None
) -> Iterator[IO[Any]]:
    """A file to write ``path``'s new content into (``mode`` ``"wb"`` or ``"w"``, UTF-8).

    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "a" / "x.txt"
    >>> with atomic_write(target, "w") as f:
    ...     _ = f.write("whole")
    >>> target.read_text()
    'whole'
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"mode {mode!r}: expected 'wb' or 'w'")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        encoding = "utf-8" if mode == "w" else None
        with os.fdopen(fd, mode, encoding=encoding) as f:
            yield f
            f.flush()
            if durable:
                os.fsync(f.fileno())
        if permissions is not None:
            os.chmod(tmp, permissions)
        os.replace(tmp, path)
        if durable:  # the rename itself is in the folder's entry
            folder = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(folder)
            finally:
                os.close(folder)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
