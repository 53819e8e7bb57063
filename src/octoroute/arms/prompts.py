"""Prompt templates for chat and completion arms, and robust extraction of code from answers.

A completion-style arm continues :func:`completion_prompt` (for HumanEval, the function stub
itself); a chat-style arm gets :func:`chat_messages`. Both show the problem's visible examples
(those the prompt does not already show).

:func:`extract_code` turns an answer into a program: it takes the fenced block that defines the
entry point (or bare code amid prose), completes a bare function body with the prompt's stub,
cuts at stop sequences, drops what cannot parse at the end of a truncated answer, drops test
code at the top level (prints, asserts, ``if __name__``), and adds the prompt's imports and
helpers when the answer lacks them.

>>> extract_code("Here:\\n```python\\ndef f(x):\\n    return x\\n```\\nDone.")
'def f(x):\\n    return x\\n'
"""

from __future__ import annotations

import ast
import re
import textwrap
from collections.abc import Iterable, Sequence

from octoroute.arms.style import Messages, PromptStyle
from octoroute.fileio.text import PYTHON_PARSE_ERRORS
from octoroute.types import Problem, TestCase, TestKind

__all__ = [
    "SYSTEM_PROMPT",
    "chat_messages",
    "completion_prompt",
    "completion_stops",
    "extract_code",
    "fenced_blocks",
    "flatten_messages",
    "has_stub",
    "instruct_answer",
    "instruct_messages",
    "instruct_stops",
    "problem_request",
    "visible_examples",
]

SYSTEM_PROMPT = (
    "You are an expert Python programmer. Answer with one complete, self-contained Python "
    "solution in a single ```python code block, with no tests and no example usage."
)

# Where a completion-style answer leaves the function: a new top-level definition (small models
# go on writing sibling functions until their token limit, which costs 5-10x the tokens of the
# answer: measured on Qwen2.5-Coder-1.5B), or test and demo code. OpenAI's own legacy completions
# API accepts only four stop sequences; llama.cpp, vLLM and SGLang take any number.
_COMPLETION_STOPS = (
    "\n\ndef ",  # a blank line first: "```python\ndef f" (an answer starting over) goes on
    "\n\nclass ",
    "\nif __name__",
    "\nprint(",
    "\nassert ",
    "\n#",
    "\n```",
)

_FENCE = re.compile(r"^[ \t]*```[ \t]*([\w+#.-]*)[^\n]*\n(.*?)(?:^[ \t]*```|\Z)", re.M | re.S)
_PYTHON_TAGS = {"", "python", "py", "python3", "py3", "python 3"}
_CODE_START = re.compile(r"^(?:async\s+def\s|def\s|class\s|import\s|from\s+[\w.]+\s+import\s|@\w)")
_CODE_LINE = re.compile(
    r"^(?:async\s+def\s|def\s|class\s|import\s|from\s+[\w.]+\s+import\s|@\w|#|"
    r"if\s+__name__|[A-Za-z_][\w.]*(?:\s*,\s*[A-Za-z_]\w*)*\s*(?::[^=]+)?=[^=]|"
    r"[A-Za-z_][\w.]*\(|try:|except\b|finally:|else:|elif\b|for\s|while\s|with\s|return\b|\)|\]|\})"
)


def has_stub(problem: Problem) -> bool:
    """Whether the prompt holds the entry point's ``def`` line (a stub a model can continue).

    >>> has_stub(Problem("t", "b", "def f(x):\\n", "f", "", ()))
    True
    """
    return re.search(rf"^\s*(?:async\s+)?def\s+{re.escape(problem.entry_point)}\s*\(",
                     problem.prompt, re.M) is not None  # fmt: skip


def _render_args(test: TestCase) -> str:
    args = test.input if isinstance(test.input, tuple | list) else (test.input,)
    return ", ".join(repr(a) for a in args)


def visible_examples(problem: Problem) -> list[str]:
    """The visible tests the prompt does not already show, as Python (or stdin/stdout) text.

    Call tests whose expected output is not known yet came from the prompt's own examples, so
    they are not repeated.
    """
    shown = problem.prompt
    out: list[str] = []
    for test in problem.visible_tests:
        if test.kind is TestKind.ASSERT:
            text = str(test.input).strip()
        elif test.kind is TestKind.CALL and test.has_expected:
            text = f"assert {problem.entry_point}({_render_args(test)}) == {test.expected!r}"
        elif test.kind is TestKind.STDIO and test.has_expected:
            text = f"# input:\n{test.input}\n# expected output:\n{test.expected}"
        else:
            continue
        if text and text not in shown and text not in out:
            out.append(text)
    return out


