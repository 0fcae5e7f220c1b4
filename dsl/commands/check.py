"""``agentpolicy check POLICY``: a policy in, its diagnostics on stderr and an exit code out."""

from __future__ import annotations

import click

from ..cli import OK, Streams
from .traces import trace_options, with_trace_options


@click.command("check")
@click.argument("policy")
@with_trace_options
@click.pass_obj
def command(streams: Streams, policy: str, **options) -> int:
    """Check POLICY against its pipeline (or trace) and prices without evaluating it."""
    from ..compiler import compile_file

    progress, settings = trace_options(streams, **options)
    compiled = compile_file(policy, trace_options=settings)
    progress.done()
    if compiled.trace is not None:
        compiled.trace.database.close()
    streams.diagnostics(compiled.warnings)
    count = len(compiled.warnings)
    summary = f"{policy}: ok" + (f", {count} warning{'s' if count != 1 else ''}" if count else "")
    streams.err.print(summary, markup=False, highlight=False)
    return OK
