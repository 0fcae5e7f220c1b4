"""Two policies that replay one trace in, what changes from A to B on the recorded calls out.

``agentpolicy diff`` on trace policies: both are replayed on the same recorded calls with the
same prices, and compared in total (for the trace's runs and for the policies' run volume), per
run (mean, median and 95th percentile of cost and latency) and per step, with the statements
that differ and the same CI gates as on a pipeline.  A trace records no pass rate, so there is
no quality to compare or to gate on.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from rich.table import Table
from rich.text import Text

from .. import nodes
from ..comparison import Figure, GateCheck, Thresholds, gate
from ..compiler import CompiledPolicy
from ..diagnostics import Diagnostic, PolicyError
from ..report.numbers import (
    change,
    decimal_text,
    markdown_cell,
    markdown_table,
    seconds,
    usd,
    usd_per_run,
)
from .replay import Pass, replay

SCHEMA = "agentpolicy.trace-diff/1"

_LISTED_OUT = {"policy", "trace", "prices", "extends"}


@dataclass
class TraceStepChange:
    """One step (with one recorded model) under A and under B."""

    step: str
    model: str
    model_a: str
    model_b: str
    calls: int
    cost: Figure


@dataclass
class TraceComparison:
    """Policy B measured against policy A on the same recorded calls."""

    a: CompiledPolicy
    b: CompiledPolicy
    pass_a: Pass
    pass_b: Pass
    steps: list[TraceStepChange]
    statements: list[tuple[str, nodes.Statement, CompiledPolicy]]
    gate: list[GateCheck] = field(default_factory=list)

    @property
    def cost_trace(self) -> Figure:
        return Figure(self.pass_a.cost, self.pass_b.cost)

    @property
    def cost_per_run(self) -> Figure:
        return Figure(self.pass_a.cost_per_run.mean, self.pass_b.cost_per_run.mean)

    @property
    def cost_total(self) -> Figure:
        """The mean cost per run for each policy's run volume, as its eval report scales it."""
        per_run = self.cost_per_run
        return Figure(per_run.a * self.a.runs, per_run.b * self.b.runs)

    @property
    def latency(self) -> Figure:
        return Figure(self.pass_a.latency_per_run.mean, self.pass_b.latency_per_run.mean)

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.gate)


def compare_traces(
    a: CompiledPolicy, b: CompiledPolicy, thresholds: Thresholds | None = None
) -> TraceComparison:
    """Replay A and B on their common trace and compare them; refuse anything else."""
    _check_comparable(a, b, thresholds)
    pass_a = replay(a, a.rules, "diff_a", keep=False)
    pass_b = replay(b, b.rules, "diff_b", keep=False)
    comparison = TraceComparison(a, b, pass_a, pass_b, _steps(pass_a, pass_b), _statements(a, b))
    if thresholds is not None:
        comparison.gate = gate(comparison, thresholds)
    return comparison


def _check_comparable(a: CompiledPolicy, b: CompiledPolicy, thresholds: Thresholds | None):
    from ..comparison import _price_difference

    if a.trace is None or b.trace is None:
        pipeline = a if a.trace is None else b
        reason = f"{pipeline.path} runs on a pipeline, not a trace"
        raise PolicyError([_refusal(pipeline, "E414", reason)])
    if _recorded(a) != _recorded(b):
        raise PolicyError([_refusal(b, "E414", "they replay different traces")])
    prices = _price_difference(a, b)
    if prices is not None:
        reason = f"they use different price tables ({prices})"
        raise PolicyError([_refusal(b, "E411", reason, keyword="prices")])
    if thresholds is not None and thresholds.max_quality_drop is not None:
        raise PolicyError(
            [_refusal(b, "E414", "--max-quality-drop: a trace records no pass rate to compare")]
        )


def _recorded(policy: CompiledPolicy) -> tuple:
    """What a policy replays, by contents: its mapping's text and a digest of each file it reads,
    so that two copies of one trace compare, as two copies of one pipeline do."""
    loaded = policy.trace.loaded
    return loaded.path.read_text(), sorted(_digest(Path(f)) for f in loaded.files)


def _digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _refusal(b: CompiledPolicy, code: str, reason: str, *, keyword: str = "") -> Diagnostic:
    keyword = keyword or ("trace" if "trace" in b.headers else "pipeline")
    header = b.headers[keyword]
    return b.source_of(header).diagnostic(
        code,
        f"the two policies cannot be compared: {reason}",
        header.span.line,
        header.span.column,
        width=header.span.width,
    )


def _steps(pass_a: Pass, pass_b: Pass) -> list[TraceStepChange]:
    changes = []
    for step_a in pass_a.steps:
        step_b = pass_b.step(step_a.step, step_a.model)
        changes.append(
            TraceStepChange(
                step_a.step,
                step_a.model,
                step_a.model_after,
                step_b.model_after,
                step_a.calls,
                Figure(step_a.cost, step_b.cost),
            )
        )
    return changes


