"""Readers: every failure is a DataError naming file, line and field."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from octoroute.exceptions import DataError
from octoroute.fileio.records import (
    Record,
    describe,
    read_json_array,
    read_jsonl,
    read_records,
)


def _rows(n: int) -> list[dict[str, object]]:
    return [{"task_id": f"T/{i}", "prompt": "x" * 200 + str(i)} for i in range(n)]


def _write_gz(path: Path, rows: list[dict[str, object]]) -> bytes:
    data = gzip.compress("".join(json.dumps(r) + "\n" for r in rows).encode())
    path.write_bytes(data)
    return data


def test_reads_jsonl_gz_and_skips_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "ok.jsonl"
    path.write_text('{"a": 1}\n\n{"a": 2}\n')
    assert [(r.line, r.data["a"]) for r in read_jsonl(path)] == [(1, 1), (3, 2)]
    _write_gz(tmp_path / "ok.jsonl.gz", _rows(3))
    assert len(list(read_records(tmp_path / "ok.jsonl.gz"))) == 3


def test_truncated_gzip_names_file_and_line_reached(tmp_path: Path) -> None:
    path = tmp_path / "cut.jsonl.gz"
    data = _write_gz(path, _rows(2000))
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError) as info:
        list(read_jsonl(path))
    err = info.value
    assert "cut.jsonl.gz" in str(err)
    assert err.line is not None and 1 < err.line < 2000
    assert f"line {err.line}" in str(err)
    assert "truncated" in str(err)


def test_corrupt_gzip(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00" + b"garbage" * 20)
    with pytest.raises(DataError, match=r"bad\.jsonl\.gz, line 1: truncated or corrupt gzip"):
        list(read_jsonl(path))


def test_non_json_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"a": 1}\n{"a": 2}\n{"a": oops}\n')
    with pytest.raises(DataError, match=r"bad\.jsonl, line 3: not valid JSON"):
        list(read_jsonl(path))


def test_line_that_is_not_an_object(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text("[1, 2]\n")
    with pytest.raises(DataError, match=r"line 1: expected an object, found an array"):
        list(read_jsonl(path))


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b'{"a": 1}\n{"a": "\xff"}\n')
    with pytest.raises(DataError, match=r"line 2: not UTF-8"):
        list(read_jsonl(path))


def test_deep_line_names_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "deep.jsonl.gz"
    deep = '{"a": 1, "b": ' + "[" * 200_000 + "]" * 200_000 + "}"
    path.write_bytes(gzip.compress(f'{{"a": 1}}\n\n{deep}\n'.encode()))
    with pytest.raises(DataError) as info:
        list(read_jsonl(path))
    assert (info.value.line, info.value.field) == (3, "b")
    assert "nested too deeply" in str(info.value)


def test_deep_array_item_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "items.json"
    path.write_text('[\n  {"a": 1},\n  {"code": ' + "[" * 5000 + "]" * 5000 + "}\n]\n")
    with pytest.raises(DataError) as info:
        list(read_json_array(path))
    assert (info.value.line, info.value.field) == (3, "code")


def test_describe_survives_a_value_nested_nearly_too_deep() -> None:
    value: list[object] = []
    for _ in range(5000):
        value = [value]
    assert describe(value) == "an array (...)"


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file"):
        list(read_jsonl(tmp_path / "absent.jsonl"))


def test_missing_field_and_wrong_type() -> None:
    rec = Record("f.jsonl", 4, {"prompt": 3, "tests": [1, "x"]})
    with pytest.raises(DataError) as info:
        rec.get("entry_point", str)
    assert str(info.value) == "f.jsonl, line 4, field entry_point: missing required field"
    with pytest.raises(DataError, match=r"field prompt: expected a string, found an integer \(3\)"):
        rec.get("prompt", str)
    with pytest.raises(DataError, match=r"field tests\[1\]: expected an integer, found a string"):
        rec.get_list("tests", int)
    assert rec.get_optional("harness", str, "") == ""


def test_booleans_are_not_numbers() -> None:
    rec = Record("f.jsonl", 1, {"atol": True, "n": 2})
    with pytest.raises(DataError, match="expected a number, found a boolean"):
        rec.get("atol", float)
    assert rec.get("n", float) == 2.0
    assert isinstance(rec.get("n", float), float)


def test_nested_record_errors_name_the_path() -> None:
    rec = Record("f.jsonl", 2, {"tests": [{"kind": 1}]})
    test = rec.nested(rec.data["tests"][0], "tests[0]")
    with pytest.raises(DataError, match=r"field tests\[0\]\.kind: expected a string"):
        test.get("kind", str)


def test_json_array_items_know_their_lines(tmp_path: Path) -> None:
    path = tmp_path / "items.json"
    path.write_text('[\n  {"a": 1},\n\n  {"a": 2,\n   "b": 3}\n]\n')
    assert [r.line for r in read_json_array(path)] == [2, 4]
    path.write_text('[\n  {"a": 1},\n  {"a": }\n]')
    with pytest.raises(DataError, match=r"items\.json, line 3: not valid JSON"):
        list(read_json_array(path))
    path.write_text('{"a": 1}')
    with pytest.raises(DataError, match="expected a JSON array"):
        list(read_json_array(path))


def test_unknown_suffix(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="unknown file type"):
        read_records(tmp_path / "x.csv")
