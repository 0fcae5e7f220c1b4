"""``python -m agentpolicy``: the same as the ``agentpolicy`` command."""

from .cli import main

main()
