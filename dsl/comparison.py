"""Two compiled policies in, a :class:`Comparison` out: figures under A and B, and why they moved.

Two policies compare only on the same pipeline and the same price table (their contents, not
their paths); anything else is an error that says what differs.  For every step and in total the
comparison holds cost per run, cost for each policy's runs, latency and quality under A and
under B.  It lists the statements that differ — by their canonical text, in order, since the
order of rules decides which rule wins — and, for each, the steps it moved: the steps that would
come out differently in its own policy without it.  Thresholds turn it into a CI gate.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from decimal import Decimal

from . import nodes
from .compiler import CompiledPolicy
from .diagnostics import Diagnostic, PolicyError
from .engine import Evaluation, StepResult, evaluate
from .report.numbers import percent_change

#: Headers the comparison checks by content instead of listing them as differences.
_CHECKED_HEADERS = {"policy", "pipeline", "prices", "extends"}


@dataclass(frozen=True)
class Figure:
    """One measure under A and under B."""

    a: Decimal
    b: Decimal

    @property
    def delta(self) -> Decimal:
        return self.b - self.a

    @property
    def percent(self) -> Decimal | None:
        """The change in percent of A; None when A is zero (the figure is new)."""
        return percent_change(self.a, self.b)

    @property
    def is_new(self) -> bool:
        return self.a == 0 and self.b != 0


@dataclass(frozen=True)
class StepChange:
    """One step under A and under B."""

    a: StepResult
    b: StepResult
    cost_per_run: Figure
    cost_total: Figure
    latency: Figure
    quality: Figure

    @property
    def name(self) -> str:
        return self.b.name

    @property
    def changed(self) -> bool:
        return _signature(self.a) != _signature(self.b)


@dataclass(frozen=True)
class StatementChange:
    """A statement found in only one of the two policies, and the steps it moved there."""

    change: str  # "added" (only in B) or "removed" (only in A)
    statement: nodes.Statement
    kind: str  # a lever kind, "require" or "header"
    policy: CompiledPolicy
    moves: list[str]


@dataclass(frozen=True)
class Thresholds:
    """When ``agentpolicy diff`` fails a CI gate; None means not checked."""

    fail_on_increase: bool = False
    max_increase_usd: Decimal | None = None
    max_increase_pct: Decimal | None = None
    max_latency_increase: Decimal | None = None
    max_quality_drop: Decimal | None = None


@dataclass(frozen=True)
class GateCheck:
    """One threshold and whether B stays within it."""

    name: str
    limit: Decimal | None
    actual: Decimal | None
    passed: bool


@dataclass
class Comparison:
    """Policy B measured against policy A."""

    a: CompiledPolicy
    b: CompiledPolicy
    result_a: Evaluation
    result_b: Evaluation
    steps: list[StepChange]
    statements: list[StatementChange]
    warnings: list[Diagnostic] = field(default_factory=list)
    gate: list[GateCheck] = field(default_factory=list)

    @property
    def cost_per_run(self) -> Figure:
        return Figure(self.result_a.cost_per_run, self.result_b.cost_per_run)

    @property
    def cost_total(self) -> Figure:
        return Figure(self.result_a.cost_total, self.result_b.cost_total)

    @property
    def latency(self) -> Figure:
        return Figure(self.result_a.latency_per_run, self.result_b.latency_per_run)

    @property
    def deferred_latency(self) -> Figure:
        return Figure(self.result_a.deferred_latency, self.result_b.deferred_latency)

    @property
    def quality(self) -> Figure:
        return Figure(self.result_a.quality, self.result_b.quality)

    @property
    def changed_steps(self) -> list[StepChange]:
        return [s for s in self.steps if s.changed]

    @property
    def unchanged_steps(self) -> list[StepChange]:
        return [s for s in self.steps if not s.changed]

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.gate)


def compare(
    a: CompiledPolicy, b: CompiledPolicy, thresholds: Thresholds | None = None
) -> Comparison:
    """Evaluate A and B on their common pipeline and prices and compare them step by step."""
    _check_comparable(a, b)
    result_a, result_b = evaluate(a), evaluate(b)
    steps = [
        StepChange(
            a=step_a,
            b=step_b,
            cost_per_run=Figure(step_a.cost, step_b.cost),
            cost_total=Figure(step_a.cost * a.runs, step_b.cost * b.runs),
            latency=Figure(step_a.latency, step_b.latency),
            quality=Figure(step_a.quality, step_b.quality),
        )
        for step_a, step_b in zip(result_a.steps, result_b.steps, strict=True)
    ]
    comparison = Comparison(
        a=a,
        b=b,
        result_a=result_a,
        result_b=result_b,
        steps=steps,
        statements=statement_changes(a, b, result_a, result_b),
        warnings=_warnings(a, b),
    )
    comparison.gate = gate(comparison, thresholds or Thresholds())
    return comparison


# Comparability.


def _check_comparable(a: CompiledPolicy, b: CompiledPolicy) -> None:
    """Refuse to compare policies that run on different pipelines or price tables."""
    pipeline = _first_difference(
        a.pipeline.model_dump(exclude={"name"}), b.pipeline.model_dump(exclude={"name"})
    )
    if pipeline is not None:
        raise PolicyError([_refusal(a, b, "E410", "pipeline", "pipelines", pipeline)])
    prices = _price_difference(a, b)
    if prices is not None:
        raise PolicyError([_refusal(a, b, "E411", "prices", "price tables", prices)])


def _price_difference(a: CompiledPolicy, b: CompiledPolicy) -> str | None:
    """The first model whose prices differ between the two tables, among those either uses.

    Models are compared as priced (tariffs, cache and batch rules, latency, quality), not by
    where the figures came from, so one table read from two paths compares equal.
    """
    for name in sorted(_models_used(a) | _models_used(b)):
        first, second = (p.prices.models.get(name) for p in (a, b))
        if first != second:
            return _model_difference(name, first, second)
    return None


_FIGURES = (
    "input",
    "output",
    "cache_write_5m",
    "cache_write_1h",
    "cache_read",
    "min_cacheable",
    "batch_discount",
    "overhead",
    "prefill_speed",
    "output_speed",
    "cache_read_prefill",
    "pass_rate",
)


def _model_difference(name: str, first, second) -> str:
    """The first figure of a model that differs, as ``opus.output: 25 in A, 20 in B``."""
    if first is None or second is None:
        return f"model '{name}' is only in {'B' if first is None else 'A'}"
    for figure in _FIGURES:
        values = [getattr(model, figure, None) for model in (first, second)]
        if values[0] != values[1]:
            return f"{name}.{figure}: {values[0]} in A, {values[1]} in B"
    return f"model '{name}'"


def _models_used(policy: CompiledPolicy) -> set[str]:
    used = {step.model for step in policy.pipeline.steps}
    return used | {rule.model for rule in policy.rules if rule.kind == "route"}


def _refusal(a, b, code: str, keyword: str, what: str, difference: str) -> Diagnostic:
    header = b.headers[keyword]
    source = b.source_of(header)
    return source.diagnostic(
        code,
        f"the two policies cannot be compared: they use different {what} ({difference})",
        header.value_span.line,
        header.value_span.column,
        width=header.value_span.width,
        hint=f"A ({a.path}) uses {a.files[keyword]}; B uses {b.files[keyword]}",
    )


def _first_difference(a, b, path: str = "") -> str | None:
    """Where two plain data trees first differ, as ``steps[0].input: 900 in A, 1000 in B``."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in list(a) + [k for k in b if k not in a]:
            if key not in a or key not in b:
                side = "B" if key not in a else "A"
                return f"{_join(path, key)} only in {side}"
            found = _first_difference(a[key], b[key], _join(path, key))
            if found:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list):
        for index, (x, y) in enumerate(zip(a, b, strict=False)):
            found = _first_difference(x, y, f"{path}[{index}]")
            if found:
                return found
        if len(a) != len(b):
            return f"{path}: {len(a)} in A, {len(b)} in B"
        return None
    if a != b:
        return f"{path}: {_plain(a)} in A, {_plain(b)} in B"
    return None


