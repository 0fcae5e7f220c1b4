"""``agentpolicy check POLICY...``: policies in, their diagnostics and an exit code out.

As text, diagnostics go to stderr with one summary line per policy.  With ``--format json`` the
diagnostics are the result, so they go to stdout as one ``agentpolicy.check/1`` document.
``--strict`` turns every warning into an error, for a CI that allows none.
"""

from __future__ import annotations

import json
from dataclasses import replace

import click

from ..cli import BAD_INPUT, OK, Streams
from ..diagnostics import Diagnostic, PolicyError
from .traces import trace_options, with_trace_options

SCHEMA = "agentpolicy.check/1"


@click.command("check")
@click.argument("policies", nargs=-1, required=True)
@click.option("--strict", is_flag=True, help="Treat warnings as errors (exit code 2).")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Diagnostics as text on stderr, or as JSON on stdout.",
)
@with_trace_options
@click.pass_obj
def command(
    streams: Streams, policies: tuple[str, ...], strict: bool, output_format: str, **options
) -> int:
    """Check POLICIES against their pipelines (or traces) and prices without evaluating them."""
    progress, settings = trace_options(streams, **options)
    found = {policy: diagnose(policy, strict=strict, trace_options=settings) for policy in policies}
    progress.done()
    ok = not any(d.is_error for diagnostics in found.values() for d in diagnostics)

    if output_format == "json":
        document = {
            "schema": SCHEMA,
            "ok": ok,
            "strict": strict,
            "policies": [_summary(policy, diagnostics) for policy, diagnostics in found.items()],
            "diagnostics": [d.as_dict() for diagnostics in found.values() for d in diagnostics],
        }
        streams.raw_out.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    else:
        for policy, diagnostics in found.items():
            streams.diagnostics(diagnostics)
            streams.err.print(_summary_line(policy, diagnostics), markup=False, highlight=False)
    return OK if ok else BAD_INPUT


def diagnose(policy: str, *, strict: bool = False, trace_options=None) -> list[Diagnostic]:
    """Every diagnostic of one policy: its errors, or its warnings when it compiles."""
    from ..compiler import compile_file

    try:
        compiled = compile_file(policy, trace_options=trace_options)
    except PolicyError as error:
        diagnostics = error.diagnostics
    else:
        diagnostics = compiled.warnings
        if compiled.trace is not None:
            compiled.trace.database.close()
    if strict:
        diagnostics = [replace(d, severity="error") for d in diagnostics]
    return diagnostics


def _summary(policy: str, diagnostics: list[Diagnostic]) -> dict:
    errors = sum(d.is_error for d in diagnostics)
    return {
        "path": policy,
        "ok": errors == 0,
        "errors": errors,
        "warnings": len(diagnostics) - errors,
    }


def _summary_line(policy: str, diagnostics: list[Diagnostic]) -> str:
    counts = _summary(policy, diagnostics)
    parts = [
        f"{n} {word}{'s' if n != 1 else ''}"
        for n, word in ((counts["errors"], "error"), (counts["warnings"], "warning"))
        if n
    ]
    verdict = "ok" if counts["ok"] else "failed"
    return f"{policy}: {verdict}" + (", " + ", ".join(parts) if parts else "")
