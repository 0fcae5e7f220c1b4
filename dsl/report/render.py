"""An :class:`EvalReport` in, its text out: rich tables for a terminal, JSON, or markdown.

The JSON document is a versioned contract, described in ``docs/json.md``; money in it is an
exact decimal string, never a float.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import TYPE_CHECKING

from rich.markup import escape
from rich.table import Table
from rich.text import Text

from ..formulas import Buckets
from .numbers import change, decimal_text, rate, seconds, usd, usd_per_run

if TYPE_CHECKING:
    from ..engine import Evaluation, StepResult
    from .model import EvalReport

SCHEMA = "agentpolicy.eval/1"


# JSON.


def to_json(report: EvalReport) -> str:
    return json.dumps(to_document(report), indent=2, ensure_ascii=False)


def to_document(report: EvalReport) -> dict:
    """The report as the ``agentpolicy.eval/1`` JSON document."""
    policy = report.policy
    return {
        "schema": SCHEMA,
        "policy": {"name": policy.name, "path": policy.path},
        "pipeline": {"name": policy.pipeline.name, "path": policy.files["pipeline"]},
        "prices": {
            "source": policy.prices.source,
            "date": policy.prices.date,
            "path": policy.files["prices"],
        },
        "runs": policy.runs,
        "baseline": _totals(report.baseline),
        "result": _totals(report.result),
        "levers": [
            {
                "statement": rule.text,
                "file": _origin(rule.statement),
                "line": rule.line,
                "kind": rule.kind,
                "cost_per_run_after": decimal_text(after.cost_per_run),
                "cost_total_after": decimal_text(after.cost_total),
                "latency_per_run_s_after": _float(after.latency_per_run),
                "quality_after": _float(after.quality),
            }
            for rule, after in report.levers
        ],
        "steps": [_step(before, after, policy.runs) for before, after in _pairs(report)],
        "requires": [
            {
                "statement": r.requirement.statement.text,
                "file": _origin(r.requirement.statement),
                "line": r.requirement.statement.span.line,
                "metric": r.requirement.metric,
                "op": r.requirement.op,
                "bound": decimal_text(r.requirement.bound),
                "actual": decimal_text(r.actual)
                if "cost" in r.requirement.metric
                else _float(r.actual),
                "passed": r.passed,
            }
            for r in report.requires
        ],
        "warnings": [w.as_dict() for w in policy.warnings],
    }


def _origin(statement) -> str:
    """The file a statement is written in: the policy's own, or a base it extends."""
    return statement.origin


def _totals(evaluation: Evaluation) -> dict:
    return {
        "cost_per_run": decimal_text(evaluation.cost_per_run),
        "cost_total": decimal_text(evaluation.cost_total),
        "latency_per_run_s": _float(evaluation.latency_per_run),
        "deferred_latency_per_run_s": _float(evaluation.deferred_latency),
        "quality": _float(evaluation.quality),
    }


def _pairs(report: EvalReport):
    return zip(report.baseline.steps, report.result.steps, strict=True)


def _step(before: StepResult, after: StepResult, runs: int) -> dict:
    return {
        "name": after.name,
        "difficulty": after.difficulty,
        "calls": len(after.calls),
        "model_before": before.model,
        "model_after": after.model,
        "tokens_before": _buckets(before.tokens),
        "tokens_after": _buckets(after.tokens),
        "cost_per_run_before": decimal_text(before.cost),
        "cost_per_run_after": decimal_text(after.cost),
        "cost_total_before": decimal_text(before.cost * runs),
        "cost_total_after": decimal_text(after.cost * runs),
        "latency_s_before": _float(before.latency),
        "latency_s_after": _float(after.latency),
        "deferred": after.deferred,
        "quality_before": _float(before.quality),
        "quality_after": _float(after.quality),
        "quality_basis": after.quality_basis,
        "quality_measured": after.quality_basis == "measured",
        "cache": [c.cache for c in after.calls],
        "rules": [
            {"statement": r.text, "file": _origin(r.statement), "line": r.line, "kind": r.kind}
            for r in after.rules
        ],
        "untouched": after.untouched,
    }


def _buckets(tokens: Buckets) -> dict:
    return {
        "uncached_input": int(tokens.uncached),
        "cache_write_5m": int(tokens.write_5m),
        "cache_write_1h": int(tokens.write_1h),
        "cache_read": int(tokens.read),
        "output": int(tokens.output),
    }


def _float(value: Decimal) -> float:
    return round(float(value), 6)


# Rows shared by the table and markdown renderers.


def _total_rows(report: EvalReport) -> list[tuple[str, str, str, str]]:
    base, result, runs = report.baseline, report.result, report.policy.runs
    rows = [
        (
            "cost per run",
            usd_per_run(base.cost_per_run),
            usd_per_run(result.cost_per_run),
            change(base.cost_per_run, result.cost_per_run, "money"),
        ),
        (
            f"cost, {runs:,} runs",
            usd(base.cost_total, places=2),
            usd(result.cost_total, places=2),
            change(base.cost_total, result.cost_total, "money"),
        ),
        (
            "latency per run",
            seconds(base.latency_per_run),
            seconds(result.latency_per_run),
            change(base.latency_per_run, result.latency_per_run, "time"),
        ),
        (
            "quality",
            rate(base.quality),
            rate(result.quality),
            change(base.quality, result.quality, "rate"),
        ),
    ]
    if result.deferred_latency:
        rows.append(
            ("deferred (batch) per run", "—", seconds(result.deferred_latency), "leaves the path")
        )
    return rows


