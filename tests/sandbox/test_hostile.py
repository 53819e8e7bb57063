"""The classes of weakness of the executor's second audit, each with programs of its own.

The red-team corpus (``test_redteam.py``) holds one sample per class; these tests try each
class more widely: forged protocol frames of every kind at every step, payloads built to crash
or exhaust the trusted decoder, replies that add up, signals and leftovers aimed at the next
job, and the executor's own failures.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from octoroute.exceptions import ConfigError, IsolationUnavailable
from octoroute.sandbox import Executor, Layer, Limits, prepare
from octoroute.sandbox import cgroup as cgroup_module
from octoroute.sandbox.isolation import ChildLimits
from octoroute.sandbox.protocol import Kind
from octoroute.tasks import load_benchmark
from octoroute.types import Outcome, Problem, TestCase, TestKind, Tier

from .test_executor import ADD

PASSING = "def has_close_elements(numbers, threshold):\n    return False\n"


def _call(args: tuple[object, ...], expected: object, tier: Tier = Tier.VISIBLE) -> TestCase:
    return TestCase(TestKind.CALL, tier, args, expected, has_expected=True, reference_cpu=0.01)


def _probe(expected: object, *more: TestCase) -> Problem:
    """A one-test problem whose entry point ``f()`` must return ``expected``."""
    return Problem(
        id="probe",
        benchmark="unit",
        prompt="",
        entry_point="f",
        reference="",
        tests=(_call((), expected), *more),
    )


def _assert_problem(*tests: str) -> Problem:
    return Problem(
        id="asserts",
        benchmark="unit",
        prompt="",
        entry_point="f",
        reference="def f(x):\n    return x\n",
        tests=tuple(TestCase(TestKind.ASSERT, Tier.BASE, t) for t in tests),
    )


def _fails(executor: Executor, problem: Problem, code: str) -> set[Outcome]:
    """Check ``code``; assert it did not pass and that the executor still works; the outcomes."""
    v = executor.check(problem, code)
    assert not v.passed and v.reward == 0.0, v.counts()
    assert all(len(t.detail) <= 300 for t in v.tests)
    if v.feedback is not None:
        assert len(v.feedback.actual) <= 300 and len(v.feedback.traceback) <= 300
    return {t.outcome for t in v.tests}


# -- 1. no byte a program writes is read as protocol -----------------------------------------

_FORGE = """
import os, struct, marshal
def _forge():
    for payload in {payloads!r}:
        os.write(4, struct.pack('<IB', len(payload) + 1, {kind}) + payload)
{where}
"""
_PAYLOADS = [
    b"",
    b"T",  # marshal of True
    b"\xe9\x00\x00\x00\x00",  # marshal v4 of True with a ref flag
    b"(\x03\x00\x00\x00u\x02\x00\x00\x00oku\x00\x00\x00\x00s\x00\x00\x00\x00",  # ("ok", "", b"")
]


@pytest.mark.parametrize("kind", list(Kind), ids=lambda k: k.name)
def test_no_forged_frame_passes(
    kind: Kind,
    executor: Executor,
    humaneval: dict[str, Problem],
    humaneval_plus: dict[str, Problem],
) -> None:
    """A frame of any kind, with payloads a pass might be read from, written where the broker
    waits for the program to load or for a call to return, never makes a test pass."""
    at_load = "_forge()\ndef has_close_elements(numbers, threshold):\n    return None\n"
    at_call = "def has_close_elements(numbers, threshold):\n    _forge()\n    return None\n"
    # During a call, a RESULT or EXCEPTION frame is the program's answer (a value it could have
    # returned, an exception it could have raised): data, which the comparison judges.
    answers = kind in (Kind.RESULT, Kind.EXCEPTION)
    for where in (at_load,) if answers else (at_load, at_call):
        code = _FORGE.format(payloads=_PAYLOADS, kind=int(kind), where=where)
        # Call-style tests: the first ten of HumanEval+/0 (a forged frame costs a restart each).
        call_style = humaneval_plus["HumanEval/0"]
        call_style = dataclasses.replace(call_style, tests=call_style.tests[:10])
        for problem in (humaneval["HumanEval/0"], call_style):
            v = executor.check(problem, code)
            assert not v.passed, (kind.name, problem.benchmark, v.counts())
            # The program answers None, which no test expects: nothing may pass.
            assert not any(t.passed for t in v.tests), (kind.name, v.counts())


def test_patched_runner_cannot_forge(executor: Executor, humaneval: dict[str, Problem]) -> None:
    """The runner's own functions, patched by the program, send nothing the broker takes for a
    pass: a TEST_DONE or PROXY_REPLY from a candidate is a violation."""
    for kind in ("TEST_DONE", "PROXY_REPLY", "READY", "JOB_DONE"):
        code = textwrap.dedent(f"""
            import sys
            _c = sys.modules['octoroute.sandbox.child']
            _write = _c.write_frame
            _c.write_frame = lambda fd, k, p=b'': _write(fd, _c.Kind.{kind}, b'T')
            def has_close_elements(numbers, threshold):
                return True
        """)
        outcomes = _fails(executor, humaneval["HumanEval/0"], code)
        assert Outcome.SANDBOX_VIOLATION in outcomes


def test_stdout_of_a_program_is_never_protocol(executor: Executor) -> None:
    problem = Problem(
        id="echo",
        benchmark="unit",
        prompt="",
        entry_point="",
        reference="print(input())\n",
        program_mode=True,
        tests=(TestCase(TestKind.STDIO, Tier.BASE, "a\n", "b\n", has_expected=True),),
    )
    code = (
        "import os, struct\n"
        "for fd in (1, 4):\n"
        "    for k in range(0xA1, 0xD7):\n"
        "        try: os.write(fd, struct.pack('<IB', 2, k) + b'T')\n"
        "        except OSError: pass\n"
        "print('PASS')\n"
    )
    _fails(executor, problem, code)


def test_control_flow_exceptions_do_not_end_a_test_early(executor: Executor) -> None:
    """A candidate's StopIteration must not stop ``all(map(candidate, xs))`` early (which would
    make the assertion true)."""
    problem = _assert_problem("assert all(map(candidate, [1, 2, 3]))")
    assert executor.check(problem, "def f(x):\n    return True\n").passed
    for name in ("StopIteration", "StopAsyncIteration", "GeneratorExit"):
        outcomes = _fails(executor, problem, f"def f(x):\n    raise {name}()\n")
        assert outcomes <= {Outcome.RUNTIME_ERROR, Outcome.WRONG_ANSWER}, outcomes


def test_a_crash_swallowed_by_the_test_code_still_fails(executor: Executor) -> None:
    """A test whose code catches everything cannot turn the candidate's death into a pass."""
    problem = _assert_problem("try:\n    r = candidate(1)\nexcept BaseException:\n    r = 1\nassert r == 1")  # fmt: skip
    assert executor.check(problem, "def f(x):\n    return 1\n").passed
    crashes = {
        "import os\ndef f(x):\n    os._exit(0)\n": Outcome.EARLY_EXIT,
        "def f(x):\n    while True: pass\n": Outcome.TIMEOUT,
        "def f(x) return\n": Outcome.SYNTAX_ERROR,
        "def f(x):\n    return object()\n": Outcome.BAD_OUTPUT_TYPE,
    }
    for code, outcome in crashes.items():
        assert _fails(executor, problem, code) == {outcome}, code


