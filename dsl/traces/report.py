"""A policy compiled against a trace in, its :class:`TraceReport` out, rendered as text or JSON.

``build`` replays the recorded calls three ways: as recorded (repriced from their tokens: the
baseline), under each prefix of the policy's levers in the order written, and — when the trace
recorded real prompt caching and the policy has a cache lever — under the cache lever alone, to
set the predicted cache writes, reads and cost beside what the provider billed.  Figures are per
step over all runs, and per run as distributions (mean, median, 95th percentile).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal

from rich.markup import escape
from rich.table import Table
from rich.text import Text

from ..compiler import CompiledPolicy, Requirement, Rule
from ..formulas import Buckets
from ..report.model import _COMPARE
from ..report.numbers import (
    change,
    decimal_text,
    markdown_cell,
    markdown_table,
    require_figure,
    seconds,
    usd,
)
from ..report.render import require_entries
from .replay import Pass, RunErrors, replay, run_errors

SCHEMA = "agentpolicy.trace-eval/1"


@dataclass(frozen=True)
class RequireResult:
    requirement: Requirement
    actual: Decimal
    passed: bool


@dataclass(frozen=True)
class CacheCheck:
    """The cache lever alone against the caching the trace recorded (what the provider billed)."""

    recorded: Pass
    predicted: Pass
    per_run: RunErrors

    def error(self, recorded: Decimal, predicted: Decimal) -> Decimal | None:
        return (predicted - recorded) / recorded if recorded else None

    @property
    def cost_error(self) -> Decimal:
        return self.error(self.recorded.cost, self.predicted.cost)


@dataclass
class TraceReport:
    """What ``agentpolicy eval`` reports about a policy replayed on a trace."""

    policy: CompiledPolicy
    baseline: Pass
    result: Pass
    levers: list[tuple[Rule, Pass]]
    check: CacheCheck | None
    requires: list[RequireResult]

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.requires)

    @property
    def trace(self):
        return self.policy.trace

    def scaled(self, evaluation: Pass) -> Decimal:
        """Cost of the policy's ``runs`` runs: the mean per run times the runs."""
        return evaluation.cost_per_run.mean * self.policy.runs

    def __rich_console__(self, console, options):
        yield from _rich(self)


def build(policy: CompiledPolicy) -> TraceReport:
    """Replay the baseline, each prefix of the levers, and the cache lever alone where it tells."""
    count = len(policy.rules)
    baseline = replay(policy, [], "baseline", f"replaying 1/{count + 1}: as recorded")
    levers = [
        (
            rule,
            replay(
                policy,
                policy.rules[: i + 1],
                f"lever_{i + 1}",
                f"replaying {i + 2}/{count + 1}: {rule.text}",
                keep=i == count - 1,
            ),
        )
        for i, rule in enumerate(policy.rules)
    ]
    result = levers[-1][1] if levers else baseline
    return TraceReport(
        policy=policy,
        baseline=baseline,
        result=result,
        levers=levers,
        check=_cache_check(policy, baseline, levers),
        requires=[_require(policy, r, result) for r in policy.requires],
    )


def _cache_check(policy: CompiledPolicy, baseline: Pass, levers) -> CacheCheck | None:
    caches = [r for r in policy.rules if r.kind == "cache"]
    if not caches or not policy.trace.recorded_cache:
        return None
    if all(r.kind == "cache" for r in policy.rules):
        name, predicted = f"lever_{len(policy.rules)}", levers[-1][1]
    else:
        name = "cache_only"
        predicted = replay(policy, caches, name, "replaying: the cache lever alone")
    per_run = run_errors(policy.trace.database, name, "baseline")
    return CacheCheck(recorded=baseline, predicted=predicted, per_run=per_run)


def _require(policy: CompiledPolicy, requirement: Requirement, result: Pass) -> RequireResult:
    actual = {
        "cost per run": result.cost_per_run.mean,
        "cost": result.cost_per_run.mean * policy.runs,
        "latency": result.latency_per_run.mean,
    }[requirement.metric]
    return RequireResult(requirement, actual, _COMPARE[requirement.op](actual, requirement.bound))


