"""The ``octoroute`` command: the typer app, one module per command group mounted on it."""

from __future__ import annotations

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


_register()


def main() -> None:
    """Console entry point."""
    app()


if __name__ == "__main__":
    main()
