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
from .numbers import (
    change,
    decimal_text,
    markdown_cell,
    markdown_table,
    rate,
    require_figure,
    seconds,
    usd,
    usd_per_run,
)

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
            "library": policy.prices.library,
            "overrides": [
                {
                    "model": o.model,
                    "figure": o.figure,
                    "library_usd_per_mtok": None if o.library is None else decimal_text(o.library),
                    "local_usd_per_mtok": decimal_text(o.local),
                    "path": o.path,
                }
                for o in policy.prices.overrides
            ],
        },
        "runs": policy.runs,
        "traffic": _traffic(report),
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
        "requires": require_entries(report.requires),
        "warnings": [w.as_dict() for w in policy.warnings],
    }


def require_entries(requires, figure=None) -> list[dict]:
    """The requires as JSON: each statement, where it is written, its bound, actual and verdict.

    ``figure`` writes a bound or an actual value; by default money is an exact decimal string.
    """
    figure = figure or _figure
    return [
        {
            "statement": r.requirement.statement.text,
            "file": _origin(r.requirement.statement),
            "line": r.requirement.statement.span.line,
            "metric": r.requirement.metric,
            "op": r.requirement.op,
            "bound": figure(r.requirement.metric, r.requirement.bound),
            "actual": figure(r.requirement.metric, r.actual),
            "passed": r.passed,
        }
        for r in requires
    ]


def _origin(statement) -> str:
    """The file a statement is written in: the policy's own, or a base it extends."""
    return statement.origin


def _totals(evaluation: Evaluation) -> dict:
    return {
        "cost_per_run": decimal_text(evaluation.cost_per_run),
        "cost_total": decimal_text(evaluation.cost_total),
        "latency_per_run_s": _float(evaluation.latency_per_run),
        "deferred_latency_per_run_s": _float(evaluation.deferred_latency),
        "deferred_within_s": _float(evaluation.deferred_within),
        "quality": _float(evaluation.quality),
    }


def _traffic(report: EvalReport) -> dict | None:
    """Caching across runs: the hit rate assumed per model, and the two cache lifetimes."""
    policy = report.policy
    if policy.traffic is None:
        return None
    return {
        "runs_per_hour": _float(policy.traffic),
        "hit_rates": {model: _float(h) for model, h in report.result.hit_rates.items()},
        "ttl_comparison": report.ttl.as_dict() if report.ttl else None,
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
        "warmup_s": _float(after.warmup),
        "cross_run_hit_rate": next(
            (_float(c.hit_rate) for c in after.calls if c.hit_rate is not None), None
        ),
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
        "uncached_input": _tokens(tokens.uncached),
        "cache_write_5m": _tokens(tokens.write_5m),
        "cache_write_1h": _tokens(tokens.write_1h),
        "cache_read": _tokens(tokens.read),
        "output": _tokens(tokens.output),
        "cache_storage_token_hours": _tokens(tokens.storage),
    }


def _tokens(count: Decimal) -> int | float:
    """A token count: whole, or (an expected count under traffic) to three decimals."""
    return int(count) if count == count.to_integral_value() else round(float(count), 3)


def _figure(metric: str, value: Decimal) -> str | float:
    """A require's figure in JSON: money as a decimal string, time and quality as numbers."""
    return decimal_text(value) if "cost" in metric else _float(value)


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
            f"cost, {runs:,} run{'s' if runs != 1 else ''}",
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
        within = f"{seconds(result.deferred_latency)}, done within {_hours(result.deferred_within)}"
        rows.append(("deferred (batch) per run", "—", within, "leaves the path"))
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
        model = after.model if before.model == after.model else f"{before.model} → {after.model}"
        latency = f"deferred {seconds(after.latency)}" if after.deferred else seconds(after.latency)
        if after.warmup:
            latency += f" (+{seconds(after.warmup)} warm-up)"
        rules = (
            " ".join(f"{r.kind}:{policy.line_label(r.statement)}" for r in after.rules)
            or "untouched"
        )
        rows.append(
            (
                _step_name(after),
                model,
                f"{usd_per_run(before.cost)} → {usd_per_run(after.cost)}",
                latency,
                f"{rate(after.quality)} {after.quality_basis}",
                rules,
            )
        )
    base, result = report.baseline, report.result
    rows.append(
        (
            "total",
            "",
            f"{usd_per_run(base.cost_per_run)} → {usd_per_run(result.cost_per_run)}",
            seconds(result.latency_per_run),
            rate(result.quality),
            "",
        )
    )
    return rows


def _token_rows(report: EvalReport) -> list[tuple[str, ...]]:
    rows, total = [], Buckets()
    for step in report.result.steps:
        rows.append((_step_name(step), *_token_cells(step.tokens)))
        total = total + step.tokens
    rows.append(("total", *_token_cells(total)))
    return rows


def _count(tokens: Decimal) -> str:
    """A token count for people: expected counts under traffic are rounded to whole tokens."""
    return f"{tokens:,.0f}"


def _hours(value: Decimal) -> str:
    hours = value / 3600
    return f"{hours:.0f} h" if hours == hours.to_integral_value() else seconds(value)


def _step_name(step: StepResult) -> str:
    return step.name if len(step.calls) == 1 else f"{step.name} ×{len(step.calls)}"


def _token_cells(tokens: Buckets) -> tuple[str, ...]:
    written = tokens.write_5m + tokens.write_1h
    return tuple(_count(n) for n in (tokens.uncached, written, tokens.read, tokens.output))