# Rows shared by the terminal and markdown renderers.


def _money(value: Decimal | None) -> str:
    return "—" if value is None else usd(value, places=2)


def _change(before: Decimal, after: Decimal, kind: str = "money") -> str:
    """A signed change and its percentage; money to the cent, or to 1/100 cent below a dollar."""
    if kind != "money":
        return change(before, after, kind)
    delta = after - before
    sign = "+" if delta > 0 else "−" if delta < 0 else "±"
    amount = usd(abs(delta), places=2 if abs(delta) >= 1 else 4)
    if before == 0:
        return f"{sign}{amount}"
    return f"{sign}{amount} ({sign}{abs(delta) / abs(before) * 100:.1f} %)"


def _per_run(value: Decimal) -> str:
    return usd(value, places=4)


def _percent(error: Decimal | None) -> str:
    if error is None:
        return "—"
    sign = "+" if error > 0 else "−" if error < 0 else "±"
    return f"{sign}{abs(error) * 100:.1f} %"


def _title(report: TraceReport) -> str:
    policy, trace = report.policy, report.trace
    dated = f", {policy.prices.date}" if policy.prices.date else ""
    skipped = f", {trace.skipped_count:,} skipped" if trace.skipped else ""
    return (
        f"policy {policy.name} · trace {trace.name}: {trace.calls:,} calls in {trace.runs:,} runs"
        f"{skipped} · prices: {policy.prices.source}{dated}"
    )


def _total_rows(report: TraceReport) -> list[tuple[str, str, str, str, str]]:
    base, result, trace = report.baseline, report.result, report.trace
    recorded = base.recorded_cost
    per_run_recorded = recorded / base.runs if recorded is not None else None
    rows = [
        (
            f"cost, the trace's {trace.runs:,} runs",
            _money(recorded),
            _money(base.cost),
            _money(result.cost),
            _change(base.cost, result.cost),
        )
    ]
    if report.policy.runs != trace.runs:
        rows.append(
            (
                f"cost, {report.policy.runs:,} runs at the mean",
                _money(per_run_recorded * report.policy.runs) if recorded is not None else "—",
                _money(report.scaled(base)),
                _money(report.scaled(result)),
                _change(report.scaled(base), report.scaled(result)),
            )
        )
    for label, pick in (("mean", "mean"), ("median", "median"), ("p95", "p95")):
        before, after = getattr(base.cost_per_run, pick), getattr(result.cost_per_run, pick)
        rows.append(
            (
                f"cost per run, {label}",
                _per_run(per_run_recorded) if label == "mean" and recorded is not None else "",
                _per_run(before),
                _per_run(after),
                _change(before, after),
            )
        )
    for label, pick in (("mean", "mean"), ("median", "median"), ("p95", "p95")):
        before, after = getattr(base.latency_per_run, pick), getattr(result.latency_per_run, pick)
        rows.append(
            (
                f"latency per run, {label}",
                "",
                seconds(before),
                seconds(after),
                change(before, after, "time"),
            )
        )
    if result.deferred_latency_per_run:
        rows.append(
            (
                "deferred (batch) per run, mean",
                "",
                "—",
                seconds(result.deferred_latency_per_run),
                "leaves the path",
            )
        )
    rows.append(
        (
            "input: uncached / cache write / read",
            "",
            _input_tokens(base.tokens),
            _input_tokens(result.tokens),
            "",
        )
    )
    rows.append(("output tokens", "", _count(base.tokens.output), _count(result.tokens.output), ""))
    return rows


def _input_tokens(tokens: Buckets) -> str:
    written = tokens.write_5m + tokens.write_1h
    return f"{_count(tokens.uncached)} / {_count(written)} / {_count(tokens.read)}"


