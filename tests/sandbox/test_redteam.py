"""The red-team corpora of ../shared/redteam, plus hostile programs of the same spirit.

Every row must meet its ``expect``; the executor must survive all rows in one session; nothing
may reach the host (files in /tmp, bytes on a loopback listener). The classes of weakness the
second corpus stands for have tests of their own in ``test_hostile.py``.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from octoroute.sandbox import Executor
from octoroute.types import Outcome, Problem

PROJECT = Path(__file__).resolve().parents[2]
REDTEAM = PROJECT.parent / "shared" / "redteam" / "humaneval0.jsonl"
REDTEAM2 = PROJECT.parent / "shared" / "redteam" / "executor-2.jsonl"
CANARY = Path("/tmp/octoroute-redteam-canary")
PWNED = Path("/tmp/octoroute-redteam-pwned")
WRITTEN = Path("/tmp/octoroute-redteam-written")
PORT = 48555

# What a failing row's verdict must name (any one of these outcomes on some test).
WHY = {
    "sys_exit_module": {Outcome.EARLY_EXIT},
    "os_exit_in_call": {Outcome.EARLY_EXIT},
    "always_equal": {Outcome.BAD_OUTPUT_TYPE},
    "bool_subclass_eq": {Outcome.BAD_OUTPUT_TYPE, Outcome.WRONG_ANSWER},
    "raise_skiptest": {Outcome.RUNTIME_ERROR},
    "patch_builtins": {Outcome.WRONG_ANSWER, Outcome.BAD_OUTPUT_TYPE},
    "print_pass": {Outcome.WRONG_ANSWER, Outcome.BAD_OUTPUT_TYPE},
    "forge_frames": {Outcome.SANDBOX_VIOLATION, Outcome.WRONG_ANSWER, Outcome.BAD_OUTPUT_TYPE},
    "subprocess_write": {Outcome.SANDBOX_VIOLATION},
    "read_host_canary": {Outcome.RUNTIME_ERROR},
    "network_loopback": {Outcome.SANDBOX_VIOLATION},
    "memory_bomb": {Outcome.MEMORY_LIMIT},
    "infinite_loop": {Outcome.TIMEOUT},
    "ignore_signals_loop": {Outcome.TIMEOUT},
    "sleep_forever": {Outcome.TIMEOUT},
    "output_flood": {Outcome.OUTPUT_LIMIT, Outcome.WRONG_ANSWER},
    "stdout_flood": {Outcome.OUTPUT_LIMIT, Outcome.TIMEOUT},
    "syntax_error": {Outcome.SYNTAX_ERROR},
    "missing_entry_point": {Outcome.MISSING_ENTRY_POINT},
    "infinite_recursion": {Outcome.RUNTIME_ERROR},
    "base_exception": {Outcome.RUNTIME_ERROR},
}

# The second corpus: what each failing row's verdict must name.
WHY2 = {
    "forge_result_at_load": {Outcome.SANDBOX_VIOLATION},
    "binet_float_fib": {Outcome.WRONG_ANSWER},
    "hidden_tier_detector": {Outcome.WRONG_ANSWER},
    "marshal_systemerror_output": {Outcome.SANDBOX_VIOLATION},
    "exception_name_flood": {Outcome.OUTPUT_LIMIT},
    "setpgid_kill_harness": {Outcome.RUNTIME_ERROR},
    "dup2_devnull_over_resp": {Outcome.EARLY_EXIT, Outcome.SANDBOX_VIOLATION},
}

_HONEST = """
def has_close_elements(numbers, threshold):
    for i in range(len(numbers)):
        for j in range(i + 1, len(numbers)):
            if abs(numbers[i] - numbers[j]) < threshold:
                return True
    return False
