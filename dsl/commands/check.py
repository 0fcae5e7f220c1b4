"""``agentpolicy check POLICY``: a policy in, its diagnostics on stderr and an exit code out."""

from __future__ import annotations

import click

from ..cli import OK, Streams


@click.command("check")
@click.argument("policy")
@click.pass_obj
def command(streams: Streams, policy: str) -> int:
    """Check POLICY against its pipeline and prices without evaluating it."""
    from ..compiler import compile_file

    compiled = compile_file(policy)
    streams.diagnostics(compiled.warnings)
    count = len(compiled.warnings)
    summary = f"{policy}: ok" + (f", {count} warning{'s' if count != 1 else ''}" if count else "")
    streams.err.print(summary, markup=False, highlight=False)
    return OK
