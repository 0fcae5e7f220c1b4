"""An :class:`~agentpolicy.explain.Explanation` in, plain text out: one block per step.

Each block follows the levers in the order they apply and writes each figure as its formula
with the numbers and units put in, then the result.  By default a block is a summary: calls
that came out alike share a line, and a rule that did not match shows only the tests it failed.
For one step (``--step``) every call has its own line and every test of every rule is shown.
"""

from __future__ import annotations

from decimal import Decimal

from ..explain import CacheLog, CallGroup, Explanation, LeverKind, StepExplanation, Verdict
from ..formulas import Buckets
from ..prices import ModelPrice
from .numbers import decimal_text, rate, usd

SYMBOLIC = (
    "  cost     = (uncached × input price + cache write × write price + cache read × read price"
    " + output × output price) / 10^6 × batch factor",
    "  latency  = overhead + (uncached + cache write + read share × cache read) / prefill speed"
    " + output / output speed",
)
_INDENT = " " * 11


def render(explanation: Explanation, *, step: str | None = None) -> str:
    """The explanation as text: every step summarised, or one step in full."""
    lines = _title(explanation)
    if step is None:
        for item in explanation.steps:
            lines += [""] + _step_block(explanation, item, detail=False)
        lines += [""] + _run_block(explanation)
        lines += [""] + _cache_block(explanation.caches)
        lines += _across_runs(explanation)
    else:
        item = explanation.step(step)
        lines += [""] + _step_block(explanation, item, detail=True)
        models = {group.call.model for group in item.calls}
        lines += [""] + _cache_block([log for log in explanation.caches if log.model in models])
    return "\n".join(line.rstrip() for line in lines) + "\n"


def _title(explanation: Explanation) -> list[str]:
    policy = explanation.policy
    dated = f", {policy.prices.date}" if policy.prices.date else ""
    return [
        f"explain {policy.name} · pipeline {policy.pipeline.name} "
        f"({len(policy.pipeline.steps)} steps) · {policy.runs:,} runs · "
        f"prices: {policy.prices.source}{dated}",
        "Levers apply in this order, whatever the order they are written in: "
        "route, then trim and cap, then cache, then batch.",
        *SYMBOLIC,
    ]


# One step.


def _step_block(explanation: Explanation, item: StepExplanation, *, detail: bool) -> list[str]:
    result = item.result
    calls = f"{len(result.calls)} call" + ("s" if len(result.calls) > 1 else "")
    model = result.model
    if result.model != result.model_before:
        model = f"{result.model_before} → {result.model}"
    lines = [f"{result.name} · {result.difficulty} · {calls} · {model}"]
    for lever in item.levers:
        lines += _lever_lines(explanation, item, lever, detail=detail)
    lines += _cost_lines(explanation, item, detail=detail)
    lines += _latency_lines(explanation, item, detail=detail)
    lines.append(f"  {'quality':<8} {_quality_text(explanation, item)}")
    return lines


def _lever_lines(
    explanation: Explanation, item: StepExplanation, lever: LeverKind, *, detail: bool
) -> list[str]:
    label = f"  {lever.kind:<8} "
    if not lever.verdicts:
        return [f"{label}no {lever.kind} rule in the policy"]
    winner = lever.winner
    if winner is not None:
        head = f"{_rule(explanation, winner)}: {_effect(explanation, item, lever.kind)}"
    elif lever.kind == "cache":
        head = f"{_rule(explanation, lever.verdicts[0])} does not apply: {lever.reason}"
    else:
        head = "no rule matched"
    lines = [label + head]
    if winner is not None and winner.checks:
        lines.append(f"{_INDENT}matched: {_checks(winner, failed_only=False)}")
    for verdict in lever.verdicts:
        if verdict is winner or (lever.kind == "cache" and verdict.outcome == "not applied"):
            continue
        lines.append(_INDENT + _other_rule(explanation, verdict, detail=detail))
    return lines


