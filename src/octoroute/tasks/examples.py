"""Find the example calls a prompt shows: the inputs of its *visible* tests.

Prompts show examples in many forms: doctests (``>>> f(1, 2)``), asserts
(``assert f(1, 2) == 3``, ``assert set(f(x)) == ...``, ``assert math.isclose(f(x), ...)``) and
prose (``f(1, 2) ➞ 3``, ``f(1, 2) == 3``, ``=>``, ``->``, ``returns``). Rather than one pattern
per form, every occurrence of ``entry_point(`` is cut at the first ``)`` that makes it parse as a
call, wherever it stands; only the arguments are kept, since the expected outputs come from
running the reference solution.

>>> prompt = '''
... def add(a, b):
...     \"\"\"Add two numbers.
...     >>> add(1, 2)
...     3
...     add([1], [2]) ➞ [1, 2]
...     assert add(1, 2) == 3
...     \"\"\"
... '''
>>> parse_examples(prompt, "add")
[(1, 2), ([1], [2])]

:func:`parse_claims` reads what the prompt says each example returns, where it says it: the
request's own claims, which a program written from an inconsistent request cannot all meet.

>>> parse_claims(prompt, "add")
[((1, 2), 3), (([1], [2]), [1, 2])]
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from typing import Any

_PROMPT = re.compile(r"^\s*>>> ?")
_CONTINUATION = re.compile(r"^\s*\.\.\. ?")
# Longest span tried for one call; longer example calls are not worth the parsing cost.
_MAX_CALL_CHARS = 5000


def _strip_doctest_markers(text: str) -> str:
    """Blank out ``>>>`` and their ``...`` continuation markers, keeping every offset."""
    lines = text.split("\n")
    in_example = False
    for i, line in enumerate(lines):
        prompt = _PROMPT.match(line)
        continuation = _CONTINUATION.match(line) if in_example else None
        marker = prompt or continuation
        in_example = marker is not None
        if marker is not None:
            lines[i] = " " * marker.end() + line[marker.end() :]
    return "\n".join(lines)


LITERAL_ERRORS = (ValueError, TypeError, SyntaxError, MemoryError, RecursionError)
"""What ``ast.literal_eval`` raises for a node that is not a literal it can build."""


def literal_args(call: ast.Call) -> tuple[Any, ...] | None:
    """The call's positional arguments as Python values, or None if any is not a literal."""
    # Keyword or starred arguments cannot be replayed as an argument tuple.
    if call.keywords or any(isinstance(a, ast.Starred) for a in call.args):
        return None
    try:
        return tuple(ast.literal_eval(a) for a in call.args)
    except LITERAL_ERRORS:
        return None


def _calls_in(source: str, entry_point: str) -> list[tuple[Any, ...]]:
    """Argument tuples of the literal calls to ``entry_point`` in an expression, outermost first."""
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return []
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == entry_point
        ):
            args = literal_args(node)
            if args is not None:
                found.append(args)
    return found


def _call_at(text: str, start: int, open_paren: int) -> str | None:
    """The source of the call whose name starts at ``start``, or None if none parses."""
    # The first ")" that makes the span parse is the call's own: an earlier one would leave a
    # bracket or a string unclosed.
    limit = min(len(text), open_paren + _MAX_CALL_CHARS)
    close = text.find(")", open_paren, limit)
    while close != -1:
        span = text[start : close + 1]
        try:
            node = ast.parse(span, mode="eval").body
        except (SyntaxError, ValueError, MemoryError, RecursionError):
            close = text.find(")", close + 1, limit)
            continue
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            return span
        return None
    return None


def _arity(prompt: str, entry_point: str) -> tuple[int, float] | None:
    """The least and most positional arguments ``entry_point`` takes, if the prompt defines it."""
    try:
        tree = ast.parse(prompt)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == entry_point:
            params = node.args.posonlyargs + node.args.args
            most = float("inf") if node.args.vararg else float(len(params))
            return len(params) - len(node.args.defaults), most
    return None


def _bounds(prompt: str, entry_point: str) -> tuple[int, float]:
    """The arities an example call may have: the prompt's ``def``'s, or at least one."""
    arity = _arity(prompt, entry_point)
    return arity if arity is not None else (1, float("inf"))


