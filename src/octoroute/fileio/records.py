"""Robust readers for ``.jsonl``, ``.jsonl.gz`` and ``.json`` data files.

Every failure raises :class:`~octoroute.exceptions.DataError` naming the file, the line and,
where one is at fault, the field: a missing file, a truncated or corrupt gzip stream, bytes that
are not UTF-8, a line that is not JSON (or nested deeper than Python decodes, see
:mod:`octoroute.fileio.text`), a missing field, a field of the wrong type.

>>> rec = Record("a.jsonl", 3, {"id": "a", "n": 2})
>>> rec.get("n", float)
2.0
>>> rec.get("id", int)
Traceback (most recent call last):
...
octoroute.exceptions.DataError: a.jsonl, line 3, field id: expected an integer, found a string ('a')
"""

from __future__ import annotations

import gzip
import re
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, cast

from octoroute.exceptions import DataError
from octoroute.fileio.text import decode_utf8, parse_json, parse_json_at, read_error

_T = TypeVar("_T")
_D = TypeVar("_D")

_JSON_NAMES: dict[type, str] = {
    dict: "an object",
    list: "an array",
    str: "a string",
    bool: "a boolean",
    int: "an integer",
    float: "a number",
    type(None): "null",
}

_WHITESPACE = re.compile(r"[ \t\n\r]*")


def _skip_space(text: str, pos: int) -> int:
    match = _WHITESPACE.match(text, pos)
    return match.end() if match else pos


def _expected_name(kind: type) -> str:
    return _JSON_NAMES.get(kind, kind.__name__)


def describe(value: Any) -> str:
    """Name a JSON value's type with a short excerpt, for "expected X, found Y" messages.

    >>> describe([1, 2])
    'an array ([1, 2])'
    """
    name = _JSON_NAMES.get(type(value), type(value).__name__)
    try:
        text = repr(value)
    except RecursionError:  # a value nested nearly as deep as the decoder goes
        text = "..."
    if len(text) > 40:
        text = text[:37] + "..."
    return name if value is None else f"{name} ({text})"


def _conforms(value: Any, kind: type) -> bool:
    # bool is a subclass of int in Python but never a number in a data file.
    if isinstance(value, bool):
        return kind is bool or kind is object
    if kind is float:
        return isinstance(value, int | float)
    return isinstance(value, kind)


@dataclass(frozen=True, slots=True)
class Record:
    """One JSON object read from a data file, with where it came from.

    ``line`` is the 1-based line the object starts on. Field accessors raise DataErrors that
    name the file, the line and the field; ``prefix`` locates a nested object's fields
    (``"tests[2]."``).
    """

    path: str
    line: int
    data: Mapping[str, Any]
    prefix: str = ""

    def error(self, message: str, field: str | None = None) -> DataError:
        """A DataError located at this record (and ``field``, if given)."""
        where = None if field is None else self.prefix + field
        return DataError(self.path, message, line=self.line, field=where)

    def nested(self, value: Any, field: str) -> Record:
        """The object ``value``, found at ``field``, as a Record whose errors name its fields."""
        data = self.check(value, dict, field)
        return Record(self.path, self.line, data, prefix=f"{self.prefix}{field}.")

    def check(self, value: Any, kind: type[_T], field: str) -> _T:
        """Return ``value`` if it is of JSON type ``kind`` (ints accepted as floats), else raise."""
        if not _conforms(value, kind):
            raise self.error(f"expected {_expected_name(kind)}, found {describe(value)}", field)
        if kind is float:
            return cast(_T, float(value))
        return cast(_T, value)

    def get(self, name: str, kind: type[_T]) -> _T:
        """The required field ``name``, checked to be of type ``kind``."""
        if name not in self.data:
            raise self.error("missing required field", name)
        return self.check(self.data[name], kind, name)

    def get_optional(self, name: str, kind: type[_T], default: _D) -> _T | _D:
        """The field ``name`` if present (checked to be of ``kind``), else ``default``."""
        if name not in self.data:
            return default
        return self.check(self.data[name], kind, name)

    def get_list(self, name: str, item_kind: type[_T]) -> list[_T]:
        """The required array field ``name`` whose items are all of type ``item_kind``."""
        items = self.get(name, list)
        return [self.check(v, item_kind, f"{name}[{i}]") for i, v in enumerate(items)]


def _raw_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """Yield ``(line number, bytes)``; gzip damage is reported with the line it was reached on."""
    compressed = path.name.endswith(".gz")
    lineno = 0
    try:
        with gzip.open(path, "rb") if compressed else path.open("rb") as handle:
            for lineno, raw in enumerate(handle, start=1):
                yield lineno, raw
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        # EOFError is what a truncated stream raises; the others mean corrupt bytes.
        raise DataError(
            path,
            f"truncated or corrupt gzip data after {lineno} complete line(s): {exc}",
            line=lineno + 1,
        ) from exc
    except OSError as exc:
        raise read_error(path, exc) from exc


def read_jsonl(path: str | Path) -> Iterator[Record]:
    """Yield one :class:`Record` per non-blank line of a ``.jsonl`` or ``.jsonl.gz`` file.

    Each line must hold one JSON object.
    """
    path = Path(path)
    for lineno, raw in _raw_lines(path):
        text = decode_utf8(raw, path, line=lineno)
        if not text.strip():
            continue
        value = parse_json(text, path, line=lineno)
        if not isinstance(value, dict):
            raise DataError(path, f"expected an object, found {describe(value)}", line=lineno)
        yield Record(str(path), lineno, value)


def _read_text(path: Path) -> str:
    return decode_utf8(b"".join(raw for _, raw in _raw_lines(path)), path)


def read_json_array(path: str | Path) -> Iterator[Record]:
    """Yield one :class:`Record` per item of a ``.json`` file holding an array of objects.

    Items are decoded one at a time so that each knows the line it starts on.
    """
    path = Path(path)
    text = _read_text(path)

    def line_at(pos: int) -> int:
        return text.count("\n", 0, pos) + 1

    def fail(message: str, pos: int) -> DataError:
        return DataError(path, message, line=line_at(pos))

    pos = _skip_space(text, 0)
    if not text.startswith("[", pos):
        raise fail("expected a JSON array of objects", pos)
    pos = _skip_space(text, pos + 1)
    if text.startswith("]", pos):
        return
    while True:
        value, end = parse_json_at(text, pos, path)
        if not isinstance(value, dict):
            raise fail(f"expected an object, found {describe(value)}", pos)
        yield Record(str(path), line_at(pos), value)
        pos = _skip_space(text, end)
        if text.startswith("]", pos):
            break
        if not text.startswith(",", pos):
            raise fail("not valid JSON: expected ',' or ']' between array items", pos)
        pos = _skip_space(text, pos + 1)
    if text[pos + 1 :].strip():
        raise fail("not valid JSON: extra data after the array", pos + 1)


def read_records(path: str | Path) -> Iterator[Record]:
    """Yield the records of a data file, choosing the reader by suffix.

    ``.jsonl`` and ``.jsonl.gz`` hold one object a line; ``.json`` and ``.json.gz`` an array.
    """
    name = Path(path).name.removesuffix(".gz")
    if name.endswith(".jsonl"):
        return read_jsonl(path)
    if name.endswith(".json"):
        return read_json_array(path)
    raise DataError(path, "unknown file type: expected .jsonl, .jsonl.gz or .json")