def _other_rule(explanation: Explanation, verdict: Verdict, *, detail: bool) -> str:
    rule = _rule(explanation, verdict)
    if verdict.outcome == "shadowed":
        first = explanation.policy.place(verdict.winner.statement)
        return f"{rule} also matches, but {first} comes first and wins"
    return f"{rule} does not match: {_checks(verdict, failed_only=not detail)}"


def _rule(explanation: Explanation, verdict: Verdict) -> str:
    return f"{explanation.policy.place(verdict.rule.statement)} '{verdict.rule.text}'"


def _checks(verdict: Verdict, *, failed_only: bool) -> str:
    shown = [c for c in verdict.checks if not (failed_only and c.passed)] or verdict.checks
    return "; ".join(f"{c.text} {'✓' if c.passed else '✗'} ({c.step_value})" for c in shown)


def _effect(explanation: Explanation, item: StepExplanation, kind: str) -> str:
    """What the winning rule of a kind did to the step."""
    result, spec = item.result, item.step
    tokens = result.calls[0].buckets
    if kind == "route":
        return f"{result.model_before} → {result.model}"
    if kind == "trim":
        rule = next(r for r in result.rules if r.kind == "trim")
        prefix = explanation.policy.pipeline.prefix if spec.uses_prefix else 0
        trimmed = tokens.input - prefix  # what the call sends beyond the shared prefix
        if rule.trim_fraction is not None:
            return (
                f"input {spec.input} → {trimmed} tokens a call = {spec.input} tok × "
                f"(1 − {decimal_text(rule.trim_fraction * 100, min_places=0)} %), rounded half up"
            )
        return f"input {spec.input} → {trimmed} tokens a call (at most {rule.trim_to})"
    if kind == "cap":
        rule = next(r for r in result.rules if r.kind == "cap")
        return f"output {spec.output} → {tokens.output} tokens a call (at most {rule.cap_at})"
    if kind == "cache":
        return _cache_effect(explanation, item)
    discount = explanation.policy.prices.models[result.model].batch_discount
    return (
        f"sent to the batch API at {decimal_text(discount * 100, min_places=0)} % off; "
        "the step leaves the run's path"
    )


def _cache_effect(explanation: Explanation, item: StepExplanation) -> str:
    prefix = explanation.policy.pipeline.prefix
    model = item.result.model
    parts = []
    for group in item.calls:
        calls = _calls(group)
        verb = "writes" if group.count == 1 else "write"
        if group.call.cache == "write" and group.call.hit_rate is not None:
            parts.append(
                f"{calls} {'finds' if group.count == 1 else 'find'} the {prefix}-token prefix "
                f"in {model}'s cache from an earlier run with chance {group.call.hit_rate:.1%}, "
                f"else {verb} it: priced as that mix of a read and a write"
            )
        elif group.call.cache == "write":
            parts.append(f"{calls} {verb} the {prefix}-token prefix to {model}'s cache")
        elif group.call.cache == "read":
            writer = group.read_from
            parts.append(
                f"{calls} read{'s' if group.count == 1 else ''} it"
                + (f", written by {writer.step} call {writer.number}" if writer else "")
            )
    return "; ".join(parts)


def _calls(group: CallGroup) -> str:
    if group.count == 1:
        return f"call {group.first}"
    return f"calls {group.first}–{group.last}"


# Formulas.


def _cost_lines(explanation: Explanation, item: StepExplanation, *, detail: bool) -> list[str]:
    policy, result = explanation.policy, item.result
    price = policy.prices.models[result.model]
    groups = _groups(item, detail=detail)
    total = f"× {policy.runs:,} runs = {_usd(result.cost * policy.runs, places=2)}"
    if len(groups) == 1 and groups[0].count == 1:
        formula = cost_formula(price, groups[0].call.buckets, groups[0].call.batched)
        return [
            f"  {'cost':<8} {formula} = {_usd(result.cost)}",
            f"{_INDENT}{total}",
        ]
    lines = []
    for index, group in enumerate(groups):
        label = "cost" if index == 0 else ""
        each = " each" if group.count > 1 else ""
        formula = cost_formula(price, group.call.buckets, group.call.batched)
        lines.append(f"  {label:<8} {_calls(group):<10} {formula} = {_usd(group.call.cost)}{each}")
    terms = " + ".join(
        f"{group.count} × {_plain(group.call.cost)}" if group.count > 1 else _plain(group.call.cost)
        for group in groups
    )
    lines.append(f"{_INDENT}{'step':<10} {terms} = {_usd(result.cost)}; {total}")
    return lines