def _join(path: str, key) -> str:
    return f"{path}.{key}" if path else str(key)


def _plain(value) -> str:
    return format(value.normalize(), "f") if isinstance(value, Decimal) else str(value)


def _warnings(a: CompiledPolicy, b: CompiledPolicy) -> list[Diagnostic]:
    """What makes the comparison less than like for like, though still meaningful."""
    found = []
    if a.runs != b.runs:
        found.append(
            _header_warning(
                a, b, "runs", "W201", f"A is evaluated for {a.runs:,} runs and B for {b.runs:,}"
            )
        )
    if a.evals != b.evals:
        found.append(
            _header_warning(
                a, b, "evals", "W200", "A and B take measured quality from different evals"
            )
        )
    return found


def _header_warning(a, b, keyword: str, code: str, message: str) -> Diagnostic:
    policy = b if keyword in b.headers else a
    header = policy.headers.get(keyword)
    source = policy.source_of(header) if header else policy.source
    line, column, width = (
        (header.span.line, header.span.column, header.span.width) if header else (0, 0, 1)
    )
    return source.diagnostic(code, message, line, column, width=width, severity="warning")


# Statements.


def statement_changes(
    a: CompiledPolicy, b: CompiledPolicy, result_a: Evaluation, result_b: Evaluation
) -> list[StatementChange]:
    """The statements found in only one policy, in order, each with the steps it moved."""
    listed_a, listed_b = listed_statements(a), listed_statements(b)
    matcher = difflib.SequenceMatcher(
        None, [s.text for s in listed_a], [s.text for s in listed_b], autojunk=False
    )
    changes = []
    for tag, a_start, a_end, b_start, b_end in matcher.get_opcodes():
        if tag in ("replace", "delete"):
            for statement in listed_a[a_start:a_end]:
                changes.append(_statement_change("removed", statement, a, result_a))
        if tag in ("replace", "insert"):
            for statement in listed_b[b_start:b_end]:
                changes.append(_statement_change("added", statement, b, result_b))
    return changes


