"""Decoding the files users hand us: UTF-8 text, JSON and TOML, every failure a DataError.

A user's file may hold anything: bytes that are not UTF-8, JSON nested deeper than Python's
decoder recurses (a ``RecursionError``), an integer of more digits than Python converts (a
``ValueError``), a ``\\ud800`` escape that decodes to half a surrogate pair (which no UTF-8
writer, SQLite included, accepts later), TOML nested deeper than ``tomllib`` recurses. Each is
reported here as a :class:`~octoroute.exceptions.DataError` naming the file, the line and, where
one is at fault, the field, so that no caller sees a traceback. Only :mod:`octoroute.exceptions`
is imported, so every package may use these readers.

>>> parse_json('{"a": [1, 2]}', "f.json")
{'a': [1, 2]}
>>> parse_json('{"id": "x", "tests": ' + "[" * 5000 + "]" * 5000 + "}", "p.jsonl", line=7)
Traceback (most recent call last):
...
octoroute.exceptions.DataError: p.jsonl, line 7, field tests: nested too deeply: 5001 levels \
of arrays and objects (deepest at column 5021), more than Python's decoder follows
>>> decode_utf8(b"ok\\nbad \\xff", "f.py")
Traceback (most recent call last):
...
octoroute.exceptions.DataError: f.py, line 2: not UTF-8 text: byte 0xff at column 5 \
(invalid start byte); expected UTF-8
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from octoroute.exceptions import DataError

__all__ = [
    "PYTHON_PARSE_ERRORS",
    "decode_utf8",
    "parse_json",
    "parse_json_at",
    "parse_toml",
    "python_error",
    "read_error",
    "read_json",
    "read_text",
    "read_toml",
]

# Tokens that matter for nesting; strings (and TOML comments) are matched whole so that the
# brackets inside them are skipped.
_JSON_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}:]', re.S)
_TOML_TOKENS = re.compile(r'"(?:[^"\\\n]|\\.)*"|\'[^\'\n]*\'|#[^\n]*|[\[\]{}=\n]')
# A \uD800-\uDFFF escape: only then can a decoded string hold a lone surrogate.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_TOML_WHERE = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")


PYTHON_PARSE_ERRORS = (SyntaxError, ValueError, MemoryError, RecursionError)
"""What ``ast.parse`` raises on source it cannot take: bad syntax, a null byte (a ValueError),
an expression nested deeper than the parser recurses or too long for its stack."""


def python_error(exc: BaseException) -> str:
    """Why source text is not Python, for a DataError: the reason one of
    :data:`PYTHON_PARSE_ERRORS` gives.

    >>> python_error(SyntaxError("invalid syntax", ("<test>", 2, 1, "x =")))
    'not valid Python: invalid syntax (line 2)'
    """
    if isinstance(exc, SyntaxError):
        return f"not valid Python: {exc.msg} (line {exc.lineno})"
    if isinstance(exc, RecursionError | MemoryError):
        return "not valid Python: nested too deeply or too long for Python's parser"
    return f"not valid Python: {exc}"


def read_error(path: str | Path, exc: OSError) -> DataError:
    """The DataError for a file that cannot be read: missing, a folder, no permission."""
    if isinstance(exc, FileNotFoundError):
        return DataError(path, "no such file")
    return DataError(path, f"cannot read file: {exc.strerror or exc}")


def decode_utf8(data: bytes, path: str | Path, *, line: int = 1) -> str:
    """``data`` as text; a DataError names the line and column of the first byte not UTF-8.

    ``line`` is the line ``data`` starts on in its file.
    """
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        column = exc.start - before.rfind(b"\n")
        raise DataError(
            path,
            f"not UTF-8 text: byte {data[exc.start]:#04x} at column {column} ({exc.reason}); "
            "expected UTF-8",
            line=line + before.count(b"\n"),
        ) from exc


def read_text(path: str | Path) -> str:
    """The text of the UTF-8 file at ``path``; any failure is a DataError naming the file."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise read_error(path, exc) from exc
    return decode_utf8(data, path)


