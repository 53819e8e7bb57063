"""A fast lexical featurizer: hashed n-grams of the prompt plus a few dense features.

The vector is the concatenation of two blocks:

1. **Hashed n-grams** (``n_features`` columns). Word n-grams (lower-cased identifiers and
   numbers, ``word_ngrams`` inclusive range) and character n-grams (of the lower-cased prompt
   with runs of whitespace collapsed, ``char_ngrams`` inclusive range) are hashed into the same
   columns with a stable hash (CRC-32 seeded by ``seed`` and the n-gram kind, never Python's
   salted ``hash``); the top bit of the hash gives a sign, so collisions cancel on average
   (the "hashing trick" with alternate signs). Word and character counts are each
   L2-normalised (so the many character n-grams do not drown the words), summed, and the sum
   L2-normalised again: the block has unit norm (zero for an empty prompt).
2. **Dense features** (:data:`DENSE_FEATURES`, in that order), each scaled to about [0, 1]:
   size (log characters, lines, words), examples (visible tests, ``>>>`` lines), signature
   shape (parameters of the entry point from ``ast``, or from a ``def`` line, or from the first
   visible call's arguments; annotated share, return annotation, helper functions, imports),
   the kind of the visible tests, and keyword flags (:data:`KEYWORDS`).

Only the prompt, the entry point and the visible tests are read.

>>> from octoroute.types import Problem
>>> p = Problem("P/1", "demo", "def add(a: int, b: int) -> int:\\n    pass\\n", "add", "", ())
>>> f = LexicalFeaturizer(n_features=64)
>>> v = f.transform_one(p)
>>> v.shape == (f.dim,), f.dim == 64 + len(DENSE_FEATURES)
(True, True)
>>> dense = dict(zip(DENSE_FEATURES, v[64:].tolist()))
>>> dense["n_params"], dense["has_return_annotation"], dense["annotated_share"]
(0.5, 1.0, 1.0)
"""

from __future__ import annotations

import ast
import math
import re
import zlib
from collections import Counter
from collections.abc import Iterable

import numpy as np

from octoroute.exceptions import ConfigError
from octoroute.features.base import BaseFeaturizer, FloatArray
from octoroute.fileio.text import PYTHON_PARSE_ERRORS
from octoroute.types import Problem, TestKind

__all__ = ["DENSE_FEATURES", "KEYWORDS", "LexicalFeaturizer"]

KEYWORDS: tuple[tuple[str, str], ...] = (
    ("kw_sort", r"\bsort|\bascending|\bdescending|\border(?:ed)?\b"),
    ("kw_string", r"\bstr\b|\bstrings?\b|\bchar(?:acter)?s?\b|\bsubstrings?\b|\bletters?\b"),
    ("kw_words", r"\bwords?\b|\bsentences?\b|\bvowels?\b|\bpalindrom|\bupper|\blower"),
    ("kw_list", r"\blists?\b|\barrays?\b|\btuples?\b|\bsequences?\b|\belements?\b"),
    ("kw_dict", r"\bdict|\bdictionar|\bmapping\b|\bkeys?\b|\bhash"),
    ("kw_math", r"\bprimes?\b|\bfib|\bfactorial|\bgcd\b|\blcm\b|\bdivis|\bsqrt|\bpower\b|\bmod"),
    ("kw_digits", r"\bdigits?\b|\bintegers?\b|\bsum\b|\bproduct\b|\beven\b|\bodd\b"),
    ("kw_recursion", r"\brecurs|\bfib|\bfactorial|\btrees?\b|\bdefined as\b|\bn-th\b|\bnth\b"),
    ("kw_regex", r"\bregex|\bregular expression|\bre\.\w+|\bpatterns?\b"),
    ("kw_matrix", r"\bmatri(?:x|ces)\b|\bgrid\b|\b2d\b|\bnested lists?\b|\brows?\b|\bcolumns?\b"),
    ("kw_float", r"\bfloat|\bdecimal|\bround|\bprecision\b"),
    ("kw_binary", r"\bbinary\b|\bbits?\b|\bhex|\boctal\b|\bbase \d"),
    ("kw_count", r"\bcount|\bnumber of\b|\bhow many\b|\bfrequen"),
    ("kw_minmax", r"\bmax|\bmin|\blargest\b|\bsmallest\b|\blongest\b|\bshortest\b"),
    ("kw_geometry", r"\btriangle|\bcircle|\barea\b|\bangle|\bpolygon|\bperimeter|\bvolume"),
    ("kw_date", r"\bdates?\b|\bmonths?\b|\byears?\b|\bdays?\b|\bhours?\b|\btime\b"),
    ("kw_brackets", r"\bparenthes|\bbrackets?\b|\bnest(?:ed|ing)\b|\bbalanced\b"),
)
"""Keyword flags: ``(feature name, regular expression)`` over the lower-cased prompt."""

