"""``python -m octoroute``: the ``octoroute`` command, where no console script is installed."""

from octoroute.cli.app import main

main()
