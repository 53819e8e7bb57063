"""Reading the files users hand us, every failure a DataError naming file, line and field.

:mod:`.text` decodes UTF-8 text, JSON and TOML; :mod:`.records` reads ``.jsonl``, ``.jsonl.gz``
and ``.json`` record files into :class:`~octoroute.fileio.records.Record` s with typed field
access. Only :mod:`octoroute.exceptions` is imported, so every package may use them.
"""

from octoroute.fileio.records import Record, read_json_array, read_jsonl, read_records
from octoroute.fileio.text import decode_utf8, parse_json, read_json, read_text, read_toml

__all__ = [
    "Record",
    "decode_utf8",
    "parse_json",
    "read_json",
    "read_json_array",
    "read_jsonl",
    "read_records",
    "read_text",
    "read_toml",
]
