"""Decoding user files: bad bytes, deep nesting and broken text are DataErrors, never tracebacks."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from octoroute.exceptions import DataError
from octoroute.fileio.text import (
    PYTHON_PARSE_ERRORS,
    decode_utf8,
    parse_json,
    parse_json_at,
    parse_toml,
    python_error,
    read_json,
    read_text,
    read_toml,
)

DEEP = 200_000


def _deep(n: int = DEEP) -> str:
    return "[" * n + "]" * n


def test_bad_utf8_names_line_column_and_byte(tmp_path: Path) -> None:
    path = tmp_path / "prog.py"
    path.write_bytes(b"def f():\n    return 'caf\xe9'\n")
    with pytest.raises(DataError) as info:
        read_text(path)
    assert info.value.line == 2
    assert str(info.value) == (
        f"{path}, line 2: not UTF-8 text: byte 0xe9 at column 16 (invalid continuation byte); "
        "expected UTF-8"
    )
    with pytest.raises(DataError, match="line 12: not UTF-8"):
        decode_utf8(b"x\ny\n\xff", "f", line=10)


def test_missing_or_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"absent\.toml: no such file"):
        read_toml(tmp_path / "absent.toml")
    with pytest.raises(DataError, match="cannot read file"):
        read_text(tmp_path)


def test_json_nested_200000_deep_names_line_and_field() -> None:
    line = '{"id": "p", "tests": ' + _deep() + "}"
    with pytest.raises(DataError) as info:
        parse_json(line, "p.jsonl", line=3)
    err = info.value
    assert (err.path, err.line, err.field) == ("p.jsonl", 3, "tests")
    assert f"nested too deeply: {DEEP + 1} levels" in str(err)


def test_json_other_decode_failures() -> None:
    with pytest.raises(DataError, match=r"f\.json, line 4: not valid JSON: Expecting value"):
        parse_json('{\n"a":\n[1,,2]}', "f.json", line=2)
    with pytest.raises(DataError, match=r"line 1: not valid JSON: Exceeds the limit"):
        parse_json('{"n": ' + "9" * 5000 + "}", "f.json")  # more digits than int() takes


def test_lone_surrogate_escape_is_refused_with_its_field() -> None:
    with pytest.raises(DataError) as info:
        parse_json('{"tests": [{"input": "a\\ud800"}]}', "f.jsonl", line=2)
    assert info.value.field == "tests[0].input" and info.value.line == 2
    assert "surrogate" in str(info.value)
    assert parse_json('{"a": "\\ud83d\\ude00"}', "f.json") == {"a": "\U0001f600"}  # a pair is fine


def test_json_value_in_a_document_knows_its_line() -> None:
    text = '[\n {"a": 1},\n {"b": ' + _deep(3000) + "}]"
    pos = text.index('{"b"')
    with pytest.raises(DataError) as info:
        parse_json_at(text, pos, "items.json")
    assert (info.value.line, info.value.field) == (3, "b")
    assert parse_json_at(text, 3, "items.json") == ({"a": 1}, 11)


def test_read_json_reads_a_utf8_file(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text('{"m": 1.5}', encoding="utf-8")
    assert read_json(path) == {"m": 1.5}
    path.write_bytes(b'{"m": "\xff"}')
    with pytest.raises(DataError, match="line 1: not UTF-8 text: byte 0xff at column 8"):
        read_json(path)


def test_toml_deep_and_syntax_errors_name_the_line() -> None:
    text = '[[arms]]\nname = "a"\nsampling = ' + _deep(DEEP) + "\n"
    with pytest.raises(DataError) as info:
        parse_toml(text, "pool.toml")
    assert (info.value.line, info.value.field) == (3, "arms.sampling")
    assert "nested too deeply" in str(info.value)
    with pytest.raises(DataError) as info:
        parse_toml("a = 1\nb = [1,,]\n", "pool.toml")
    assert info.value.line == 2 and "not valid TOML: Invalid value (column 8)" in str(info.value)
    with pytest.raises(DataError, match="not valid TOML: Exceeds the limit"):
        parse_toml("a = " + "9" * 5000, "pool.toml")


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("assert f(1) == (", "not valid Python: '(' was never closed (line 1)"),
        ("assert f(1) == " + "+".join(["1"] * 200_000), "nested too deeply or too long"),
        ("x = " + "-" * 200_000 + "1", "nested too deeply or too long"),
        ("a\x00b", "not valid Python: source code string cannot contain null bytes"),
    ],
)
def test_python_parse_errors_all_have_a_reason(source: str, reason: str) -> None:
    with pytest.raises(PYTHON_PARSE_ERRORS) as info:
        ast.parse(source)
    assert reason in python_error(info.value)