def _count(tokens: Decimal) -> str:
    """A token count as a person scans it: exact below 10,000, else in thousands or millions."""
    if tokens < 10_000:
        return f"{tokens:,}"
    if tokens < 1_000_000:
        return f"{tokens / 1000:,.1f}k"
    return f"{tokens / 1_000_000:,.2f}M"


def _lever_rows(report: TraceReport) -> list[tuple[str, ...]]:
    base = report.baseline
    rows = [
        (
            "",
            "",
            "as recorded, repriced",
            _money(base.cost),
            "",
            _per_run(base.cost_per_run.median),
            _per_run(base.cost_per_run.p95),
            seconds(base.latency_per_run.median),
        )
    ]
    previous = base
    for number, (rule, after) in enumerate(report.levers, start=1):
        rows.append(
            (
                str(number),
                str(rule.line),
                rule.text,
                _money(after.cost),
                _change(previous.cost, after.cost),
                _per_run(after.cost_per_run.median),
                _per_run(after.cost_per_run.p95),
                seconds(after.latency_per_run.median),
            )
        )
        previous = after
    return rows


def _step_rows(report: TraceReport) -> list[tuple[str, ...]]:
    """One row per step name, its recorded models together, most expensive after first.

    A step the trace recorded under several models (the same model through two routes, say)
    is one row here; the JSON document keeps a row per step and recorded model.
    """
    rules = {(d.step.name, d.step.model): d.rules for d in report.result.decisions}
    names: dict[str, list] = {}
    for after in report.result.steps:
        names.setdefault(after.step, []).append(after)
    rows = []
    for name, parts in sorted(names.items(), key=lambda item: -sum(p.cost for p in item[1])):
        before = [report.baseline.step(p.step, p.model) for p in parts]
        touched = {r for p in parts for r in rules.get((p.step, p.model), ())}
        recorded = [p.recorded_cost for p in parts if p.recorded_cost is not None]
        rows.append(
            (
                name,
                _models(parts),
                f"{sum(p.calls for p in parts):,}",
                _input_tokens(_sum(p.tokens for p in parts)),
                _count(sum(p.tokens.output for p in parts)),
                f"{_money(sum(b.cost for b in before))} → {_money(sum(p.cost for p in parts))}",
                _money(sum(recorded)) if recorded else "—",
                " ".join(f"{r.kind}:{r.line}" for r in sorted(touched, key=lambda r: r.index))
                or "untouched",
            )
        )
    base, result = report.baseline, report.result
    rows.append(
        (
            "total",
            "",
            f"{result.calls:,}",
            _input_tokens(result.tokens),
            _count(result.tokens.output),
            f"{_money(base.cost)} → {_money(result.cost)}",
            _money(base.recorded_cost),
            "",
        )
    )
    return rows


def _models(parts) -> str:
    """The recorded model (or how many), and where routing sent the calls."""
    before = sorted({p.model for p in parts})
    after = sorted({p.model_after for p in parts})
    shown = before[0] if len(before) == 1 else f"{len(before)} models"
    if after != before:
        shown += " → " + (after[0] if len(after) == 1 else f"{len(after)} models")
    return shown


def _model_cell(shown: str) -> str:
    """In a terminal table, the model a step is routed to goes on a line of its own."""
    return shown.replace(" → ", "\n→ ")


def _sum(buckets) -> Buckets:
    total = Buckets()
    for tokens in buckets:
        total = total + tokens
    return total


def _check_rows(check: CacheCheck) -> list[tuple[str, str, str, str]]:
    billed, predicted = check.recorded.tokens, check.predicted.tokens
    rows = []
    for label, before, after in (
        (
            "cache writes (tokens)",
            billed.write_5m + billed.write_1h,
            predicted.write_5m + predicted.write_1h,
        ),
        ("cache reads (tokens)", billed.read, predicted.read),
        ("uncached input (tokens)", billed.uncached, predicted.uncached),
    ):
        rows.append((label, f"{before:,}", f"{after:,}", _percent(check.error(before, after))))
    rows.append(
        (
            "cost at list prices",
            _money(check.recorded.cost),
            _money(check.predicted.cost),
            _percent(check.cost_error),
        )
    )
    rows.append(
        (
            "cost per run, |error|",
            "",
            f"median {_percent(check.per_run.median).lstrip('+')}",
            f"p95 {_percent(check.per_run.p95).lstrip('+')}",
        )
    )
    return rows


