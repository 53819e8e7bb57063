"""HumanEvalComm: HumanEval's problems rewritten to be ambiguous, inconsistent or incomplete.

Each record of the release file (``humanevalcomm/HumanEvalComm.jsonl.gz``, v1, or
``HumanEvalComm_v2.jsonl.gz``; arXiv 2406.00215) holds one HumanEval problem's original
prompt and its modified ones: ``1a`` (ambiguous), ``1c`` (inconsistent: the examples contradict
the text), ``1p`` (incomplete) and the combinations ``2ac``, ``2ap``, ``2cp``, ``3acp`` where
they differ. Every prompt, the original included, becomes a :class:`Problem`
(``HumanEvalComm/N/1a``, ``HumanEvalComm/N/original``): the arms and the router see its
prompt; the original prompt rides along in ``metadata["original_prompt"]``, which
:meth:`~octoroute.types.Problem.visible_only` drops, so only a simulated user ever reads it.

The hidden tests are HumanEval+'s (base and plus tiers), called under the function name the
modified prompt defines (many rename it ``candidate``; the reference gets an alias). A modified
problem has no visible tests: its examples are the very thing that may be wrong or missing,
and tests drawn from the original would hand a model, through repair feedback, what it should
have asked for. The original keeps HumanEval+'s visible tests (its docstring's examples).
"""

from __future__ import annotations

import re
from pathlib import Path

from octoroute.fileio.records import Record, read_jsonl
from octoroute.tasks.evalplus import load_humaneval_plus
from octoroute.tasks.files import resolve_data_file
from octoroute.types import Problem, Tier

__all__ = ["FILES", "ORIGINAL", "VARIANTS", "load_humanevalcomm"]

ORIGINAL = "original"
VARIANTS = ("1a", "1c", "1p", "2ac", "2ap", "2cp", "3acp")
"""The modified descriptions, in the benchmark's order."""
FILES = {1: "HumanEvalComm.jsonl.gz", 2: "HumanEvalComm_v2.jsonl.gz"}
"""The release file of each version, in ``OCTOROUTE_DATA_DIR/humanevalcomm``."""
FOLDER = "humanevalcomm"
_DEF = re.compile(r"^\s*def\s+([A-Za-z_]\w*)\s*\(", re.MULTILINE)


def _entry_point(record: Record, field: str, prompt: str, original: str) -> str:
    """The function a prompt asks for: the original name if it defines it, else its own."""
    names = _DEF.findall(prompt)
    if not names:
        raise record.error("expected a prompt that defines a function (def NAME(...))", field)
    return original if original in names else names[-1]


def load_humanevalcomm(
    path: str | Path | None = None, *, plus: str | Path | None = None, version: int = 1
) -> list[Problem]:
    """Every prompt of HumanEvalComm ``version`` (1 or 2) as a problem, originals included.

    ``path`` is the release file or its folder (default: ``OCTOROUTE_DATA_DIR/humanevalcomm``),
    ``plus`` HumanEval+'s (default: ``OCTOROUTE_DATA_DIR``). A modified prompt identical to
    the original, or to an earlier variant of the same problem, is left out (it asks nothing
    new). Raises DataError naming the file, line and field of a bad record.
    """
    if version not in FILES:
        raise ValueError(f"HumanEvalComm version {version}: expected 1 or 2")
    name = FILES[version]
    source = resolve_data_file(path, name) if path is not None else resolve_data_file(
        None, f"{FOLDER}/{name}")  # fmt: skip
    hidden = {p.id: p for p in load_humaneval_plus(plus)}
    out: list[Problem] = []
    for record in read_jsonl(source):
        task = record.get("name", str)
        base = hidden.get(task)
        if base is None:
            raise record.error(f"no HumanEval+ problem {task!r}", "name")
        original = record.get("prompt", str)
        number = task.rsplit("/", 1)[-1]
        seen = {original}
        prompts = [(ORIGINAL, "prompt", original)]
        for variant in VARIANTS:
            text = record.get_optional(f"prompt{variant}", str, "")
            if text.strip() and text not in seen:
                seen.add(text)
                prompts.append((variant, f"prompt{variant}", text))
        for variant, field, prompt in prompts:
            entry = _entry_point(record, field, prompt, base.entry_point)
            alias = "" if entry == base.entry_point else f"\n\n{entry} = {base.entry_point}\n"
            tests = tuple(
                t for t in base.tests if variant == ORIGINAL or t.tier is not Tier.VISIBLE
            )
            out.append(
                Problem(
                    id=f"HumanEvalComm/{number}/{variant}",
                    benchmark="humanevalcomm",
                    prompt=prompt,
                    entry_point=entry,
                    reference=base.reference + alias,
                    tests=tests,
                    metadata={
                        "variant": variant,
                        "original_id": task,
                        "original_prompt": original,
                    },
                )
            )
    return out
