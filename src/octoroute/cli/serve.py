"""``octoroute serve``: the OpenAI-compatible routing server (:mod:`octoroute.serve`).

Registered on the main app by :mod:`octoroute.cli`. The state folder holds the outcome log
(``log.db``: every request, answer, decision and reward) and the policy's state
(``policy.json``, saved atomically after every reward). A first start trains the policy on a
recorded log (default: the shipped one), with full information, since a bandit exploring a
pool from nothing loses to the best single arm for hundreds of requests; a later start goes on
from the saved state and first learns any feedback the log holds beyond it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from octoroute.cli.common import console, fail
from octoroute.cli.featurespec import FeaturizerOpt
from octoroute.exceptions import ConfigError, MissingDependencyError, OctorouteError, RunBusy

if TYPE_CHECKING:
    from octoroute.episodes.tree import Strategy
    from octoroute.features import Featurizer
    from octoroute.policies import BasePolicy
    from octoroute.serve.asking import Asking

__all__ = [
    "API_KEY_ENV",
    "CHAT_KEY_ENV",
    "asking_from_log",
    "default_episodes",
    "serve_command",
    "warm_start",
]

API_KEY_ENV = "OCTOROUTE_API_KEY"
"""The bearer token ``POST /v1/feedback`` requires, when set."""
CHAT_KEY_ENV = "OCTOROUTE_CHAT_API_KEY"
"""The bearer token the chat and models endpoints require, when set."""


def warm_start(policy: BasePolicy, features: Featurizer, log: Path, arms: list[str]) -> int:
    """Train ``policy`` with full information on the fresh attempts of ``arms`` in the
    recorded ``log``; how many (problem, arm) outcomes it learned from."""
    from octoroute import demo

    return sum(
        demo.train_full_information(policy, matrix, features.transform(texts), arms=arms)
        for _, matrix, texts in demo.load_matrices(demo.DemoConfig(log=log))
    )


def default_episodes(arms: Sequence[str], features: Featurizer, log: Path) -> Strategy | None:
    """The default episode strategy on the pool, fitted on ``log``'s episode trees, for the
    verified requests to ``octoroute``; None (with a warning: the policy's episodes serve them)
    when it learns and the log holds no tree of these arms."""
    from octoroute import demo
    from octoroute.episodes.strategies import default_strategy
    from octoroute.evaluation.sizes import by_size
    from octoroute.features import TrajectoryFeaturizer

    ordered = by_size(arms)
    try:
        trees = demo.recorded_trees(log, ordered)
        strategy = default_strategy(ordered, TrajectoryFeaturizer(features, ordered), trees)
    except ConfigError as e:
        console.print(f"[yellow]{escape(str(e))}[/yellow]: verified requests to octoroute run "
                      "the policy's episodes")  # fmt: skip
        return None
    console.print(f"verified requests to octoroute: {strategy.name} ({len(trees)} trees)")
    return strategy


def asking_from_log(log: Path, arm: str, user: str, lambda_ask: float) -> Asking:
    """Clarifying questions by ``arm``, the ask model fitted on a clarification log's
    HumanEvalComm outcomes of that arm with ``user``'s answers (``octoroute collect`` and
    ``clarify-collect`` runs; the data from ``$OCTOROUTE_DATA_DIR``)."""
    from octoroute.clarify.decide import AskModel
    from octoroute.clarify.replay import outcomes
    from octoroute.evaluation import read_log
    from octoroute.serve.asking import Asking
    from octoroute.tasks import load_benchmark

    bench = "humanevalcomm"
    found = outcomes(read_log(log), load_benchmark(bench), arm, f"collect/{bench}",
                     f"clarify/{bench}")  # fmt: skip
    mine = [o for o in found if o.user == user]
    if not mine:
        users = ", ".join(o.user for o in found) or "none"
        raise ConfigError(f"--ask-log {log}: no ask episode of arm {arm!r} answered by "
                          f"{user!r} (users there: {users}): run clarify-collect")  # fmt: skip
    o = mine[0]
    return Asking(AskModel(lambda_ask).fit(o.problems, o.code, o.ask), arm)


def serve_command(
    pool: Annotated[str, typer.Option("--pool", help="'default' or a pool TOML file.")] = (
        "default"
    ),
    arms: Annotated[
        str | None, typer.Option("--arms", help="Comma-separated arms of the pool (default: all).")
    ] = None,
    policy: Annotated[str, typer.Option("--policy", help="The routing policy.")] = "linucb",
    state: Annotated[
        Path, typer.Option("--state", help="Folder of the outcome log and the policy's state.")
    ] = Path("octoroute-serve"),
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535)] = 8000,
    warm: Annotated[
        Path | None,
        typer.Option("--warm-start", help="Recorded log to train a new policy on."),
    ] = None,
    featurizer: FeaturizerOpt = "lexical",
    max_body: Annotated[
        int, typer.Option("--max-body", min=1024, help="Largest request body, in bytes.")
    ] = 1 << 20,
    ask_log: Annotated[
        Path | None,
        typer.Option(
            "--ask-log",
            help="A clarification log (clarify-collect) to fit the ask "
            "model on: routed first turns may then come back as a question.",
        ),
    ] = None,
    ask_arm: Annotated[
        str | None, typer.Option("--ask-arm", help="The arm that asks and codes (with --ask-log).")
    ] = None,
    ask_user: Annotated[
        str, typer.Option("--ask-user", help="Whose answers the ask model learned from.")
    ] = "oracle",
    lambda_ask: Annotated[
        float, typer.Option("--lambda-ask", help="The cost of a user's turn, in pass@1.")
    ] = 0.1,
) -> None:
    """Serve the pool behind one OpenAI-compatible endpoint that routes every request, says
    which arm answered, and learns from feedback (POST /v1/feedback)."""
    try:
        import uvicorn

        from octoroute.serve.app import create_app
    except ImportError as e:
        fail(MissingDependencyError(e.name or "starlette", "serve"))
    from octoroute import demo
    from octoroute.arms.pool import load_pool
    from octoroute.cli.featurespec import open_featurizer
    from octoroute.policies import POLICIES, make_policy, saved_meta
    from octoroute.serve.service import RoutingService, check_features
    from octoroute.store import open_store

    try:
        the_pool = load_pool(pool, arms.split(",") if arms else None)
        if (ask_log is None) != (ask_arm is None):
            raise ConfigError("--ask-log and --ask-arm go together")
        asking = None
        if ask_log is not None and ask_arm is not None:
            asking = asking_from_log(ask_log, ask_arm, ask_user, lambda_ask)
            console.print(f"asks back with {ask_arm} (ask model of {ask_log.name}, "
                          f"lambda_ask {lambda_ask:g})")  # fmt: skip
        if policy not in POLICIES:
            raise ConfigError(f"--policy {policy!r}: expected one of {', '.join(POLICIES)}")
        state.mkdir(parents=True, exist_ok=True)
        state_path = state / "policy.json"
        with (
            open_featurizer(featurizer, demo.N_FEATURES) as features,
            open_store(state / "log.db") as store,
        ):
            if state_path.exists():
                the_policy = POLICIES[policy].load(state_path)
                meta = saved_meta(state_path)
                applied = int(meta.get("feedback_applied", 0))
                check_features(state_path, meta, features)
                console.print(f"policy {policy}: state from {state_path}")
            else:
                the_policy, applied = make_policy(policy), 0
                log = warm or demo.recorded_log()
                n = warm_start(the_policy, features, log, list(the_pool.names))
                console.print(f"policy {policy}: trained on {n} outcomes of {log.name}")
            strategy = default_episodes(the_pool.names, features, warm or demo.recorded_log())
            service = RoutingService(the_pool, the_policy, features, store, state_path,
                                     strategy=strategy, asking=asking)  # fmt: skip
            try:
                caught_up = service.open(applied)
            except RunBusy as e:
                who = str(e).partition("; wait")[0]  # the holder, without the advice for runs
                raise ConfigError(f"--state {state}: another octoroute serve uses it ({who}); "
                                  "stop it, or start with another --state") from None  # fmt: skip
            if caught_up:
                console.print(f"learned {caught_up} feedback reports logged after the state")
            app = create_app(service, api_key=os.environ.get(API_KEY_ENV) or None,
                             chat_key=os.environ.get(CHAT_KEY_ENV) or None,
                             max_body=max_body)  # fmt: skip
            console.print(f"serving {', '.join(service.model_ids())} on http://{host}:{port}/v1")
            uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
    except OctorouteError as e:
        fail(e)