def _statements(a: CompiledPolicy, b: CompiledPolicy):
    """The statements found in only one of the policies, in order, marked ``-`` or ``+``."""

    def listed(policy):
        return [
            s
            for s in policy.statements
            if not (isinstance(s, nodes.Header) and s.keyword in _LISTED_OUT)
        ]

    listed_a, listed_b = listed(a), listed(b)
    matcher = difflib.SequenceMatcher(
        None, [s.text for s in listed_a], [s.text for s in listed_b], autojunk=False
    )
    found = []
    for tag, a_start, a_end, b_start, b_end in matcher.get_opcodes():
        if tag in ("replace", "delete"):
            found += [("-", s, a) for s in listed_a[a_start:a_end]]
        if tag in ("replace", "insert"):
            found += [("+", s, b) for s in listed_b[b_start:b_end]]
    return found


# Rendering.


def _title(comparison: TraceComparison) -> str:
    a, b = comparison.a, comparison.b
    runs = f"{a.runs:,} runs" if a.runs == b.runs else f"runs {a.runs:,} → {b.runs:,}"
    trace = a.trace.loaded.mapping.name
    return f"diff {a.name} → {b.name} · trace {trace}: {comparison.pass_a.calls:,} calls · {runs}"


def _total_rows(comparison: TraceComparison) -> list[tuple[str, str, str, str]]:
    def money(label, a, b, shown=usd_per_run):
        return (label, shown(a), shown(b), change(a, b, "money"))

    def time(label, a, b):
        return (label, seconds(a), seconds(b), change(a, b, "time"))

    pa, pb = comparison.pass_a, comparison.pass_b
    total = comparison.cost_total
    return [
        money(f"cost, the trace's {pa.runs:,} runs", pa.cost, pb.cost, lambda v: usd(v, places=2)),
        money(
            f"cost, {comparison.b.runs:,} runs at the mean",
            total.a,
            total.b,
            lambda v: usd(v, places=2),
        ),
        money("cost per run, mean", pa.cost_per_run.mean, pb.cost_per_run.mean),
        money("cost per run, median", pa.cost_per_run.median, pb.cost_per_run.median),
        money("cost per run, p95", pa.cost_per_run.p95, pb.cost_per_run.p95),
        time("latency per run, mean", pa.latency_per_run.mean, pb.latency_per_run.mean),
        time("latency per run, median", pa.latency_per_run.median, pb.latency_per_run.median),
        time("latency per run, p95", pa.latency_per_run.p95, pb.latency_per_run.p95),
    ] + (
        [time("deferred (batch) per run", pa.deferred_latency_per_run, pb.deferred_latency_per_run)]
        if pa.deferred_latency_per_run or pb.deferred_latency_per_run
        else []
    )


def _step_rows(comparison: TraceComparison, show_unchanged: bool) -> list[tuple[str, ...]]:
    rows = []
    for s in comparison.steps:
        if s.cost.delta == 0 and s.model_a == s.model_b and not show_unchanged:
            continue
        if s.model_a == s.model_b:
            models = s.model if s.model_a == s.model else f"{s.model} → {s.model_a}"
        else:
            models = f"{s.model} → A {s.model_a}, B {s.model_b}"
        cost = s.cost
        rows.append(
            (
                s.step,
                models,
                f"{s.calls:,}",
                f"{usd(cost.a, places=2)} → {usd(cost.b, places=2)}",
                change(cost.a, cost.b, "money"),
            )
        )
    return rows


def _unchanged_line(comparison: TraceComparison, show_unchanged: bool) -> str | None:
    same = [s for s in comparison.steps if s.cost.delta == 0 and s.model_a == s.model_b]
    if show_unchanged or not same:
        return None
    return f"{len(same)} of {len(comparison.steps)} steps unchanged, not shown (--show-unchanged)"


def _statement_lines(comparison: TraceComparison) -> list[str]:
    return [
        f"{sign} {statement.text}  # {policy.path}:{statement.span.line}"
        for sign, statement, policy in comparison.statements
    ]


def _gate_lines(comparison: TraceComparison):
    from ..report.diff import _gate_lines as pipeline_gate_lines

    return pipeline_gate_lines(comparison)


_TOTAL_HEADERS = ("", "A", "B", "change")
_STEP_HEADERS = ("step", "model", "calls", "cost, the trace's runs", "change")


