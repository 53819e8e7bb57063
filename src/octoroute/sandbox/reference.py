"""Reference outputs and timings: run each problem's reference solution in the executor, cache.

Expected outputs of EvalPlus-style sets are not stored in their release files: like EvalPlus, we
obtain them by running the reference solution on each input, here inside the same sandbox that
judges candidates, and we record its CPU time per test so that time limits derive from it.
Results are cached on disk (``marshal``, written atomically) keyed by everything they depend on.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import marshal
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from octoroute.fileio.atomic import atomic_write
from octoroute.sandbox import codec
from octoroute.sandbox.executor import Executor, Limits, RawResult
from octoroute.sandbox.protocol import REPLY_CAP, Status
from octoroute.types import Outcome, Problem, TestCase, TestKind

log = logging.getLogger(__name__)

CACHE_VERSION = 2  # 2: outputs in marshal format 2, statuses of protocol.Status
# One call at a time: each test's own CPU time sets its limit.
REFERENCE_LIMITS = Limits(default_cpu=20.0, budget_floor=600.0, max_timeouts=1_000_000, pipeline=1)


def _problem_key(p: Problem) -> str:
    h = hashlib.sha256()
    # Everything a cached result depends on, including the limits it was measured under.
    h.update(f"{CACHE_VERSION}|{sys.version_info[:2]}|{REFERENCE_LIMITS}|{REPLY_CAP}".encode())
    h.update(f"{p.benchmark}|{p.id}|{p.entry_point}".encode())
    for part in (p.reference, p.harness, str(p.program_mode)):
        h.update(b"\0" + part.encode())
    for t in p.tests:
        h.update(b"\0" + repr((t.kind.value, t.input, t.transform.value)).encode())
    return h.hexdigest()


def _load_cache(path: Path) -> dict[str, list[RawResult]]:
    try:
        data = marshal.loads(path.read_bytes())
    except (OSError, EOFError, ValueError, TypeError):
        return {}
    return data if isinstance(data, dict) else {}


def _save_cache(path: Path, data: dict[str, list[RawResult]]) -> None:
    with atomic_write(path) as f:
        f.write(marshal.dumps(data))


def _apply(p: Problem, results: Sequence[RawResult]) -> Problem:
    tests: list[TestCase] = []
    failures: list[str] = []
    for i, (t, (status, detail, payload, cpu)) in enumerate(zip(p.tests, results, strict=True)):
        ok = status in (Status.VALUE, Status.STDOUT, Status.OK)
        if ok and t.kind is TestKind.CALL and not t.has_expected:
            try:
                expected = codec.decode(payload)
                # A NaN never equals itself, so a value holding one differs from its own copy
                # (compared in C): only outputs without one get the byte fast path.
                own = expected == marshal.loads(payload)  # bytes codec.decode just accepted
                digest = codec.digest(payload) if own else None
                t = dataclasses.replace(
                    t,
                    expected=expected,
                    has_expected=True,
                    expected_size=len(payload),
                    expected_digest=digest,
                )
            except codec.Undecodable as e:
                ok, status, detail = False, Status.OUTPUT_LIMIT, str(e)
        if not ok:
            failures.append(f"test {i} ({t.tier.value}): reference {status} {detail}".strip())
            continue
        elif t.kind is TestKind.STDIO and not t.has_expected:
            t = dataclasses.replace(t, expected=payload.decode(errors="replace"), has_expected=True)
        tests.append(dataclasses.replace(t, reference_cpu=cpu))
    meta = dict(p.metadata)
    if failures:
        meta["reference_failures"] = failures
    return dataclasses.replace(p, tests=tuple(tests), metadata=meta)


def prepare(
    problems: Sequence[Problem],
    executor: Executor,
    cache_dir: Path | None,
    on_done: Callable[[Problem], None] | None = None,
) -> list[Problem]:
    """Problems with expected outputs and reference CPU times filled in.

    Tests on which the reference itself fails are dropped and listed in
    ``metadata["reference_failures"]``. A problem without a reference (its tests carry their
    expected values, as the JSONL loader requires then) is returned as it is.
    """
    cache_path = None
    cache: dict[str, list[RawResult]] = {}
    if cache_dir is not None and problems:
        cache_path = cache_dir / "reference" / f"{problems[0].benchmark.replace('/', '_')}.marshal"
        cache = _load_cache(cache_path)
    keys = [_problem_key(p) for p in problems]
    missing = [
        (k, p) for k, p in zip(keys, problems, strict=True)
        if p.reference.strip() and len(cache.get(k, ())) != len(p.tests)
    ]  # fmt: skip
    executor.start()
    with ThreadPoolExecutor(max_workers=executor.size) as pool:
        futures = [
            (k, pool.submit(executor.run_raw, p, p.reference, p.tests, REFERENCE_LIMITS))
            for k, p in missing
        ]
        for n, (k, fut) in enumerate(futures, 1):
            cache[k] = fut.result()
            if cache_path is not None and n % 20 == 0:
                _save_cache(cache_path, cache)  # a killed run keeps what it measured
    if cache_path is not None and missing:
        _save_cache(cache_path, cache)
    out: list[Problem] = []
    for k, p in zip(keys, problems, strict=True):
        out.append(_apply(p, cache[k]) if p.reference.strip() else p)
        if on_done is not None:
            on_done(out[-1])
    return out


@dataclass(frozen=True, slots=True)
class Validation:
    """The outcome of validating a benchmark's reference solutions."""

    benchmark: str
    total: int
    failed: dict[str, str]

    @property
    def passed(self) -> int:
        """How many problems' references passed every test."""
        return self.total - len(self.failed)


def validate(
    problems: Sequence[Problem],
    executor: Executor,
    cache_dir: Path | None,
    on_step: Callable[[], None] | None = None,
) -> Validation:
    """Run every reference solution against all its tests and report those that fail.

    ``on_step`` is called twice per problem: once when its reference outputs are known and once
    when its reference has been judged.
    """
    step = on_step or (lambda: None)
    prepared = prepare(problems, executor, cache_dir, on_done=lambda _: step())
    failed: dict[str, str] = {}
    verdicts = executor.check_many([(p, p.reference) for p in prepared], on_done=lambda _: step())
    for p, v in zip(prepared, verdicts, strict=True):
        reasons = list(p.metadata.get("reference_failures", ()))
        for t in v.tests:
            if t.outcome is not Outcome.PASS:
                reasons.append(
                    f"test {t.index} ({t.tier.value}): {t.outcome.value} {t.detail}".strip()
                )
        if reasons:
            failed[p.id] = "; ".join(reasons[:3]) + (
                f" (+{len(reasons) - 3} more)" if len(reasons) > 3 else ""
            )
    bench = problems[0].benchmark if problems else ""
    return Validation(benchmark=bench, total=len(problems), failed=failed)