def listed_statements(policy: CompiledPolicy) -> list[nodes.Statement]:
    """The statements a diff compares: all but the name, pipeline and prices (checked apart)."""
    return [
        s
        for s in policy.statements
        if not (isinstance(s, nodes.Header) and s.keyword in _CHECKED_HEADERS)
    ]


def _statement_change(
    change: str, statement: nodes.Statement, policy: CompiledPolicy, result: Evaluation
) -> StatementChange:
    rule = next((r for r in policy.rules if r.statement is statement), None)
    if rule is None:
        kind = "require" if isinstance(statement, nodes.Require) else "header"
        return StatementChange(change, statement, kind, policy, moves=[])
    without = evaluate(policy, [r for r in policy.rules if r is not rule])
    moves = [
        step.name
        for step, other in zip(result.steps, without.steps, strict=True)
        if _signature(step) != _signature(other)
    ]
    return StatementChange(change, statement, rule.kind, policy, moves=moves)


def _signature(step: StepResult) -> tuple:
    """What a step comes to under a policy; two steps with equal signatures did not move."""
    return (
        step.model,
        step.tokens,
        step.cost,
        step.latency,
        step.deferred,
        step.quality,
        tuple(call.cache for call in step.calls),
    )


# The CI gate.


def gate(comparison: Comparison, thresholds: Thresholds) -> list[GateCheck]:
    """Each threshold that was set, checked against B's change from A (crossing fails)."""
    total = comparison.cost_total
    checks = []
    if thresholds.fail_on_increase:
        per_run = comparison.cost_per_run.delta
        passed = per_run <= 0 and total.delta <= 0
        checks.append(GateCheck("fail-on-increase", Decimal(0), per_run, passed))
    if thresholds.max_increase_usd is not None:
        limit = thresholds.max_increase_usd
        checks.append(GateCheck("max-increase-usd", limit, total.delta, total.delta <= limit))
    if thresholds.max_increase_pct is not None:
        limit = thresholds.max_increase_pct
        if total.percent is None:  # from nothing: any increase is past any percentage
            checks.append(GateCheck("max-increase-pct", limit, None, total.delta <= 0))
        else:
            checks.append(
                GateCheck("max-increase-pct", limit, total.percent, total.percent <= limit)
            )
    if thresholds.max_latency_increase is not None:
        limit, rise = thresholds.max_latency_increase, comparison.latency.delta
        checks.append(GateCheck("max-latency-increase", limit, rise, rise <= limit))
    if thresholds.max_quality_drop is not None:
        limit, drop = thresholds.max_quality_drop, -comparison.quality.delta
        checks.append(GateCheck("max-quality-drop", limit, drop, drop <= limit))
    return checks
