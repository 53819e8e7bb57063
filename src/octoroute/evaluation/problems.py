"""Problem texts for replay: a benchmark by name, or a JSONL file of ``id`` and ``prompt``.

Replay featurizes problems from what a router may see (the prompt and the examples it shows),
never from hidden tests. A benchmark name (:data:`octoroute.tasks.BENCHMARKS`) is loaded with
:func:`~octoroute.tasks.load_benchmark` from ``OCTOROUTE_DATA_DIR``. Any other value is a
``.jsonl`` (or ``.jsonl.gz``) file with one object a line::

    {"id": "HumanEval/0", "prompt": "def has_close_elements(...)...", "entry_point": "..."}

``id`` and ``prompt`` are required; ``entry_point`` is optional and lets the prompt's example
calls count as visible tests, as they do for the built-in benchmarks. Other fields (tests
included) are ignored, so any published matrix with problem texts can be replayed.

>>> import json, tempfile, os
>>> with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
...     _ = f.write(json.dumps({"id": "p1", "prompt": "def f(x):\\n    '''f(2) == 3'''"}) + "\\n")
>>> [p.id for p in load_problem_texts(f.name)]
['p1']
>>> os.unlink(f.name)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from octoroute.exceptions import ConfigError, DataError
from octoroute.fileio.records import read_jsonl
from octoroute.tasks import BENCHMARKS, load_benchmark, parse_examples
from octoroute.types import Problem, TestCase, TestKind, Tier

__all__ = ["align_problems", "load_problem_texts", "read_prompts_jsonl"]


def read_prompts_jsonl(path: str | Path) -> list[Problem]:
    """Problems with only a prompt (and visible examples) from a JSONL of ``id``/``prompt``.

    Raises :class:`~octoroute.exceptions.DataError` naming file, line and field.
    """
    path = Path(path)
    out: list[Problem] = []
    seen: dict[str, int] = {}
    benchmark = path.name.removesuffix(".gz").removesuffix(".jsonl")
    for rec in read_jsonl(path):
        pid = rec.get("id", str)
        prompt = rec.get("prompt", str)
        entry = rec.get_optional("entry_point", str, "")
        if not pid.strip():
            raise rec.error("empty problem id", "id")
        if pid in seen:
            raise rec.error(f"problem {pid!r} repeated (first on line {seen[pid]})", "id")
        seen[pid] = rec.line
        visible = tuple(
            TestCase(kind=TestKind.CALL, tier=Tier.VISIBLE, input=args)
            for args in (parse_examples(prompt, entry) if entry else [])
        )
        out.append(Problem(pid, benchmark, prompt, entry, "", visible))
    if not out:
        raise DataError(path, "no problems")
    return out


def load_problem_texts(spec: str) -> list[Problem]:
    """The problems named by ``spec``: a benchmark name or a JSONL file of ``id``/``prompt``."""
    if spec.strip().lower() in BENCHMARKS:
        return load_benchmark(spec)
    if spec.removesuffix(".gz").endswith(".jsonl") or Path(spec).is_file():
        return read_prompts_jsonl(spec)
    raise ConfigError(
        f"problems: {spec!r} is neither a benchmark ({', '.join(BENCHMARKS)}) nor a .jsonl file"
    )


def align_problems(problem_ids: Sequence[str], problems: Sequence[Problem]) -> list[Problem]:
    """``problems`` in the order of ``problem_ids``; ConfigError lists ids without a text.

    >>> ps = [Problem("b", "t", "", "f", "", ()), Problem("a", "t", "", "f", "", ())]
    >>> [p.id for p in align_problems(["a", "b"], ps)]
    ['a', 'b']
    """
    by_id = {p.id: p for p in problems}
    missing = [pid for pid in problem_ids if pid not in by_id]
    if missing:
        shown = ", ".join(missing[:5]) + (", ..." if len(missing) > 5 else "")
        raise ConfigError(
            f"{len(missing)} problem(s) of the outcomes have no text in the problems given: {shown}"
        )
    return [by_id[pid] for pid in problem_ids]
