"""``agentpolicy eval POLICY``: a policy file in, its report on stdout and an exit code out."""

from __future__ import annotations

import click

from ..cli import OK, REQUIRE_FAILED, Streams


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
@click.pass_obj
def command(streams: Streams, policy: str, output_format: str) -> int:
    """Evaluate POLICY on its pipeline: dollars, latency and quality, before and after."""
    from ..compiler import compile_file
    from ..report import build, to_json, to_markdown

    compiled = compile_file(policy)
    streams.diagnostics(compiled.warnings)
    report = build(compiled)
    if output_format == "json":
        streams.raw_out.write(to_json(report) + "\n")
    elif output_format == "markdown":
        streams.raw_out.write(to_markdown(report))
    else:
        streams.out.print(report)
    return OK if report.passed else REQUIRE_FAILED
