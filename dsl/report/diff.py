"""A :class:`~agentpolicy.comparison.Comparison` in, its text out: rich tables, JSON or markdown.

The JSON document is the versioned ``agentpolicy.diff/1`` contract described in ``docs/diff.md``;
money in it is an exact decimal string.  The markdown reads as a pull-request comment: totals,
the steps that changed, the statements that differ as a ``diff`` block, and the gate.
"""

from __future__ import annotations

import json
from decimal import Decimal

from rich.markup import escape
from rich.table import Table
from rich.text import Text

from ..comparison import Comparison, Figure, GateCheck, StatementChange, StepChange
from ..engine import StepResult
from .numbers import change, decimal_text, markdown_cell, rate, seconds, usd, usd_per_run

SCHEMA = "agentpolicy.diff/1"

#: How each kind of figure is written: the value, and the kind ``numbers.change`` takes.
_MONEY_PER_RUN = (usd_per_run, "money")
_MONEY = (lambda value: usd(value, places=2), "money")
_TIME = (seconds, "time")
_RATE = (rate, "rate")


# JSON.


def to_json(comparison: Comparison) -> str:
    return json.dumps(to_document(comparison), indent=2, ensure_ascii=False)


def to_document(comparison: Comparison) -> dict:
    """The comparison as the ``agentpolicy.diff/1`` JSON document."""
    a, b = comparison.a, comparison.b
    return {
        "schema": SCHEMA,
        "a": _policy(a),
        "b": _policy(b),
        "pipeline": {"name": b.pipeline.name, "steps": len(b.pipeline.steps)},
        "prices": {"source": b.prices.source, "date": b.prices.date},
        "totals": {
            "cost_per_run": _money(comparison.cost_per_run),
            "cost_total": _money(comparison.cost_total),
            "latency_per_run_s": _measure(comparison.latency),
            "deferred_latency_per_run_s": _measure(comparison.deferred_latency),
            "quality": _measure(comparison.quality),
        },
        "steps": [_step(step) for step in comparison.steps],
        "unchanged_steps": [step.name for step in comparison.unchanged_steps],
        "statements": [_statement(change) for change in comparison.statements],
        "gate": {
            "passed": comparison.passed,
            "checks": [_check(check) for check in comparison.gate],
        },
        "warnings": [w.as_dict() for w in a.warnings + b.warnings + comparison.warnings],
    }


def _policy(policy) -> dict:
    return {"name": policy.name, "path": policy.path, "bases": policy.bases, "runs": policy.runs}


def _money(figure: Figure) -> dict:
    return {
        "a": decimal_text(figure.a),
        "b": decimal_text(figure.b),
        "change": decimal_text(figure.delta),
        "percent": _percent(figure),
        "new": figure.is_new,
    }


def _measure(figure: Figure) -> dict:
    return {
        "a": _float(figure.a),
        "b": _float(figure.b),
        "change": _float(figure.delta),
        "percent": _percent(figure),
        "new": figure.is_new,
    }


def _percent(figure: Figure) -> float | None:
    return None if figure.percent is None else round(float(figure.percent), 4)


def _float(value: Decimal) -> float:
    return round(float(value), 6)


def _step(step: StepChange) -> dict:
    return {
        "name": step.name,
        "difficulty": step.b.difficulty,
        "calls": len(step.b.calls),
        "changed": step.changed,
        "model": {"a": step.a.model, "b": step.b.model},
        "deferred": {"a": step.a.deferred, "b": step.b.deferred},
        "quality_basis": {"a": step.a.quality_basis, "b": step.b.quality_basis},
        "cost_per_run": _money(step.cost_per_run),
        "cost_total": _money(step.cost_total),
        "latency_s": _measure(step.latency),
        "quality": _measure(step.quality),
    }


def _statement(change: StatementChange) -> dict:
    return {
        "change": change.change,
        "statement": change.statement.text,
        "kind": change.kind,
        "file": change.statement.origin,
        "line": change.statement.span.line,
        "moves": change.moves,
    }


def _check(check: GateCheck) -> dict:
    def number(value: Decimal | None) -> str | None:
        if value is None:
            return None
        if check.name == "max-increase-pct":
            value = value.quantize(Decimal("0.0001"))
        return decimal_text(value)

    return {
        "check": check.name,
        "limit": number(check.limit),
        "actual": number(check.actual),
        "passed": check.passed,
    }


# Rows shared by the table and markdown renderers.


def _title(comparison: Comparison) -> str:
    a, b = comparison.a, comparison.b
    runs = f"{b.runs:,} runs" if a.runs == b.runs else f"runs {a.runs:,} → {b.runs:,}"
    dated = f", {b.prices.date}" if b.prices.date else ""
    return (
        f"diff {a.name} → {b.name} · pipeline {b.pipeline.name} ({len(b.pipeline.steps)} steps)"
        f" · {runs} · prices: {b.prices.source}{dated}"
    )


