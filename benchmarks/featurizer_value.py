"""What each featurizer buys a router: its cost per problem and its cross-fitted routed pass@1.

Two measurements on HumanEval's 164 prompts:

1. **Cost.** Featurization time per problem for ``lexical`` and ``minilm``: cold (a new
   featurizer, the model load included), from a :class:`~octoroute.features.FeatureCache` on
   disk (a new cache and featurizer reading the ``.npz`` file) and from memory (the same cache
   again). TF-IDF, fitted on the 164 prompts, for reference.
2. **Value.** On a published outcome matrix (default: EvalPlus HumanEval+, the 17 models of at
   most 8B parameters of :data:`DEFAULT_MODELS`), each held-out problem is routed to the arm of
   highest predicted pass probability, by models fitted on the other folds only (5-fold
   cross-fitting, averaged over ``--seeds`` fold assignments). Baselines: the best single arm
   chosen on the training folds (lower than the best arm in hindsight: the top arms are close,
   and the one that wins the training folds tends to lose the held-out one), the best arm in
   hindsight (chosen on all problems, so optimistic), a uniformly random arm, and the oracle
   (best arm per problem). Intervals are paired bootstraps over problems.

Feature sets: ``tfidf`` (word 1-2-grams, sublinear tf, fitted inside each training fold),
``lexical`` (:class:`~octoroute.features.LexicalFeaturizer`), ``minilm``
(:class:`~octoroute.features.MiniLMFeaturizer`, when the ``embed`` extra and its model package
are installed) and ``lexical+minilm`` (the two concatenated). Learners, each with one
hyperparameter chosen by an inner 3-fold cross-validation of the routed pass@1 *inside* the
training folds (so the reported numbers are honest; the per-value rows printed after the main
table are fixed settings, and picking the best of them after the fact is optimistic):

* ``logreg``: one L2 logistic regression per arm (the intercept unpenalised, so a small ``C``
  shrinks an arm towards its mean pass rate), ``C`` in :data:`C_GRID`;
* ``ridge``: one multi-output ridge regression of the 0/1 outcomes of all arms, ``alpha`` in
  :data:`ALPHA_GRID`. Linear in the targets, so a problem's difficulty (what all arms share) is
  predicted identically for every arm and cancels in the choice;
* ``knn``: cosine k-nearest training problems, each arm's pass rate among them with a prior of
  one pseudo-problem at the arm's mean, ``k`` in :data:`K_GRID`;
* ``mean``: the three learners' (nested) predictions averaged.

Run from the project root (one BLAS thread: on a busy machine more threads only contend)::

    OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/featurizer_value.py
    OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/featurizer_value.py --seeds 2 --no-minilm
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer  # type: ignore[import-untyped]
from sklearn.linear_model import LogisticRegression, Ridge  # type: ignore[import-untyped]

from octoroute.evaluation.metrics import paired_bootstrap_ci
from octoroute.evaluation.outcomes import from_eval_arena
from octoroute.evaluation.problems import align_problems
from octoroute.exceptions import MissingDependencyError
from octoroute.features import FeatureCache, LexicalFeaturizer, MiniLMFeaturizer
from octoroute.tasks import load_benchmark
from octoroute.types import Problem

Array = np.ndarray[Any, Any]

DEFAULT_OUTCOMES = Path(__file__).resolve().parents[2] / "shared/data/outcomes/humaneval+.jsonl.gz"
DEFAULT_MODELS = (
    "codegemma-7b",
    "codegemma-7b-it",
    "deepseek-coder-1.3b-instruct",
    "deepseek-coder-6.7b-instruct",
    "deepseek-coder-7b-instruct-v1.5",
    "gemma-1.1-7b-it",
    "mistral-7b-codealpaca",
    "mistralai--Mistral-7B-Instruct-v0.2",
    "opencodeinterpreter-ds-6.7b",
    "speechless-coder-ds-6.7b",
    "speechless-coding-7b-16k-tora",
    "speechless-mistral-7b",
    "speechless-starcoder2-7b",
    "wizardcoder-7b",
    "microsoft--Phi-3-mini-4k-instruct",
    "openchat",
    "phi-2",
)
"""The HumanEval+ models of at most 8B parameters."""

C_GRID = (0.01, 0.1, 1.0, 10.0, 100.0)
ALPHA_GRID = (100.0, 10.0, 1.0, 0.1)
K_GRID = (40, 20, 10, 5)
INNER_FOLDS = 3
# Grids run from the most to the least regularised: a tie in the inner CV keeps the first.


# -- features ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class FeatureSet:
    """Rows for training and test indices; ``fitted`` sets are refitted on the training rows."""

    name: str
    matrix: Array | None = None
    texts: tuple[str, ...] = ()

    def rows(self, train: Array, test: Array) -> tuple[Array, Array]:
        """Training and test matrices, nothing fitted on the test rows."""
        if self.matrix is not None:
            return self.matrix[train], self.matrix[test]
        vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
        x_train = vec.fit_transform([self.texts[i] for i in train]).toarray()
        x_test = vec.transform([self.texts[i] for i in test]).toarray()
        return x_train, x_test


def time_featurizers(problems: Sequence[Problem], use_minilm: bool) -> dict[str, Array]:
    """Print the cost table; return each featurizer's matrix (computed cold)."""
    print(f"\nFeaturization cost on {len(problems)} prompts (ms per problem)")
    print(f"{'featurizer':<12}{'dim':>6}{'cold':>10}{'disk cache':>12}{'memory':>10}")
    makers: dict[str, Callable[[], Any]] = {"lexical": LexicalFeaturizer}
    if use_minilm:
        makers["minilm"] = MiniLMFeaturizer
    out: dict[str, Array] = {}
    per = 1000.0 / len(problems)
    for name, make in makers.items():
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            mat = FeatureCache(make(), cache_dir=tmp).transform(problems)  # cold, then saved
            t1 = time.perf_counter()
            cache = FeatureCache(make(), cache_dir=tmp)
            again = cache.transform(problems)  # a new process would do this: read the file
            t2 = time.perf_counter()
            cache.transform(problems)
            t3 = time.perf_counter()
        if not np.array_equal(mat, again) or cache.misses:
            print(f"WARNING: {name}: the disk cache did not return the computed vectors")
        out[name] = mat
        print(
            f"{name:<12}{mat.shape[1]:>6}{(t1 - t0) * per:>10.2f}"
            f"{(t2 - t1) * per:>12.3f}{(t3 - t2) * per:>10.3f}"
        )
    t0 = time.perf_counter()
    tfidf = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True).fit_transform(
        [p.prompt for p in problems]
    )
    t1 = time.perf_counter()
    print(f"{'tfidf':<12}{tfidf.shape[1]:>6}{(t1 - t0) * per:>10.2f}{'-':>12}{'-':>10}")
    print("(cold includes loading the model; the disk cache reads the .npz of a new FeatureCache)")
    return out