_SIZE = ("log_chars", "log_lines", "log_words", "n_visible", "n_doctest")
_SIGNATURE = (
    "signature_found",
    "n_params",
    "annotated_share",
    "has_return_annotation",
    "n_defs",
    "has_imports",
)
_KINDS = ("visible_call", "visible_assert", "visible_stdio")
DENSE_FEATURES: tuple[str, ...] = _SIZE + _SIGNATURE + _KINDS + tuple(k for k, _ in KEYWORDS)
"""Names of the dense columns, after the hashed block."""

_KEYWORD_RES = tuple(re.compile(rx) for _, rx in KEYWORDS)
_WORD_RE = re.compile(r"[a-z_][a-z0-9_]*|\d+")
_SPACE_RE = re.compile(r"\s+")


class LexicalFeaturizer(BaseFeaturizer):
    """Hashed word and character n-grams of the prompt, plus dense shape and keyword features.

    Parameters
    ----------
    n_features:
        Columns of the hashed block (a power of two keeps the modulo unbiased).
    word_ngrams, char_ngrams:
        Inclusive ranges of n-gram lengths; ``(0, 0)`` switches a kind off.
    seed:
        Salts the hash: different seeds give different (equally good) collision patterns.
    """

    name = "lexical"
    version = 1

    def __init__(
        self,
        n_features: int = 2**12,
        word_ngrams: tuple[int, int] = (1, 2),
        char_ngrams: tuple[int, int] = (3, 5),
        seed: int = 0,
    ) -> None:
        self.n_features = n_features
        self.word_ngrams = word_ngrams
        self.char_ngrams = char_ngrams
        self.seed = seed

    @property
    def dim(self) -> int:
        """``n_features`` hashed columns plus ``len(DENSE_FEATURES)`` dense ones."""
        return int(self.n_features) + len(DENSE_FEATURES)

    @property
    def feature_names(self) -> tuple[str, ...]:
        """One name per column: ``hash_0``... then :data:`DENSE_FEATURES`."""
        return tuple(f"hash_{i}" for i in range(int(self.n_features))) + DENSE_FEATURES

    def transform_one(self, problem: Problem) -> FloatArray:
        """The vector of one problem, shape ``(dim,)``, float64."""
        n = self._check()
        text = problem.prompt.lower()
        words = _WORD_RE.findall(text)
        flat = _SPACE_RE.sub(" ", text).strip()
        out = np.zeros(self.dim, dtype=np.float64)
        lo, hi = _range(self.word_ngrams, "word_ngrams")
        self._hash_into(out[:n], "w", _word_grams(words, lo, hi))
        lo, hi = _range(self.char_ngrams, "char_ngrams")
        self._hash_into(out[:n], "c", _char_grams(flat, lo, hi))
        norm = float(np.linalg.norm(out[:n]))
        if norm > 0.0:
            out[:n] /= norm
        out[n:] = _dense(problem, text, len(words))
        return out

    def _check(self) -> int:
        n = self.n_features
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ConfigError(f"n_features: expected a positive integer, found {n!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ConfigError(f"seed: expected an integer, found {self.seed!r}")
        return n

    def _hash_into(self, block: FloatArray, kind: str, grams: Iterable[str]) -> None:
        counts = Counter(grams)
        if not counts:
            return
        start = zlib.crc32(f"octoroute:{self.seed}:{kind}:".encode())
        hashes = np.fromiter(
            (zlib.crc32(g.encode(), start) for g in counts), dtype=np.uint64, count=len(counts)
        )
        values = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
        signs = np.where(hashes >> np.uint64(31), -1.0, 1.0)
        part = np.zeros_like(block)
        np.add.at(part, (hashes % np.uint64(block.shape[0])).astype(np.intp), signs * values)
        norm = float(np.linalg.norm(part))
        if norm > 0.0:
            block += part / norm


def _range(value: object, field: str) -> tuple[int, int]:
    if (
        not isinstance(value, tuple | list)
        or len(value) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        or not 0 <= value[0] <= value[1]
    ):
        raise ConfigError(f"{field}: expected (low, high) with 0 <= low <= high, found {value!r}")
    return int(value[0]), int(value[1])


def _word_grams(words: list[str], lo: int, hi: int) -> Iterable[str]:
    for n in range(max(lo, 1), hi + 1):
        for i in range(len(words) - n + 1):
            yield " ".join(words[i : i + n])


def _char_grams(text: str, lo: int, hi: int) -> Iterable[str]:
    for n in range(max(lo, 1), hi + 1):
        for i in range(len(text) - n + 1):
            yield text[i : i + n]


def _dense(problem: Problem, lower: str, n_words: int) -> list[float]:
    prompt = problem.prompt
    visible = problem.visible_tests
    size = [
        math.log1p(len(prompt)) / 10.0,
        math.log1p(prompt.count("\n") + 1 if prompt else 0) / 6.0,
        math.log1p(n_words) / 8.0,
        math.log1p(len(visible)) / 3.0,
        math.log1p(prompt.count(">>>")) / 3.0,
    ]
    kinds = [float(any(t.kind is k for t in visible)) for k in TestKind]
    flags = [float(rx.search(lower) is not None) for rx in _KEYWORD_RES]
    return size + _signature(problem) + kinds + flags


def _signature(problem: Problem) -> list[float]:
    """Signature shape from ``ast``, else a ``def`` line, else the first visible call."""
    found, n_params, annotated, returns = 0.0, 0, 0, 0.0
    n_defs, imports = 0, 0.0
    try:
        tree: ast.Module | None = ast.parse(problem.prompt)
    except PYTHON_PARSE_ERRORS:
        tree = None
    if tree is not None:
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                n_defs += 1
                if node.name == problem.entry_point and not found:
                    args = [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]
                    args = [a for a in args if a.arg not in ("self", "cls")]
                    found, n_params = 1.0, len(args)
                    annotated = sum(a.annotation is not None for a in args)
                    returns = float(node.returns is not None)
            elif isinstance(node, ast.Import | ast.ImportFrom):
                imports = 1.0
    if not found and problem.entry_point:
        m = re.search(rf"def\s+{re.escape(problem.entry_point)}\s*\(([^)]*)\)", problem.prompt)
        if m is not None:
            params = [p for p in m.group(1).split(",") if p.strip() not in ("", "self", "/", "*")]
            found, n_params = 1.0, len(params)
            annotated = sum(":" in p for p in params)
            returns = float("->" in problem.prompt[m.end() : m.end() + 80].split("\n")[0])
        else:
            calls = [t for t in problem.visible_tests if t.kind is TestKind.CALL]
            if calls and isinstance(calls[0].input, tuple | list):
                n_params = len(calls[0].input)
    return [
        found,
        min(n_params, 8) / 4.0,
        annotated / n_params if n_params else 0.0,
        returns,
        math.log1p(n_defs) / 2.0,
        imports,
    ]