def _total_headers(comparison: Comparison) -> tuple[str, ...]:
    return ("", f"A: {comparison.a.name}", f"B: {comparison.b.name}", "change")


def _total_rows(comparison: Comparison) -> list[tuple[str, str, str, str]]:
    runs = comparison.b.runs
    volume = f"cost, {runs:,} runs" if comparison.a.runs == runs else "cost, each policy's runs"
    rows = [
        ("cost per run", comparison.cost_per_run, _MONEY_PER_RUN),
        (volume, comparison.cost_total, _MONEY),
        ("latency per run", comparison.latency, _TIME),
        ("quality", comparison.quality, _RATE),
    ]
    if comparison.deferred_latency.a or comparison.deferred_latency.b:
        rows.insert(3, ("deferred (batch) per run", comparison.deferred_latency, _TIME))
    return [
        (label, shown(figure.a), shown(figure.b), change(figure.a, figure.b, kind))
        for label, figure, (shown, kind) in rows
    ]


def _step_headers(comparison: Comparison) -> tuple[str, ...]:
    runs = comparison.b.runs
    volume = f"cost, {runs:,} runs" if comparison.a.runs == runs else "cost, each policy's runs"
    return ("step", "model", "cost per run", volume, "latency", "quality")


def _shown_steps(comparison: Comparison, show_unchanged: bool) -> list[StepChange]:
    return comparison.steps if show_unchanged else comparison.changed_steps


def _step_rows(comparison: Comparison, show_unchanged: bool) -> list[tuple[str, ...]]:
    """One row per step: each cell holds 'A → B' and, below it, the change."""
    rows = []
    for step in _shown_steps(comparison, show_unchanged):
        calls = len(step.b.calls)
        rows.append(
            (
                step.name if calls == 1 else f"{step.name} ×{calls}",
                _models(step.a, step.b),
                _cell(step.cost_per_run, _MONEY_PER_RUN),
                _cell(step.cost_total, _MONEY),
                _latency_cell(step),
                _cell(step.quality, _RATE, basis=step.b.quality_basis),
            )
        )
    if rows:
        rows.append(
            (
                "total",
                "",
                _cell(comparison.cost_per_run, _MONEY_PER_RUN),
                _cell(comparison.cost_total, _MONEY),
                _cell(comparison.latency, _TIME),
                _cell(comparison.quality, _RATE),
            )
        )
    return rows


def _models(a: StepResult, b: StepResult) -> str:
    return a.model if a.model == b.model else f"{a.model} → {b.model}"


def _cell(figure: Figure, style, *, basis: str | None = None) -> str:
    shown, kind = style
    values = f"{shown(figure.a)} → {shown(figure.b)}"
    if basis and basis != "table":
        values += f" {basis}"
    return f"{values}\n{change(figure.a, figure.b, kind)}"


def _latency_cell(step: StepChange) -> str:
    def shown(result: StepResult) -> str:
        return f"deferred {seconds(result.latency)}" if result.deferred else seconds(result.latency)

    values = f"{shown(step.a)} → {shown(step.b)}"
    return f"{values}\n{change(step.latency.a, step.latency.b, 'time')}"


def _unchanged_line(comparison: Comparison, show_unchanged: bool) -> str | None:
    unchanged = [step.name for step in comparison.unchanged_steps]
    if not comparison.changed_steps:
        return "No step changed."
    if not unchanged:
        return None
    count = f"{len(unchanged)} step{'s' if len(unchanged) != 1 else ''} unchanged"
    listed = ", ".join(unchanged)
    if show_unchanged:
        return f"{count}: {listed}."
    return f"{count}, not shown: {listed} (--show-unchanged lists them)."


def _statement_lines(comparison: Comparison) -> list[tuple[str, str, str]]:
    """(sign, statement, note) for each statement found in only one policy."""
    lines = []
    for item in comparison.statements:
        sign = "+" if item.change == "added" else "-"
        where = f"{item.statement.origin}:{item.statement.span.line}"
        if item.kind == "require":
            effect = "a require: moves no step"
        elif item.kind == "header":
            effect = "a header"
        elif item.moves:
            effect = "moves " + ", ".join(item.moves)
        else:
            effect = "moves no step"
        lines.append((sign, item.statement.text, f"{where} · {effect}"))
    return lines


def _gate_lines(comparison: Comparison) -> list[tuple[bool, str, str]]:
    """(passed, the option with its limit, what B did) for each threshold that was set."""
    return [(check.passed, *_gate_text(comparison, check)) for check in comparison.gate]