# -- learners ---------------------------------------------------------------------------------

Learner = Callable[[Array, Array, Array, float], Array]
"""``(x_train, y_train, x_test, hyperparameter)`` to predicted pass probabilities (n_test, K)."""


def logreg(x_train: Array, y_train: Array, x_test: Array, c: float) -> Array:
    """One logistic regression per arm; an arm with one label in training is that constant."""
    out = np.empty((x_test.shape[0], y_train.shape[1]))
    for j in range(y_train.shape[1]):
        y = y_train[:, j]
        if y.min() == y.max():
            out[:, j] = y[0]
            continue
        model = LogisticRegression(C=c, max_iter=2000).fit(x_train, y.astype(int))
        out[:, j] = model.predict_proba(x_test)[:, 1]
    return out


def ridge(x_train: Array, y_train: Array, x_test: Array, alpha: float) -> Array:
    """One multi-output ridge regression of the outcomes (a linear probability model)."""
    pred: Array = Ridge(alpha=alpha).fit(x_train, y_train).predict(x_test)
    return pred


def knn(x_train: Array, y_train: Array, x_test: Array, k: float) -> Array:
    """Similarity-weighted pass rates of the ``k`` most cosine-similar training problems."""
    a = x_train / np.maximum(np.linalg.norm(x_train, axis=1, keepdims=True), 1e-12)
    b = x_test / np.maximum(np.linalg.norm(x_test, axis=1, keepdims=True), 1e-12)
    sim = np.maximum(b @ a.T, 0.0)
    kk = min(int(k), len(a))
    idx = np.argsort(-sim, axis=1, kind="stable")[:, :kk]
    w = np.take_along_axis(sim, idx, axis=1)
    prior = y_train.mean(axis=0)
    num = np.einsum("nk,nkj->nj", w, y_train[idx]) + prior
    out: Array = num / (w.sum(axis=1, keepdims=True) + 1.0)
    return out


