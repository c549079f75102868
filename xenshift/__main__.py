"""``python -m xenshift``: the same as the ``xenshift`` command."""

from xenshift.cli.main import main

main()