def cost_formula(price: ModelPrice, tokens: Buckets, batched: bool) -> str:
    terms = [
        f"{_tokens(count)} × {_plain(rate_)} USD/MTok"
        for count, rate_ in (
            (tokens.uncached, price.input),
            (tokens.write_5m, price.cache_write_5m),
            (tokens.write_1h, price.cache_write_1h),
            (tokens.read, price.cache_read),
            (tokens.output, price.output),
        )
        if count
    ]
    formula = f"({' + '.join(terms) or '0'}) / 10^6"
    if batched:
        formula += f" × (1 − {_plain(price.batch_discount * 100)} %)"
    return formula


def _latency_lines(explanation: Explanation, item: StepExplanation, *, detail: bool) -> list[str]:
    policy, result = explanation.policy, item.result
    price = policy.prices.models[result.model]
    groups = _groups(item, detail=detail)
    deferred = "; deferred: the step leaves the run's path" if result.deferred else ""
    if len(groups) == 1 and groups[0].count == 1:
        formula = _latency_formula(price, groups[0].call.buckets)
        return [f"  {'latency':<8} {formula} = {_seconds(result.latency)}{deferred}"]
    lines = []
    for index, group in enumerate(groups):
        label = "latency" if index == 0 else ""
        each = " each" if group.count > 1 else ""
        formula = _latency_formula(price, group.call.buckets)
        lines.append(
            f"  {label:<8} {_calls(group):<10} {formula} = {_seconds(group.call.latency)}{each}"
        )
    if item.step.parallel_calls and result.warmup:
        first = result.latency - result.warmup
        how = (
            f"call 1 first, to warm the cache ({_seconds(first)}), then the others side by "
            f"side, which warming adds ({_seconds(result.warmup)}): {_seconds(result.latency)}"
        )
    elif item.step.parallel_calls:
        how = f"side by side, the longest: {_seconds(result.latency)}"
    else:
        terms = " + ".join(
            f"{group.count} × {_number(group.call.latency)}"
            if group.count > 1
            else _number(group.call.latency)
            for group in groups
        )
        how = f"one after another: {terms} = {_seconds(result.latency)}"
    lines.append(f"{_INDENT}{'step':<10} {how}{deferred}")
    return lines


def _latency_formula(price: ModelPrice, tokens: Buckets) -> str:
    prefill = [
        _tokens(count) for count in (tokens.uncached, tokens.write_5m, tokens.write_1h) if count
    ]
    if tokens.read:
        prefill.append(f"{_plain(price.cache_read_prefill)} × {_tokens(tokens.read)}")
    formula = f"{_plain(price.overhead)} s"
    if prefill:
        grouped = f"({' + '.join(prefill)})" if len(prefill) > 1 else prefill[0]
        formula += f" + {grouped} / {_plain(price.prefill_speed)} tok/s"
    if tokens.output:
        formula += f" + {_tokens(tokens.output)} / {_plain(price.output_speed)} tok/s"
    return formula


def _groups(item: StepExplanation, *, detail: bool) -> list[CallGroup]:
    if not detail:
        return item.calls
    return [
        CallGroup(number, number, group.call, group.read_from)
        for group in item.calls
        for number in range(group.first, group.last + 1)
    ]


# Quality, the run and the caches.