def completion_prompt(problem: Problem) -> str:
    """The text a completion-style model continues.

    A prompt holding the entry point's stub (HumanEval) is used as it is; otherwise (an MBPP
    docstring) the examples are appended and the function header is started for the model.

    >>> from octoroute.types import Problem
    >>> p = Problem("t", "b", "def f(x):\\n    return x\\n", "f", "", ())
    >>> completion_prompt(p) == p.prompt
    True
    """
    examples = visible_examples(problem)
    if has_stub(problem):
        prompt = problem.prompt if problem.prompt.endswith("\n") else problem.prompt + "\n"
        if not examples:
            return prompt
        # Examples go before the stub, as comments, so the model still continues the body.
        head = "".join(f"# {line}\n" for ex in examples for line in ex.splitlines())
        return head + prompt
    text = problem.prompt.rstrip("\n") + "\n"
    for ex in examples:
        text += ex.rstrip("\n") + "\n"
    return text + f"\n\ndef {problem.entry_point}("


def completion_stops(problem: Problem) -> tuple[str, ...]:
    """Stop sequences for completion-style arms: where top-level test or demo code begins."""
    return _COMPLETION_STOPS


def chat_messages(problem: Problem, system: str = SYSTEM_PROMPT) -> list[dict[str, str]]:
    """The chat messages of a problem: a system prompt and one user turn."""
    examples = visible_examples(problem)
    if has_stub(problem):
        ask = "Complete the following Python function."
    else:
        ask = f"Write a Python function named `{problem.entry_point}` for the following task."
    user = f"{ask}\n\n```python\n{problem.prompt.strip(chr(10))}\n```\n"
    if examples:
        user += "\nIt must pass these examples:\n\n```python\n" + "\n".join(examples) + "\n```\n"
    user += (
        f"\nReturn the complete function `{problem.entry_point}` with its signature and any "
        "imports it needs, in one ```python code block."
    )
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


INSTRUCTION = (
    "Please provide a self-contained Python script that solves the following problem in a "
    "markdown code block:"
)
"""EvalPlus's instruction for instruct models (``evalplus/codegen.py``)."""
RESPONSE_PREFIX = (
    "Below is a Python script with a self-contained function that solves the problem and "
    "passes corresponding tests:"
)
"""EvalPlus's prefix of the answer, which the prefilled answer starts with."""

# Where an instruct answer's code ends: the closing fence, or test and demo code after the
# function (a third of the tokens the models write there, measured on Qwen2.5-Coder-0.5B).
_INSTRUCT_STOPS = (
    "\n```", "\nif __name__", "\nprint(", "\nassert ", "\n# Test", "\n# test", "\n# Example",
    "\n# Check",
)  # fmt: skip


def instruct_messages(problem: Problem) -> list[dict[str, str]]:
    """A user turn (the instruction and the prompt) and the prefilled start of the answer.

    The answer opens the code block and, when the prompt holds the function's stub, repeats it,
    so the model writes the body only (on HumanEval, Qwen2.5-Coder-0.5B writes 83 tokens a
    problem against 304 with EvalPlus's own prefill, and passes 94 problems against 93).

    >>> msgs = instruct_messages(Problem("t", "b", "def f(x):\\n", "f", "", ()))
    >>> [m["role"] for m in msgs], msgs[1]["content"].endswith("```python\\ndef f(x):\\n")
    (['user', 'assistant'], True)
    """
    user = f"{INSTRUCTION}\n```\n{problem.prompt.strip(chr(10))}\n```\n"
    # Examples the prompt shows in any form (HumanEval's doctests, MBPP's asserts) are not
    # repeated: EvalPlus's prompt is the task's text alone.
    examples = [e for e in visible_examples(problem) if not _shows_call(problem, e)]
    if examples:
        user += "\nIt must pass these examples:\n```python\n" + "\n".join(examples) + "\n```\n"
    answer = f"{RESPONSE_PREFIX}\n```python\n"
    if has_stub(problem):
        answer += problem.prompt if problem.prompt.endswith("\n") else problem.prompt + "\n"
    return [{"role": "user", "content": user}, {"role": "assistant", "content": answer}]


def problem_request(problem: Problem, style: PromptStyle) -> tuple[str | Messages, tuple[str, ...]]:
    """What an arm of ``style`` sends for ``problem``: the payload (the text to continue in
    completion style, chat messages otherwise) and the stop sequences the style adds.

    >>> p = Problem("t", "b", "def f(x):\\n", "f", "", ())
    >>> payload, stops = problem_request(p, PromptStyle.COMPLETION)
    >>> payload == completion_prompt(p), stops == completion_stops(p)
    (True, True)
    """
    if style is PromptStyle.COMPLETION:
        return completion_prompt(problem), completion_stops(problem)
    if style is PromptStyle.INSTRUCT:
        return instruct_messages(problem), instruct_stops(problem)
    return chat_messages(problem), ()