def _notes(report: TraceReport) -> list[str]:
    trace, result = report.trace, report.result
    notes = []
    if result.modelled_latency_calls == result.calls:
        notes.append(
            "latency: the trace records none; every call is timed by the price table's formula "
            "t0 + (uncached + written + c_read·read) / prefill speed + output / output speed, "
            "and a run's calls one after another"
        )
    elif result.modelled_latency_calls:
        notes.append(
            f"latency: {result.modelled_latency_calls:,} calls record none and are timed by the "
            "price table's formula; the others are recorded, moved by the formula's change"
        )
    else:
        notes.append("latency: recorded per call; a lever moves it by the formula's change")
    if report.baseline.recorded_cost is not None:
        same = "recorded" not in _step_table(report)[1]
        notes.append(
            "recorded: the cost the log itself states; baseline: the recorded tokens repriced "
            "with the price table" + ("; the two agree on every step" if same else "")
        )
    if any(r.kind == "cache" for r in report.policy.rules) and trace.recorded_cache:
        notes.append(
            "the cache lever replaces the caching the trace recorded: every call's prompt is "
            "re-split by the lever"
        )
    notes.append(
        f"read {trace.records:,} records from {len(trace.loaded.files)} file(s), "
        f"skipped {trace.skipped_count:,}"
        + (
            ": "
            + "; ".join(
                f"{s.count:,} whose {s.field} {s.problem} (first at {s.first})"
                for s in trace.skipped
            )
            if trace.skipped
            else ""
        )
    )
    return notes


def _require_lines(report: TraceReport) -> list[tuple[bool, str]]:
    lines = []
    for r in report.requires:
        metric = r.requirement.metric
        shown = require_figure(metric, r.actual)
        basis = "mean per run" if metric != "cost" else f"{report.policy.runs:,} runs"
        lines.append((r.passed, f"{r.requirement.statement.text}  (is {shown}, {basis})"))
    return lines


_TOTAL_HEADERS = ("", "recorded", "baseline", "policy", "change")
_LEVER_HEADERS = (
    "#",
    "line",
    "statement",
    "cost",
    "change",
    "run median",
    "run p95",
    "latency median",
)
_STEP_HEADERS = (
    "step",
    "model",
    "calls",
    "input uncached/write/read",
    "output",
    "cost before → after",
    "recorded",
    "rules",
)
_CHECK_HEADERS = ("", "billed (recorded)", "predicted", "error")


_WRAPPING = ("model", "statement", "rules")


def _step_table(report: TraceReport) -> tuple[str, tuple[str, ...], list[tuple[str, ...]]]:
    """The step table's title, headers and rows, without the columns that would say nothing.

    The ``recorded`` column is shown where the log's cost differs from the baseline on some
    step; the ``model`` column where the steps do not all use one model (named in the title).
    """
    rows = _step_rows(report)
    title, dropped = "Steps, all runs", set()
    recorded, model = _STEP_HEADERS.index("recorded"), _STEP_HEADERS.index("model")
    if all(row[recorded] in ("—", row[recorded - 1].split(" → ")[0]) for row in rows):
        dropped.add(recorded)
    models = {row[model] for row in rows[:-1]}
    if len(models) == 1:
        title += f", every call to {models.pop()}"
        dropped.add(model)
    keep = [i for i in range(len(_STEP_HEADERS)) if i not in dropped]
    return title, tuple(_STEP_HEADERS[i] for i in keep), [tuple(r[i] for i in keep) for r in rows]


def _cell(header: str, text: str) -> str:
    """In a terminal table, a routed model and each rule of a step get a line of their own."""
    if header == "model":
        return _model_cell(text)
    if header == "rules":
        return text.replace(" ", "\n")
    return text


