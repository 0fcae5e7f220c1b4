"""``agentpolicy diff A B``: two policies in, what changes from A to B out, and a CI verdict.

Exit codes: 0 when no threshold is crossed, 1 when one is (the comparison is still printed), 2
when the input is wrong, including two policies that cannot be compared.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import click
from rich.console import Group

from ..cli import OK, REQUIRE_FAILED, Streams


class Threshold(click.ParamType):
    """A limit written as a plain number in the option's unit, or as a quantity with a unit.

    ``scale`` turns the canonical magnitude of a quantity into the option's unit: a percentage
    option reads ``10`` and ``10 %`` alike.
    """

    name = "limit"

    def __init__(self, kind: str, unit: str, *, scale: int = 1, most: int | None = None) -> None:
        self.kind, self.unit, self.scale, self.most = kind, unit, scale, most

    def convert(self, value, param, ctx) -> Decimal:
        from ..units import UnitProblem, parse_amount

        if isinstance(value, Decimal):
            return value
        text = str(value).strip()
        try:
            limit = Decimal(text.replace("_", ""))
        except InvalidOperation:
            try:
                limit = parse_amount(text, self.kind).value * self.scale
            except UnitProblem as error:
                self.fail(f"{text!r}: {error}", param, ctx)
        if not limit.is_finite() or limit < 0 or limit.adjusted() > 15:
            self.fail(
                f"{text!r} is not a limit: give a number of {self.unit}, 0 or more", param, ctx
            )
        if self.most is not None and limit > self.most:
            self.fail(f"{text!r} is more than {self.most} {self.unit}", param, ctx)
        return limit


@click.command("diff")
@click.argument("policy_a", metavar="A")
@click.argument("policy_b", metavar="B")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["table", "json", "markdown"]),
    default="table",
    show_default=True,
    help="How to print the comparison (markdown reads as a pull-request comment).",
)
@click.option("--show-unchanged", is_flag=True, help="List unchanged steps in the step table too.")
@click.option("--fail-on-increase", is_flag=True, help="Exit 1 if the cost rises at all.")
@click.option(
    "--max-increase-usd",
    type=Threshold("money", "USD"),
    help="Exit 1 if the cost for the runs rises by more than this many USD.",
)
@click.option(
    "--max-increase-pct",
    type=Threshold("fraction", "percent", scale=100),
    help="Exit 1 if the cost for the runs rises by more than this percentage.",
)
@click.option(
    "--max-latency-increase",
    type=Threshold("time", "seconds"),
    help="Exit 1 if the latency per run rises by more than this many seconds.",
)
@click.option(
    "--max-quality-drop",
    type=Threshold("fraction", "(a pass rate, 0 to 1)", most=1),
    help="Exit 1 if quality falls by more than this (0.01, or 1 %).",
)
@click.pass_obj
def command(
    streams: Streams,
    policy_a: str,
    policy_b: str,
    output_format: str,
    show_unchanged: bool,
    fail_on_increase: bool,
    max_increase_usd: Decimal | None,
    max_increase_pct: Decimal | None,
    max_latency_increase: Decimal | None,
    max_quality_drop: Decimal | None,
) -> int:
    """Compare policy B with policy A on their common pipeline and prices."""
    from ..comparison import Thresholds, compare
    from ..compiler import compile_file
    from ..report.diff import rich_renderables, to_json, to_markdown

    a, b = compile_file(policy_a), compile_file(policy_b)
    thresholds = Thresholds(
        fail_on_increase=fail_on_increase,
        max_increase_usd=max_increase_usd,
        max_increase_pct=max_increase_pct,
        max_latency_increase=max_latency_increase,
        max_quality_drop=max_quality_drop,
    )
    if a.trace is not None or b.trace is not None:
        return _diff_traces(streams, a, b, thresholds, output_format, show_unchanged)
    comparison = compare(a, b, thresholds)
    streams.diagnostics(a.warnings + b.warnings + comparison.warnings)

    if output_format == "json":
        streams.raw_out.write(to_json(comparison) + "\n")
    elif output_format == "markdown":
        streams.raw_out.write(to_markdown(comparison, show_unchanged=show_unchanged))
    else:
        streams.out.print(Group(*rich_renderables(comparison, show_unchanged=show_unchanged)))
    return OK if comparison.passed else REQUIRE_FAILED


def _diff_traces(streams: Streams, a, b, thresholds, output_format: str, show_unchanged) -> int:
    """Two policies that replay a trace: compared on the recorded calls."""
    from ..traces import comparison as traces

    try:
        streams.diagnostics(a.warnings + b.warnings)
        comparison = traces.compare_traces(a, b, thresholds)
        if output_format == "json":
            streams.raw_out.write(traces.to_json(comparison) + "\n")
        elif output_format == "markdown":
            streams.raw_out.write(traces.to_markdown(comparison, show_unchanged=show_unchanged))
        else:
            shown = traces.rich_renderables(comparison, show_unchanged=show_unchanged)
            streams.out.print(Group(*shown))
    finally:
        for compiled in (a, b):
            if compiled.trace is not None:
                compiled.trace.database.close()
    return OK if comparison.passed else REQUIRE_FAILED
