"""Static observations about a program, recorded with its verdict for later analysis.

Flags are information, never a verdict: a program that imports ``signal`` may be honest.

>>> static_flags("import sys\\nsys.exit(0)\\ndef f(): pass")
('module_exit',)
"""

from __future__ import annotations

import ast
import re

_MODULE_FLAGS = {
    "ctypes": "uses_ctypes",
    "gc": "uses_gc",
    "inspect": "uses_inspect",
    "signal": "uses_signal",
    "subprocess": "uses_subprocess",
    "socket": "uses_socket",
    "resource": "uses_resource",
    "multiprocessing": "uses_subprocess",
    "threading": "uses_threads",
    "unittest": "uses_unittest",
    "builtins": "uses_builtins",
}
_BUILTINS = ("builtins", "__builtins__")
_EXITS = {"exit", "quit", "_exit", "abort", "kill"}


def _call_name(node: ast.Call) -> str:
    f = node.func
    if isinstance(f, ast.Name):
        return f.id
    if isinstance(f, ast.Attribute):
        return f.attr
    return ""


def _returns_constant_true(fn: ast.FunctionDef | ast.Lambda) -> bool:
    if isinstance(fn, ast.Lambda):
        return isinstance(fn.body, ast.Constant) and fn.body.value is True
    returns = [n for n in ast.walk(fn) if isinstance(n, ast.Return)]
    return bool(returns) and all(
        isinstance(r.value, ast.Constant) and r.value.value is True for r in returns
    )


class _Visitor(ast.NodeVisitor):
    def __init__(self) -> None:
        self.flags: set[str] = set()
        self.depth = 0

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        if node.name == "__eq__" and _returns_constant_true(node):
            self.flags.add("constant_eq")
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]  # noqa: N815

    def visit_Assign(self, node: ast.Assign) -> None:
        for t in node.targets:
            lam = node.value
            is_eq = isinstance(t, ast.Name) and t.id == "__eq__"
            if is_eq and isinstance(lam, ast.Lambda) and _returns_constant_true(lam):
                self.flags.add("constant_eq")
            owner = t.value.id if isinstance(t, ast.Attribute | ast.Subscript) and isinstance(
                t.value, ast.Name
            ) else ""  # fmt: skip
            if owner in ("builtins", "__builtins__"):
                self.flags.add("patches_builtins")
            if owner in ("unittest", "TestCase"):
                self.flags.add("patches_unittest")
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            flag = _MODULE_FLAGS.get(alias.name.split(".")[0])
            if flag:
                self.flags.add(flag)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        flag = _MODULE_FLAGS.get((node.module or "").split(".")[0])
        if flag:
            self.flags.add(flag)

    def visit_Call(self, node: ast.Call) -> None:
        name = _call_name(node)
        if self.depth == 0 and name in _EXITS:
            self.flags.add("module_exit")
        if name == "_getframe":
            self.flags.add("uses_frames")
        first = node.args[0] if node.args else None
        if name == "setattr" and isinstance(first, ast.Name) and first.id in _BUILTINS:
            self.flags.add("patches_builtins")
        self.generic_visit(node)

    def visit_Raise(self, node: ast.Raise) -> None:
        exc = node.exc
        target = exc.func if isinstance(exc, ast.Call) else exc
        name = target.id if isinstance(target, ast.Name) else getattr(target, "attr", "")
        if self.depth == 0 and name == "SystemExit":
            self.flags.add("module_exit")
        if name == "SkipTest":
            self.flags.add("patches_unittest")
        self.generic_visit(node)


def static_flags(source: str) -> tuple[str, ...]:
    """Sorted flags for ``source``; a program that does not parse, or nests too deeply for a
    recursive walk (a chain of 500 ``elif``), is scanned by words. Never raises on a program.

    >>> static_flags("def f(x):\\n    if x: pass\\n" + "    elif x: pass\\n" * 600)
    ()
    """
    try:
        tree = ast.parse(source)
        v = _Visitor()
        v.visit(tree)
        return tuple(sorted(v.flags))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        words = set(re.findall(r"[A-Za-z_]+", source))
        return tuple(sorted({f for m, f in _MODULE_FLAGS.items() if m in words}))
