"""``agentpolicy eval POLICY``: a policy file in, its report on stdout and an exit code out."""

from __future__ import annotations

import click

from ..cli import OK, REQUIRE_FAILED, Streams
from .traces import trace_options, with_trace_options


@click.command("eval")
@click.argument("policy")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["table", "json", "markdown"]),
    default="table",
    show_default=True,
    help="How to print the report.",
)
@with_trace_options
@click.pass_obj
def command(streams: Streams, policy: str, output_format: str, **options) -> int:
    """Evaluate POLICY on its pipeline or trace: dollars, latency and quality, before and after."""
    from ..compiler import compile_file

    progress, settings = trace_options(streams, **options)
    compiled = compile_file(policy, trace_options=settings)
    try:
        streams.diagnostics(compiled.warnings)
        if compiled.trace is not None:
            from ..traces import report as reports

            report = reports.build(compiled)
            progress.done()
        else:
            from .. import report as reports

            report = reports.build(compiled)
        if output_format == "json":
            streams.raw_out.write(reports.to_json(report) + "\n")
        elif output_format == "markdown":
            streams.raw_out.write(reports.to_markdown(report))
        else:
            streams.out.print(report)
    finally:
        progress.done()
        if compiled.trace is not None:
            compiled.trace.database.close()
    return OK if report.passed else REQUIRE_FAILED