_STEP_HEADERS = ("step", "model", "cost per run", "latency", "quality", "rules")
_TOKEN_HEADERS = ("step", "uncached input", "cache write", "cache read", "output")
_LEVER_HEADERS = ("#", "line", "statement", "cost", "change", "latency/run", "quality")


def _title(report: EvalReport) -> str:
    policy = report.policy
    dated = f" as of {policy.prices.date}" if policy.prices.date else ""
    return (
        f"policy {policy.name} · pipeline {policy.pipeline.name} "
        f"({len(policy.pipeline.steps)} steps) · {policy.runs:,} runs · "
        f"prices: {policy.prices.source}{dated}"
    )


def _override_rows(report: EvalReport) -> list[tuple[str, str, str, str]]:
    return [
        (
            o.model,
            o.figure,
            "—" if o.library is None else f"{decimal_text(o.library)} USD/MTok",
            f"{decimal_text(o.local)} USD/MTok",
        )
        for o in report.policy.prices.overrides
    ]


_OVERRIDE_HEADERS = ("model", "price", "library", "local file")


def _traffic_lines(report: EvalReport) -> list[str]:
    return traffic_lines(report.policy, report.result, report.ttl)


def traffic_lines(policy, result: Evaluation, comparison) -> list[str]:
    """Caching across runs, in words: the hit rate assumed and the 1-hour cache's verdict."""
    if policy.traffic is None:
        return []
    lines = [f"traffic {decimal_text(policy.traffic, min_places=0)} runs/hour"]
    for model, hit in result.hit_rates.items():
        lines.append(f"{model}: a run finds the prefix still cached with chance {hit:.1%}")
    if comparison is not None:
        for caching in comparison.models:
            for ttl, even in caching.break_even.items():
                shown = "never" if even is None else f"{even:.1%}"
                hit = caching.hit_rate[ttl]
                lines.append(
                    f"{caching.model}, ttl {_TTL_WORDS[ttl]}: hit rate {hit:.1%}, "
                    f"break-even {shown}"
                )
        five, hour = comparison.cost_per_run["5m"], comparison.cost_per_run["1h"]
        verdict = {
            "1h": "the 1-hour cache pays off",
            "5m": "the 1-hour cache does not pay off",
            "same": "both caches cost the same",
        }[comparison.better]
        lines.append(
            f"{verdict}: {usd_per_run(hour)} per run with 1 h against {usd_per_run(five)} "
            "with 5 min"
        )
    return lines


_TTL_WORDS = {"5m": "5 min", "1h": "1 h"}


def _require_lines(report: EvalReport) -> list[tuple[bool, str]]:
    lines = []
    for r in report.requires:
        actual = require_figure(r.requirement.metric, r.actual)
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

    yield _rich_table("Steps, per run", _STEP_HEADERS, _step_rows(report), wrap={"model", "rules"})
    yield Text()
    yield _rich_table("Tokens per run, under the policy", _TOKEN_HEADERS, _token_rows(report))

    if report.policy.prices.overrides:
        yield Text()
        overrides = Table(
            title="Prices the local file overrides", title_justify="left", show_edge=False
        )
        for header in _OVERRIDE_HEADERS:
            overrides.add_column(
                header, justify="left" if header in ("model", "price") else "right"
            )
        for row in _override_rows(report):
            overrides.add_row(*(escape(cell) for cell in row))
        yield overrides

    if report.policy.traffic is not None:
        yield Text()
        yield Text("Caching across runs", style="italic")
        for line in _traffic_lines(report):
            yield Text(line)

    if report.requires:
        yield Text()
        for passed, line in _require_lines(report):
            mark = Text("✓ pass ", style="green") if passed else Text("✗ FAIL ", style="bold red")
            yield mark + Text(line)


def _rich_table(title: str, headers, rows, *, wrap=frozenset()) -> Table:
    """A table whose first columns are labels and the rest figures; the total row set apart."""
    table = Table(title=title, title_justify="left", show_edge=False)
    for header in headers:
        left = header in ("step", "model", "quality", "rules")
        table.add_column(header, justify="left" if left else "right", no_wrap=header not in wrap)
    for index, row in enumerate(rows):
        table.add_row(*(escape(cell) for cell in row), end_section=index == len(rows) - 2)
    return table


# Markdown.


def to_markdown(report: EvalReport) -> str:
    """The report as GitHub-flavoured markdown, for a pull request or a wiki page."""
    out = [f"**{markdown_cell(_title(report))}**", ""]
    out += markdown_table(("", "baseline", "policy", "change"), _total_rows(report))
    out += ["", "**Levers, cumulative in policy order**", ""]
    out += markdown_table(_LEVER_HEADERS, _lever_rows(report))
    out += ["", "**Steps, per run**", ""]
    out += markdown_table(_STEP_HEADERS, _step_rows(report))
    out += ["", "**Tokens per run, under the policy**", ""]
    out += markdown_table(_TOKEN_HEADERS, _token_rows(report))
    if report.policy.prices.overrides:
        out += ["", "**Prices the local file overrides**", ""]
        out += markdown_table(_OVERRIDE_HEADERS, _override_rows(report))
    if report.policy.traffic is not None:
        out += ["", "**Caching across runs**", ""]
        out += [f"- {markdown_cell(line)}" for line in _traffic_lines(report)]
    if report.requires:
        out.append("")
        out += [
            f"- {'✅ pass' if passed else '❌ FAIL'}: `{line}`"
            for passed, line in _require_lines(report)
        ]
    return "\n".join(out) + "\n"
