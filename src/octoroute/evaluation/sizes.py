"""Parameter counts of models, in billions: read from the name, or from a sizes file.

Published outcome matrices carry no token counts, so replay measures compute by parameter
count (compute per token is proportional to the parameters). A name usually says the size
(``deepseek-coder-6.7b-instruct``, ``Qwen--Qwen1.5-72B-Chat``, ``mixtral-8x7b-instruct`` as
8 x 7 = 56 as the name counts it, ``smollm2-135m``); :func:`params_from_name` reads the first
such token and ignores look-alikes (``16k`` context, ``v1.5`` versions).

Names that do not say it are looked up in a sizes file, a JSON object of model name to
billions. The file shipped with octoroute (``evaluation/data/model_sizes.json``) holds only sizes
documented on the models' own cards:

=====================================  ======  =============================================
model (as eval-arena names it)         B       model card
=====================================  ======  =============================================
``microsoft--Phi-3-mini-4k-instruct``  3.8     microsoft/Phi-3-mini-4k-instruct
``phi-2``                              2.7     microsoft/phi-2
``openchat``                           7.0     openchat/openchat_3.5 (a Mistral 7B fine-tune)
``dolphin-2.6``                        7.0     cognitivecomputations/dolphin-2.6-mistral-7b
``octocoder``                          15.5    bigcode/octocoder
=====================================  ======  =============================================

Models whose size is not published (``xdan-l1-chat``, ``gpt-*``, ``claude-*``,
``mistral-large-latest``) or not in the name (``dbrx-instruct``, ``command-r-plus``) stay
unknown: they are reported, never guessed.

>>> params_from_name("deepseek-coder-6.7b-instruct"), params_from_name("mixtral-8x7b-instruct")
(6.7, 56.0)
>>> params_from_name("speechless-coding-7b-16k-tora"), params_from_name("gpt-4-1106-preview")
(7.0, None)
>>> model_sizes(["phi-2", "xdan-l1-chat", "Qwen--Qwen1.5-72B-Chat"])
{'phi-2': 2.7, 'xdan-l1-chat': None, 'Qwen--Qwen1.5-72B-Chat': 72.0}
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path

from octoroute.exceptions import DataError
from octoroute.fileio.text import read_json

__all__ = [
    "DEFAULT_SIZES_FILE",
    "by_size",
    "default_sizes",
    "load_sizes",
    "model_sizes",
    "params_from_name",
]

DEFAULT_SIZES_FILE = "model_sizes.json"
"""The sizes file shipped in ``octoroute/evaluation/data``."""

# A size token stands alone between separators: "6.7b" in "coder-6.7b-instruct", "8x7b", "135m".
# The look-behind rejects "1.5" in "qwen1.5" and "v1.5"; the look-ahead rejects "16k", "7bit".
_SIZE_RE = re.compile(r"(?<![a-z0-9.])(?:(\d+)x)?(\d+(?:\.\d+)?)([bm])(?![a-z0-9])")


def params_from_name(name: str) -> float | None:
    """Billions of parameters the model's name states, or None when it states none.

    ``NxMb`` (a mixture of experts) counts ``N x M``; a ``m`` suffix means millions.

    >>> params_from_name("deepseek-coder-7b-instruct-v1.5"), params_from_name("smollm2-135m")
    (7.0, 0.135)
    """
    match = _SIZE_RE.search(name.lower())
    if match is None:
        return None
    experts, value, unit = match.groups()
    size = float(value) * (int(experts) if experts else 1)
    return round(size / 1000.0 if unit == "m" else size, 6)


def load_sizes(path: str | Path) -> dict[str, float]:
    """Read a sizes file: a JSON object of model name to billions of parameters.

    Raises :class:`~octoroute.exceptions.DataError` naming the file (and the model, as the
    field) for a file that cannot be read, is not UTF-8 JSON, is not such an object, or holds
    a size that is not a positive number.
    """
    return _check_sizes(read_json(path), path)


def _check_sizes(data: object, path: str | Path) -> dict[str, float]:
    if not isinstance(data, dict):
        raise DataError(path, "expected a JSON object of model name to billions of parameters")
    out: dict[str, float] = {}
    for model, value in data.items():
        is_number = isinstance(value, int | float) and not isinstance(value, bool)
        if not is_number or not math.isfinite(value) or value <= 0:
            raise DataError(
                path, f"expected a positive number of billions, found {value!r}", field=model
            )
        out[model] = float(value)
    return out


def default_sizes() -> dict[str, float]:
    """The sizes shipped with octoroute (documented on the models' cards)."""
    text = resources.files("octoroute.evaluation").joinpath("data", DEFAULT_SIZES_FILE)
    return _check_sizes(json.loads(text.read_text(encoding="utf-8")), str(text))


def model_sizes(
    models: Iterable[str], extra: Mapping[str, float] | None = None
) -> dict[str, float | None]:
    """Each model's size: ``extra`` first, then the shipped file, then the name; else None."""
    known = {**default_sizes(), **(extra or {})}
    return {m: known[m] if m in known else params_from_name(m) for m in models}


def by_size(names: Iterable[str]) -> list[str]:
    """``names`` from smallest to largest by :func:`params_from_name` (unknown sizes first).

    Among arms of one size, a variant (a longer name, such as a model's ``-completion`` arm)
    comes before the plain name, so the last arm, the reference of the episodes, is the model
    under its own name; then by name.

    >>> by_size(["qwen2.5-coder-1.5b", "smollm2-135m", "qwen2.5-coder-1.5b-completion"])
    ['smollm2-135m', 'qwen2.5-coder-1.5b-completion', 'qwen2.5-coder-1.5b']
    """
    return sorted(names, key=lambda n: (params_from_name(n) or 0.0, -len(n), n))
