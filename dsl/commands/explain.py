"""``agentpolicy explain POLICY [--step NAME]``: a policy in, why each step costs so much out."""

from __future__ import annotations

import click

from ..cli import OK, Streams
from ..diagnostics import PolicyError, Source, did_you_mean


@click.command("explain")
@click.argument("policy")
@click.option("--step", "step_name", metavar="NAME", help="Explain one step in full detail.")
@click.pass_obj
def command(streams: Streams, policy: str, step_name: str | None) -> int:
    """Explain, step by step, the rules that applied to POLICY and the formulas of its figures."""
    from ..compiler import compile_file
    from ..explain import explain
    from ..report.explain import render

    compiled = compile_file(policy)
    if compiled.trace is not None:
        from ..traces.explain import explain_trace

        try:
            streams.diagnostics(compiled.warnings)
            streams.raw_out.write(explain_trace(compiled, step=step_name))
        finally:
            compiled.trace.database.close()
        return OK
    names = [step.name for step in compiled.pipeline.steps]
    if step_name is not None and step_name not in names:
        pipeline = compiled.files["pipeline"]
        raise PolicyError(
            [
                Source(pipeline, "").diagnostic(
                    "E212",
                    f"the pipeline has no step '{step_name}'",
                    hint=did_you_mean(step_name, names) or "steps: " + ", ".join(names),
                )
            ]
        )
    streams.diagnostics(compiled.warnings)
    streams.raw_out.write(render(explain(compiled), step=step_name))
    return OK
