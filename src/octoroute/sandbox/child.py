"""Code that runs inside a confined child: the candidate runner and the grading harness.

The *candidate* process loads the untrusted program and answers calls; it only ever receives
the program and test inputs, and returns outputs as ``marshal`` data. The *harness* process runs
a benchmark's assert-style tests (trusted code) with the entry point bound to a proxy whose
calls travel to the candidate process and come back as plain data: untrusted code never runs in
the process that evaluates an assertion.

File descriptors of a child: 0 stdin, 1 stdout, 2 stderr, 3 requests in, 4 replies out.
"""

from __future__ import annotations

import builtins
import contextlib
import io
import linecache
import marshal
import os
import random
import sys
import traceback
from typing import Any, NoReturn

from octoroute.sandbox import codec
from octoroute.sandbox.protocol import (
    HEADER,
    REPLY_CAP,
    FrameStream,
    Kind,
    read_frame,
    write_frame,
)

# Bound at import, before any candidate runs: a program that patches ``marshal`` or the
# builtins then hurts only its own answers, and its verdict still names what it returned.
# Whatever it patches, what leaves this process is only ever data for the broker to check.
_dumps = marshal.dumps
_loads = marshal.loads
_VERSION = codec.VERSION

REQ_FD = 3
RESP_FD = 4
CANDIDATE_FILE = "<candidate>"
_TEXT_CAP = 2000


def _safe_text(fn: Any, *args: Any) -> str:
    """``fn(*args)`` as a trimmed string; hostile ``__str__`` methods must not break the runner."""
    try:
        return str(fn(*args))[:_TEXT_CAP]
    except BaseException:  # noqa: BLE001 - anything the candidate raises
        return "<unprintable>"


def _exception_payload(exc: BaseException) -> bytes:
    name = type(exc).__name__
    if not isinstance(name, str):
        name = "Exception"
    tb = ""
    try:
        frames = [
            f for f in traceback.extract_tb(exc.__traceback__) if f.filename == CANDIDATE_FILE
        ]
        tb = "".join(traceback.format_list(frames[-4:]))[-_TEXT_CAP:]
    except BaseException:  # noqa: BLE001
        pass
    return _dumps((name[:200], _safe_text(str, exc), tb), _VERSION)


def _exit(code: int = 0) -> NoReturn:
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:  # noqa: BLE001
        pass
    os._exit(code)


def run_candidate() -> NoReturn:
    """Candidate main loop: load the program, then answer CALL frames until the pipe closes.

    In program mode (stdin/stdout problems) the program runs once as ``__main__`` and the
    process reports and exits.
    """
    try:
        _, payload = read_frame(REQ_FD)
    except EOFError:
        _exit(0)  # a spare that was never used
    source, entry, program_mode, stdin_data = marshal.loads(payload)
    random.seed(0)  # the same program must get the same verdict
    if program_mode:
        _install_stdin(stdin_data)
    try:
        code = compile(source, CANDIDATE_FILE, "exec", dont_inherit=True)
    except BaseException as exc:  # noqa: BLE001 - SyntaxError, ValueError (NUL bytes), MemoryError
        line = getattr(exc, "lineno", None)
        msg = f"{type(exc).__name__}: {_safe_text(str, exc)}"
        line = line if isinstance(line, int) else 0
        write_frame(RESP_FD, Kind.SYNTAX, _dumps((msg, line), _VERSION))
        _exit(0)
    linecache.cache[CANDIDATE_FILE] = (len(source), None, source.splitlines(True), CANDIDATE_FILE)
    namespace: dict[str, Any] = {
        "__name__": "__main__" if program_mode else "candidate",
        "__builtins__": builtins,
    }
    pristine = dict(builtins.__dict__)
    try:
        exec(code, namespace)
    except SystemExit as exc:
        builtins.__dict__.update(pristine)
        if program_mode and exc.code in (None, 0):
            _finish_program()
        write_frame(RESP_FD, Kind.EXIT, _safe_text(repr, exc.code).encode())
        _exit(0)
    except BaseException as exc:  # noqa: BLE001
        builtins.__dict__.update(pristine)
        write_frame(RESP_FD, Kind.EXCEPTION, _exception_payload(exc))
        _exit(0)
    builtins.__dict__.update(pristine)
    if program_mode:
        _finish_program()
    fn = namespace.get(entry)
    if not callable(fn):
        write_frame(RESP_FD, Kind.NO_ENTRY, entry.encode())
        _exit(0)
    write_frame(RESP_FD, Kind.LOADED)
    calls = FrameStream(REQ_FD)
    while True:
        try:
            _, payload = calls.next()
        except EOFError:
            _exit(0)
        args, transform = _loads(payload)
        try:
            out = fn(*args)
        except SystemExit as exc:
            # The call ends as an early exit; the process need not: like any exception, the
            # program stays loaded for the next test (restarting it cost 7 ms a test).
            builtins.__dict__.update(pristine)
            write_frame(RESP_FD, Kind.EXIT, _safe_text(repr, exc.code).encode())
            continue
        except BaseException as exc:  # noqa: BLE001
            builtins.__dict__.update(pristine)
            write_frame(RESP_FD, Kind.EXCEPTION, _exception_payload(exc))
            continue
        builtins.__dict__.update(pristine)
        if transform == "not_none" and not isinstance(out, bool):
            # EvalPlus compares a bool as it is, anything else by whether it is None.
            out = out is not None
        try:
            data = _dump(out)
        except (ValueError, TypeError, RecursionError):
            name = _safe_text(getattr, type(out), "__qualname__")
            write_frame(RESP_FD, Kind.BAD_TYPE, name.encode())
            continue
        except MemoryError:
            _announce_oversized()
        if len(data) > REPLY_CAP:
            _announce_oversized()
        write_frame(RESP_FD, Kind.RESULT, data)