def _shows_call(problem: Problem, example: str) -> bool:
    """Whether the prompt already holds the call an ``assert f(...) == ...`` example makes."""
    call = example.removeprefix("assert ").split(" == ", 1)[0].strip()
    return bool(call) and call in problem.prompt


def instruct_answer(messages: Messages, text: str) -> str:
    """The whole answer of an instruct request: its prefilled start and the model's text.

    llama.cpp returns the prefill with the continuation, other servers the continuation alone.

    >>> msgs = [{"role": "user", "content": "..."},
    ...         {"role": "assistant", "content": "A:\\n```python\\n"}]
    >>> instruct_answer(msgs, "x = 1"), instruct_answer(msgs, "A:\\n```python\\nx = 1")
    ('A:\\n```python\\nx = 1\\n```\\n', 'A:\\n```python\\nx = 1\\n```\\n')
    """
    prefill = str(messages[-1].get("content", "")) if messages else ""
    body = text[len(prefill) :] if prefill and text.startswith(prefill) else text
    return prefill + body.rstrip("\n") + "\n```\n"


def instruct_stops(problem: Problem) -> tuple[str, ...]:
    """Stop sequences for instruct-style arms: the closing fence, or where test code begins."""
    return _INSTRUCT_STOPS


def flatten_messages(messages: Messages) -> str:
    """Chat messages as one plain prompt, for completion-style arms given a conversation."""
    return "\n\n".join(m.get("content", "") for m in messages).rstrip("\n") + "\n"


# -- extraction ----------------------------------------------------------------------------


def fenced_blocks(text: str) -> list[tuple[str, str]]:
    """The fenced code blocks of ``text`` as (language tag, code); an unclosed last fence runs
    to the end (a truncated answer).

    >>> fenced_blocks("a\\n```py\\nx = 1\\n```\\nb\\n```\\ny = 2\\n")
    [('py', 'x = 1\\n'), ('', 'y = 2\\n')]
    """
    return [(m.group(1).lower(), m.group(2)) for m in _FENCE.finditer(text)]


def _defines(code: str, name: str) -> bool:
    return re.search(rf"^(?:async\s+)?def\s+{re.escape(name)}\s*\(", code, re.M) is not None


def _cut_at_stops(text: str, stop: Iterable[str]) -> str:
    cut = len(text)
    for s in stop:
        if s:
            at = text.find(s)
            if at != -1:
                cut = min(cut, at)
    return text[:cut]


def _code_region(text: str) -> str:
    """Bare code amid prose: from the first line that starts code to the first prose line."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if _CODE_START.match(line)), None)
    if start is None:
        return ""
    kept: list[str] = []
    for line in lines[start:]:
        if line.strip() and not line[0].isspace() and not _CODE_LINE.match(line):
            break
        kept.append(line)
    return "\n".join(kept).rstrip() + "\n"


def _parseable_prefix(code: str) -> ast.Module | None:
    """Parse ``code``, dropping lines from its end until it parses; None if nothing does."""
    lines = code.splitlines()
    for end in range(len(lines), 0, -1):
        try:
            return ast.parse("\n".join(lines[:end]))
        except (SyntaxError, ValueError, MemoryError, RecursionError):
            continue
    return None


def _calls_local(node: ast.AST, local: set[str]) -> bool:
    return any(
        isinstance(n, ast.Call)
        and isinstance(n.func, ast.Name)
        and (n.func.id in local or n.func.id in {"print", "input"})
        for n in ast.walk(node)
    )


_KEEP = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _sanitize(code: str) -> str:
    """Keep imports, definitions and constant assignments; drop top-level test and demo code.

    Code that does not parse is cut back to its longest parseable prefix of lines.
    """
    module = _parseable_prefix(code)
    if module is None:
        return code
    lines = code.splitlines()
    local = {n.name for n in module.body if isinstance(n, _KEEP[2:])}
    kept: list[str] = []
    for node in module.body:
        keep = isinstance(node, _KEEP) or (
            isinstance(node, ast.Assign | ast.AnnAssign) and not _calls_local(node, local)
        )
        if not keep:
            continue
        first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
        last = node.end_lineno or node.lineno
        segment = "\n".join(lines[first - 1 : last])
        if isinstance(node, _KEEP[2:]) and kept:
            kept.append("")
        kept.append(segment)
    return "\n".join(kept).strip("\n") + "\n" if kept else ""


def _prompt_context(problem: Problem) -> tuple[list[str], list[str]]:
    """The prompt's import lines and helper definitions (everything but the entry point)."""
    try:
        module = ast.parse(problem.prompt)
    except PYTHON_PARSE_ERRORS:
        return [], []
    imports, helpers = [], []
    for node in module.body:
        segment = ast.get_source_segment(problem.prompt, node)
        if segment is None:
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            imports.append(segment)
        elif isinstance(node, _KEEP[2:]) and node.name != problem.entry_point:
            helpers.append(segment)
    return imports, helpers