def rich_renderables(comparison: TraceComparison, *, show_unchanged: bool = False):
    yield Text(_title(comparison), style="bold")
    for title, headers, rows in (
        ("Totals", _TOTAL_HEADERS, _total_rows(comparison)),
        ("Steps, all runs of the trace", _STEP_HEADERS, _step_rows(comparison, show_unchanged)),
    ):
        table = Table(title=title, title_justify="left", show_edge=False)
        for header in headers:
            table.add_column(header, justify="left" if header in ("", "step", "model") else "right")
        for row in rows:
            table.add_row(*row)
        yield Text()
        yield table
    unchanged = _unchanged_line(comparison, show_unchanged)
    if unchanged:
        yield Text(unchanged)
    yield Text()
    lines = _statement_lines(comparison)
    yield Text(
        "Statements that differ (- only in A, + only in B)" if lines else "No statement differs."
    )
    for line in lines:
        yield Text(line)
    if comparison.gate:
        yield Text()
        for passed, option, detail in _gate_lines(comparison):
            yield Text(f"{'✓ pass' if passed else '✗ FAIL'} {option}: {detail}")


def to_markdown(comparison: TraceComparison, *, show_unchanged: bool = False) -> str:
    out = [f"**{markdown_cell(_title(comparison))}**", ""]
    out += markdown_table(_TOTAL_HEADERS, _total_rows(comparison))
    out += ["", "**Steps, all runs of the trace**", ""]
    out += markdown_table(_STEP_HEADERS, _step_rows(comparison, show_unchanged))
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
        out += ["", "```diff", *lines, "```"]
    if comparison.gate:
        out += [""] + [
            f"- {'✅ pass' if passed else '❌ FAIL'} `{option}`: {detail}"
            for passed, option, detail in _gate_lines(comparison)
        ]
    return "\n".join(out) + "\n"


def to_json(comparison: TraceComparison) -> str:
    def figure(f: Figure, *, money: bool) -> dict:
        def shown(value):  # money to 12 places (a mean can repeat), seconds to 6
            value = Decimal(value)
            if money:
                return decimal_text(value.quantize(Decimal("1e-12")))
            return round(float(value), 6)

        percent = f.percent
        return {
            "a": shown(f.a),
            "b": shown(f.b),
            "change": shown(f.delta),
            "percent": None if percent is None else round(float(percent), 6),
        }

    pa, pb = comparison.pass_a, comparison.pass_b
    document = {
        "schema": SCHEMA,
        "a": {"name": comparison.a.name, "path": comparison.a.path, "runs": comparison.a.runs},
        "b": {"name": comparison.b.name, "path": comparison.b.path, "runs": comparison.b.runs},
        "trace": {
            "mapping": str(comparison.a.trace.loaded.path),
            "calls": pa.calls,
            "runs": pa.runs,
        },
        "totals": {
            "cost_trace": figure(comparison.cost_trace, money=True),
            "cost_total": figure(comparison.cost_total, money=True),
            "cost_per_run_mean": figure(comparison.cost_per_run, money=True),
            "cost_per_run_median": figure(
                Figure(pa.cost_per_run.median, pb.cost_per_run.median), money=True
            ),
            "cost_per_run_p95": figure(
                Figure(pa.cost_per_run.p95, pb.cost_per_run.p95), money=True
            ),
            "latency_per_run_s_mean": figure(comparison.latency, money=False),
            "latency_per_run_s_median": figure(
                Figure(pa.latency_per_run.median, pb.latency_per_run.median), money=False
            ),
            "latency_per_run_s_p95": figure(
                Figure(pa.latency_per_run.p95, pb.latency_per_run.p95), money=False
            ),
            "deferred_latency_per_run_s": figure(
                Figure(pa.deferred_latency_per_run, pb.deferred_latency_per_run), money=False
            ),
        },
        "steps": [
            {
                "step": s.step,
                "model": s.model,
                "model_a": s.model_a,
                "model_b": s.model_b,
                "calls": s.calls,
                "cost": figure(s.cost, money=True),
            }
            for s in comparison.steps
        ],
        "statements": [
            {
                "change": "removed" if sign == "-" else "added",
                "statement": st.text,
                "kind": _kind(st),
                "file": policy.path,
                "line": st.span.line,
            }
            for sign, st, policy in comparison.statements
        ],
        "gate": [
            {
                "check": c.name,
                "limit": None if c.limit is None else decimal_text(c.limit),
                "actual": None if c.actual is None else decimal_text(_six(c.actual)),
                "passed": c.passed,
            }
            for c in comparison.gate
        ],
        "passed": comparison.passed,
    }
    return json.dumps(document, indent=2, ensure_ascii=False)


def _kind(statement: nodes.Statement) -> str:
    """The kind of a statement as the pipeline diff names it: a lever's, require or header."""
    if isinstance(statement, nodes.Require):
        return "require"
    if isinstance(statement, nodes.Header | nodes.Traffic):
        return "header"
    return (
        type(statement)
        .__name__.lower()
        .replace("cacheprefix", "cache")
        .replace("cachehistory", "cache")
    )


def _six(value: Decimal) -> Decimal:
    return value.quantize(Decimal("1e-6"))