def _announce_oversized() -> NoReturn:
    # Only the header: the broker refuses the length and judges the test ``output_limit``.
    os.write(RESP_FD, HEADER.pack(0xFFFFFFFF, int(Kind.RESULT)))
    _exit(0)


def _plain(x: Any, depth: int = 0) -> Any:
    """Instances of subclasses of built-in types (``Counter``, a namedtuple) as the built-in.

    Safe because it runs here, in the untrusted process: whatever it computes leaves as plain
    data, so a subclass's ``__eq__`` never reaches the comparison. Other objects stay as they
    are, and ``marshal`` refuses them.
    """
    if depth > codec.MAX_DEPTH:
        raise ValueError("output nested too deeply")
    if isinstance(x, bool):
        return bool(x)
    if isinstance(x, dict):
        return {_plain(k, depth + 1): _plain(v, depth + 1) for k, v in dict.items(x)}
    containers: tuple[Any, ...] = (list, tuple, set, frozenset)
    for container in containers:
        if isinstance(x, container):
            items = [_plain(v, depth + 1) for v in container.__iter__(x)]
            return items if container is list else container(items)
    scalars: tuple[Any, ...] = (int, float, complex, str, bytes)
    for scalar in scalars:
        if isinstance(x, scalar):
            return scalar(x)
    return x


def _dump(out: Any) -> bytes:
    try:
        return _dumps(out, _VERSION)
    except ValueError:  # a subclass of a built-in somewhere: retry with plain values
        return _dumps(_plain(out), _VERSION)


def _install_stdin(data: bytes) -> None:
    # The candidate's own /tmp (a private tmpfs) holds its input; memfd is refused by seccomp.
    fd = os.open("/tmp", os.O_TMPFILE | os.O_RDWR, 0o600)
    os.write(fd, data)
    os.lseek(fd, 0, os.SEEK_SET)
    os.dup2(fd, 0)
    os.close(fd)
    sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False), encoding="utf-8")


def _finish_program() -> NoReturn:
    with contextlib.suppress(BaseException):
        sys.stdout.flush()
    write_frame(RESP_FD, Kind.RESULT, b"")
    _exit(0)


class CandidateFailure(BaseException):
    """Raised in the harness when a call to the candidate ended without a value."""

    def __init__(self, status: str, detail: str, payload: bytes = b"") -> None:
        super().__init__(status, detail)
        self.status = status
        self.detail = detail
        self.payload = payload


# Exceptions a candidate's error may be raised as in the test code. Not StopIteration and the
# like: raised inside ``all(map(candidate, xs))`` it would end the iteration early and let the
# assertion pass.
_CONTROL_FLOW = (StopIteration, StopAsyncIteration, GeneratorExit)


