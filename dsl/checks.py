"""A policy, its pipeline and its price table in, the provider-rule errors and warnings out.

Errors stop a policy that cannot be priced honestly: a model with no latency parameters or pass
rates, or an explicit cache billed per hour of storage with no storage price.  Warnings say where
a provider's rules make a lever do something other than it seems: caching that is automatic
anyway, a batch with no batch price, a ``warm`` with nothing to warm, traffic with nothing
cached, and requests past a long-context tier, billed whole at the higher rate.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from .diagnostics import Diagnostic, Source
from .inputs import Pipeline, locate
from .prices import PriceTable

if TYPE_CHECKING:
    from .compiler import CompiledPolicy, Rule


def price_errors(
    pipeline: Pipeline, prices: PriceTable, rules: list[Rule], source: Source, pipeline_path: str
) -> list[Diagnostic]:
    """Models the policy uses that cannot be evaluated with the price table as it stands."""
    errors = []
    text = Path(pipeline_path).read_text("utf-8")
    data = Source(pipeline_path, text)
    reported: set[str] = set()

    for index, step in enumerate(pipeline.steps):
        line, column, width = locate(text, ("steps", index, "model"))
        errors += _untimed(prices, step.model, data, line, column, width, reported)
    for rule in rules:
        if rule.kind == "route":
            span = rule.statement.model.span
            errors += _untimed(
                prices,
                rule.model,
                rule.source or source,
                span.line,
                span.column,
                span.width,
                reported,
            )
    return errors + _storage_errors(pipeline, prices, rules, source)


def _untimed(prices, name, source, line, column, width, reported) -> list[Diagnostic]:
    price = prices.models[name]
    missing = [
        what
        for what, given in (("latency parameters", price.timed), ("pass rates", price.pass_rate))
        if not given
    ]
    if not missing or name in reported:
        return []
    reported.add(name)
    message = f"model '{name}' has prices but no {' or '.join(missing)} in the price table"
    hint = (
        'write a price file with library = "genai-prices" and, under '
        f'[models."{name}"], overhead, prefill_speed, output_speed and pass_rate'
    )
    return [source.diagnostic("E502", message, line, column, width=width, hint=hint)]


def _storage_errors(pipeline, prices, rules, source) -> list[Diagnostic]:
    """An explicit cache billed per token-hour needs its storage price: never a silent zero."""
    cache = next((r for r in rules if r.kind == "cache"), None)
    if cache is None or pipeline.prefix <= 0:
        return []
    errors = []
    for name in _models_used(pipeline, rules):
        price = prices.models[name]
        stored = price.caching == "explicit" and price.rules.bills_storage
        if stored and price.cache_storage is None and pipeline.prefix >= price.min_cacheable:
            span = cache.statement.span
            errors.append(
                (cache.source or source).diagnostic(
                    "E503",
                    f"explicit caching on {name} is billed per token and hour of storage, and "
                    "the price table gives it no cache_storage price",
                    span.line,
                    span.column,
                    width=span.width,
                    hint=f'add cache_storage = "4.5 USD/MTok/h" (the provider\'s price) under '
                    f'[models."{name}"] in a price file',
                )
            )
    return errors


def _models_used(pipeline: Pipeline, rules: list[Rule]) -> list[str]:
    routes = [r for r in rules if r.kind == "route"]
    used = {next((r.model for r in routes if r.matches(s)), s.model) for s in pipeline.steps}
    return sorted(used)


# Warnings.


def price_warnings(policy: CompiledPolicy) -> list[Diagnostic]:
    """What the providers' rules make of the policy's levers, as warnings."""
    from .engine import evaluate

    result = evaluate(policy)
    baseline = evaluate(policy, [])
    return (
        _loose_name_warnings(policy)
        + _automatic_warnings(policy)
        + _batch_warnings(policy, result)
        + _warm_warnings(policy, result)
        + _traffic_warnings(policy, result)
        + _tier_warnings(policy, baseline, result)
    )


def _rule_warning(policy, code: str, message: str, rule, hint: str | None = None) -> Diagnostic:
    span = rule.statement.span
    return (rule.source or policy.source).diagnostic(
        code, message, span.line, span.column, width=span.width, severity="warning", hint=hint
    )


def _loose_name_warnings(policy: CompiledPolicy) -> list[Diagnostic]:
    """A model name the price library matched to a model of another name, such as a typo that
    still starts like a real one: say which model it was read as, never price it silently."""
    warnings = []
    pipeline_path = policy.files.get("pipeline")
    for index, step in enumerate(policy.pipeline.steps):
        read_as = _read_as(step.model, policy.prices.models[step.model])
        if read_as and pipeline_path:
            text = Path(pipeline_path).read_text("utf-8")
            line, column, width = locate(text, ("steps", index, "model"))
            warnings.append(
                Source(pipeline_path, text).diagnostic(
                    "W305",
                    f"'{step.model}' is read as {read_as}",
                    line,
                    column,
                    width=width,
                    severity="warning",
                    hint=f"write '{read_as}' if that is meant",
                )
            )
    for rule in policy.rules:
        if rule.kind == "route":
            read_as = _read_as(rule.model, policy.prices.models[rule.model])
            if read_as:
                hint = f"write '{read_as}' if that is meant"
                message = f"'{rule.model}' is read as {read_as}"
                warnings.append(_rule_warning(policy, "W305", message, rule, hint=hint))
    return warnings


def _read_as(name: str, price) -> str | None:
    """The library model a name resolved to, when the name is neither it nor one of its dated
    or versioned names (``claude-sonnet-4-20250514`` is ``claude-sonnet-4-0``; a typo is not)."""
    if price.key == name or ":" not in price.key or price.provider is None:
        return None
    model_id = price.key.split(":", 1)[1]
    reference = name.split(":", 1)[1] if name.startswith(f"{price.provider}:") else name
    if _stem(reference) == _stem(model_id):
        return None
    return price.key


def _stem(model_id: str) -> str:
    """A model name without its trailing version and date parts."""
    return re.sub(r"([-@.:](\d+|latest|v\d+))+$", "", model_id.lower())


def _automatic_warnings(policy: CompiledPolicy) -> list[Diagnostic]:
    cache = next((r for r in policy.rules if r.kind == "cache"), None)
    if cache is None or cache.warm:
        return []
    automatic = [
        name
        for name in _models_used(policy.pipeline, policy.rules)
        if policy.prices.models[name].caching == "automatic"
    ]
    return [
        _rule_warning(
            policy,
            "W300",
            f"{name} caches prompts automatically: its calls are cached from "
            f"{policy.prices.models[name].min_cacheable:,} tokens whether or not the policy "
            "says 'cache prefix'",
            cache,
        )
        for name in automatic
    ]


def _batch_warnings(policy, result) -> list[Diagnostic]:
    warnings = []
    for step in result.steps:
        price = policy.prices.models[step.model]
        batch = next((r for r in step.rules if r.kind == "batch"), None)
        if batch is not None and price.batch is None:
            warnings.append(
                _rule_warning(
                    policy,
                    "W301",
                    f"{step.model} has no batch price: step '{step.name}' is deferred but "
                    "costs the standard price",
                    batch,
                    hint="give the model a batch_discount in the price file if it has one",
                )
            )
    return warnings


def _warm_warnings(policy, result) -> list[Diagnostic]:
    cache = next((r for r in policy.rules if r.kind == "cache"), None)
    if cache is None or not cache.warm or any(s.warmup for s in result.steps):
        return []
    message = (
        "'warm' changes nothing here: no step with parallel calls starts on a cold cached prefix"
    )
    hint = "warming sends one call first when a step has parallel_calls = true"
    return [_rule_warning(policy, "W302", message, cache, hint)]


def _traffic_warnings(policy, result) -> list[Diagnostic]:
    if policy.traffic is None or result.hit_rates:
        return []
    span = policy.traffic_statement.span
    return [
        policy.source.diagnostic(
            "W303",
            "traffic changes nothing here: no call caches the prefix",
            span.line,
            span.column,
            width=span.width,
            severity="warning",
        )
    ]


def _tier_warnings(policy, baseline, result) -> list[Diagnostic]:
    """Steps whose requests pass a long-context tier: every token pays the higher rate."""
    path = policy.files["pipeline"]
    text = Path(path).read_text("utf-8")
    data = Source(path, text)
    warnings, seen = [], set()
    for evaluation in (baseline, result):
        for step in evaluation.steps:
            price = policy.prices.models[step.model]
            above = price.standard.threshold
            tokens = max((c.buckets.input for c in step.calls), default=Decimal(0))
            if above is None or tokens <= above or (step.name, step.model) in seen:
                continue
            seen.add((step.name, step.model))
            index = [s.name for s in policy.pipeline.steps].index(step.name)
            line, column, width = locate(text, ("steps", index, "input"))
            warnings.append(
                data.diagnostic(
                    "W304",
                    f"step '{step.name}' sends {tokens:,.0f} input tokens to {step.model}, past "
                    f"its {above:,.0f}-token tier: each of those requests is billed whole, "
                    "output included, at the long-context rate",
                    line,
                    column,
                    width=width,
                    severity="warning",
                )
            )
    return warnings