def _with_context(code: str, problem: Problem) -> str:
    """Prepend the prompt's imports and helpers that ``code`` lacks."""
    imports, helpers = _prompt_context(problem)
    present = set(code.splitlines())
    head = [i for i in imports if i not in present]
    head += [h for h in helpers if not _defines(code, _def_name(h))]
    return ("\n".join(head) + "\n\n\n" + code) if head else code


def _def_name(source: str) -> str:
    m = re.match(r"\s*(?:async\s+)?(?:def|class)\s+(\w+)", source)
    return m.group(1) if m else ""


def _is_body(code: str) -> bool:
    """Whether code looks like a function body rather than a module (indented, or a return)."""
    first = next((line for line in code.splitlines() if line.strip()), "")
    return first[:1].isspace() or first.startswith("return")


def _needs_stub(code: str, problem: Problem) -> bool:
    """Whether ``code`` is a bare body of the entry point that the prompt's stub can complete."""
    return (
        bool(code.strip())
        and _is_body(code)
        and not _defines(code, problem.entry_point)
        and has_stub(problem)
    )


def _stub(problem: Problem) -> str:
    """The prompt up to and including the entry point's stub (imports, helpers, docstring)."""
    return problem.prompt if problem.prompt.endswith("\n") else problem.prompt + "\n"


def _choose_block(blocks: Sequence[tuple[str, str]], entry_point: str | None) -> str | None:
    python = [code for tag, code in blocks if tag in _PYTHON_TAGS] or [c for _, c in blocks]
    if not python:
        return None
    if entry_point:
        for code in python:
            if _defines(code, entry_point):
                return code
    return next((c for c in python if _CODE_START.search(c) or "def " in c), python[0])


def _continuation(
    text: str, first: str, blocks: Sequence[tuple[str, str]], problem: Problem
) -> str:
    """The program a completion-style answer makes with the prompt it continues."""
    if first.lstrip().startswith("```"):
        block = _choose_block(blocks, problem.entry_point)
        if block is not None and _defines(block, problem.entry_point):
            return block  # the answer starts over, in a fenced block
        # A closing fence first: the model took the stub for finished code (an empty body).
        return completion_prompt(problem)
    if _CODE_START.match(first) and _defines(_code_region(text), problem.entry_point):
        return _code_region(text)  # the answer starts over with its own definition
    return completion_prompt(problem) + text


def extract_code(
    text: str,
    problem: Problem | None = None,
    *,
    style: PromptStyle = PromptStyle.CHAT,
    stop: Sequence[str] = (),
    truncated: bool = False,
) -> str:
    """The program in an answer. ``style`` says how the answer was prompted.

    A completion-style answer continues :func:`completion_prompt` unless it starts over
    (with a fence or its own definition of the entry point). A chat answer's code is the fenced
    block that defines the entry point, else bare code found amid prose; a bare function body
    is put under the prompt's stub. ``truncated`` (the answer hit its token limit) drops the
    unfinished last line. Returns ``""`` when the answer holds no code.

    >>> from octoroute.types import Problem
    >>> p = Problem("t", "b", "import math\\ndef f(x):\\n", "f", "", ())
    >>> answer = "    return math.sqrt(x)\\nprint(f(4))"
    >>> print(extract_code(answer, p, style=PromptStyle.COMPLETION))
    import math
    <BLANKLINE>
    def f(x):
        return math.sqrt(x)
    <BLANKLINE>
    """
    entry = problem.entry_point if problem is not None else None
    cut = _cut_at_stops(text, stop)
    # Only an answer that ends where the token limit cut it has an unfinished last line.
    if truncated and cut == text and not text.endswith("\n") and "\n" in text:
        cut = text[: text.rindex("\n") + 1]
    text = cut
    blocks = fenced_blocks(text)
    first = next((line for line in text.splitlines() if line.strip()), "")
    if problem is not None and style is PromptStyle.COMPLETION:
        candidate = _continuation(text, first, blocks, problem)
    else:
        chosen = _choose_block(blocks, entry) if blocks else None
        candidate = chosen if chosen is not None else _code_region(text)
        if not candidate and problem is not None and _is_body(text):
            candidate = text
        if problem is not None and _needs_stub(candidate, problem):
            body = candidate if candidate[:1].isspace() else textwrap.indent(candidate, "    ")
            candidate = _stub(problem) + body
    if not candidate.strip():
        return ""
    # dedent removes only whitespace common to every line: a no-op when a line starts at column 0.
    code = _sanitize(textwrap.dedent(candidate))
    if problem is not None and code:
        code = _with_context(code, problem)
    return code