def _min_width(header: str, rows) -> int:
    """Model names are not broken: the model column is as wide as its longest name."""
    if header == "rules":
        return 9
    if header != "model" or not rows:
        return 10
    column = list(_STEP_HEADERS).index("model")
    names = [line for row in rows for line in _model_cell(row[column]).splitlines()]
    return min(16, max(len(name) for name in names))


def _table(title: str, headers, rows, left=("", "step", "model", "statement", "rules")) -> Table:
    table = Table(title=title, title_justify="left", show_edge=False)
    for header in headers:
        justify = "left" if header in left else "right"
        wraps = header in _WRAPPING
        table.add_column(
            header,
            justify=justify,
            no_wrap=not wraps,
            overflow="fold" if wraps else "ellipsis",
            min_width=_min_width(header, rows) if wraps else None,
        )
    for row in rows:
        cells = (_cell(h, c) for h, c in zip(headers, row, strict=True))
        table.add_row(*(escape(cell) for cell in cells))
    return table


def _rich(report: TraceReport):
    yield Text(_title(report), style="bold")
    yield Text()
    yield _table("Recorded calls and the policy, all runs", _TOTAL_HEADERS, _total_rows(report))
    yield Text()
    if report.levers:
        yield _table("Levers, cumulative in policy order", _LEVER_HEADERS, _lever_rows(report))
        yield Text()
    yield _table(*_step_table(report))
    if report.check is not None:
        yield Text()
        yield _table(
            "The cache lever alone against the caching the provider billed",
            _CHECK_HEADERS,
            _check_rows(report.check),
        )
    yield Text()
    for note in _notes(report):
        yield Text(f"note: {note}", style="dim")
    if report.requires:
        yield Text()
        for passed, line in _require_lines(report):
            mark = Text("✓ pass ", style="green") if passed else Text("✗ FAIL ", style="bold red")
            yield mark + Text(line)


def to_markdown(report: TraceReport) -> str:
    """The report as GitHub-flavoured markdown."""
    out = [f"**{markdown_cell(_title(report))}**", ""]
    out += markdown_table(_TOTAL_HEADERS, _total_rows(report))
    if report.levers:
        out += ["", "**Levers, cumulative in policy order**", ""]
        out += markdown_table(_LEVER_HEADERS, _lever_rows(report))
    title, headers, rows = _step_table(report)
    out += ["", f"**{markdown_cell(title)}**", ""]
    out += markdown_table(headers, rows)
    if report.check is not None:
        out += ["", "**The cache lever alone against the caching the provider billed**", ""]
        out += markdown_table(_CHECK_HEADERS, _check_rows(report.check))
    out += [""] + [f"- {markdown_cell(note)}" for note in _notes(report)]
    if report.requires:
        out.append("")
        out += [
            f"- {'✅ pass' if passed else '❌ FAIL'}: `{line}`"
            for passed, line in _require_lines(report)
        ]
    return "\n".join(out) + "\n"


# JSON.


def to_json(report: TraceReport) -> str:
    return json.dumps(to_document(report), indent=2, ensure_ascii=False)


def to_document(report: TraceReport) -> dict:
    """The report as the ``agentpolicy.trace-eval/1`` JSON document; money as decimal strings."""
    policy, trace = report.policy, report.trace
    document = {
        "schema": SCHEMA,
        "policy": {"name": policy.name, "path": policy.path},
        "trace": {
            "name": trace.name,
            "mapping": policy.files["trace"],
            "files": [str(f) for f in trace.loaded.files],
            "records": trace.records,
            "calls": trace.calls,
            "runs": trace.runs,
            "skipped": [
                {"field": s.field, "problem": s.problem, "count": s.count, "first": s.first}
                for s in trace.skipped
            ],
            "latency_recorded": trace.latency_recorded,
        },
        "prices": {
            "source": policy.prices.source,
            "date": policy.prices.date,
            "path": policy.files["prices"],
        },
        "runs": policy.runs,
        "baseline": _pass(report, report.baseline),
        "result": _pass(report, report.result),
        "levers": [
            {"statement": rule.text, "line": rule.line, "kind": rule.kind, **_pass(report, after)}
            for rule, after in report.levers
        ],
        "steps": [_step(report, after) for after in report.result.steps],
        "requires": require_entries(report.requires, figure=_require_figure),
        "warnings": [w.as_dict() for w in policy.warnings],
    }
    if report.check is not None:
        document["cache_check"] = _check(report.check)
    return document


