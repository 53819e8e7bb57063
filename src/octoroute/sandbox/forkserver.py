"""The sandbox worker: a warm fork server that runs inside the namespaces as their PID 1.

Process tree of one worker (``python -m octoroute.sandbox.forkserver``)::

    launcher          enters the namespaces, builds the root, forks, waits
    └── broker        PID 1: reads jobs, runs tests, measures CPU, kills, reports
        ├── zygote    pristine: has never seen a job; forks candidates on request
        │   └── (candidate processes: reaped by the zygote only when the broker says so)
        └── harness   runs assert-style test code against a proxy; serves job after job

Candidates fork from the zygote so that nothing of a job (assert code holding expected values,
earlier programs) is in their memory: a program that scans its own address space finds only
its own inputs. Each candidate gets its own mount and IPC namespaces with a fresh ``/tmp``, so
nothing it leaves behind (files, shared memory) outlives it or reaches the next job. The broker
talks to the trusted process over its stdin and stdout, and sends results in small batches as
tests finish, so neither side ever holds a whole job's output.

Whatever a candidate writes is data: the broker accepts, at each step, only the frame kinds
that answer what it asked, each under its own size cap, and chooses every status itself
(:class:`~octoroute.sandbox.protocol.Status`); a frame of another kind is a
``sandbox_violation``.
"""

from __future__ import annotations

import collections
import contextlib
import fcntl
import functools
import gc
import marshal
import os
import signal
import socket
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from octoroute.sandbox import _linux, child, codec
from octoroute.sandbox.isolation import (
    ChildLimits,
    Layer,
    build_root,
    confine_child,
    enter_namespaces,
    isolate_imports,
)
from octoroute.sandbox.protocol import (
    CANDIDATE_CAPS,
    NOTE_CAP,
    REPLY_CAP,
    FrameReader,
    FrameTooLarge,
    Kind,
    ProtocolError,
    Status,
    encode,
    read_frame,
    wait_readable,
    wait_writable,
    write_frame,
)

# Imported once here so that every forked child finds them warm.
WARM_MODULES = (
    "abc", "array", "bisect", "calendar", "cmath", "collections", "collections.abc", "copy",
    "dataclasses", "datetime", "decimal", "enum", "fractions", "functools", "hashlib", "heapq",
    "itertools", "json", "math", "operator", "random", "re", "statistics", "string", "struct",
    "textwrap", "typing", "unicodedata",
)  # fmt: skip

_STREAM_CAP = 8 << 20  # stdout / stderr bytes a child may write
_HARNESS_CPU = 10.0  # CPU seconds a harness may have spent and still start a job
_NOTE_TEXT = 500  # characters of a candidate's note (exit code, type name) kept

Result = tuple[str, str, bytes, float]
"""One test's raw result: ``(status, detail, payload, cpu seconds)``."""

# What a candidate may answer at each step, with the largest payload of each kind.
_LOAD_CAPS = {k: CANDIDATE_CAPS[k] for k in (Kind.LOADED, Kind.EXCEPTION, Kind.SYNTAX,
                                             Kind.NO_ENTRY, Kind.EXIT)}  # fmt: skip
_CALL_CAPS = {k: CANDIDATE_CAPS[k] for k in (Kind.RESULT, Kind.EXCEPTION, Kind.BAD_TYPE,
                                             Kind.EXIT)}  # fmt: skip
_PROGRAM_CAPS = {Kind.RESULT: 0, **{k: CANDIDATE_CAPS[k] for k in (Kind.EXCEPTION, Kind.SYNTAX,
                                                                    Kind.EXIT)}}  # fmt: skip
_HARNESS_CAPS = {Kind.PROXY_CALL: REPLY_CAP, Kind.TEST_DONE: 4 * NOTE_CAP}
# Statuses the harness may report for an assert test (it runs trusted code only, but it reads
# candidate data, so its word is checked too).
_HARNESS_STATUSES = frozenset({Status.OK, Status.ASSERT, Status.TEST_ERROR, Status.EXCEPTION,
                               Status.HARNESS, Status.OUTPUT_LIMIT, Status.VIOLATION})  # fmt: skip


@dataclass
class Candidate:
    """A live candidate (or harness) process and the broker's ends of its pipes."""

    pid: int
    req: int
    resp: FrameReader
    out: int
    err: int
    program_mode: bool
    from_zygote: bool = True
    stdout: bytearray = field(default_factory=bytearray)
    err_bytes: int = 0
    clock: int | None = None
    pipe_pages: int | None = None
    closed: set[int] = field(default_factory=set)
    oom_kills: int = 0

    def cpu(self) -> float:
        """CPU seconds used so far (0 if the clock is gone)."""
        try:
            if self.clock is None:
                self.clock = _linux.cpu_clock(self.pid)
            return time.clock_gettime(self.clock)
        except OSError:
            return 0.0


@dataclass(frozen=True)
class Death:
    """How a child ended (or was ended) when it did not answer."""

    status: Status
    detail: str = ""