# -- 3. the trusted side survives anything ----------------------------------------------------

_DUMP = """
import sys, marshal, struct
_c = sys.modules['octoroute.sandbox.child']
_payload = {payload}
_c._dump = lambda out: _payload
def f():
    return False
"""
_HOSTILE_PAYLOADS = {
    "list_of_2**31_in_5_bytes": ("b'[\\xff\\xff\\xff\\x7f'", {Outcome.SANDBOX_VIOLATION}),
    "nested_100k_deep": ("b'[\\x01\\x00\\x00\\x00' * 100000 + b'N'", {Outcome.OUTPUT_LIMIT}),
    "code_object": ("marshal.dumps((lambda: 0).__code__)", {Outcome.SANDBOX_VIOLATION}),
    "self_referencing_list": (
        "(lambda l: (l.append(l), marshal.dumps(l))[1])([])",
        {Outcome.SANDBOX_VIOLATION},
    ),
    # Built as bytes: a program that built these sets itself would spend the time on its side.
    "colliding_set": (
        "b'<' + marshal.dumps([k * (2**61 - 1) for k in range(1, 200000)], 2)[1:]",
        {Outcome.SANDBOX_VIOLATION},
    ),
    "colliding_frozensets": (
        "b'<' + struct.pack('<i', 50000) + b''.join(b'>' + struct.pack('<i', 2) + marshal.dumps(k * (2**61 - 1), 2) + marshal.dumps(-k * (2**61 - 1), 2) for k in range(1, 50001))",
        {Outcome.SANDBOX_VIOLATION},
    ),
    "bad_utf8": ("b'u\\x02\\x00\\x00\\x00\\xff\\xfe'", {Outcome.SANDBOX_VIOLATION}),
    "unhashable_set_item": ("b'<\\x01\\x00\\x00\\x00[\\x00\\x00\\x00\\x00'", {Outcome.SANDBOX_VIOLATION}),
    "long_digit_out_of_range": ("b'l\\x01\\x00\\x00\\x00\\xff\\xff'", {Outcome.SANDBOX_VIOLATION}),
    "trailing_bytes": ("b'NN'", {Outcome.SANDBOX_VIOLATION}),
    "v4_references": ("marshal.dumps(['ab', 'ab'] * 50, 4)", {Outcome.SANDBOX_VIOLATION}),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(_HOSTILE_PAYLOADS))