def _lever_rows(report: EvalReport) -> list[tuple[str, str, str, str, str, str, str]]:
    rows = [
        (
            "",
            "",
            "baseline",
            usd(report.baseline.cost_total, places=2),
            "",
            seconds(report.baseline.latency_per_run),
            rate(report.baseline.quality),
        )
    ]
    previous = report.baseline
    for number, (rule, after) in enumerate(report.levers, start=1):
        rows.append(
            (
                str(number),
                report.policy.line_label(rule.statement),
                rule.text,
                usd(after.cost_total, places=2),
                change(previous.cost_total, after.cost_total, "money"),
                seconds(after.latency_per_run),
                rate(after.quality),
            )
        )
        previous = after
    return rows


def _step_rows(report: EvalReport) -> list[tuple[str, ...]]:
    rows = []
    policy = report.policy
    for before, after in _pairs(report):
        name = after.name if len(after.calls) == 1 else f"{after.name} ×{len(after.calls)}"
        model = after.model if before.model == after.model else f"{before.model} → {after.model}"
        latency = f"deferred {seconds(after.latency)}" if after.deferred else seconds(after.latency)
        rules = (
            " ".join(f"{r.kind}:{policy.line_label(r.statement)}" for r in after.rules)
            or "untouched"
        )
        rows.append(
            (
                name,
                model,
                _input_tokens(after.tokens),
                f"{after.tokens.output:,}",
                f"{usd_per_run(before.cost)} → {usd_per_run(after.cost)}",
                latency,
                f"{rate(after.quality)} {after.quality_basis}",
                rules,
            )
        )
    result = report.result
    total = Buckets()
    for step in result.steps:
        total = total + step.tokens
    rows.append(
        (
            "total",
            "",
            _input_tokens(total),
            f"{total.output:,}",
            f"{usd_per_run(report.baseline.cost_per_run)} → {usd_per_run(result.cost_per_run)}",
            seconds(result.latency_per_run),
            rate(result.quality),
            "",
        )
    )
    return rows


def _input_tokens(tokens: Buckets) -> str:
    return f"{tokens.uncached:,} / {tokens.write_5m + tokens.write_1h:,} / {tokens.read:,}"


_STEP_HEADERS = (
    "step",
    "model",
    "input: uncached / write / read",
    "output",
    "cost per run",
    "latency",
    "quality",
    "rules",
)
_LEVER_HEADERS = ("#", "line", "statement", "cost", "change", "latency/run", "quality")


def _title(report: EvalReport) -> str:
    policy = report.policy
    dated = f", {policy.prices.date}" if policy.prices.date else ""
    return (
        f"policy {policy.name} · pipeline {policy.pipeline.name} "
        f"({len(policy.pipeline.steps)} steps) · {policy.runs:,} runs · "
        f"prices: {policy.prices.source}{dated}"
    )


def _require_lines(report: EvalReport) -> list[tuple[bool, str]]:
    lines = []
    for r in report.requires:
        kind = r.requirement.metric
        actual = (
            usd_per_run(r.actual)
            if kind == "cost per run"
            else usd(r.actual, places=2)
            if kind == "cost"
            else seconds(r.actual)
            if kind == "latency"
            else rate(r.actual)
        )
        lines.append((r.passed, f"{r.requirement.statement.text}  (is {actual})"))
    return lines


# Rich.


def rich_renderables(report: EvalReport):
    """The report for a terminal: totals, cumulative levers, steps, requires."""
    yield Text(_title(report), style="bold")
    yield Text()

    totals = Table(title="Baseline and policy", title_justify="left", show_edge=False)
    for header in ("", "baseline", "policy", "change"):
        totals.add_column(header, justify="left" if not header else "right")
    for row in _total_rows(report):
        totals.add_row(*(escape(cell) for cell in row))
    yield totals
    yield Text()

    levers = Table(
        title="Levers, cumulative in policy order", title_justify="left", show_edge=False
    )
    for header in _LEVER_HEADERS:
        levers.add_column(header, justify="right" if header not in ("statement",) else "left")
    for row in _lever_rows(report):
        levers.add_row(*(escape(cell) for cell in row))
    yield levers
    yield Text()

    steps = Table(title="Steps, per run", title_justify="left", show_edge=False)
    for header in _STEP_HEADERS:
        left = header in ("step", "model", "quality", "rules")
        steps.add_column(header, justify="left" if left else "right", no_wrap=True)
    rows = _step_rows(report)
    for index, row in enumerate(rows):
        steps.add_row(*(escape(cell) for cell in row), end_section=index == len(rows) - 2)
    yield steps

    if report.requires:
        yield Text()
        for passed, line in _require_lines(report):
            mark = Text("✓ pass ", style="green") if passed else Text("✗ FAIL ", style="bold red")
            yield mark + Text(line)


# Markdown.


def to_markdown(report: EvalReport) -> str:
    """The report as GitHub-flavoured markdown, for a pull request or a wiki page."""
    out = [f"**{_md(_title(report))}**", ""]
    out += _md_table(("", "baseline", "policy", "change"), _total_rows(report))
    out += ["", "**Levers, cumulative in policy order**", ""]
    out += _md_table(_LEVER_HEADERS, _lever_rows(report))
    out += ["", "**Steps, per run**", ""]
    out += _md_table(_STEP_HEADERS, _step_rows(report))
    if report.requires:
        out.append("")
        out += [
            f"- {'✅ pass' if passed else '❌ FAIL'}: `{line}`"
            for passed, line in _require_lines(report)
        ]
    return "\n".join(out) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def _md_table(headers, rows) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(_md(cell) for cell in row) + " |" for row in rows]
    return lines