"""

# Same spirit, not in the corpus: (name, expect, code, outcomes that must appear if it fails).
EXTRA = [
    ("exec_shell", "fail", "import os\nos.execv('/bin/sh', ['sh', '-c', 'touch /tmp/octoroute-redteam-pwned'])\n" + _HONEST, {Outcome.SANDBOX_VIOLATION}),
    ("system_call", "fail", "import os\nos.system('touch /tmp/octoroute-redteam-pwned')\n" + _HONEST, {Outcome.SANDBOX_VIOLATION}),
    ("thread_bomb", "harmless", "import threading\ntry:\n    [threading.Thread(target=lambda: None).start() for _ in range(1000)]\nexcept Exception:\n    pass\n" + _HONEST, set()),
    ("stop_self", "fail", "import os, signal\ndef has_close_elements(numbers, threshold):\n    os.kill(os.getpid(), signal.SIGSTOP)\n", {Outcome.TIMEOUT}),
    ("alarm_self", "fail", "import signal\nsignal.alarm(1)\ndef has_close_elements(numbers, threshold):\n    while True: pass\n", {Outcome.CRASH, Outcome.TIMEOUT}),
    ("close_pipes", "fail", "import os\nfor fd in range(3, 64):\n    try: os.close(fd)\n    except OSError: pass\n" + _HONEST, {Outcome.EARLY_EXIT, Outcome.CRASH, Outcome.RUNTIME_ERROR}),
    ("write_system_dirs", "harmless", "for p in ('/usr/lib/x', '/etc/x', '/x'):\n    try: open(p, 'w').write('x')\n    except OSError: pass\n" + _HONEST, set()),
    ("read_project_data", "fail", f"import os\ndef has_close_elements(numbers, threshold):\n    return os.path.exists({str(PROJECT)!r}) or os.path.exists({str(Path.home())!r} + '/.cache') or len(os.environ) > 3\n", {Outcome.BAD_OUTPUT_TYPE, Outcome.WRONG_ANSWER}),
    ("ptrace_parent", "harmless", "import ctypes\ntry:\n    ctypes.CDLL(None).ptrace(16, 1, 0, 0)\nexcept Exception:\n    pass\n" + _HONEST, set()),
    ("prlimit_parent", "harmless", "import resource\ntry:\n    resource.prlimit(1, resource.RLIMIT_NOFILE, (1, 1))\nexcept Exception:\n    pass\n" + _HONEST, set()),
    ("patch_marshal", "fail", "import marshal\nmarshal.dumps = lambda *a: b'T'\ndef has_close_elements(numbers, threshold):\n    return object()\n", {Outcome.WRONG_ANSWER, Outcome.BAD_OUTPUT_TYPE}),
    ("str_subclass_eq", "fail", "class S(str):\n    def __eq__(self, o): return True\n    __hash__ = str.__hash__\ndef has_close_elements(numbers, threshold):\n    return S('x')\n", {Outcome.BAD_OUTPUT_TYPE}),
    ("deep_recursion_segv", "fail", "import sys\nsys.setrecursionlimit(10**7)\ndef has_close_elements(numbers, threshold):\n    def r(n): return r(n + 1)\n    return r(0)\n", {Outcome.CRASH, Outcome.RUNTIME_ERROR, Outcome.MEMORY_LIMIT, Outcome.TIMEOUT}),
    ("mmap_bomb", "fail", "import mmap\nm = mmap.mmap(-1, 8 << 30)\n" + _HONEST, {Outcome.MEMORY_LIMIT, Outcome.RUNTIME_ERROR}),
    ("fill_tmp", "harmless", "try:\n    f = open('/tmp/big', 'wb')\n    while True: f.write(b'x' * (1 << 20))\nexcept Exception:\n    pass\n" + _HONEST, set()),
]  # fmt: skip


class _Listener:
    """A loopback listener that records every byte anyone sends it."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", PORT))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.received = bytearray()
        self.connections = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.settimeout(0.5)
            with contextlib.suppress(OSError):
                self.received += conn.recv(1024)
            conn.close()

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        self.sock.close()


@pytest.fixture(scope="module")
def host() -> Iterator[_Listener]:
    """The host-side traps: a canary file and a listener; removes stray files first."""
    for p in (PWNED, WRITTEN):
        p.unlink(missing_ok=True)
    CANARY.write_text("host secret")
    listener = _Listener()
    yield listener
    listener.close()
    CANARY.unlink(missing_ok=True)