def test_hostile_output_bytes_are_a_verdict(name: str, executor: Executor) -> None:
    """Output bytes crafted against the decoder (allocation bombs, nesting, references, code,
    hash floods) are judged fast, and the executor keeps its worker. The reference's output is
    large here, so that replies of a few megabytes are read and decoded, not refused unread."""
    payload, why = _HOSTILE_PAYLOADS[name]
    problem = _probe(list(range(500_000)))
    workers = list(executor._pool.queue)  # the same workers serve the next check
    started = time.monotonic()
    outcomes = _fails(executor, problem, _DUMP.format(payload=payload))
    assert outcomes & why, outcomes
    assert time.monotonic() - started < 60
    assert {id(w) for w in executor._pool.queue} == {id(w) for w in workers}
    # Far above what the reference returned, the same bytes are refused unread.
    assert _fails(executor, _probe(False), _DUMP.format(payload=payload)) <= why | {
        Outcome.OUTPUT_LIMIT
    }


def test_honest_but_huge_outputs(executor: Executor) -> None:
    """Values that are large or shared are bounded on both sides: a huge int is judged and
    shown by its size; a structure shared 2**60 times cannot be sent at all."""
    huge_int = _probe(10 ** (10**6) + 1)
    v = executor.check(huge_int, "def f():\n    return 10 ** (10 ** 6)\n")
    assert v.feedback is not None and v.feedback.actual == "<int of 3321929 bits>"
    assert v.feedback.expected == "<int of 3321929 bits>"
    assert {t.outcome for t in v.tests} == {Outcome.WRONG_ANSWER}
    shared = "def f():\n    x = []\n    for _ in range(60):\n        x = [x, x]\n    return x\n"
    assert _fails(executor, _probe(None), shared) <= {
        Outcome.OUTPUT_LIMIT,
        Outcome.MEMORY_LIMIT,
        Outcome.TIMEOUT,
        Outcome.BAD_OUTPUT_TYPE,
    }


def test_notes_are_bounded(executor: Executor, humaneval_plus: dict[str, Problem]) -> None:
    """Exception names, messages and type names a program controls reach a verdict trimmed;
    above their frame's cap they end the call as output_limit."""
    problem = humaneval_plus["HumanEval/0"]
    patched = "import sys, marshal\n_c = sys.modules['octoroute.sandbox.child']\n"
    small = patched + (
        "_c._exception_payload = lambda e: marshal.dumps(('E' * 20000, 'm' * 20000, 't' * 4000), 2)\n"
        "def has_close_elements(numbers, threshold):\n    raise ValueError()\n"
    )
    assert _fails(executor, problem, small) == {Outcome.RUNTIME_ERROR}
    v = executor.check(problem, small)
    assert v.feedback is not None and v.feedback.detail.startswith("EEE")
    not_a_triple = patched + (
        "_c._exception_payload = lambda e: marshal.dumps(5, 2)\n"
        "def has_close_elements(numbers, threshold):\n    raise ValueError()\n"
    )
    assert _fails(executor, problem, not_a_triple) == {Outcome.SANDBOX_VIOLATION}
    big_type_name = (
        "def has_close_elements(numbers, threshold):\n    return type('T' * 100000, (), {})()\n"
    )
    assert _fails(executor, problem, big_type_name) == {Outcome.BAD_OUTPUT_TYPE}
    over_the_cap = patched + (
        "_write = _c.write_frame\n"
        "_c.write_frame = lambda fd, k, p=b'': _write(fd, k, p + b'T' * 100000 if k == _c.Kind.BAD_TYPE else p)\n"
        + big_type_name
    )
    assert _fails(executor, problem, over_the_cap) == {Outcome.OUTPUT_LIMIT}