def _signal_name(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"


def _note(body: bytes) -> str:
    """A candidate's short note (an exit code, a type name) as trimmed text."""
    return body[: 4 * _NOTE_TEXT].decode("utf-8", errors="replace")[:_NOTE_TEXT]


class Broker:
    """Runs jobs: one job is one program against a list of tests."""

    def __init__(
        self,
        zygote_sock: socket.socket,
        layers: frozenset[Layer],
        limits: ChildLimits,
        oom_fd: int | None = None,
    ) -> None:
        self.zygote = zygote_sock
        self.layers = layers
        self.limits = limits
        self.oom_fd = oom_fd
        self.spare: tuple[int, int, int, int] | None = None
        self._pids: list[int] = []  # the zygote's answers to spawn requests, not yet taken
        self.harness: Candidate | None = None
        self.harness_job: tuple[int, int] = (-1, 0)

    # -- candidates ---------------------------------------------------------------------------
    def spawn(self, program_mode: bool) -> Candidate:
        """A fresh, confined candidate process waiting for its program.

        The zygote is always asked for the next one in advance, so that its two forks and its
        confinement overlap with the current candidate's work instead of adding to it.
        """
        c = self._collect_spare() if self.spare is not None else self._request_and_collect()
        self.spare = self._request()
        c.program_mode = program_mode
        c.oom_kills = self.oom_kills()
        return c

    def _request(self) -> tuple[int, int, int, int]:
        req_r, req_w = os.pipe()
        resp_r, resp_w = os.pipe()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        socket.send_fds(self.zygote, [b"c"], [req_r, resp_w, out_w, err_w])
        for fd in (req_r, resp_w, out_w, err_w):
            os.close(fd)
        for fd in (resp_r, out_r, err_r):
            os.set_blocking(fd, False)
        return req_w, resp_r, out_r, err_r

    def _collect_spare(self) -> Candidate:
        assert self.spare is not None
        req_w, resp_r, out_r, err_r = self.spare
        self.spare = None
        pid = self._pids.pop(0) if self._pids else int(self._zygote_reply(b"p"))
        # Writes to a candidate never block: one that stops reading would stall the broker.
        os.set_blocking(req_w, False)
        return Candidate(pid, req_w, FrameReader(resp_r, _LOAD_CAPS), out_r, err_r, False)

    def _request_and_collect(self) -> Candidate:
        self.spare = self._request()
        return self._collect_spare()

    def oom_kills(self) -> int:
        """Processes the candidates' memory cgroup has killed so far (0 without one)."""
        if self.oom_fd is None:
            return 0
        try:
            text = os.pread(self.oom_fd, 4096, 0).decode()
        except OSError:
            return 0
        for line in text.splitlines():
            name, _, value = line.partition(" ")
            if name == "oom_kill" and value.strip().isdigit():
                return int(value)
        return 0

    def close(self, c: Candidate, kill: bool = True) -> Death:
        """Close a candidate and return how it ended.

        With ``kill`` the broker already knows why it ends, so the dead process is reaped later
        (:meth:`reap_zombies`) instead of waiting for the kernel to tear it down. Without it,
        the candidate closed its reply pipe: it gets a moment to exit, and is killed (as a
        violation) if it lives on without a way to answer.
        """
        self.release(c)
        if kill:
            self._kill(c)
            return Death(Status.CRASH, "killed")
        reaped = self._reap(c, deadline=time.monotonic() + 1.0)
        if reaped is None:
            self._kill(c)
            return Death(Status.VIOLATION, "closed its reply channel and went on running")
        status, cpu = reaped
        return self._death(status, cpu, c)

    @staticmethod
    def release(c: Candidate) -> None:
        """Close the broker's ends of a candidate's pipes."""
        for fd in (c.req, c.resp.fd, c.out, c.err):
            with contextlib.suppress(OSError):
                os.close(fd)

    def _kill(self, c: Candidate) -> None:
        # Each child leads its own process group (and may not leave it): kill the whole group.
        # A candidate is the zygote's child, which reaps it only when told, after the kill: its
        # pid (and group) cannot have passed to another process in the meantime.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(c.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            os.kill(c.pid, signal.SIGKILL)
        if c.from_zygote:
            self.zygote.send(b"k%d" % c.pid)

    def _zygote_reply(self, kind: bytes) -> bytes:
        """The zygote's next answer of ``kind`` (its answers come in the order asked; a spawn
        answer that arrives first is kept for :meth:`_collect_spare`)."""
        while True:
            msg = self.zygote.recv(64)
            if not msg:
                raise EOFError("the zygote is gone")
            if msg[:1] == kind:
                return msg[1:]
            if msg[:1] != b"p":
                raise ProtocolError(f"zygote answered {msg[:1]!r}, expected {kind!r}")
            self._pids.append(int(msg[1:]))

    def wait(self, c: Candidate) -> tuple[int, float] | None:
        """The exit status and CPU seconds of ``c`` once it has exited (it is then reaped and
        its pid no longer its own), or None while it runs. Never blocks."""
        if not c.from_zygote:
            try:
                got, status, usage = os.wait4(c.pid, os.WNOHANG)
            except ChildProcessError:
                return None  # not ours (yet): an orphan whose parent is still exiting
            return (status, usage.ru_utime + usage.ru_stime) if got == c.pid else None
        self.zygote.send(b"w%d" % c.pid)
        answer = marshal.loads(self._zygote_reply(b"s"))
        return None if answer is None else (int(answer[0]), float(answer[1]))

    @staticmethod
    def reap_zombies() -> None:
        """Collect every child that has died (never blocks).

        Called between jobs, when the only live children are the zygote and a spare, which
        this cannot touch: it only collects processes that have already exited.
        """
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return

    def _reap(self, c: Candidate, deadline: float) -> tuple[int, float] | None:
        """Wait for ``c`` to exit until ``deadline``: its status and CPU time, or None."""
        while True:
            reaped = self.wait(c)
            if reaped is not None:
                return reaped
            if time.monotonic() > deadline:
                return None
            time.sleep(0.001)

    def _death(self, status: int, cpu: float, c: Candidate) -> Death:
        if os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            if sig == signal.SIGSYS:
                return Death(Status.VIOLATION, "forbidden system call (seccomp)")
            if sig == signal.SIGKILL and self.oom_kills() > c.oom_kills:
                return Death(Status.MEMORY_LIMIT, "memory cgroup limit")
            # SIGKILL from the kernel at the hard CPU limit is a timeout; any other is a crash.
            at_limit = cpu >= self.limits.cpu_seconds - 0.05
            if sig == signal.SIGXCPU or (sig == signal.SIGKILL and at_limit):
                return Death(Status.TIMEOUT, "cpu rlimit")
            if sig == signal.SIGXFSZ:
                return Death(Status.OUTPUT_LIMIT, "file size limit")
            return Death(Status.CRASH, _signal_name(sig))
        return Death(Status.EARLY_EXIT, f"exit status {os.WEXITSTATUS(status)}")

    def await_frame(
        self,
        c: Candidate,
        caps: Mapping[Kind, int],
        cpu_limit: float,
        wall_limit: float,
        since: tuple[float, float] | None = None,
    ) -> tuple[Kind, bytes] | Death:
        """Wait for the candidate's next frame of a kind in ``caps``, enforcing CPU and wall
        limits counted from now, or from ``since`` (its CPU seconds and the monotonic time at
        which the work this frame answers began); any other kind, or an oversized frame,
        kills it."""
        c.resp.caps = caps
        start_cpu, start = since if since is not None else (c.cpu(), time.monotonic())
        while True:
            try:
                frame = c.resp.pop()
                if frame is None and not c.resp.eof:
                    c.resp.fill()
                    frame = c.resp.pop()
            except FrameTooLarge as e:
                return self._kill_with(c, Status.OUTPUT_LIMIT, f"reply too large: {e}")
            except ProtocolError as e:
                return self._kill_with(c, Status.VIOLATION, f"protocol: {e}")
            if frame is not None:
                return frame
            if c.resp.eof:
                return self.close(c, kill=False)
            used = c.cpu() - start_cpu
            elapsed = time.monotonic() - start
            if used > cpu_limit:
                return self._kill_with(c, Status.TIMEOUT, f"cpu {used:.2f}s")
            if elapsed > wall_limit:
                return self._kill_with(c, Status.TIMEOUT, f"wall {elapsed:.2f}s")
            wait = min(cpu_limit - used, wall_limit - elapsed) + 0.002
            watch = [fd for fd in (c.resp.fd, c.out, c.err) if fd not in c.closed]
            ready = wait_readable(watch, min(wait, 0.25))
            if c.out in ready:
                self._drain(c, c.out)
            if c.err in ready:
                self._drain(c, c.err)
            if len(c.stdout) > _STREAM_CAP or c.err_bytes > _STREAM_CAP:
                return self._kill_with(c, Status.OUTPUT_LIMIT, "too much output")

    def _drain(self, c: Candidate, fd: int) -> None:
        while True:
            try:
                chunk = os.read(fd, 1 << 16)
            except (BlockingIOError, InterruptedError):
                return
            if not chunk:
                c.closed.add(fd)  # a closed stream would otherwise poll readable forever
                return
            if fd == c.out and c.program_mode:
                c.stdout += chunk
            else:
                c.err_bytes += len(chunk)
            if len(c.stdout) > _STREAM_CAP or c.err_bytes > _STREAM_CAP:
                return

    def _kill_with(self, c: Candidate, status: Status, detail: str) -> Death:
        self.close(c)
        return Death(status, detail)

    def send(self, c: Candidate, kind: Kind, payload: bytes, deadline: float | None = None) -> bool:
        """Send a frame; False if the peer closed its end, or (a candidate, whose pipe is
        non-blocking) has not read it all by ``deadline``."""
        return self._write(c, kind, payload, deadline) is None

    @classmethod
    def _write(cls, c: Candidate, kind: Kind, payload: bytes, deadline: float | None) -> str | None:
        """None once the frame is written; else ``"closed"`` or ``"late"``."""
        return cls._write_frame(c, encode(kind, payload), deadline)

    @staticmethod
    def _write_frame(c: Candidate, frame: bytes, deadline: float | None) -> str | None:
        """:meth:`_write` for an encoded frame."""
        data = memoryview(frame)
        while data:
            try:
                data = data[os.write(c.req, data) :]
            except (BlockingIOError, InterruptedError):
                left = (deadline or time.monotonic() + 1.0) - time.monotonic()
                if left <= 0 or not wait_writable(c.req, left):
                    return "late"
            except OSError:
                return "closed"
        return None

    def send_or_kill(self, c: Candidate, kind: Kind, payload: bytes, wall: float) -> Death | None:
        """Send a frame to a candidate within ``wall`` seconds, or end it: a program that will
        not read its input (it sleeps with a full pipe) times out like one that will not answer.
        One that closed its end is left for the next read to find out how it ended."""
        if self._write(c, kind, payload, time.monotonic() + wall) != "late":
            return None
        return self._kill_with(c, Status.TIMEOUT, f"input not read within {wall:.2f}s")

    def ask(
        self,
        c: Candidate,
        kind: Kind,
        payload: bytes,
        caps: Mapping[Kind, int],
        cpu_limit: float,
        wall: float,
    ) -> tuple[Kind, bytes] | Death:
        """Send a candidate a frame and wait for its answer, both within ``wall`` seconds in
        all (:meth:`send_or_kill`, then :meth:`await_frame` for what is left of it)."""
        started = time.monotonic()
        return self.send_or_kill(c, kind, payload, wall) or self.await_frame(
            c, caps, cpu_limit, wall - (time.monotonic() - started)
        )

    # -- jobs -----------------------------------------------------------------------------------
    def run_job(self, job: dict[str, Any], emit: Callable[[int, Result], None]) -> None:
        """Run every test of ``job``, handing each ``(status, detail, payload, cpu)`` to
        ``emit`` with its index as soon as it is known.

        A batch job carries several ``programs`` for the same tests: each runs as a job of its
        own (a fresh candidate, the harness set up again, its own budget), and program ``p``'s
        test ``i`` is reported as index ``p * len(tests) + i``.
        """
        programs = job.get("programs")
        if programs is None:
            JobRun(self, job).run(emit)
            return
        n_tests = len(job["tests"])
        for p, program in enumerate(programs):
            sub = {**job, "program": program, "run": p}
            JobRun(self, sub).run(functools.partial(_shifted, emit, p * n_tests))


def _shifted(emit: Callable[[int, Result], None], base: int, index: int, result: Result) -> None:
    emit(base + index, result)


class JobRun:
    """The state of one job: the live candidate, the harness, the budget spent."""

    def __init__(self, broker: Broker, job: dict[str, Any]) -> None:
        self.b = broker
        self.job = job
        self.cand: Candidate | None = None
        self.load_failure: Result | None = None
        self.cpu_spent = 0.0
        self.started = time.monotonic()

    def run(self, emit: Callable[[int, Result], None]) -> None:
        timeouts: dict[str, int] = {}
        tests = self.job["tests"]
        if any(t[0] == "assert" for t in tests):
            # Set the harness up now: its setup overlaps with loading the candidate.
            self._harness()
        try:
            index = 0
            while index < len(tests):
                kind, inp, cpu_limit, tier, cap, digest = tests[index]
                if kind == "call" and self.cand is not None and self._window(self.cand) > 1:
                    after = self._call_run(index, timeouts, emit)
                    if after > index:
                        index = after
                        continue
                res = self._test(kind, inp, cpu_limit, tier, cap, timeouts)
                if digest is not None:
                    res = _matched(res, digest)
                self._record(index, tier, res, timeouts, emit)
                index += 1
        finally:
            if self.cand is not None:
                self.b.close(self.cand)

    def _record(
        self,
        index: int,
        tier: str,
        res: Result,
        timeouts: dict[str, int],
        emit: Callable[[int, Result], None],
    ) -> None:
        self.cpu_spent += res[3]
        if res[0] == Status.TIMEOUT:
            timeouts[tier] = timeouts.get(tier, 0) + 1
        emit(index, res)

    def _window(self, c: Candidate) -> int:
        """Calls that may be in flight to ``c`` at once: the job's setting, at most one per
        two pages of its request pipe (so that sending never blocks, whatever it has not
        read). The pipe's size is read once per candidate, and not at all for one at a time."""
        wanted = int(self.job.get("pipeline", 1))
        if wanted <= 1:
            return 1
        if c.pipe_pages is None:
            try:
                c.pipe_pages = fcntl.fcntl(c.req, fcntl.F_GETPIPE_SZ) // 4096
            except OSError:
                c.pipe_pages = 0
        return max(1, min(wanted, c.pipe_pages // 2))

    def _call_run(
        self, start: int, timeouts: dict[str, int], emit: Callable[[int, Result], None]
    ) -> int:
        """Judge the call tests from ``start`` on with several calls in flight to the loaded
        candidate; the index of the first test it leaves to the one-at-a-time path.

        Verdicts are those of one call at a time: a call is sent only when the tests before
        it cannot have spent the check's budget even at their limits; each answer's CPU
        time and wall time count from the previous answer, when the candidate began this
        call (it runs them in order); a test that times out or dies ends the run, and the
        calls sent after it are left to the one-at-a-time path, which judges them as it
        would have (budget, a fresh candidate).
        """
        c = self.cand
        assert c is not None
        tests = self.job["tests"]
        window = self._window(c)
        # Bytes in flight (an upper bound on what the pipe holds unread): a quarter of the
        # pipe, so that a write never blocks.
        room = 1024 * 2 * window
        inflight: collections.deque[_InFlight] = collections.deque()
        sent = start
        mark = (c.cpu(), time.monotonic())
        while True:
            while len(inflight) < window and sent < len(tests):
                kind, args, cpu_limit, tier, cap, digest = tests[sent]
                wall = cpu_limit * self.job["wall_factor"] + self.job["wall_extra"]
                if kind != "call" or not self._may_send(tier, timeouts, inflight, cpu_limit, wall):
                    break
                frame = encode(Kind.CALL, codec.encode((args, self.job["transform"])))
                if sum(x[5] for x in inflight) + len(frame) > room:
                    break  # a large input goes alone, by the one-at-a-time path
                if self.b._write_frame(c, frame, None) is not None:
                    break  # closed: the next read finds out how it ended
                inflight.append((sent, tier, cpu_limit, wall, cap, len(frame), digest))
                sent += 1
            if not inflight:
                return sent
            index, tier, cpu_limit, wall, cap, _, digest = inflight.popleft()
            try:
                got = self.b.await_frame(
                    c, {**_CALL_CAPS, Kind.RESULT: cap}, cpu_limit, wall, since=mark
                )
            except (OSError, ValueError, EOFError) as e:
                got = self._broken(e)
            if isinstance(got, Death):
                self.cand = None
                used = cpu_limit if got.status == Status.TIMEOUT else 0.0
                self._record(index, tier, (got.status, got.detail, b"", used), timeouts, emit)
                return index + 1
            now = (c.cpu(), time.monotonic())
            res = (*_failure(got), now[0] - mark[0])
            self._record(
                index, tier, res if digest is None else _matched(res, digest), timeouts, emit
            )
            mark = now

    def _may_send(
        self,
        tier: str,
        timeouts: dict[str, int],
        inflight: collections.deque[_InFlight],
        cpu_limit: float,
        wall: float,
    ) -> bool:
        """Whether the next call may go out now: its tier has not timed out, and the check's
        budget would not be spent before it even if every call in flight used its limits."""
        if timeouts.get(tier, 0) >= self.job["max_timeouts"]:
            return False
        cpu = self.cpu_spent + sum(x[2] for x in inflight)
        elapsed = time.monotonic() - self.started + sum(x[3] for x in inflight)
        return bool(cpu <= self.job["budget_cpu"] and elapsed <= self.job["budget_wall"])

    def _broken(self, e: Exception) -> Death:
        """A candidate that broke the broker's plumbing: it and the harness are replaced."""
        for proc in (self.cand, self.b.harness):
            if proc is not None:
                self.b.close(proc)
        self.cand = self.b.harness = None
        return Death(Status.VIOLATION, f"broker: {type(e).__name__}: {e}"[:_NOTE_TEXT])

    def _test(
        self,
        kind: str,
        inp: Any,
        cpu_limit: float,
        tier: str,
        cap: int,
        timeouts: dict[str, int],
    ) -> Result:
        if timeouts.get(tier, 0) >= self.job["max_timeouts"]:
            return (Status.BUDGET, f"not run: a {tier} test timed out", b"", 0.0)
        if (
            self.cpu_spent > self.job["budget_cpu"]
            or time.monotonic() - self.started > self.job["budget_wall"]
        ):
            return (Status.BUDGET, "not run: check budget exhausted", b"", 0.0)
        wall = cpu_limit * self.job["wall_factor"] + self.job["wall_extra"]
        try:
            if kind == "assert":
                return self.assert_test(inp, cpu_limit, wall)
            if kind == "stdio":
                return self.stdio_test(inp, cpu_limit, wall)
            return self.call_test(inp, cpu_limit, wall, cap)
        except (OSError, ValueError, EOFError) as e:
            # A candidate that breaks the broker's plumbing fails the test; the broker goes on
            # with a fresh candidate and harness (whose conversation may have been cut short).
            death = self._broken(e)
            return (death.status, death.detail, b"", 0.0)

    def _load(self, cpu_limit: float, wall: float, stdin: bytes = b"") -> Result | None:
        """Start a candidate and load the program; None when it is ready for calls."""
        program_mode = bool(self.job["program_mode"])
        if not program_mode:
            # Module-level work (imports, tables) has its own allowance, not the first test's.
            load_cpu = self.job["load_cpu"]
            wall = max(wall, load_cpu * self.job["wall_factor"] + self.job["wall_extra"])
            cpu_limit = max(cpu_limit, load_cpu)
        c = self.b.spawn(program_mode)
        payload = marshal.dumps((self.job["program"], self.job["entry"], program_mode, stdin))
        started = time.monotonic()
        caps = _PROGRAM_CAPS if program_mode else _LOAD_CAPS
        got = self.b.ask(c, Kind.PROGRAM, payload, caps, cpu_limit, wall)
        used = c.cpu()
        if program_mode:
            return self._program_result(c, got, used, cpu_limit, started + wall)
        if not isinstance(got, Death) and got[0] is Kind.LOADED:
            self.cand = c
            return None
        if not isinstance(got, Death):
            self.b.close(c)
        self.load_failure = (*_failure(got), used)
        return self.load_failure

    def call_test(self, args: Any, cpu_limit: float, wall: float, cap: int) -> Result:
        if self.load_failure is not None:
            return (*self.load_failure[:3], 0.0)
        if self.cand is None:
            failed = self._load(cpu_limit, wall)
            if failed is not None:
                return failed
        assert self.cand is not None
        c = self.cand
        before = c.cpu()
        call = codec.encode((args, self.job["transform"]))
        # A reply larger than twice the reference's output cannot equal it: refused on sight.
        got = self.b.ask(c, Kind.CALL, call, {**_CALL_CAPS, Kind.RESULT: cap}, cpu_limit, wall)
        if isinstance(got, Death):
            self.cand = None
            return (got.status, got.detail, b"", cpu_limit if got.status == Status.TIMEOUT else 0.0)
        used = c.cpu() - before
        return (*_failure(got), used)

    def stdio_test(self, stdin: str, cpu_limit: float, wall: float) -> Result:
        result = self._load(cpu_limit, wall, stdin.encode())
        self.load_failure = None
        assert result is not None
        return result

    def _program_result(
        self,
        c: Candidate,
        got: tuple[Kind, bytes] | Death,
        used: float,
        cpu_limit: float,
        deadline: float,
    ) -> Result:
        if isinstance(got, Death):
            return (got.status, got.detail, b"", used)
        if got[0] is not Kind.RESULT:
            self.b.close(c)
            return (*_failure(got), used)
        # The frame only says the program is done; its output counts once it has exited too,
        # within what is left of its limits (it could otherwise send the frame first and go
        # on computing).
        while True:
            self.b._drain(c, c.out)
            self.b._drain(c, c.err)
            if len(c.stdout) > _STREAM_CAP or c.err_bytes > _STREAM_CAP:
                self.b.close(c)
                return (Status.OUTPUT_LIMIT, "too much output", b"", used)
            reaped = self.b.wait(c)
            if reaped is not None:
                status, used = reaped
                break
            used = max(used, c.cpu())
            if used > cpu_limit or time.monotonic() > deadline:
                self.b.close(c)
                detail = f"still running after its result ({used:.2f}s cpu)"
                return (Status.TIMEOUT, detail, b"", used)
            wait_readable([fd for fd in (c.out, c.err) if fd not in c.closed], 0.01)
        self.b._drain(c, c.out)
        self.b.release(c)  # reaped already: its pid may be another process's by now
        if used > cpu_limit:
            return (Status.TIMEOUT, f"cpu {used:.2f}s", b"", used)
        if not (os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0):
            death = self.b._death(status, used, c)
            return (death.status, death.detail, b"", used)
        return (Status.STDOUT, "", bytes(c.stdout), used)

    def assert_test(self, code: str, cpu_limit: float, wall: float) -> Result:
        h = self._harness()
        self.b.send(h, Kind.TEST, marshal.dumps(code))
        spent = 0.0
        start = time.monotonic()
        candidate_failed: Result | None = None
        while True:
            # The harness is trusted code; it gets the wall deadline of the whole test.
            remaining_wall = max(0.01, wall - (time.monotonic() - start))
            got = self.b.await_frame(h, _HARNESS_CAPS, 1e9, remaining_wall + self.job["wall_extra"])
            if isinstance(got, Death):
                self.b.harness = None
                if candidate_failed is not None:
                    return (*candidate_failed[:3], spent)
                status = Status.TIMEOUT if got.status == Status.TIMEOUT else Status.HARNESS
                return (status, f"harness: {got.status} {got.detail}", b"", spent)
            kind, body = got
            if kind is Kind.TEST_DONE:
                # A failed candidate call fails the test, whatever the test code did with it
                # (a bare ``except:`` in a test must not turn a crash into a pass).
                if candidate_failed is not None:
                    return (*candidate_failed[:3], spent)
                return (*self._harness_result(body), spent)
            left = max(0.01, wall - (time.monotonic() - start))
            reply, used = self._proxy_call(body, max(0.0, cpu_limit - spent), left)
            spent += used
            if isinstance(reply, tuple):
                candidate_failed = candidate_failed or reply
                self.b.send(h, Kind.PROXY_DEAD, codec.encode((str(reply[0]), reply[1], reply[2])))
            else:
                self.b.send(h, Kind.PROXY_REPLY, reply)

    def _harness_result(self, body: bytes) -> tuple[str, str, bytes]:
        """The harness's verdict on an assert test, checked: it reads candidate data, so its
        word is taken only in the expected shape and among the statuses it may report."""
        try:
            status, detail, payload = codec.decode(body)
            if Status(status) not in _HARNESS_STATUSES:
                raise ValueError(status)
            if not isinstance(detail, str) or not isinstance(payload, bytes):
                raise TypeError("detail or payload")
        except (ValueError, TypeError):
            if self.b.harness is not None:
                self.b.close(self.b.harness)
            self.b.harness = None
            return (Status.HARNESS, "harness sent a malformed result", b"")
        return (status, detail[:_NOTE_TEXT], payload)

    def _proxy_call(
        self, args_payload: bytes, cpu_left: float, wall: float
    ) -> tuple[bytes | Result, float]:
        """Answer the harness's call of the entry point: the reply to relay (the candidate's
        value or exception), or the failure that stands for the call (the program's load
        failure, a death, an output that could not be sent); and the CPU it took."""
        if self.load_failure is None and self.cand is None:
            failed = self._load(cpu_left, wall)
            if failed is not None:
                return failed, failed[3]
        if self.load_failure is not None:
            return self.load_failure, 0.0
        assert self.cand is not None
        c = self.cand
        before = c.cpu()
        try:
            args = codec.decode(args_payload)
        except codec.Undecodable as e:
            return (Status.HARNESS, f"harness sent bad arguments: {e}", b"", 0.0), 0.0
        call = codec.encode((args, self.job["transform"]))
        got = self.b.ask(c, Kind.CALL, call, _CALL_CAPS, cpu_left, wall)
        if isinstance(got, Death):
            self.cand = None
            return (got.status, got.detail, b"", cpu_left), cpu_left
        used = c.cpu() - before
        kind, body = got
        if kind in (Kind.EXIT, Kind.BAD_TYPE):
            return (*_failure(got), used), used
        return bytes([int(kind)]) + body, used

    def _harness(self) -> Candidate:
        """The broker's long-lived harness, set up for this job (started on first use)."""
        b = self.b
        run = (self.job["id"], self.job.get("run", 0))
        if b.harness is not None and b.harness_job == run:
            return b.harness
        if b.harness is not None and b.harness.cpu() > _HARNESS_CPU:
            # Its CPU rlimit counts over every job it served: a new job gets a fresh harness
            # long before it runs out, so no job inherits what earlier ones spent.
            b.close(b.harness)
            b.harness = None
        if b.harness is None:
            b.harness = self._spawn_harness()
        setup = marshal.dumps((self.job["harness"], self.job["entry"]))
        if not b.send(b.harness, Kind.SETUP, setup):
            b.close(b.harness)
            b.harness = self._spawn_harness()
            b.send(b.harness, Kind.SETUP, setup)
        b.harness_job = run
        return b.harness

    def _spawn_harness(self) -> Candidate:
        req_r, req_w = os.pipe()
        resp_r, resp_w = os.pipe()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                _become_child(req_r, resp_w, out_w, (self.b.limits, self.b.layers), err=err_w)
                child.run_harness()
            finally:
                os._exit(70)
        for fd in (req_r, resp_w, out_w, err_w):
            os.close(fd)
        for fd in (resp_r, out_r, err_r):
            os.set_blocking(fd, False)
        return Candidate(
            pid, req_w, FrameReader(resp_r, _HARNESS_CAPS), out_r, err_r, False, from_zygote=False
        )


_InFlight = tuple[int, str, float, float, int, int, bytes | None]
"""A call sent ahead: test index, tier, CPU limit, wall limit, reply cap, frame bytes, digest."""


def _matched(res: Result, digest: bytes) -> Result:
    """``res`` as :attr:`Status.SAME` when it is a value with the expected bytes: the trusted
    side then passes it without receiving (or decoding) them."""
    if res[0] != Status.VALUE or codec.digest(res[2]) != digest:
        return res
    return (Status.SAME, "", b"", res[3])


def _failure(got: tuple[Kind, bytes] | Death) -> tuple[str, str, bytes]:
    """The status the broker assigns to a candidate's answer (never a pass by itself)."""
    if isinstance(got, Death):
        return (got.status, got.detail, b"")
    kind, body = got
    if kind is Kind.RESULT:
        return (Status.VALUE, "", body)
    if kind is Kind.EXCEPTION:
        return (Status.EXCEPTION, "", body)
    if kind is Kind.SYNTAX:
        return (Status.SYNTAX, "", body)
    if kind is Kind.NO_ENTRY:
        return (Status.NO_ENTRY, _note(body), b"")
    if kind is Kind.BAD_TYPE:
        return (Status.BAD_TYPE, _note(body), b"")
    if kind is Kind.EXIT:
        return (Status.EARLY_EXIT, _note(body), b"")
    return (Status.VIOLATION, f"unexpected {kind.name} frame", b"")


def _become_child(
    req: int,
    resp: int,
    out: int,
    confinement: tuple[ChildLimits, frozenset[Layer]],
    err: int,
    candidate: bool = False,
) -> None:
    """Wire a freshly forked child's descriptors and confine it."""
    os.setpgid(0, 0)
    if os.path.exists(os.devnull):
        stdin = os.open(os.devnull, os.O_RDONLY)
    else:
        stdin, w = os.pipe()
        os.close(w)
    fds = {0: stdin, 1: out, 2: err, 3: req, 4: resp}
    # Move every source descriptor above the target range first, so dup2 never clobbers one.
    moved = {target: fcntl.fcntl(src, fcntl.F_DUPFD, 10) for target, src in fds.items()}
    for target, src in moved.items():
        os.dup2(src, target)
    os.closerange(5, 1 << 16)
    confine_child(*confinement, candidate=candidate)


def zygote_main(sock: socket.socket, limits: ChildLimits, layers: frozenset[Layer]) -> None:
    """Fork candidates on request, and reap them when the broker asks. Holds no job data, ever.

    Requests (one datagram each): ``c`` with the candidate's four pipe ends (answered ``p`` and
    its pid); ``w`` and a pid (answered ``s`` and, marshalled, None while it runs or its exit
    status and CPU seconds, once reaped); ``k`` and a pid the broker has killed (reaped as soon
    as it is gone, no answer). A candidate stays unreaped until the broker has asked, so the
    broker never signals a pid that has passed to another process.
    """
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # not SIG_IGN: that would reap on its own
    if Layer.NO_CAPS in layers:
        # Inherited by every candidate: each then only has to clear its own sets.
        _linux.drop_bounding_set()
    # Children would otherwise copy every page the collector walks (copy-on-write).
    gc.collect()
    gc.freeze()
    killed: set[int] = set()
    while True:
        try:
            msg, fds, _flags, _addr = socket.recv_fds(sock, 64, 4)
        except (EOFError, OSError):
            os._exit(0)
        if not msg:
            os._exit(0)
        op, arg = msg[:1], msg[1:]
        if op == b"c" and len(fds) == 4:
            pid = os.fork()
            if pid == 0:
                try:
                    sock.close()
                    req_r, resp_w, out_w, err_w = fds
                    _become_child(req_r, resp_w, out_w, (limits, layers), err=err_w, candidate=True)
                    child.run_candidate()
                finally:
                    os._exit(70)
            sock.send(b"p%d" % pid)
        elif op == b"w":
            sock.send(b"s" + marshal.dumps(_reap_child(int(arg))))
        elif op == b"k":
            killed.add(int(arg))
        for fd in fds:
            os.close(fd)
        killed = {pid for pid in killed if _reap_child(pid) is None}


def _reap_child(pid: int) -> tuple[int, float] | None:
    """Reap ``pid`` if it has exited: its status and CPU seconds; None while it runs. One that
    is gone already (reaped, or never ours) reads as killed."""
    try:
        got, status, usage = os.wait4(pid, os.WNOHANG)
    except ChildProcessError:
        return (signal.SIGKILL, 0.0)
    return (status, usage.ru_utime + usage.ru_stime) if got == pid else None


def _broker_main(layers: frozenset[Layer], limits: ChildLimits, cgroup: dict[str, int]) -> None:
    parent_sock, zygote_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    pid = os.fork()
    if pid == 0:
        parent_sock.close()
        if cgroup:
            # The zygote, and every candidate it forks, lives in the candidates' cgroup.
            os.write(cgroup["candidates_procs"], b"0")
        for fd in cgroup.values():
            os.close(fd)
        null = os.open(os.devnull, os.O_RDWR) if os.path.exists(os.devnull) else None
        for fd in (0, 1):
            if null is not None:
                os.dup2(null, fd)
        zygote_main(zygote_sock, limits, layers)
        os._exit(0)
    zygote_sock.close()
    if cgroup:
        os.close(cgroup["candidates_procs"])
    # Should the zygote die, its candidates become ours (and reap_zombies collects them).
    _linux.prctl(_linux.PR_SET_CHILD_SUBREAPER, 1)
    broker = Broker(parent_sock, layers, limits, cgroup.get("candidates_events"))
    write_frame(1, Kind.READY, marshal.dumps([x.value for x in sorted(layers)]))
    while True:
        try:
            _, payload = read_frame(0, {Kind.JOB: 1 << 31})
        except EOFError:
            os._exit(0)
        job = marshal.loads(payload)  # from the trusted process
        broker.reap_zombies()

        results = _Results(job["id"])
        broker.run_job(job, results.add)
        results.flush()
        write_frame(1, Kind.JOB_DONE, codec.encode(job["id"]))


class _Results:
    """Results on their way to the trusted process: sent in batches, never a job's worth."""

    BATCH_BYTES = 1 << 20
    BATCH_SECONDS = 0.5

    def __init__(self, job_id: int) -> None:
        self.job_id = job_id
        self.pending: list[tuple[int, str, str, bytes, float]] = []
        self.size = 0
        self.sent = time.monotonic()

    def add(self, index: int, result: Result) -> None:
        """Queue one test's result; send the batch once it holds a megabyte of output or half
        a second has passed (so a worker killed by the backstop has reported what it did)."""
        status, detail, body, cpu = result
        self.pending.append((index, str(status), detail, body, cpu))
        self.size += len(body) + len(detail)
        if self.size >= self.BATCH_BYTES or time.monotonic() - self.sent > self.BATCH_SECONDS:
            self.flush()

    def flush(self) -> None:
        """Send what is queued as one ``TEST_RESULTS`` frame."""
        if self.pending:
            write_frame(1, Kind.TEST_RESULTS, codec.encode((self.job_id, self.pending)))
        self.pending, self.size, self.sent = [], 0, time.monotonic()


def main(config_hex: str) -> None:
    """Entry point of a worker process; its configuration is a marshal blob, in hex.

    Started by :class:`~octoroute.sandbox.executor.Executor` as ``python -s -S -P -c``: no
    site, no user site, no current directory on ``sys.path``, an environment it chose.
    """
    config = marshal.loads(bytes.fromhex(config_hex))
    layers = frozenset(Layer(x) for x in config["layers"])
    limits = ChildLimits(**config["limits"])
    cgroup: dict[str, int] = config.get("cgroup") or {}
    if cgroup:
        # Into the worker's memory cgroup before anything else runs.
        os.write(cgroup.pop("worker_procs"), b"0")
    for name in WARM_MODULES:
        __import__(name)
    try:
        if layers & {Layer.USER_NS, Layer.MOUNT_NS, Layer.NET_NS, Layer.PID_NS, Layer.IPC_NS}:
            enter_namespaces()
            build_root(limits.tmp_bytes)
        isolate_imports()
        if Layer.SECCOMP in layers:
            from octoroute.sandbox import seccomp

            seccomp.build_filter(_linux.machine(), 1)  # refuse now, not in every child
    except Exception as e:  # noqa: BLE001 - reported to the trusted side, which raises
        write_frame(1, Kind.FAILED, str(e).encode())
        os._exit(1)
    if Layer.PID_NS in layers:
        pid = os.fork()
        if pid:
            os.close(0)
            os.close(1)
            _, status = os.waitpid(pid, 0)
            os._exit(os.waitstatus_to_exitcode(status) & 0xFF)
    _linux.prctl(_linux.PR_SET_PDEATHSIG, signal.SIGKILL)
    _broker_main(layers, limits, cgroup)


if __name__ == "__main__":
    main(sys.argv[1])