def _exact(value: Decimal | None, places: int = 9) -> str | None:
    if value is None:
        return None
    return decimal_text(value.quantize(Decimal(1).scaleb(-places)))


def _pass(report: TraceReport, evaluation: Pass) -> dict:
    return {
        "cost": decimal_text(evaluation.cost),
        "cost_scaled_to_runs": _exact(report.scaled(evaluation)),
        "recorded_cost": _exact(evaluation.recorded_cost),
        "cost_per_run": {
            "mean": _exact(evaluation.cost_per_run.mean),
            "median": _exact(evaluation.cost_per_run.median),
            "p95": _exact(evaluation.cost_per_run.p95),
        },
        "latency_per_run_s": {
            "mean": round(float(evaluation.latency_per_run.mean), 6),
            "median": round(float(evaluation.latency_per_run.median), 6),
            "p95": round(float(evaluation.latency_per_run.p95), 6),
        },
        "deferred_latency_per_run_s": round(float(evaluation.deferred_latency_per_run), 6),
        "latency_modelled_calls": evaluation.modelled_latency_calls,
        "tokens": _buckets(evaluation.tokens),
    }


def _step(report: TraceReport, after) -> dict:
    before = report.baseline.step(after.step, after.model)
    rules = {(d.step.name, d.step.model): d.rules for d in report.result.decisions}
    return {
        "name": after.step,
        "model_before": after.model,
        "model_after": after.model_after,
        "calls": after.calls,
        "batched_calls": after.batched_calls,
        "tokens_before": _buckets(before.tokens),
        "tokens_after": _buckets(after.tokens),
        "cost_before": decimal_text(before.cost),
        "cost_after": decimal_text(after.cost),
        "recorded_cost": _exact(after.recorded_cost),
        "rules": [
            {"statement": r.text, "line": r.line, "kind": r.kind}
            for r in rules.get((after.step, after.model), ())
        ],
    }


def _buckets(tokens: Buckets) -> dict:
    return {
        "uncached_input": int(tokens.uncached),
        "cache_write_5m": int(tokens.write_5m),
        "cache_write_1h": int(tokens.write_1h),
        "cache_read": int(tokens.read),
        "output": int(tokens.output),
    }


def _check(check: CacheCheck) -> dict:
    billed, predicted = check.recorded.tokens, check.predicted.tokens
    writes = (billed.write_5m + billed.write_1h, predicted.write_5m + predicted.write_1h)
    return {
        "billed": {**_buckets(billed), "cost": decimal_text(check.recorded.cost)},
        "predicted": {**_buckets(predicted), "cost": decimal_text(check.predicted.cost)},
        "error": {
            "cache_write": _ratio(check.error(*writes)),
            "cache_read": _ratio(check.error(billed.read, predicted.read)),
            "uncached_input": _ratio(check.error(billed.uncached, predicted.uncached)),
            "cost": _ratio(check.cost_error),
            "cost_per_run_abs_median": _ratio(check.per_run.median),
            "cost_per_run_abs_p95": _ratio(check.per_run.p95),
        },
    }


def _ratio(value: Decimal | None) -> float | None:
    return None if value is None else round(float(value), 6)


def _require_figure(metric: str, value) -> str | float:
    """A require's figure in JSON: money as a decimal string to 12 places (a mean per run can
    repeat forever), seconds as a number to 6 places (DuckDB sums floats in any order)."""
    if "cost" in metric:
        return decimal_text(Decimal(value).quantize(Decimal("1e-12")))
    return round(float(value), 6)
