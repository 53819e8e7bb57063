"""The ``octoroute`` command: the typer app, one module per command group mounted on it."""

from __future__ import annotations

import sys

import typer

app = typer.Typer(
    help="Route coding problems to small frozen LLMs; judge their code in a sandbox.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register() -> None:
    # Sub-commands live in their own modules; importing them is cheap (no heavy imports).
    from octoroute.cli.arms import arms_app, models_app
    from octoroute.cli.clarify import clarify_collect_command, clarify_command
    from octoroute.cli.collection import collect, rejudge
    from octoroute.cli.demo import demo_command, report_command
    from octoroute.cli.episodes import episodes_command
    from octoroute.cli.probes import probes_command
    from octoroute.cli.repair import fixrate_command, repair_collect_command
    from octoroute.cli.replay import replay_command
    from octoroute.cli.sandbox import check, validate
    from octoroute.cli.serve import serve_command
    from octoroute.cli.states import states_command
    from octoroute.cli.store import export_command, import_app, stats_command

    for command in (validate, check, collect, rejudge):
        app.command()(command)
    app.add_typer(arms_app, name="arms")
    app.add_typer(models_app, name="models")
    app.add_typer(import_app, name="import")
    app.command("demo")(demo_command)
    app.command("stats")(stats_command)
    app.command("export")(export_command)
    app.command("probes")(probes_command)
    app.command("replay")(replay_command)
    app.command("report")(report_command)
    app.command("repair-collect")(repair_collect_command)
    app.command("fixrate")(fixrate_command)
    app.command("episodes")(episodes_command)
    app.command("states")(states_command)
    app.command("serve")(serve_command)
    app.command("clarify-collect")(clarify_collect_command)
    app.command("clarify")(clarify_command)


_register()


def main(argv: list[str] | None = None) -> None:
    """Console entry point (``--ray`` without a value means ``--ray local``)."""
    args = list(sys.argv[1:] if argv is None else argv)
    app(args=optional_values(args, {"--ray": "local"}), prog_name="octoroute")


def optional_values(args: list[str], defaults: dict[str, str]) -> list[str]:
    """``args`` with the default value put after each option of ``defaults`` given without one
    (last, or followed by another option): typer's options always take their value.

    >>> optional_values(["collect", "--ray", "--db", "x"], {"--ray": "local"})
    ['collect', '--ray', 'local', '--db', 'x']
    >>> optional_values(["collect", "--ray", "h:6379"], {"--ray": "local"})
    ['collect', '--ray', 'h:6379']
    """
    out: list[str] = []
    for i, arg in enumerate(args):
        out.append(arg)
        if arg in defaults and (i + 1 == len(args) or args[i + 1].startswith("-")):
            out.append(defaults[arg])
    return out


if __name__ == "__main__":
    main()