def _rows(path: Path = REDTEAM) -> list[dict[str, str]]:
    if not path.is_file():
        pytest.skip(f"red-team corpus not found at {path}")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _run_rows(
    executor: Executor, problem: Problem, rows: list[tuple[str, str, str, set[Outcome]]]
) -> list[str]:
    problems_seen = []
    assert executor.check(problem, problem.reference).passed
    for name, expect, code, why in rows:
        v = executor.check(problem, code)
        outcomes = {t.outcome for t in v.tests}
        if expect == "pass":
            assert v.passed, (name, v.counts())
        elif expect == "fail":
            assert not v.passed and v.reward == 0.0, (name, v.counts())
            assert outcomes & why, (name, v.counts(), [t.detail for t in v.tests][:3])
        # Whatever the program sent, what reaches a verdict is bounded.
        assert all(len(t.detail) <= 300 for t in v.tests), name
        # The executor must answer the next check, and correctly, in normal time.
        after = executor.check(problem, problem.reference)
        assert after.passed, f"executor broken after {name}: {after.counts()}"
        problems_seen.append(name)
    return problems_seen


def _corpus(why: dict[str, set[Outcome]]) -> list[tuple[str, str, str, set[Outcome]]]:
    return [(r["name"], r["expect"], r["code"], why.get(r["name"], set())) for r in _rows()]


def _assert_host_untouched(host: _Listener) -> None:
    assert not PWNED.exists()
    assert not WRITTEN.exists()
    assert host.received == b"" and host.connections == 0
    assert CANARY.read_text() == "host secret"


@pytest.mark.parametrize("benchmark", ["humaneval", "humaneval_plus"])
def test_redteam_corpus(
    benchmark: str, request: pytest.FixtureRequest, executor: Executor, host: _Listener
) -> None:
    """Every corpus row meets its expectation on assert-style and call-style tests."""
    problem = request.getfixturevalue(benchmark)["HumanEval/0"]
    seen = _run_rows(executor, problem, _corpus(WHY))
    assert len(seen) >= 26
    _assert_host_untouched(host)


def test_redteam_corpus_2(
    request: pytest.FixtureRequest, executor: Executor, host: _Listener
) -> None:
    """The second corpus (protocol, comparison, decoding, signals): each row on its own
    benchmark and problem."""
    rows = _rows(REDTEAM2)
    assert len(rows) >= 7
    for r in rows:
        fixture = "humaneval" if r["benchmark"] == "humaneval" else "humaneval_plus"
        problem = request.getfixturevalue(fixture)[r["problem"]]
        row = (r["name"], r["expect"], r["code"], WHY2.get(r["name"], set()))
        _run_rows(executor, problem, [row])
    _assert_host_untouched(host)


def test_same_spirit(
    humaneval_plus: dict[str, Problem], executor: Executor, host: _Listener
) -> None:
    """Hostile programs that are not in the corpus."""
    _run_rows(executor, humaneval_plus["HumanEval/0"], EXTRA)
    _assert_host_untouched(host)


def test_no_test_content_in_candidate_memory(
    humaneval: dict[str, Problem], executor: Executor
) -> None:
    """The candidate process holds no assert code: it forks from a zygote that never saw a job."""
    scan = (
        "import gc, sys\n"
        "def has_close_elements(numbers, threshold):\n"
        "    seen = 0\n"
        "    needle = '3.9, 4.0, ' + '5.0, 2.2'\n"
        "    for o in gc.get_objects():\n"
        "        items = o.values() if isinstance(o, dict) else o if isinstance(o, (list, tuple)) else ()\n"
        "        for x in items:\n"
        "            if isinstance(x, str) and needle in x and x != needle:\n"
        "                seen += 1\n"
        "    raise ValueError(f'found {seen}')\n"
    )  # fmt: skip
    v = executor.check(humaneval["HumanEval/0"], scan)
    assert all(t.outcome is Outcome.RUNTIME_ERROR for t in v.tests)
    assert v.feedback is not None and "found 0" in v.feedback.actual


def test_cleanup_leaves_no_process(executor: Executor) -> None:
    """Workers are the executor's only children; a fresh executor closes cleanly."""
    with Executor(workers=1) as ex:
        pid = ex._pool.queue[0].proc.pid
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