def test_replies_that_add_up_are_bounded() -> None:
    """Twelve replies of 31 MiB: where the reference's output is as large, the trusted process
    holds one at a time and the worker's own memory stays small; where it is small, each reply
    is refused on its header, unread."""
    script = textwrap.dedent("""
        import json, resource, sys
        from octoroute.sandbox import Executor
        from octoroute.types import Problem, TestCase, TestKind, Tier
        big = 'x' * (31 << 20)
        def problem(expected):
            tests = tuple(TestCase(TestKind.CALL, Tier.BASE, (i,), expected, has_expected=True,
                                   reference_cpu=0.2) for i in range(12))
            return Problem("flood", "unit", "", "f", "", tests)
        code = "def f(i):\\n    return 'x' * (31 << 20)\\n"
        with Executor(workers=1) as ex:
            before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            large = ex.check(problem(big), code)
            grew = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
            small = ex.check(problem(""), code)
            worker = ex._pool.queue[0]
            usage = None if worker.cgroup is None else worker.cgroup.path / "memory.max_usage_in_bytes"
            peak = int(usage.read_text()) if usage is not None and usage.exists() else None
            ok = ex.check(problem(""), "def f(i):\\n    return ''\\n").passed
        print(json.dumps({"large": large.counts(), "small": small.counts(), "grew_kb": grew,
                          "peak": peak, "ok": ok}))
    """)
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=600, check=True
    )
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["ok"], report
    assert report["large"] == {"pass": 12}, report
    assert report["small"] == {"output_limit": 12}, report
    assert report["grew_kb"] < 400_000, report  # one 31 MiB reply (and its copies) at a time
    if report["peak"] is not None:
        assert report["peak"] < 1 << 30, report


