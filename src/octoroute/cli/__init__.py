"""The ``octoroute`` command line: the typer :data:`app`, one module per command group.

:mod:`.app` mounts the groups: :mod:`.sandbox` (validate, check), :mod:`.collection` (collect,
rejudge), :mod:`.repair` (repair-collect, fixrate), :mod:`.episodes`, :mod:`.replay`,
:mod:`.demo` (demo, report), :mod:`.store` (stats, export, import) and :mod:`.arms` (arms,
models). Every command is thin: it parses options, calls the packages, prints, and turns an
:class:`~octoroute.exceptions.OctorouteError` into a one-line message and exit status 2.
"""

from octoroute.cli.app import app, main

__all__ = ["app", "main"]
