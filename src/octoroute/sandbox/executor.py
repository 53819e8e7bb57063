"""The trusted side of the executor: a pool of sandbox workers, limits, comparison, verdicts.

>>> from octoroute.types import Problem, TestCase, TestKind, Tier
>>> p = Problem(id="add", benchmark="demo", prompt="", entry_point="add", reference="",
...             tests=(TestCase(TestKind.CALL, Tier.BASE, (1, 2), 3, has_expected=True),))
>>> with Executor(workers=1) as ex:                                   # doctest: +SKIP
...     ex.check(p, "def add(a, b): return a + b").passed
True
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import marshal
import os
import queue
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from octoroute.exceptions import ConfigError, IsolationUnavailable, SandboxError
from octoroute.sandbox import cgroup, codec
from octoroute.sandbox.compare import judge, judge_stdout
from octoroute.sandbox.flags import static_flags
from octoroute.sandbox.isolation import DEFAULT_LAYERS, TMP_INODES, ChildLimits, Layer
from octoroute.sandbox.protocol import (
    NOTE_CAP,
    REPLY_CAP,
    FrameReader,
    FrameTooLarge,
    Kind,
    ProtocolError,
    Status,
    reply_cap,
    wait_readable,
    write_frame,
)
from octoroute.types import (
    Compare,
    Feedback,
    Outcome,
    Problem,
    TestCase,
    TestKind,
    TestVerdict,
    Tier,
    Verdict,
)

log = logging.getLogger(__name__)

RawResult = tuple[str, str, bytes, float]
"""One test's raw result: ``(status, detail, payload, cpu seconds)``; see
:class:`~octoroute.sandbox.protocol.Status`."""
_TRIM = 300
_BROKER_CAPS = {
    Kind.READY: NOTE_CAP,
    Kind.FAILED: NOTE_CAP,
    Kind.TEST_RESULTS: 2 * REPLY_CAP,
    Kind.JOB_DONE: NOTE_CAP,
}
# A worker's own processes (broker, harness, launcher) beside its candidates, and what a
# candidate may hold beyond its address space (its /tmp, pipe buffers, the zygote and a spare).
_WORKER_HEADROOM = 1 << 30
_CANDIDATE_HEADROOM = 256 << 20
# The worker's entry point: no site, no user site, no current directory on sys.path (-S -s -P),
# in an environment of our choosing; the package root is put on sys.path by hand. (Not -I:
# it implies -E, which would drop PYTHONHASHSEED=0, and hash order must not vary a verdict.)
_BOOT = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from octoroute.sandbox.forkserver import main; main(sys.argv[2])"
)


@dataclass(frozen=True, slots=True)
class Limits:
    """Time and resource limits.

    A test's CPU limit is ``max(cpu_floor, cpu_factor x reference CPU time)`` (EvalPlus uses the
    same shape on wall time); ``default_cpu`` applies when no reference time is known. Loading a
    program (its module-level code) may take ``load_cpu`` seconds, apart from any test. The wall
    deadline of a test is ``wall_factor x CPU limit + wall_extra``: CPU time decides, so verdicts
    do not flip on a busy machine; wall time only catches sleepers. After ``max_timeouts``
    timeouts in one tier, the rest of that tier is not run and judged ``timeout``; the same
    when the check's whole budget is spent. Tiers run in order (visible, base, plus), so a
    correct but slow program still gets its real verdicts on the small inputs. Up to
    ``pipeline`` calls of a function's tests are sent ahead of their answers (one round trip
    per test would cost more than most tests); each answer's CPU time counts from the one
    before, so with 1 every test's CPU time is measured alone, as reference timing needs.
    """

    cpu_floor: float = 0.25
    load_cpu: float = 1.0
    cpu_factor: float = 4.0
    default_cpu: float = 2.0
    wall_factor: float = 3.0
    wall_extra: float = 1.0
    budget_floor: float = 5.0
    budget_factor: float = 3.0
    max_timeouts: int = 1
    pipeline: int = 16
    child: ChildLimits = field(default_factory=ChildLimits)

    def cpu_limit(self, test: TestCase) -> float:
        """The CPU seconds ``test`` may take."""
        if test.reference_cpu is None:
            return self.default_cpu
        return max(self.cpu_floor, self.cpu_factor * test.reference_cpu)

    def budget(self, tests: Sequence[TestCase]) -> float:
        """The CPU seconds a whole check may take."""
        known = [t.reference_cpu for t in tests if t.reference_cpu is not None]
        if len(known) < len(tests):
            return max(self.budget_floor, sum(self.cpu_limit(t) for t in tests))
        return max(self.budget_floor, self.budget_factor * sum(known))

    def candidate_memory(self) -> int:
        """Bytes the memory cgroup of a worker's candidates may hold."""
        child = self.child
        return child.cgroup_bytes or child.memory_bytes + child.tmp_bytes + _CANDIDATE_HEADROOM