LEARNERS: dict[str, tuple[Learner, tuple[float, ...], str]] = {
    "logreg": (logreg, C_GRID, "C"),
    "ridge": (ridge, ALPHA_GRID, "alpha"),
    "knn": (knn, tuple(float(k) for k in K_GRID), "k"),
}


# -- cross-fitting ----------------------------------------------------------------------------


def fold_ids(n: int, folds: int, seed: int) -> Array:
    """A random balanced assignment of ``n`` rows to ``folds`` folds."""
    out = np.empty(n, dtype=np.intp)
    out[np.random.default_rng(seed).permutation(n)] = np.arange(n) % folds
    return out


def routed(y: Array, scores: Array, prior: Array) -> Array:
    """Per-problem pass of the routed arm (``prior``: one row, or one row per problem)."""
    prior = np.broadcast_to(prior, scores.shape)
    best = scores.max(axis=1, keepdims=True)
    tied = np.isclose(scores, best, rtol=0.0, atol=1e-12)
    choice = np.argmax(np.where(tied, prior, -np.inf), axis=1)
    return np.asarray(y[np.arange(len(y)), choice])


@dataclass(frozen=True)
class Run:
    """One learner on one feature set and one fold assignment, every problem held out once."""

    scores: Array  # (n, K): predictions of the models with the nested hyperparameter
    prior: Array  # (n, K): each problem's training-fold arm means (to break ties)
    fixed: dict[float, Array]  # per-problem routed pass for each fixed hyperparameter
    chosen: list[float]  # the nested hyperparameter of each fold

    def passes(self, y: Array) -> Array:
        """Per-problem pass of the nested router."""
        return routed(y, self.scores, self.prior)


def cross_fit(features: FeatureSet, learner: str, y: Array, folds: int, seed: int) -> Run:
    """Cross-fitted predictions, the hyperparameter chosen inside each training fold."""
    fit, grid, _ = LEARNERS[learner]
    fold = fold_ids(len(y), folds, seed)
    scores, priors = np.empty(y.shape), np.empty(y.shape)
    fixed = {v: np.empty(len(y)) for v in grid}
    chosen: list[float] = []
    for f in range(folds):
        train, test = np.flatnonzero(fold != f), np.flatnonzero(fold == f)
        x_train, x_test = features.rows(train, test)
        prior = y[train].mean(axis=0)
        outer = {v: fit(x_train, y[train], x_test, v) for v in grid}
        for v in grid:
            fixed[v][test] = routed(y[test], outer[v], prior)
        # Inner cross-validation on the training rows only picks the hyperparameter.
        inner_fold = fold_ids(len(train), INNER_FOLDS, seed * 1000 + f)
        inner_score = dict.fromkeys(grid, 0.0)
        for g in range(INNER_FOLDS):
            itr, ite = train[inner_fold != g], train[inner_fold == g]
            xi_train, xi_test = features.rows(itr, ite)
            iprior = y[itr].mean(axis=0)
            for v in grid:
                pred = fit(xi_train, y[itr], xi_test, v)
                inner_score[v] += float(routed(y[ite], pred, iprior).sum())
        best = max(grid, key=lambda v: inner_score[v])  # ties: the first, most regularised
        chosen.append(best)
        scores[test], priors[test] = outer[best], prior
    return Run(scores, priors, fixed, chosen)


def best_arm(y: Array, folds: int, seed: int) -> Array:
    """Per-problem pass of the arm with the best training-fold mean."""
    fold = fold_ids(len(y), folds, seed)
    out = np.empty(len(y))
    for f in range(folds):
        train, test = fold != f, fold == f
        out[test] = y[test, int(np.argmax(y[train].mean(axis=0)))]
    return out


