"""The subcommands of ``agentpolicy``, one module each; ``cli.py`` registers them."""