def _package_root() -> str:
    return str(Path(__file__).resolve().parents[2])


class _Worker:
    """One sandbox worker process (see :mod:`octoroute.sandbox.forkserver`)."""

    def __init__(
        self,
        layers: frozenset[Layer],
        limits: Limits,
        hierarchy: cgroup.Hierarchy | None = None,
        debug: bool = False,
    ) -> None:
        self.cgroup: cgroup.WorkerCgroup | None = None
        fds: dict[str, int] = {}
        if hierarchy is not None:
            try:
                cand = limits.candidate_memory()
                self.cgroup = cgroup.WorkerCgroup.create(hierarchy, cand + _WORKER_HEADROOM, cand)
                fds = self.cgroup.open_fds()
            except OSError as e:
                if self.cgroup is not None:
                    self.cgroup.remove()
                raise IsolationUnavailable(f"cannot set up a memory cgroup: {e}") from e
        config = {
            "layers": [x.value for x in sorted(layers)],
            "limits": asdict(limits.child),
            "cgroup": fds,
        }
        env = {
            "PYTHONHASHSEED": "0",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PATH": "/usr/bin:/bin",
            "LANG": "C.UTF-8",
        }
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-s", "-S", "-P", "-c", _BOOT, _package_root(),
                 marshal.dumps(config).hex()],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=None if debug else subprocess.DEVNULL,
                env=env,
                start_new_session=True,
                close_fds=True,
                pass_fds=tuple(fds.values()),
            )  # fmt: skip
        finally:
            for fd in fds.values():
                os.close(fd)
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.out = self.proc.stdout.fileno()
        os.set_blocking(self.out, False)
        self.reader = FrameReader(self.out, _BROKER_CAPS)
        try:
            kind, payload = self._read(30.0)
        except (TimeoutError, SandboxError, FrameTooLarge, ProtocolError) as e:
            self.kill()
            raise SandboxError(f"sandbox worker did not start: {e}") from e
        if kind is Kind.FAILED:
            self.kill()
            raise IsolationUnavailable(payload.decode(errors="replace"))
        if kind is not Kind.READY:
            self.kill()
            raise SandboxError(f"sandbox worker sent {kind.name} instead of READY")
        self.layers = tuple(marshal.loads(payload))

    def _read(self, timeout: float) -> tuple[Kind, bytes]:
        deadline = time.monotonic() + timeout
        while True:
            frame = self.reader.pop()
            if frame is None and not self.reader.eof:
                self.reader.fill()
                frame = self.reader.pop()
            if frame is not None:
                return frame
            if self.reader.eof:
                raise SandboxError(f"sandbox worker exited (status {self.proc.poll()})")
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            wait_readable([self.out], min(left, 1.0))

    def run(
        self, job: dict[str, Any], backstop: float, on_result: Callable[[int, RawResult], None]
    ) -> None:
        """Send a job and hand each test's result to ``on_result`` as it arrives, in order;
        at most ``backstop`` seconds in all."""
        assert self.proc.stdin is not None
        write_frame(self.proc.stdin.fileno(), Kind.JOB, marshal.dumps(job))
        deadline = time.monotonic() + backstop
        expected = 0
        while True:
            kind, payload = self._read(max(0.0, deadline - time.monotonic()))
            if kind is Kind.JOB_DONE:
                total = len(job["tests"]) * len(job.get("programs") or (None,))
                if codec.decode(payload) != job["id"] or expected != total:
                    raise SandboxError("sandbox worker ended a job early or another job")
                return
            if kind is not Kind.TEST_RESULTS:
                raise SandboxError(f"sandbox worker sent {kind.name} during a job")
            job_id, batch = codec.decode(payload)
            if job_id != job["id"] or not isinstance(batch, list):
                raise SandboxError("sandbox worker sent results of another job")
            for item in batch:
                if not _well_formed(item, expected):
                    raise SandboxError("sandbox worker sent a malformed result")
                expected += 1
                index, status, detail, body, cpu = item
                on_result(index, (status, detail, body, float(cpu)))

    def kill(self) -> None:
        """Kill the worker's whole process group (its namespace dies with it)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(Exception):
            self.proc.wait(5)
        for f in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(Exception):
                f.close()  # type: ignore[union-attr]
        if self.cgroup is not None:
            self.cgroup.remove()


def _well_formed(item: Any, index: int) -> bool:
    """Whether ``item`` is the result of test ``index`` in the shape the broker sends."""
    if not isinstance(item, tuple) or len(item) != 5 or item[0] != index:
        return False
    _, status, detail, body, cpu = item
    return (
        isinstance(status, str)
        and status in _STATUSES
        and isinstance(detail, str)
        and isinstance(body, bytes)
        and type(cpu) in (int, float)
    )


_STATUSES = frozenset(s.value for s in Status)


class Executor:
    """Runs programs against a problem's tests in isolated, warm, parallel workers.

    ``layers`` are the isolation layers required; if the machine cannot provide one,
    :class:`~octoroute.exceptions.IsolationUnavailable` is raised on :meth:`start`, never a
    silent fallback. The default (``None``) requires every layer but the memory cgroup, and
    adds the memory cgroup where the machine allows one (as root, or in a delegated cgroup v2
    subtree); :attr:`memory_bound` then says which memory bounds hold, and every verdict lists
    the layers that were in force. Use as a context manager, or call :meth:`start` and
    :meth:`close`.
    """

    def __init__(
        self,
        workers: int | None = None,
        layers: Iterable[Layer | str] | None = None,
        limits: Limits | None = None,
    ) -> None:
        self.workers = workers
        self.layers = layers
        self.limits = limits

    def start(self) -> Executor:
        """Start the workers (idempotent)."""
        if getattr(self, "_pool", None) is not None:
            return self
        self._limits = self.limits or Limits()
        self._hierarchy, self.memory_bound = self._memory_layer()
        self._layers = frozenset(Layer(x) for x in self.layers or DEFAULT_LAYERS)
        if self._hierarchy is not None:
            self._layers |= {Layer.MEMORY_CGROUP}
        self._n = self.workers or max(1, os.cpu_count() or 1)
        self._ids = itertools.count()
        self._pool: queue.Queue[_Worker | None] = queue.Queue()
        first = self._spawn()
        self.isolation: tuple[str, ...] = first.layers
        self._pool.put(first)
        for _ in range(self._n - 1):
            self._pool.put(self._spawn())
        return self

    def _memory_layer(self) -> tuple[cgroup.Hierarchy | None, str]:
        """The cgroup hierarchy to use (None without) and what bounds a candidate's memory."""
        child = self._limits.child
        wanted = self.layers is None or Layer.MEMORY_CGROUP in {Layer(x) for x in self.layers}
        hierarchy, reason = cgroup.probe() if wanted else (None, "not requested")
        if hierarchy is None and self.layers is not None and wanted:
            raise IsolationUnavailable(f"no memory cgroup: {reason}")
        rest = (
            f"address space {child.memory_bytes >> 20} MiB per process; /tmp "
            f"{child.tmp_bytes >> 20} MiB and {TMP_INODES} files per candidate; memfd, System V "
            f"and POSIX shared memory refused; {child.open_files} open files"
        )
        if hierarchy is None:
            if self.layers is None:
                log.warning("sandbox memory bound without a cgroup (%s): %s", reason, rest)
            return None, f"no memory cgroup ({reason}): {rest}"
        cap = self._limits.candidate_memory() >> 20
        return hierarchy, (
            f"memory cgroup of {cap} MiB per worker's candidates (shared memory, tmpfs and pipe "
            f"buffers counted) under {hierarchy.path}; {rest}"
        )

    def _spawn(self) -> _Worker:
        return _Worker(self._layers, self._limits, self._hierarchy)

    @property
    def size(self) -> int:
        """How many workers run checks in parallel."""
        return (
            self._n
            if getattr(self, "_pool", None) is not None
            else (self.workers or os.cpu_count() or 1)
        )

    def close(self) -> None:
        """Stop every worker."""
        pool = getattr(self, "_pool", None)
        while pool is not None and not pool.empty():
            worker = pool.get()
            if worker is not None:
                worker.kill()
        self._pool = None  # type: ignore[assignment]

    def __enter__(self) -> Executor:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- running ----------------------------------------------------------------------------------
    def run_raw(
        self,
        problem: Problem,
        code: str,
        tests: Sequence[TestCase],
        limits: Limits | None = None,
    ) -> list[RawResult]:
        """Run ``code`` on ``tests`` and return the raw per-test results (no comparison).

        ``limits`` overrides the executor's time limits for this run (not its child limits).
        Payloads are undecoded (:func:`octoroute.sandbox.codec.decode` checks them).
        """
        results: list[RawResult] = []
        self._run(problem, code, tests, limits, lambda _, r: results.append(r))
        return results

    def _run(
        self,
        problem: Problem,
        code: str,
        tests: Sequence[TestCase],
        limits: Limits | None,
        on_result: Callable[[int, RawResult], None],
        digests: bool = False,
    ) -> None:
        """Run ``code`` on ``tests``, handing each result to ``on_result`` in order.

        Every test gets a result: when the worker fails (killed by the backstop, or its
        broker broken by the program), the tests it did not report are judged from that
        failure and the worker is replaced.
        """
        self._run_programs(problem, [code], tests, limits, lambda _, i, r: on_result(i, r), digests)

    def _run_programs(
        self,
        problem: Problem,
        programs: Sequence[str],
        tests: Sequence[TestCase],
        limits: Limits | None,
        on_result: Callable[[int, int, RawResult], None],
        digests: bool = False,
    ) -> None:
        """Run each of ``programs`` on ``tests`` in one job of one worker; results reach
        ``on_result(program, test, raw)`` in order. A worker failure judges the rest of the
        program it happened in, as :meth:`_run` does; the programs after it run again on a
        fresh worker, so one hostile program costs the others nothing.

        With ``digests`` (checks, not raw runs) the job carries each call test's expected
        digest, and an output with the reference's own bytes comes back as
        :attr:`~octoroute.sandbox.protocol.Status.SAME`, without its bytes."""
        self.start()
        if not programs or not tests:
            return
        limits = limits or self._limits
        budget = limits.budget(tests)
        # Generous, so that a busy machine never ends a check early; it bounds repeated deaths.
        budget_wall = budget * limits.wall_factor + limits.wall_extra * 4
        # One transform per problem (EvalPlus keys them by task), so the job carries one.
        transform = {t.transform.value for t in tests} or {"none"}
        caps = [_cap(t) for t in tests]
        job = {
            "id": next(self._ids),
            "entry": problem.entry_point,
            "program_mode": problem.program_mode,
            "harness": problem.harness,
            "transform": sorted(transform)[0],
            "tests": [
                (t.kind.value, t.input, limits.cpu_limit(t), t.tier.value, cap, _digest(t, digests))
                for t, cap in zip(tests, caps, strict=True)
            ],
            "budget_cpu": budget,
            "budget_wall": budget_wall,
            "wall_factor": limits.wall_factor,
            "wall_extra": limits.wall_extra,
            "max_timeouts": limits.max_timeouts,
            "pipeline": limits.pipeline,
            "load_cpu": limits.load_cpu,
        }
        if len(programs) == 1:
            job["program"] = programs[0]
        else:
            job["programs"] = list(programs)
        # Time to send the job and every result on top of running it (HumanEval+/15 moves
        # 147 MB of output), before the worker is declared hung.
        backstop = budget_wall + limits.default_cpu * limits.wall_factor + 30.0
        backstop = (backstop + sum(caps) / (16 << 20)) * len(programs)
        n_tests = len(tests)
        done = 0

        def take(index: int, raw: RawResult) -> None:
            nonlocal done
            done = index + 1
            program, test = divmod(index, n_tests)
            on_result(program, test, raw)

        worker = self._take()
        failure: RawResult | None = None
        try:
            worker.run(job, backstop, take)
        except TimeoutError:
            failure = (Status.TIMEOUT, "executor backstop: the worker did not finish", b"", 0.0)
        except (
            SandboxError,
            OSError,
            EOFError,
            codec.Undecodable,
            FrameTooLarge,
            ProtocolError,
        ) as e:
            failure = (Status.VIOLATION, _trim(f"sandbox worker failed: {e}"), b"", 0.0)
        finally:
            if failure is not None:
                worker.kill()
            self._pool.put(None if failure is not None else worker)
        if failure is None:
            return
        program, first = divmod(done, n_tests)
        log.warning("sandbox worker replaced after %s on %s", failure[1], problem.id)
        if first == 0 and program > 0:
            # Nothing of this program was reported: the failure may be its predecessor's
            # doing, so it runs again first in line (where a second failure is its own).
            after = program
        else:
            for index in range(first, n_tests):
                on_result(program, index, failure)
            after = program + 1
        rest = programs[after:]
        if rest:
            self._run_programs(
                problem, rest, tests, limits, lambda q, i, r: on_result(after + q, i, r), digests
            )

    def _take(self) -> _Worker:
        """A worker from the pool, started anew if the last one had to be killed."""
        worker = self._pool.get()
        if worker is not None:
            return worker
        try:
            return self._spawn()
        except BaseException:
            self._pool.put(None)  # keep the pool's size; the next check tries again
            raise

    def check(self, problem: Problem, code: str, tiers: Iterable[Tier] | None = None) -> Verdict:
        """Judge ``code`` on ``problem``'s tests (optionally only some tiers).

        Whatever the program does, this returns a verdict; it raises only when the executor
        itself cannot run (:class:`~octoroute.exceptions.SandboxError`), or when a call or
        stdin/stdout test has no expected output (the problem was not prepared: ConfigError).
        """
        indexed = _judged_tests(problem, tiers)
        judged = _Judgement(problem, indexed)
        self._run(problem, code, [t for _, t in indexed], None, judged.add, digests=True)
        return judged.verdict(code, self.isolation)

    def run_batch(
        self,
        problem: Problem,
        programs: Sequence[str],
        tests: Sequence[TestCase],
        limits: Limits | None = None,
    ) -> list[list[RawResult]]:
        """Run every program of ``programs`` on the same ``tests``: the raw results (outputs
        undecoded, no comparison) of each, in order, as :meth:`run_raw` gives them for one.

        What consensus selection needs: many candidates of one problem on the same inputs
        (visible ones, or inputs made for the purpose, without expected outputs). The tests
        travel to a worker once per share of the programs, not once per program, and the
        programs are spread over the workers.
        """
        results: list[list[RawResult]] = [[] for _ in programs]

        def keep(program: int, _test: int, raw: RawResult) -> None:
            results[program].append(raw)

        self._run_shares(problem, programs, tests, limits, keep)
        return results

    def check_batch(
        self, problem: Problem, programs: Sequence[str], tiers: Iterable[Tier] | None = None
    ) -> list[Verdict]:
        """Judge every program of ``programs`` on ``problem``: the verdicts :meth:`check`
        gives one by one, at the cost of sending the problem's tests once per worker."""
        indexed = _judged_tests(problem, tiers)
        judged = [_Judgement(problem, indexed) for _ in programs]

        def keep(program: int, test: int, raw: RawResult) -> None:
            judged[program].add(test, raw)  # judged as it arrives, beside the workers' runs

        self._run_shares(problem, programs, [t for _, t in indexed], None, keep, digests=True)
        return [j.verdict(code, self.isolation) for j, code in zip(judged, programs, strict=True)]

    def _run_shares(
        self,
        problem: Problem,
        programs: Sequence[str],
        tests: Sequence[TestCase],
        limits: Limits | None,
        on_result: Callable[[int, int, RawResult], None],
        digests: bool = False,
    ) -> None:
        """Split ``programs`` into contiguous shares, two per worker (so one slow program
        does not leave a worker idle for long), and run the shares in parallel."""
        self.start()
        if not programs:
            return
        size = max(1, -(-len(programs) // (2 * self._n)))
        shares = [range(k, min(k + size, len(programs))) for k in range(0, len(programs), size)]

        def run(share: range) -> None:
            # A program's results all come from its share's thread: no lock needed.
            def relay(q: int, i: int, raw: RawResult) -> None:
                on_result(share.start + q, i, raw)

            self._run_programs(problem, [programs[k] for k in share], tests, limits, relay, digests)

        with ThreadPoolExecutor(max_workers=self._n) as pool:
            for future in [pool.submit(run, share) for share in shares]:
                future.result()

    def check_many(
        self,
        items: Iterable[tuple[Problem, str]],
        on_done: Callable[[Verdict], None] | None = None,
        tiers: Iterable[Tier] | None = None,
    ) -> list[Verdict]:
        """Judge many (problem, code) pairs in parallel (on ``tiers`` only, if given);
        verdicts in input order.

        The checks start longest first (by their references' CPU time), so that no long one
        is left running alone at the end while the other workers idle; ``on_done`` sees each
        verdict as it completes.
        """
        self.start()
        work = list(items)
        order = sorted(range(len(work)), key=lambda k: -_expected_cpu(work[k][0]))
        out: list[Verdict | None] = [None] * len(work)
        with ThreadPoolExecutor(max_workers=self._n) as pool:
            wanted = None if tiers is None else tuple(tiers)
            futures = {pool.submit(self.check, *work[k], wanted): k for k in order}
            for f in as_completed(futures):
                v = f.result()
                out[futures[f]] = v
                if on_done is not None:
                    on_done(v)
        return [v for v in out if v is not None]


_STATUS = {
    Status.TIMEOUT: Outcome.TIMEOUT,
    Status.BUDGET: Outcome.TIMEOUT,
    Status.OUTPUT_LIMIT: Outcome.OUTPUT_LIMIT,
    Status.MEMORY_LIMIT: Outcome.MEMORY_LIMIT,
    Status.CRASH: Outcome.CRASH,
    Status.EARLY_EXIT: Outcome.EARLY_EXIT,
    Status.VIOLATION: Outcome.SANDBOX_VIOLATION,
    Status.NO_ENTRY: Outcome.MISSING_ENTRY_POINT,
    Status.BAD_TYPE: Outcome.BAD_OUTPUT_TYPE,
    Status.ASSERT: Outcome.WRONG_ANSWER,
    Status.TEST_ERROR: Outcome.WRONG_ANSWER,
    Status.HARNESS: Outcome.RUNTIME_ERROR,
}
# The observations that can pass a test, each for one kind of test only.
_PASSING = {
    Status.VALUE: TestKind.CALL,
    Status.SAME: TestKind.CALL,
    Status.STDOUT: TestKind.STDIO,
    Status.OK: TestKind.ASSERT,
}


def _digest(test: TestCase, wanted: bool) -> bytes | None:
    """The digest the broker may match a call test's output against (None: send it back).

    Equal bytes mean the reference's value, of the same types, which every comparison but a
    polynomial root's accepts (a root is judged by evaluating the polynomial at it).
    """
    if not wanted or test.kind is not TestKind.CALL or test.compare is Compare.POLY_ROOT:
        return None
    return test.expected_digest


def _judged_tests(problem: Problem, tiers: Iterable[Tier] | None) -> list[tuple[int, TestCase]]:
    """The tests a check judges (of ``tiers``, or all), with their indices in the problem.

    Raises ConfigError for a call or stdin/stdout test without an expected output.
    """
    wanted = set(tiers) if tiers is not None else None
    indexed = [(i, t) for i, t in enumerate(problem.tests) if wanted is None or t.tier in wanted]
    unprepared = [i for i, t in indexed if t.kind is not TestKind.ASSERT and not t.has_expected]
    if unprepared:
        # Without an expected output any value would pass: only references run that way.
        raise ConfigError(
            f"{problem.id}: test {unprepared[0]} has no expected output; judge prepared "
            "problems (octoroute.sandbox.prepare), or use run_raw"
        )
    return indexed


def _expected_cpu(problem: Problem) -> float:
    """The CPU seconds a check of ``problem`` is likely to take: its reference's."""
    return sum(t.reference_cpu or 0.0 for t in problem.tests)


def _cap(test: TestCase) -> int:
    """Bytes a reply to ``test`` may take (see :func:`~octoroute.sandbox.protocol.reply_cap`)."""
    if not test.has_expected or test.kind is not TestKind.CALL:
        return reply_cap(None)
    size = test.expected_size
    if size is None:  # expected outputs given in a problem file: measured once here
        try:
            size = len(codec.encode(test.expected))
        except ValueError:
            size = None
    return reply_cap(size)


def _trim(text: str, limit: int = _TRIM) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def decode_output(payload: bytes) -> Any:
    """Decode a program's output (checked plain data from the sandbox)."""
    return codec.decode(payload)


class _Judgement:
    """One program's verdict, built test by test as raw results arrive."""

    def __init__(self, problem: Problem, indexed: Sequence[tuple[int, TestCase]]) -> None:
        self.problem = problem
        self.indexed = indexed
        self.tests: list[TestVerdict] = []
        self.feedback: Feedback | None = None
        self.start = time.monotonic()

    def add(self, position: int, raw: RawResult) -> None:
        """Judge the result of the ``position``-th test of ``indexed``."""
        index, test = self.indexed[position]
        v, fb = _verdict(self.problem, index, test, raw)
        self.tests.append(v)
        if self.feedback is None and fb is not None and test.visible:
            self.feedback = fb

    def verdict(self, code: str, isolation: tuple[str, ...]) -> Verdict:
        """The verdict once every test has its result."""
        return Verdict(
            problem_id=self.problem.id,
            tests=tuple(self.tests),
            isolation=isolation,
            flags=static_flags(code),
            feedback=self.feedback,
            wall_time=time.monotonic() - self.start,
        )


@dataclass
class _Judged:
    outcome: Outcome
    detail: str = ""
    actual: str = ""
    traceback: str = ""


def _judge_raw(
    problem: Problem, test: TestCase, status: Status, detail: str, payload: bytes
) -> _Judged:
    """What one raw result means for ``test``. Never raises: whatever a payload holds, it is
    decoded with bounds and judged, and a payload that cannot be is a verdict too."""
    passing_kind = _PASSING.get(status)
    if passing_kind is not None and passing_kind is not test.kind:
        return _Judged(
            Outcome.SANDBOX_VIOLATION, f"{status.value} reported for a {test.kind.value} test"
        )
    if status is Status.SAME:
        if _digest(test, True) is None:
            return _Judged(Outcome.SANDBOX_VIOLATION, "a match reported for a test without one")
        return _Judged(Outcome.PASS)  # the broker found the reference's own bytes
    if status is Status.VALUE:
        # (Output with the reference's own bytes came back as SAME: the broker matched it.)
        try:
            value = codec.decode(payload)
        except codec.OutOfBounds as e:
            return _Judged(Outcome.OUTPUT_LIMIT, _trim(f"output too large to judge: {e}"))
        except codec.Undecodable as e:
            return _Judged(Outcome.SANDBOX_VIOLATION, _trim(f"undecodable output: {e}"))
        actual = codec.bounded_repr(value, _TRIM)
        if not test.has_expected:
            return _Judged(Outcome.PASS, actual=actual)  # nothing to compare with (references)
        try:
            outcome = judge(test.expected, value, test.atol, test.compare, test.input)
        except Exception as e:  # noqa: BLE001 - a comparison that breaks must not stop a check
            return _Judged(Outcome.WRONG_ANSWER, _trim(f"comparison failed: {e!r}"), actual)
        return _Judged(outcome, actual=actual)
    if status is Status.STDOUT:
        text = payload.decode(errors="replace")
        if not test.has_expected:
            return _Judged(Outcome.PASS, actual=_trim(text))
        return _Judged(judge_stdout(str(test.expected), text), actual=_trim(text))
    if status is Status.OK:
        return _Judged(Outcome.PASS)
    if status is Status.EXCEPTION:
        try:
            name, msg, tb = codec.decode(payload)
            if not all(isinstance(x, str) for x in (name, msg, tb)):
                raise TypeError("not three strings")
        except (codec.Undecodable, TypeError, ValueError):
            return _Judged(Outcome.SANDBOX_VIOLATION, "undecodable exception report")
        name = _trim(name, 100)
        outcome = Outcome.MEMORY_LIMIT if name == "MemoryError" else Outcome.RUNTIME_ERROR
        return _Judged(outcome, name, _trim(f"{name}: {msg}"), _trim(tb))
    if status is Status.SYNTAX:
        try:
            msg, line = codec.decode(payload)
            if not isinstance(msg, str) or type(line) is not int:
                raise TypeError("not a message and a line")
        except (codec.Undecodable, TypeError, ValueError):
            msg, line = "SyntaxError", 0
        text = _trim(f"{msg} (line {line})")
        return _Judged(Outcome.SYNTAX_ERROR, text, text)
    if status is Status.EARLY_EXIT and problem.program_mode:
        return _Judged(Outcome.RUNTIME_ERROR, _trim(f"SystemExit {detail}"))
    return _Judged(_STATUS.get(status, Outcome.CRASH), _trim(detail), _trim(detail))


def _verdict(
    problem: Problem, index: int, test: TestCase, result: RawResult
) -> tuple[TestVerdict, Feedback | None]:
    status_text, detail, payload, cpu = result
    try:
        status = Status(status_text)
    except ValueError:
        judged = _Judged(Outcome.SANDBOX_VIOLATION, "unknown status")
    else:
        judged = _judge_raw(problem, test, status, detail, payload)
    verdict = TestVerdict(
        index=index, tier=test.tier, outcome=judged.outcome, detail=judged.detail, cpu_time=cpu
    )
    if judged.outcome is Outcome.PASS or not test.visible:
        return verdict, None
    return verdict, Feedback(
        test_index=index,
        outcome=judged.outcome,
        input=codec.bounded_repr(test.input, _TRIM),
        expected=codec.bounded_repr(test.expected, _TRIM) if test.has_expected else "",
        actual=judged.actual,
        detail=judged.detail,
        traceback=judged.traceback,
    )