# -- main -------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> None:
    """Print the cost table, then the routed pass@1 of each feature set and learner."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--outcomes", type=Path, default=DEFAULT_OUTCOMES, help="eval-arena file")
    parser.add_argument("--problems", default="humaneval", help="benchmark with the prompts")
    parser.add_argument("--models", nargs="+", default=list(DEFAULT_MODELS), help="the arms")
    parser.add_argument("--folds", type=int, default=5, help="outer cross-fitting folds")
    parser.add_argument("--seeds", type=int, default=5, help="fold assignments averaged")
    parser.add_argument("--no-minilm", action="store_true", help="skip the MiniLM featurizer")
    parser.add_argument("--learners", nargs="+", default=list(LEARNERS), choices=list(LEARNERS))
    args = parser.parse_args(argv)
    if args.folds < 2 or args.seeds < 1:
        parser.error("--folds must be at least 2 and --seeds at least 1")

    matrix, _ = from_eval_arena(args.outcomes).select(models=list(args.models))
    problems = align_problems(matrix.problem_ids, load_benchmark(args.problems))
    y = matrix.rewards
    print(
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}; "
        f"{len(problems)} problems x {len(matrix.arms)} arms from {args.outcomes.name}; "
        f"{args.folds}-fold cross-fitting x {args.seeds} seeds"
    )
    use_minilm = not args.no_minilm
    if use_minilm:
        try:
            MiniLMFeaturizer().transform(problems[:1])
        except MissingDependencyError as exc:
            print(f"minilm: skipped ({exc})")
            use_minilm = False
    mats = time_featurizers(problems, use_minilm)
    sets = [FeatureSet("tfidf", texts=tuple(p.prompt for p in problems))]
    sets += [FeatureSet(name, matrix=m) for name, m in mats.items()]
    if "minilm" in mats:
        sets.append(FeatureSet("lexical+minilm", np.hstack([mats["lexical"], mats["minilm"]])))

    seeds = range(args.seeds)
    base = np.mean([best_arm(y, args.folds, s) for s in seeds], axis=0)
    base_sd = float(np.std([best_arm(y, args.folds, s).mean() for s in seeds]))
    print(f"\nRouted pass@1 ({args.folds}-fold cross-fitted, mean and sd over {args.seeds} seeds)")
    head = f"{'features':<16}{'learner':<9}{'pass@1':>8}{'sd':>7}"
    head += f"{'vs best arm [95% CI]':>28}{'vs hindsight [95% CI]':>28}"
    print(head + "  chosen hyperparameter (counts)")
    print("-" * (len(head) + 32))
    print(f"{'-':<16}{'oracle':<9}{float(y.max(axis=1).mean()):>8.4f}")
    j = int(np.argmax(y.mean(axis=0)))
    hindsight = y[:, j]
    print(
        f"{'-':<16}{'best arm':<9}{base.mean():>8.4f}{base_sd:>7.4f}{'':>56}"
        "  the best arm of the training folds"
    )
    print(
        f"{'-':<16}{'hindsight':<9}{hindsight.mean():>8.4f}{'':>63}"
        f"  {matrix.arms[j]}, the best arm on all problems (optimistic)"
    )
    print(f"{'-':<16}{'random':<9}{float(y.mean()):>8.4f}")
    fixed_rows: list[str] = []
    for fs in sets:
        runs = {ln: [cross_fit(fs, ln, y, args.folds, s) for s in seeds] for ln in args.learners}
        for learner, rs in runs.items():
            counts: dict[float, int] = {}
            for r in rs:
                for v in r.chosen:
                    counts[v] = counts.get(v, 0) + 1
            shown = " ".join(f"{v:g}:{c}" for v, c in sorted(counts.items()))
            passes = [r.passes(y) for r in rs]
            print(
                _row(fs.name, learner, passes, base, hindsight)
                + f"  {LEARNERS[learner][2]} {shown}"
            )
            values = "  ".join(
                f"{v:g}={np.mean([r.fixed[v].mean() for r in rs]):.4f}"
                for v in LEARNERS[learner][1]
            )
            fixed_rows.append(f"{fs.name:<16}{learner:<9}{values}")
        if len(runs) > 1:  # the learners' predictions averaged, seed by seed
            mixed = []
            for i in seeds:
                scores = np.mean([rs[i].scores for rs in runs.values()], axis=0)
                mixed.append(routed(y, scores, runs[args.learners[0]][i].prior))
            print(_row(fs.name, "mean", mixed, base, hindsight) + f"  of {', '.join(runs)}")
    print("\nFixed hyperparameters (each cross-fitted; the best of a row is picked after the fact)")
    for row in fixed_rows:
        print(row)


def _row(features: str, learner: str, passes: list[Array], *baselines: Array) -> str:
    """One table row: mean and sd over seeds, and paired intervals against the baselines."""
    per_problem = np.mean(passes, axis=0)
    sd = np.std([p.mean() for p in passes])
    out = f"{features:<16}{learner:<9}{per_problem.mean():>8.4f}{sd:>7.4f}"
    for base in baselines:
        lo, hi = paired_bootstrap_ci(per_problem, base)
        out += f"{per_problem.mean() - base.mean():>+11.4f} [{lo:+.4f}, {hi:+.4f}]"
    return out


if __name__ == "__main__":
    main()