def test_a_failing_worker_is_a_verdict_and_is_replaced(
    executor: Executor, humaneval_plus: dict[str, Problem], monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the worker breaks mid-job (failure injected), the check still returns a verdict
    for every test, the worker is replaced, and the next check is judged normally."""
    problem = humaneval_plus["HumanEval/0"]
    from octoroute.sandbox import executor as executor_module

    real_run = executor_module._Worker.run
    for error in (executor_module.SandboxError("broken pipe"), TimeoutError()):

        def broken(
            self: object,
            job: dict[str, object],
            backstop: float,
            on_result: object,
            error: BaseException = error,
        ) -> None:
            raise error

        monkeypatch.setattr(executor_module._Worker, "run", broken)
        v = executor.check(problem, problem.reference)
        assert len(v.tests) == len(problem.tests) and not v.passed
        assert {t.outcome for t in v.tests} <= {Outcome.SANDBOX_VIOLATION, Outcome.TIMEOUT}
        monkeypatch.setattr(executor_module._Worker, "run", real_run)
        assert executor.check(problem, problem.reference).passed


# -- 4. jobs are independent -------------------------------------------------------------------


def test_tmp_is_fresh_for_every_job(executor: Executor) -> None:
    """What one job writes to /tmp (a file, a module that would shadow the standard library
    from a folder on sys.path) is gone for the next, and no writable folder is on sys.path."""
    writer = textwrap.dedent("""
        import os, sys
        def f():
            open('/tmp/left-behind', 'w').write('x')
            for d in ['/tmp'] + [p for p in sys.path if p.startswith('/tmp')]:
                os.makedirs(d, exist_ok=True)
                open(os.path.join(d, 'zz_planted.py'), 'w').write('X = 1')
                open(os.path.join(d, 'heapq.py'), 'w').write('X = 1')
            return True
    """)
    assert executor.check(_probe(True), writer).passed
    reader = textwrap.dedent("""
        import os, sys
        def f():
            try:
                import zz_planted
                planted = True
            except ImportError:
                planted = False
            return (os.path.exists('/tmp/left-behind'), os.listdir('/tmp'), planted,
                    [p for p in sys.path if not p.startswith(sys.base_prefix)],
                    bool(sys.flags.safe_path), bool(sys.flags.no_user_site), bool(sys.flags.no_site))
    """)
    expected = (False, [], False, [], True, True, True)
    for _ in range(2):
        v = executor.check(_probe(expected), reader)
        assert v.passed, v.feedback


def test_no_signal_or_shared_memory_leaves_a_candidate(executor: Executor) -> None:
    """Every way to signal another process later, or to hold memory the address-space limit
    does not count, is refused."""
    code = textwrap.dedent("""
        import ctypes, fcntl, os, signal, termios
        libc = ctypes.CDLL(None, use_errno=True)
        def refused(fn, *args):
            try:
                r = fn(*args)
            except OSError:
                return True
            return r == -1
        def f():
            r, w = os.pipe()
            return [
                refused(os.setpgid, 0, 1),
                refused(os.setsid),
                refused(fcntl.fcntl, w, fcntl.F_SETOWN, 1),
                refused(fcntl.fcntl, w, 10, signal.SIGKILL),  # F_SETSIG
                refused(fcntl.fcntl, w, 15, 0),  # F_SETOWN_EX
                refused(fcntl.ioctl, w, 0x8901, b'\\x01\\x00\\x00\\x00'),  # FIOSETOWN
                refused(fcntl.ioctl, w, 0x8902, b'\\x01\\x00\\x00\\x00'),  # SIOCSPGRP
                refused(fcntl.ioctl, 0, termios.TIOCSTI, b'x'),
                refused(os.kill, 1, 0),
                refused(os.kill, -1, 0),
                refused(os.memfd_create, 'x'),
                refused(libc.shmget, 0, 1 << 30, 0o1600),
                refused(libc.semget, 0, 1, 0o1600),
                refused(libc.msgget, 0, 0o1600),
                refused(libc.syscall, 240, b'/q', 0o100 | 2, 0o600, None),  # mq_open
                refused(libc.syscall, 206, 128, ctypes.byref(ctypes.c_ulong(0))),  # io_setup
            ]
    """)
    v = executor.check(_probe([True] * 16), code)
    assert v.passed, v.feedback


def test_the_harness_and_the_spare_are_out_of_reach(
    executor: Executor, humaneval: dict[str, Problem]
) -> None:
    """A program that tries every route to the harness and the pre-forked spare (signals to
    every pid and group, joining their groups, I/O signals) leaves the next job untouched."""
    problem = humaneval["HumanEval/0"]
    code = textwrap.dedent("""
        import fcntl, os, signal
        for pid in range(1, 200):
            for fn in (lambda: os.kill(pid, signal.SIGKILL), lambda: os.killpg(pid, signal.SIGSTOP),
                       lambda: os.setpgid(0, pid), lambda: fcntl.fcntl(1, fcntl.F_SETOWN, pid)):
                try:
                    fn()
                except OSError:
                    pass
        os.kill(0, signal.SIGTERM)
        def has_close_elements(numbers, threshold):
            return False
    """)
    workers = list(executor._pool.queue)  # the same workers serve the next check
    _fails(executor, problem, code)
    v = executor.check(problem, problem.reference)
    assert v.passed and not any(t.outcome is Outcome.TIMEOUT for t in v.tests)
    assert {id(w) for w in executor._pool.queue} == {id(w) for w in workers}


# -- memory cgroups ----------------------------------------------------------------------------


def test_a_memory_cgroup_bounds_what_rlimits_do_not_see() -> None:
    """With a cgroup smaller than the address-space limit, a candidate that fills its memory is
    killed by the kernel inside its own cgroup and judged memory_limit; the worker lives on."""
    if cgroup_module.probe()[0] is None:
        pytest.skip(f"no memory cgroup here: {cgroup_module.probe()[1]}")
    child = ChildLimits(memory_bytes=2 << 30, cgroup_bytes=256 << 20)
    limits = Limits(child=child, cpu_floor=5.0)
    problem = _probe(0)
    with Executor(workers=1, limits=limits) as ex:
        assert "memory_cgroup" in ex.isolation
        hog = (
            "def f():\n    b = bytearray(1 << 30)\n    b[::4096] = b'x' * (1 << 18)\n    return 0\n"
        )
        assert _fails(ex, problem, hog) == {Outcome.MEMORY_LIMIT}
        assert ex.check(problem, "def f():\n    return 0\n").passed


def test_without_a_cgroup_the_bound_that_holds_is_reported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Where the machine allows no cgroup, the executor runs without one and says which bounds
    hold; asking for the layer explicitly is refused with the reason."""
    monkeypatch.setattr(cgroup_module, "probe", lambda: (None, "not allowed here (test)"))
    with Executor(workers=1) as ex:
        assert "memory_cgroup" not in ex.isolation
        assert ex.memory_bound.startswith("no memory cgroup (not allowed here (test))")
        assert "address space" in ex.memory_bound and "/tmp" in ex.memory_bound
        assert ex.check(_probe(1), "def f():\n    return 1\n").passed
    with pytest.raises(IsolationUnavailable, match="not allowed here"):
        Executor(workers=1, layers=[*Layer]).start()


def test_no_cgroup_is_left_behind() -> None:
    hierarchy, _ = cgroup_module.probe()
    if hierarchy is None:
        pytest.skip("no memory cgroup here")
    before = {p.name for p in hierarchy.path.iterdir()}
    with Executor(workers=1):
        made = {p.name for p in hierarchy.path.iterdir()} - before
        assert len(made) == 1 and made.pop().startswith("octoroute-")
    assert {p.name for p in hierarchy.path.iterdir()} == before


def test_layers_are_reported_with_each_verdict(executor: Executor) -> None:
    v = executor.check(_probe(1), "def f():\n    return 1\n")
    assert set(v.isolation) == set(executor.isolation)


# -- found by a red-team review of the rebuilt executor ----------------------------------------


def test_the_harness_draws_the_same_random_inputs_for_every_program(
    executor: Executor, cache_dir: Path
) -> None:
    """HumanEval/50's tests draw their inputs from ``random``: every check of one program sees
    the same ones, whatever the harness served before."""
    (problem,) = prepare([p for p in load_benchmark("humaneval") if p.id == "HumanEval/50"],
                         executor, cache_dir)  # fmt: skip
    wrong_on_some = (
        "def encode_shift(s):\n    return ''.join(chr(((ord(ch) + 5 - ord('a')) % 26) + ord('a')) for ch in s)\n"
        "def decode_shift(s):\n"
        "    out = ''.join(chr(((ord(ch) - 5 - ord('a')) % 26) + ord('a')) for ch in s)\n"
        "    return '' if out.startswith(('z', 'q')) else out\n"
    )
    verdicts = {executor.check(problem, wrong_on_some).passed for _ in range(6)}
    assert len(verdicts) == 1


def test_a_program_cannot_compute_after_saying_it_is_done(executor: Executor) -> None:
    """stdin/stdout: the result frame only counts once the program has exited within its
    limits."""
    problem = Problem(
        id="double", benchmark="unit", prompt="", entry_point="", reference="",
        program_mode=True,
        tests=(TestCase(TestKind.STDIO, Tier.BASE, "21\n", "42\n", has_expected=True,
                        reference_cpu=0.01),),
    )  # fmt: skip
    late = (
        "import os, struct\n"
        "os.write(4, struct.pack('<IB', 1, 0xC2))\n"
        "n = int(input())\n"
        "x = 0\n"
        "for i in range(30_000_000):\n    x += i\n"
        "print(n * 2)\n"
    )
    assert _fails(executor, problem, late) == {Outcome.TIMEOUT}
    assert executor.check(problem, "print(int(input()) * 2)\n").passed


def test_a_program_too_deep_for_the_flag_scanner_is_still_judged(executor: Executor) -> None:
    branches = "".join(f"    elif x == {i}:\n        return {i * i}\n" for i in range(1, 600))
    code = "def f():\n    x = 3\n    if x == 0:\n        return 0\n" + branches + "    return x\n"
    assert executor.check(_probe(9), code).passed


def test_a_program_that_stops_reading_its_input_times_out(executor: Executor) -> None:
    """It says it is loaded, then sleeps: an input larger than the pipe's buffer must not
    stall the broker until the backstop."""
    problem = Problem(
        id="sum", benchmark="unit", prompt="", entry_point="f", reference="",
        tests=(TestCase(TestKind.CALL, Tier.VISIBLE, (list(range(100_000)),), 4999950000,
                        has_expected=True, reference_cpu=0.01),),
    )  # fmt: skip
    code = (
        "import os, struct, time\n"
        "os.write(4, struct.pack('<IB', 1, 0xC1))\n"
        "time.sleep(10 ** 6)\n"
        "def f(x):\n    return sum(x)\n"
    )
    workers = list(executor._pool.queue)
    started = time.monotonic()
    assert _fails(executor, problem, code) == {Outcome.TIMEOUT}
    assert time.monotonic() - started < 15
    assert {id(w) for w in executor._pool.queue} == {id(w) for w in workers}


def test_an_assert_test_is_bounded_by_its_wall_limit_not_per_call(executor: Executor) -> None:
    """A test that calls the program twenty times gets the test's wall limit, not twenty."""
    problem = Problem(
        id="slow", benchmark="unit", prompt="", entry_point="f", reference="",
        tests=(
            TestCase(TestKind.CALL, Tier.VISIBLE, (1,), 2, has_expected=True, reference_cpu=0.01),
            TestCase(TestKind.ASSERT, Tier.BASE,
                     "for i in range(20):\n    assert candidate(i) == 2 * i", reference_cpu=0.01),
        ),
    )  # fmt: skip
    code = "import time\ndef f(x):\n    time.sleep(1.2)\n    return 2 * x\n"
    workers = list(executor._pool.queue)
    started = time.monotonic()
    v = executor.check(problem, code)
    assert time.monotonic() - started < 15
    assert [t.outcome for t in v.tests] == [Outcome.PASS, Outcome.TIMEOUT]  # 1.2 s < 1.75 s
    assert {id(w) for w in executor._pool.queue} == {id(w) for w in workers}


def test_an_unprepared_problem_is_refused(executor: Executor) -> None:
    """Without expected outputs any value would pass: check() wants a prepared problem."""
    problem = Problem("raw", "unit", "", "f", "", (TestCase(TestKind.CALL, Tier.BASE, (1,)),))
    with pytest.raises(ConfigError, match="no expected output"):
        executor.check(problem, "def f(x):\n    return 0\n")


@pytest.mark.slow
def test_the_harness_cpu_spent_by_earlier_jobs_does_not_reach_a_later_one() -> None:
    """Twelve jobs that make the harness decode 7 million list items (5 s of its CPU each):
    an honest job after them is judged as on a fresh worker."""
    first = Problem("h", "unit", "", "f", "def f(x):\n    return x\n",
                    (TestCase(TestKind.ASSERT, Tier.BASE, "assert f(0) == 0"),))  # fmt: skip
    later = Problem("g", "unit", "", "f", "def f(x):\n    return x\n", tuple(
        TestCase(TestKind.ASSERT, Tier.BASE, "assert f(list(range(10**6)))[-1] == 10**6 - 1")
        for _ in range(3)))  # fmt: skip
    with Executor(workers=1) as ex:
        for _ in range(12):
            ex.check(first, "def f(x):\n    return [[]] * 7_000_000\n")
        assert ex.check(later, "def f(x):\n    return x\n").passed


def _descendants(root: int) -> list[tuple[int, str]]:
    """(pid, state) of every process below ``root``, read from /proc."""
    parents: dict[int, list[int]] = {}
    states: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        states[int(entry)] = fields[0]
        parents.setdefault(int(fields[1]), []).append(int(entry))
    out, todo = [], [root]
    while todo:
        for kid in parents.get(todo.pop(), []):
            out.append((kid, states[kid]))
            todo.append(kid)
    return out


def test_dead_candidates_are_reaped(executor: Executor) -> None:
    # Each check of this program starts a candidate per test (each call exits); the zygote
    # reaps them when the broker says so, so none is left a zombie for long.
    exits = "import os\ndef add(a, b):\n    os._exit(0)\n"
    for _ in range(20):
        assert not executor.check(ADD, exits).passed
    zombies = [pid for pid, state in _descendants(os.getpid()) if state == "Z"]
    assert len(zombies) <= 2 * 2  # at most the last killed candidates of each worker
