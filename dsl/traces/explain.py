"""A policy that replays a trace in, why each step of the trace costs what it costs out.

For every step of the trace's step table (one row per step name and recorded model): which
rules matched it and which one won, which did not fire and why (the selector's test with the
step's value), and its cost for all the trace's runs, before and after the levers, as the
formula with the summed token buckets and the model's prices put in.  The sums are exact: every
call of a row is priced at the same rates, so the formula over the sums is the sum of the calls.
"""

from __future__ import annotations

from decimal import Decimal

from ..compiler import CompiledPolicy, Rule
from ..diagnostics import PolicyError, did_you_mean
from ..explain import APPLY_ORDER
from ..inputs import Step
from ..report.explain import cost_formula
from ..report.numbers import decimal_text, usd
from .replay import Pass, StepFigures, replay

_INDENT = " " * 11


def explain_trace(policy: CompiledPolicy, *, step: str | None = None) -> str:
    """The explanation as text: every row of the step table, or the rows of one step."""
    rows = policy.pipeline.steps
    if step is not None:
        names = sorted({row.name for row in rows})
        if step not in names:
            hint = did_you_mean(step, names) or "steps: " + ", ".join(names)
            raise PolicyError(
                [policy.source.diagnostic("E212", f"the trace has no step '{step}'", hint=hint)]
            )
        rows = [row for row in rows if row.name == step]
    baseline = replay(policy, [], "explain_baseline", keep=False)
    result = replay(policy, policy.rules, "explain_result", keep=False)
    lines = _title(policy, baseline)
    for row in rows:
        lines += [""] + _row_block(policy, row, baseline, result)
    return "\n".join(line.rstrip() for line in lines) + "\n"


def _title(policy: CompiledPolicy, baseline: Pass) -> list[str]:
    trace = policy.trace.loaded.mapping.name
    return [
        f"explain {policy.name} · trace {trace}: {baseline.calls:,} calls in {baseline.runs:,} runs"
        f" · prices: {policy.prices.source}",
        "Levers apply in this order, whatever the order they are written in: route, then trim "
        "and cap, then cache, then batch. Figures are for all the trace's runs.",
        "  cost     = (uncached × input price + cache write × write price + cache read × read "
        "price + output × output price) / 10^6 × batch factor",
    ]


def _row_block(policy: CompiledPolicy, row: Step, baseline: Pass, result: Pass) -> list[str]:
    before = baseline.step(row.name, row.model)
    after = result.step(row.name, row.model)
    moved = f" → {after.model_after}" if after.model_after != row.model else ""
    lines = [f"{row.name} · {row.difficulty} · {after.calls:,} calls · {row.model}{moved}"]
    for kind in APPLY_ORDER:
        lines += _lever_lines(policy, kind, row)
    lines += _cost_lines(policy, before, "before")
    lines += _cost_lines(policy, after, "after")
    return lines


def _lever_lines(policy: CompiledPolicy, kind: str, row: Step) -> list[str]:
    rules = [r for r in policy.rules if r.kind == kind]
    if not rules:
        return [f"  {kind:<8} no {kind} rule in the policy"]
    winner = next((r for r in rules if r.matches(row)), None)
    if kind == "cache":
        winner = rules[0] if rules[0].matches(row) else None
    lines = []
    if winner is None:
        lines.append(f"  {kind:<8} no rule matched")
    else:
        lines.append(f"  {kind:<8} line {winner.line} '{winner.text}'{_effect(winner)}")
        if winner.selector is not None:
            lines.append(f"{_INDENT}matched: {_checks(winner, row)}")
    for rule in rules:
        if rule is winner:
            continue
        if kind != "cache" and rule.matches(row):
            lines.append(
                f"{_INDENT}line {rule.line} '{rule.text}' also matches; line "
                f"{winner.line} comes first"
            )
        elif kind == "cache" and rule is not rules[0]:
            lines.append(f"{_INDENT}line {rule.line} '{rule.text}': only the first cache counts")
        else:
            lines.append(
                f"{_INDENT}line {rule.line} '{rule.text}' does not match: "
                f"{_checks(rule, row, failed_only=True)}"
            )
    return lines


def _effect(rule: Rule) -> str:
    if rule.kind == "route":
        return f": routed to {rule.model}"
    if rule.kind == "trim":
        return f": input trimmed {rule.variant}"
    if rule.kind == "cap":
        return f": output capped {rule.variant}"
    if rule.kind == "batch":
        return ": sent to the batch API"
    if rule.cache_form == "history":
        return ": each call reads what the previous call of its conversation wrote"
    return f": the first {decimal_text(rule.prefix_size, min_places=0)} tokens of each prompt"


def _checks(rule: Rule, row: Step, *, failed_only: bool = False) -> str:
    checks = rule.selector.checks(row) if rule.selector is not None else []
    shown = [c for c in checks if not (failed_only and c.passed)] or checks
    return "; ".join(f"{c.text} {'✓' if c.passed else '✗'} ({c.step_value})" for c in shown)


def _cost_lines(policy: CompiledPolicy, figures: StepFigures, label: str) -> list[str]:
    price = policy.prices.models[figures.model_after if label == "after" else figures.model]
    batched = label == "after" and figures.batched_calls > 0
    formula = cost_formula(price, figures.tokens, batched)
    head = "cost" if label == "before" else ""
    return [f"  {head:<8} {label + ':':<7} {formula} = {_money(figures.cost)}"]


def _money(value: Decimal) -> str:
    return usd(value).replace("$", "") + " USD"
