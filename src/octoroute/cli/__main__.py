"""``python -m octoroute.cli``: the ``octoroute`` command."""

from octoroute.cli.app import main

main()
