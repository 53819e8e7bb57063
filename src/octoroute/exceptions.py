"""One exception hierarchy for octoroute, translated at each boundary.

::

    OctorouteError
    ├── ConfigError              bad configuration or command-line value
    ├── DataError                a bad input file: names file, line and field
    ├── SandboxError             the executor itself broke or cannot isolate as asked
    │   └── IsolationUnavailable the machine cannot provide a requested isolation layer
    ├── StoreError               the outcome log cannot be opened, read or written
    │   ├── SchemaError          not an octoroute store, or a schema newer than this version
    │   ├── StoreConflict        a key already holds different data (run, arm, problem, row)
    │   └── RunBusy              another process is writing the same run of the log
    ├── ArmError                 an arm cannot be set up: model missing, server failed to start
    │   └── ModelIntegrityError  a model file does not have its pinned SHA-256
    └── MissingDependencyError   an optional extra is not installed

A failing test is data (a :class:`~octoroute.types.Verdict`), never an exception; so is a failed
generation (a :class:`~octoroute.types.Completion` with ``error`` set): ``ArmError`` is raised only
where an arm is set up or checked, never from ``Arm.generate``.
"""

from __future__ import annotations

from pathlib import Path


class OctorouteError(Exception):
    """Base class of every error octoroute raises on purpose."""


class ConfigError(OctorouteError):
    """A configuration or command-line value is invalid."""


class DataError(OctorouteError):
    """A data file is malformed. The message names the file, the line and the field.

    >>> str(DataError("bad.jsonl", "missing", line=3, field="prompt"))
    'bad.jsonl, line 3, field prompt: missing'
    """

    def __init__(
        self,
        path: str | Path,
        message: str,
        *,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.path = str(path)
        self.line = line
        self.field = field
        where = self.path
        if line is not None:
            where += f", line {line}"
        if field is not None:
            where += f", field {field}"
        super().__init__(f"{where}: {message}")


class SandboxError(OctorouteError):
    """The executor itself failed (not the program under test)."""


class IsolationUnavailable(SandboxError):
    """A requested isolation layer cannot be set up on this machine."""


class ArmError(OctorouteError):
    """An arm cannot be set up or used: its model is missing, its server failed to start."""


class ModelIntegrityError(ArmError):
    """A model file's SHA-256 differs from its pinned value; the file was deleted, never loaded."""


class StoreError(OctorouteError):
    """The outcome log (the SQLite store) cannot be opened, read or written."""


class SchemaError(StoreError):
    """The file is not an octoroute store, or its schema is newer than this octoroute knows."""


class StoreConflict(StoreError):
    """A write names an existing key (run, arm, problem or row) with different content.

    Writes are idempotent for identical content; a conflict means two sources disagree, and the
    store refuses to mix them silently.
    """


class RunBusy(StoreError):
    """Another writer (a live process, or another store of this one) holds the run's lock.

    Two writers of one run would both generate every attempt the log lacked when they started;
    the second is refused at once, before it changes anything.
    """


class MissingDependencyError(OctorouteError):
    """An optional dependency is missing; the message names the extra to install."""

    def __init__(self, package: str, extra: str) -> None:
        super().__init__(f"{package} is not installed: pip install 'octoroute[{extra}]'")