def _example_calls(text: str, entry_point: str) -> Iterator[tuple[int, int, list[tuple[Any, ...]]]]:
    """Each call of ``entry_point`` in ``text`` (doctest markers blanked) that is not its
    ``def``: where it starts and ends, and the argument tuples of the literal calls in it,
    outermost first."""
    # Not preceded by a word character, a dot (a method of something else) or "def ".
    pattern = re.compile(rf"(?<![\w.]){re.escape(entry_point)}\s*\(")
    for match in pattern.finditer(text):
        if text[: match.start()].rstrip(" \t").endswith("def"):
            continue
        span = _call_at(text, match.start(), match.end() - 1)
        if span is not None:
            yield match.start(), match.start() + len(span), _calls_in(span, entry_point)


def parse_examples(prompt: str, entry_point: str) -> list[tuple[Any, ...]]:
    """Return the argument tuples of the example calls to ``entry_point`` shown in ``prompt``.

    Only calls whose positional arguments are all Python literals count (calls with keyword
    arguments are skipped), and only with as many arguments as the prompt's ``def`` takes (at
    least one when the prompt has no ``def``); duplicates are dropped, first occurrence kept.

    >>> parse_examples("find_zero([1, 2]) -> -0.5\\nfind_zero(xs)", "find_zero")
    [([1, 2],)]
    """
    if not entry_point.isidentifier():
        return []
    least, most = _bounds(prompt, entry_point)
    seen: set[str] = set()
    examples: list[tuple[Any, ...]] = []
    for _, _, calls in _example_calls(_strip_doctest_markers(prompt), entry_point):
        for args in calls:
            # repr tells 1, 1.0 and True apart, which equality and hashing would merge.
            key = repr(args)
            # Prose names the function as "f()" too: a call of the wrong arity is no example.
            if key not in seen and least <= len(args) <= most:
                seen.add(key)
                examples.append(args)
    return examples


# What may stand between an example call and the output it claims, on the call's line.
_CLAIM = re.compile(r"\s*(?:==|➞|->|=>|→|should\s+return|returns|gives|is|=)\s*", re.IGNORECASE)


def _literal_prefix(text: str) -> tuple[bool, Any]:
    """The longest prefix of ``text`` (one line, trailing punctuation dropped) that is a Python
    literal: (True, value), or (False, None)."""
    line = text.split("\n", 1)[0].rstrip()
    for end in range(len(line), 0, -1):
        chunk = line[:end].rstrip(" .,;:")
        rest = line[end:].lstrip()
        # A prefix ends at a word's end, and not where arithmetic goes on ("19 - 5 - 6 = 8").
        if (
            not chunk
            or (end < len(line) and line[end - 1] not in " .,;:)]}'\"")
            or (rest and rest[0] in "-+*/%=<>")
        ):
            continue
        try:
            return True, ast.literal_eval(chunk)
        except LITERAL_ERRORS:
            continue
    return False, None


def parse_claims(prompt: str, entry_point: str) -> list[tuple[tuple[Any, ...], Any]]:
    """The example calls to ``entry_point`` in ``prompt`` with the output the prompt claims
    for each: a doctest's next line, or a literal after ``==``, ``➞``, ``->``, ``=>``,
    ``returns`` (and the like) on the call's line. Calls with no readable claim are left out;
    the first claim of a call is kept.

    >>> parse_claims(">>> f(2)\\n4\\nf(3) ➞ 9.\\nf(x) is odd", "f")
    [((2,), 4), ((3,), 9)]
    """
    if not entry_point.isidentifier():
        return []
    lines = prompt.split("\n")
    text = _strip_doctest_markers(prompt)
    least, most = _bounds(prompt, entry_point)
    seen: set[str] = set()
    claims: list[tuple[tuple[Any, ...], Any]] = []
    for start, end, calls in _example_calls(text, entry_point):
        if not calls or not least <= len(calls[0]) <= most or repr(calls[0]) in seen:
            continue
        after = text[end:]
        marker = _CLAIM.match(after)
        found, value = (False, None)
        if marker is not None and marker.end() > 0 and "\n" not in after[: marker.end()]:
            found, value = _literal_prefix(after[marker.end() :])
        row = text.count("\n", 0, start)
        if not found and _PROMPT.match(lines[row]) and not after.split("\n", 1)[0].strip():
            following = next((ln for ln in lines[row + 1 :] if ln.strip()), "")
            if not _PROMPT.match(following):  # a doctest's output line
                found, value = _literal_prefix(following.strip())
        if found:
            seen.add(repr(calls[0]))
            claims.append((calls[0], value))
    return claims