def _proxy(*args: Any, **kwargs: Any) -> Any:
    if kwargs:
        raise TypeError("the candidate proxy takes positional arguments only")
    write_frame(RESP_FD, Kind.PROXY_CALL, codec.encode(args))
    kind, payload = read_frame(REQ_FD)
    if kind is Kind.PROXY_DEAD:
        status, detail, body = codec.decode(payload)
        raise CandidateFailure(status, detail, body)
    inner = Kind(payload[0])
    body = payload[1:]
    if inner is Kind.RESULT:
        try:
            return codec.decode(body)
        except codec.OutOfBounds as e:
            raise CandidateFailure("output_limit", str(e)) from None
        except codec.Undecodable as e:
            raise CandidateFailure("violation", f"undecodable output: {e}") from None
    if inner is Kind.EXCEPTION:
        try:
            name, msg, _tb = codec.decode(body)
            name, msg = str(name)[:200], str(msg)[:2000]
        except (codec.Undecodable, ValueError, TypeError):
            raise CandidateFailure("violation", "undecodable exception") from None
        cls = getattr(builtins, name, None)
        if (
            isinstance(cls, type)
            and issubclass(cls, Exception)
            and not issubclass(cls, _CONTROL_FLOW)
        ):
            try:
                exc = cls(msg)
            except Exception:  # noqa: BLE001
                exc = RuntimeError(msg)
        else:
            exc = RuntimeError(f"{name}: {msg}")
        exc.__octoroute_candidate__ = body  # type: ignore[attr-defined]
        raise exc
    raise CandidateFailure("violation", f"unexpected reply {inner.name}")


def run_harness() -> NoReturn:
    """Harness main loop, serving job after job.

    A SETUP frame starts a job: a fresh namespace with the benchmark's harness code run in it
    and the entry point bound to the proxy. Each TEST frame then runs one test's code and is
    answered by one TEST_DONE frame. The harness runs only trusted code (benchmark tests) and
    receives candidate outputs only as plain data, checked as they are decoded, so it may
    serve many jobs.
    """
    namespace: dict[str, Any] = {}
    setup_error = "no job"
    while True:
        try:
            kind, payload = read_frame(REQ_FD)
        except EOFError:
            _exit(0)
        if kind is Kind.SETUP:
            harness, entry = marshal.loads(payload)  # from the broker
            namespace, setup_error = _setup(harness, entry)
            continue
        code = marshal.loads(payload)
        write_frame(RESP_FD, Kind.TEST_DONE, codec.encode(_run_test(code, namespace, setup_error)))


def _setup(harness: str, entry: str) -> tuple[dict[str, Any], str]:
    namespace: dict[str, Any] = {"__name__": "harness", "__builtins__": builtins}
    # Tests that draw inputs from ``random`` (HumanEval/38, 50, 53) draw the same ones for every
    # program, whatever jobs this harness served before.
    random.seed(0)
    error = ""
    try:
        exec(compile(harness, "<harness>", "exec"), namespace)
    except BaseException as exc:  # noqa: BLE001
        error = f"harness setup failed: {type(exc).__name__}: {exc}"
    namespace["candidate"] = _proxy
    if entry:
        namespace[entry] = _proxy
    return namespace, error


def _run_test(code: str, namespace: dict[str, Any], setup_error: str) -> tuple[str, str, bytes]:
    if setup_error:
        return ("harness", setup_error[:_TEXT_CAP], b"")
    try:
        exec(compile(code, "<test>", "exec"), namespace)
    except CandidateFailure as f:
        return (f.status, f.detail[:_TEXT_CAP], f.payload)
    except BaseException as exc:  # noqa: BLE001
        body = getattr(exc, "__octoroute_candidate__", None)
        if isinstance(body, bytes):
            # The candidate's own exception, AssertionError included: a runtime error, as the
            # same call made as a call test is judged; never the test's assertion failing.
            return ("exc", "", body)
        if isinstance(exc, AssertionError):
            return ("assert", _safe_text(str, exc), b"")
        # The test code itself raised on the candidate's output (e.g. None - 1.0): a wrong answer.
        return ("test_error", _safe_text(lambda e: f"{type(e).__name__}: {e}", exc), b"")
    return ("ok", "", b"")