def _gate_text(comparison: Comparison, check: GateCheck) -> tuple[str, str]:
    total, runs = comparison.cost_total, comparison.b.runs
    if check.name == "fail-on-increase":
        per_run = comparison.cost_per_run
        return (
            "--fail-on-increase",
            f"cost per run {change(per_run.a, per_run.b, 'money')}, "
            f"for the runs {change(total.a, total.b, 'money')}",
        )
    if check.name == "max-increase-usd":
        return (
            f"--max-increase-usd {decimal_text(check.limit, min_places=0)}",
            f"cost for {runs:,} runs {change(total.a, total.b, 'money')}",
        )
    if check.name == "max-increase-pct":
        exact = "" if check.actual is None else f", {check.actual.quantize(Decimal('0.0001'))} %"
        return (
            f"--max-increase-pct {decimal_text(check.limit, min_places=0)}",
            f"cost {change(total.a, total.b, 'money')}{exact}",
        )
    if check.name == "max-latency-increase":
        latency = comparison.latency
        return (
            f"--max-latency-increase {decimal_text(check.limit, min_places=0)}",
            f"latency per run {change(latency.a, latency.b, 'time')}",
        )
    quality = comparison.quality
    return (
        f"--max-quality-drop {decimal_text(check.limit, min_places=0)}",
        f"quality {change(quality.a, quality.b, 'rate')}",
    )


# Rich.


def rich_renderables(comparison: Comparison, *, show_unchanged: bool = False):
    """The comparison for a terminal: totals, steps, statements, gate."""
    yield Text(_title(comparison), style="bold")
    yield Text()

    totals = Table(title="Totals", title_justify="left", show_edge=False)
    for header in _total_headers(comparison):
        totals.add_column(escape(header), justify="right" if header else "left")
    for row in _total_rows(comparison):
        totals.add_row(*(escape(cell) for cell in row))
    yield totals
    yield Text()

    rows = _step_rows(comparison, show_unchanged)
    if rows:
        title = "Steps, per run; each cell is A → B, then the change"
        steps = Table(title=title, title_justify="left", show_edge=False, show_lines=True)
        for header in _step_headers(comparison):
            steps.add_column(header, justify="left" if header in ("step", "model") else "right")
        for row in rows:
            steps.add_row(*(escape(cell) for cell in row))
        yield steps
    unchanged = _unchanged_line(comparison, show_unchanged)
    if unchanged:
        yield Text(unchanged)
    yield Text()

    lines = _statement_lines(comparison)
    if not lines:
        yield Text("No statement differs.")
    else:
        title = "Statements that differ (- only in A, + only in B)"
        statements = Table(
            title=title, title_justify="left", show_edge=False, show_header=False, box=None
        )
        statements.add_column(no_wrap=True)
        statements.add_column(style="dim")
        for sign, statement, note in lines:
            style = "green" if sign == "+" else "red"
            statements.add_row(Text(f"{sign} {statement}", style=style), Text(note))
        yield statements

    if comparison.gate:
        yield Text()
        for passed, option, detail in _gate_lines(comparison):
            mark = Text("✓ pass ", style="green") if passed else Text("✗ FAIL ", style="bold red")
            yield mark + Text(f"{option}: {detail}")


# Markdown.


def to_markdown(comparison: Comparison, *, show_unchanged: bool = False) -> str:
    """The comparison as GitHub-flavoured markdown, to post as a pull-request comment."""
    out = [f"**{markdown_cell(_title(comparison))}**", ""]
    out += _md_table(_total_headers(comparison), _total_rows(comparison), _TOTAL_ALIGN)
    rows = _step_rows(comparison, show_unchanged)
    if rows:
        out += ["", "**Steps, per run** (A → B, then the change)", ""]
        table = _md_table(_step_headers(comparison), rows, _STEP_ALIGN)
        table[-1] = table[-1].replace("| total |", "| **total** |", 1)
        out += table
    unchanged = _unchanged_line(comparison, show_unchanged)
    if unchanged:
        out += ["", unchanged]

    lines = _statement_lines(comparison)
    out += [
        "",
        "**Statements that differ** (- only in A, + only in B)"
        if lines
        else "No statement differs.",
    ]
    if lines:
        width = max(len(statement) for _, statement, _ in lines)
        out += ["", "```diff"]
        out += [f"{sign} {statement:<{width}}  # {note}" for sign, statement, note in lines]
        out += ["```"]

    if comparison.gate:
        out.append("")
        out += [
            f"- {'✅ pass' if passed else '❌ FAIL'} `{option}`: {detail}"
            for passed, option, detail in _gate_lines(comparison)
        ]
    return "\n".join(out) + "\n"


_TOTAL_ALIGN = ("---", "---:", "---:", "---:")
_STEP_ALIGN = ("---", "---", "---:", "---:", "---:", "---:")


def _md_table(headers, rows, align) -> list[str]:
    lines = [
        "| " + " | ".join(markdown_cell(h) for h in headers) + " |",
        "|" + "|".join(align) + "|",
    ]
    for row in rows:
        cells = (markdown_cell(cell).replace("\n", "<br>") for cell in row)
        lines.append("| " + " | ".join(cells) + " |")
    return lines