def _deepest(text: str, toml: bool) -> tuple[int, int, str | None]:
    """The deepest nesting of brackets in ``text``: its depth, its offset, and the key it is
    under (a top-level object's key in JSON, the key before ``=`` in TOML)."""
    depth = best = where = 0
    key: str | None = None
    best_key: str | None = None
    last_string = table = ""
    line_start = 0
    header = False
    for match in (_TOML_TOKENS if toml else _JSON_TOKENS).finditer(text):
        token = match.group()
        if header and token != "\n":
            continue  # the rest of a [table] header line: its brackets do not nest
        if toml and token == "[" and depth == 0 and not text[line_start : match.start()].strip():
            header = True  # the keys that follow a [table] or [[array]] header are in it
            end = text.find("]", match.end())
            table = text[match.end() : end].strip("[] \t") + "." if end > 0 else ""
        elif token in ("[", "{"):
            depth += 1
            if depth > best:
                best, where, best_key = depth, match.start(), key
        elif token in ("]", "}"):
            depth -= 1
        elif token == "\n":
            line_start, header = match.end(), False
        elif token == "=" and depth == 0:
            key = table + text[line_start : match.start()].strip()
        elif token == ":" and depth == 1 and last_string:
            key = json.loads(last_string)
        elif token.startswith('"') and depth == 1:
            last_string = token
    return best, where, best_key


def _too_deep(text: str, path: str | Path, *, first_line: int, start: int, toml: bool) -> DataError:
    """The DataError for a document (``text[start:]``) nested deeper than Python's decoders go."""
    depth, offset, key = _deepest(text[start:], toml)
    offset += start
    column = offset - text.rfind("\n", 0, offset)
    kind = "arrays and tables" if toml else "arrays and objects"
    return DataError(
        path,
        f"nested too deeply: {depth} levels of {kind} (deepest at column {column}), "
        "more than Python's decoder follows",
        line=first_line + text.count("\n", 0, offset),
        field=key,
    )


def _walk(value: Any) -> Iterator[tuple[str, str]]:
    """Every string in a JSON value (keys too) with its path, without recursion."""
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, str):
            yield where, item
        elif isinstance(item, dict):
            for k, v in item.items():
                yield where, k
                stack.append((f"{where}.{k}" if where else str(k), v))
        elif isinstance(item, list):
            stack.extend((f"{where}[{i}]", v) for i, v in enumerate(item))


def _check_text(value: Any, text: str, path: str | Path, line: int) -> None:
    """Refuse strings holding half a surrogate pair: they decode, but no UTF-8 writer takes them."""
    if not _SURROGATE_ESCAPE.search(text):
        return
    for where, s in _walk(value):
        try:
            s.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise DataError(
                path,
                f"a \\u{ord(s[exc.start]):04x} escape is half of a UTF-16 surrogate pair, "
                "not a character; expected a valid Unicode string",
                line=line,
                field=where or None,
            ) from exc


def parse_json(text: str, path: str | Path, *, line: int = 1) -> Any:
    """Decode the JSON document ``text`` (which starts on line ``line`` of ``path``)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(
            path, f"not valid JSON: {exc.msg} (column {exc.colno})", line=line + exc.lineno - 1
        ) from exc
    except RecursionError:
        raise _too_deep(text, path, first_line=line, start=0, toml=False) from None
    except ValueError as exc:  # an integer of more digits than Python converts
        raise DataError(path, f"not valid JSON: {exc}", line=line) from exc
    _check_text(value, text, path, line)
    return value


def parse_json_at(text: str, pos: int, path: str | Path) -> tuple[Any, int]:
    """Decode one JSON value of the document ``text`` from offset ``pos``; return it and where
    it ends (what :meth:`json.JSONDecoder.raw_decode` does, with DataErrors)."""
    line = text.count("\n", 0, pos) + 1
    try:
        value, end = json.JSONDecoder().raw_decode(text, pos)
    except json.JSONDecodeError as exc:
        raise DataError(path, f"not valid JSON: {exc.msg}", line=exc.lineno) from exc
    except RecursionError:
        raise _too_deep(text, path, first_line=1, start=pos, toml=False) from None
    except ValueError as exc:
        raise DataError(path, f"not valid JSON: {exc}", line=line) from exc
    _check_text(value, text[pos:end], path, line)
    return value, end


def read_json(path: str | Path) -> Any:
    """The JSON document in the UTF-8 file at ``path``."""
    return parse_json(read_text(path), path)


def parse_toml(text: str, path: str | Path) -> dict[str, Any]:
    """Decode the TOML document ``text``; the line of a syntax error is the DataError's."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        where = _TOML_WHERE.search(message)
        line = int(where.group(1)) if where else None
        column = f" (column {where.group(2)})" if where else ""
        message = message[: where.start()] if where else message
        raise DataError(path, f"not valid TOML: {message}{column}", line=line) from exc
    except RecursionError:
        raise _too_deep(text, path, first_line=1, start=0, toml=True) from None
    except ValueError as exc:  # an integer of more digits than Python converts
        raise DataError(path, f"not valid TOML: {exc}") from exc


def read_toml(path: str | Path) -> dict[str, Any]:
    """The TOML document in the UTF-8 file at ``path``."""
    return parse_toml(read_text(path), path)
