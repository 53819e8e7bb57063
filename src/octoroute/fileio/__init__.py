"""Files in and out: reading what users hand us (every failure a DataError naming file, line
and field), and writing files whole or not at all.

:mod:`.text` decodes UTF-8 text, JSON and TOML; :mod:`.records` reads ``.jsonl``, ``.jsonl.gz``
and ``.json`` record files into :class:`~octoroute.fileio.records.Record` s with typed field
access; :mod:`.atomic` replaces a file atomically. Only :mod:`octoroute.exceptions` is
imported, so every package may use them.
"""

from octoroute.fileio.atomic import atomic_write
from octoroute.fileio.records import Record, read_json_array, read_jsonl, read_records
from octoroute.fileio.text import decode_utf8, parse_json, read_json, read_text, read_toml

__all__ = [
    "Record",
    "atomic_write",
    "decode_utf8",
    "parse_json",
    "read_json",
    "read_json_array",
    "read_jsonl",
    "read_records",
    "read_text",
    "read_toml",
]