def _quality_text(explanation: Explanation, item: StepExplanation) -> str:
    result = item.result
    value = rate(result.quality)
    if result.quality_basis == "measured":
        return f"{value} measured by an eval of {result.name} on {result.model}{_variant(result)}"
    table = f"{result.model}'s pass rate on {result.difficulty} steps in the price table"
    if result.quality_basis == "table":
        return f"{value}: {table}"
    return (
        f"{value} assumed: {table}; no eval measures {result.name} on {result.model}"
        f"{_variant(result)}, so this lever is an unverified bet"
    )


def _variant(result) -> str:
    variants = [f"{r.kind} {r.variant}" for r in result.rules if r.kind in ("trim", "cap")]
    return " with " + " and ".join(variants) if variants else ""


def _run_block(explanation: Explanation) -> list[str]:
    evaluation, policy = explanation.evaluation, explanation.policy
    costs = " + ".join(_plain(step.cost) for step in evaluation.steps)
    path = " → ".join(
        f"{name} {_seconds(evaluation.step(name).latency)}" for name in explanation.path
    )
    deferred = [step for step in evaluation.steps if step.deferred]
    qualities = " × ".join(_plain(step.quality) for step in evaluation.steps)
    lines = [
        "run",
        f"  {'cost':<8} {costs} = {_usd(evaluation.cost_per_run)} a run; "
        f"× {policy.runs:,} runs = {_usd(evaluation.cost_total, places=2)}",
        f"  {'latency':<8} the longest path, {path} = {_seconds(evaluation.latency_per_run)}",
    ]
    if deferred:
        names = ", ".join(f"{step.name} {_seconds(step.latency)}" for step in deferred)
        lines.append(f"{_INDENT}deferred to the batch API, off the path: {names}")
    lines.append(f"  {'quality':<8} {qualities} = {rate(evaluation.quality)}")
    return lines


def _across_runs(explanation: Explanation) -> list[str]:
    """With traffic: the hit rate each write assumed, and whether a 1-hour cache pays off."""
    from ..crossrun import compare_ttls
    from .render import traffic_lines

    policy = explanation.policy
    lines = traffic_lines(policy, explanation.evaluation, compare_ttls(policy))
    if not lines:
        return []
    return ["", "caching across runs"] + [f"  {line}" for line in lines]


def _cache_block(caches: list[CacheLog]) -> list[str]:
    if not caches:
        return ["caches   no call is cached"]
    lines = ["caches, in run order"]
    for log in caches:
        for index, write in enumerate(log.writes):
            label = log.model if index == 0 else ""
            again = " again" if index else ""
            writers = ", ".join(_refs(write.writers))
            read = ", ".join(_refs(write.readers)) if write.readers else "no later call"
            lines.append(f"  {label:<8} written{again} by {writers}; read by {read}")
    return lines


def _refs(refs) -> list[str]:
    """Calls by step, consecutive calls of a step joined: ``search calls 2–3``."""
    out: list[tuple[str, int, int]] = []
    for ref in refs:
        if out and out[-1][0] == ref.step and out[-1][2] == ref.number - 1:
            out[-1] = (ref.step, out[-1][1], ref.number)
        else:
            out.append((ref.step, ref.number, ref.number))
    return [
        f"{step} call {first}" if first == last else f"{step} calls {first}–{last}"
        for step, first, last in out
    ]


# Numbers as the formulas show them.


def _plain(value: Decimal) -> str:
    """A figure in full, or to ten decimals with ``≈`` when it has more (expected counts)."""
    rounded = value.quantize(Decimal("1e-10"))
    if rounded != value:
        return "≈" + decimal_text(rounded, min_places=0)
    return decimal_text(value, min_places=0)


def _number(value: Decimal) -> str:
    return f"{value:.2f}"


def _tokens(count: Decimal) -> str:
    if count == count.to_integral_value():
        return f"{int(count)} tok"
    return f"≈{count:.1f} tok"


def _usd(value: Decimal, *, places: int | None = None) -> str:
    if places is not None:
        return usd(value, places=places).replace("$", "") + " USD"
    return f"{_plain(value)} USD"


def _seconds(value: Decimal) -> str:
    return f"{value:.2f} s"
