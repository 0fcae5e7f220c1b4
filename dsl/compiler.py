"""A parsed policy in, a checked :class:`CompiledPolicy` out: rules, requires and warnings.

Compiling reads the files the header names (paths relative to the policy), checks every model,
step field, value and unit against them, and turns each lever statement into a :class:`Rule` the
engine applies.  Problems that make the policy meaningless are errors (``PolicyError``); rules
that match no step or never win are warnings with their location.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path

from . import nodes
from .diagnostics import Diagnostic, PolicyError, Source, did_you_mean
from .inputs import TTLS, Evals, Pipeline, PriceTable, Step, load
from .selectors import Selector, compile_selector
from .syntax import parse_file
from .units import UnitProblem, convert

#: The order in which lever kinds apply, whatever order the policy writes them in.
LEVER_ORDER = ("route", "trim", "cap", "cache", "batch")

#: What each require metric is measured in.
METRICS = {"cost per run": "money", "cost": "money", "latency": "time", "quality": "fraction"}


@dataclass(frozen=True)
class Rule:
    """One lever statement, compiled: its kind, selector and parameters."""

    kind: str
    statement: nodes.Statement
    index: int
    selector: Selector | None = None
    model: str | None = None
    trim_fraction: Decimal | None = None
    trim_to: Decimal | None = None
    cap_at: Decimal | None = None
    ttl: str | None = None
    variant: str | None = None
    cache_form: str | None = None  # "prefix" or "history", for cache rules
    prefix_size: Decimal | None = None  # a prefix size the policy states, in tokens

    @property
    def text(self) -> str:
        return self.statement.text

    @property
    def line(self) -> int:
        return self.statement.span.line

    def matches(self, step: Step) -> bool:
        return self.selector is None or self.selector.matches(step)


@dataclass(frozen=True)
class Requirement:
    metric: str
    op: str
    bound: Decimal
    statement: nodes.Require


@dataclass
class CompiledPolicy:
    """Everything the engine needs to evaluate a policy, and what the checks found."""

    name: str
    path: str
    pipeline: Pipeline
    prices: PriceTable
    evals: Evals | None
    runs: int
    rules: list[Rule]
    requires: list[Requirement]
    warnings: list[Diagnostic] = field(default_factory=list)
    source: Source | None = None
    files: dict[str, str] = field(default_factory=dict)
    trace: object | None = None  # a loaded trace (traces.read.Trace) when the policy names one


def compile_file(path: str | Path, *, trace_options=None) -> CompiledPolicy:
    """Parse and compile the policy at ``path`` (``trace_options`` say how to read a trace)."""
    path = Path(path)
    policy = parse_file(path)
    return compile_policy(
        policy, Source(path, path.read_text("utf-8")), trace_options=trace_options
    )


def compile_policy(policy: nodes.Policy, source: Source, *, trace_options=None) -> CompiledPolicy:
    """Check a parsed policy against its pipeline (or trace), prices and evals; compile it."""
    headers = _headers(policy, source)
    if "trace" in headers:
        from .traces.policy import compile_trace_policy

        return compile_trace_policy(policy, source, headers, trace_options)
    base = Path(source.path).parent
    files = {
        k: os.path.normpath(base / headers[k].value.text)
        for k in ("pipeline", "prices", "evals")
        if k in headers
    }

    pipeline = _load_named(files["pipeline"], Pipeline, "pipeline", headers["pipeline"], source)
    prices = _load_named(files["prices"], PriceTable, "price table", headers["prices"], source)
    evals = (
        _load_named(files["evals"], Evals, "evals", headers["evals"], source)
        if "evals" in files
        else None
    )
    _check_pipeline_models(pipeline, prices, files["pipeline"])

    errors: list[Diagnostic] = _unsupported(policy, source)
    rules = _compile_rules(policy, pipeline, prices, source, errors)
    requires = _compile_requires(policy, source, errors)
    if errors:
        raise PolicyError(errors)

    name = headers["policy"].value.text if "policy" in headers else Path(source.path).stem
    runs = headers["runs"].value if "runs" in headers else 1
    compiled = CompiledPolicy(
        name=name,
        path=source.path,
        pipeline=pipeline,
        prices=prices,
        evals=evals,
        runs=runs,
        rules=rules,
        requires=requires,
        source=source,
        files=files,
    )
    compiled.warnings = rule_warnings(compiled)
    return compiled


def _unsupported(policy: nodes.Policy, source: Source, *, trace: bool = False) -> list[Diagnostic]:
    """Statements the language reserves but this version does not evaluate (here) yet."""
    found = []
    for statement in policy.statements:
        match statement:
            case nodes.Traffic() | nodes.CachePrefix(warm=True):
                found.append((statement, None))
            case nodes.CacheHistory() if not trace:
                hint = "cache history replays recorded calls: name a trace instead of a pipeline"
                found.append((statement, hint))
    return [
        _at(
            source,
            "E104",
            f"'{s.text}' is not supported by this version of agentpolicy",
            s.span,
            hint=hint,
        )
        for s, hint in found
    ]


def _headers(policy: nodes.Policy, source: Source) -> dict[str, nodes.Header]:
    found: dict[str, nodes.Header] = {}
    errors = []
    for header in policy.headers:
        if header.keyword in found:
            first = found[header.keyword].span.line
            errors.append(
                _at(
                    source,
                    "E220",
                    f"'{header.keyword}' is given twice (first on line {first})",
                    header.span,
                )
            )
        elif header.keyword == "extends":
            errors.append(
                _at(
                    source,
                    "E102",
                    "'extends' is not supported by this version of agentpolicy",
                    header.span,
                )
            )
        else:
            found[header.keyword] = header
    if "runs" in found and found["runs"].value < 1:
        errors.append(_at(source, "E202", "runs must be at least 1", found["runs"].value_span))
    if "pipeline" in found and "trace" in found:
        errors.append(
            _at(
                source,
                "E600",
                "a policy is evaluated against a pipeline or a trace, not both",
                found["trace"].span,
                hint=f"remove the 'pipeline' line (line {found['pipeline'].span.line}) or this one",
            )
        )
    for keyword, example in (
        ("pipeline", 'pipeline "pipeline.toml" (or trace "calls.mapping.toml")'),
        ("prices", 'prices "models.toml"'),
    ):
        if keyword == "pipeline" and "trace" in found:
            continue
        if keyword not in found:
            errors.append(
                source.diagnostic(
                    "E221",
                    f"the policy names no {keyword}",
                    1,
                    1,
                    hint=f"add a line such as {example}",
                )
            )
    if errors:
        raise PolicyError(errors)
    return found


def _load_named(path: str, model, what: str, header: nodes.Header, source: Source):
    """Load a data file named by a header; a missing file is reported at the header's path."""
    if not Path(path).is_file():
        raise PolicyError(
            [
                _at(
                    source,
                    "E300",
                    f"the {what} '{header.value.text}' does not exist (looked for {path})",
                    header.value_span,
                    hint="paths are relative to the policy file",
                )
            ]
        )
    return load(Path(path), model, what=what)


def _check_pipeline_models(pipeline: Pipeline, prices: PriceTable, path: str) -> None:
    errors = []
    text = Path(path).read_text("utf-8")
    data_source = Source(path, text)
    from .inputs import locate  # the key locator is part of the data-file edge

    for index, step in enumerate(pipeline.steps):
        if step.model not in prices.models:
            line, column, width = locate(text, ("steps", index, "model"))
            errors.append(
                data_source.diagnostic(
                    "E211",
                    f"step '{step.name}' uses unknown model '{step.model}'",
                    line,
                    column,
                    width=width,
                    hint=did_you_mean(step.model, prices.models)
                    or "models: " + ", ".join(prices.models),
                )
            )
    if errors:
        raise PolicyError(errors)


def _compile_rules(policy, pipeline, prices, source, errors) -> list[Rule]:
    rules = []
    for index, lever in enumerate(policy.levers):
        try:
            rules.append(_compile_lever(lever, index, pipeline, prices, source))
        except PolicyError as error:
            errors += error.diagnostics
    return rules


def _compile_lever(lever, index, pipeline, prices, source) -> Rule:
    match lever:
        case nodes.CachePrefix(ttl=ttl, size=size):
            tokens = _whole_tokens(size, source) if size is not None else None
            return Rule(
                "cache",
                lever,
                index,
                ttl=_ttl(ttl, source),
                cache_form="prefix",
                prefix_size=tokens,
            )
        case nodes.CacheHistory(ttl=ttl, selector=selector):
            selected = _selector(selector, pipeline, prices, source) if selector else None
            return Rule(
                "cache", lever, index, selected, ttl=_ttl(ttl, source), cache_form="history"
            )
        case nodes.Route(selector=selector, model=model):
            if model.text not in prices.models:
                raise PolicyError(
                    [
                        _at(
                            source,
                            "E211",
                            f"unknown model '{model.text}'",
                            model.span,
                            hint=did_you_mean(model.text, prices.models)
                            or "models: " + ", ".join(prices.models),
                        )
                    ]
                )
            return Rule(
                "route",
                lever,
                index,
                _selector(selector, pipeline, prices, source),
                model=model.text,
            )
        case nodes.Trim(selector=selector, by=by, to=to):
            rule = Rule("trim", lever, index, _selector(selector, pipeline, prices, source))
            if by is not None:
                fraction = _amount(by, "fraction", source, require_unit=True)
                if not Decimal(0) <= fraction <= Decimal(1):
                    raise PolicyError(
                        [_at(source, "E202", "a trim is between 0 % and 100 %", by.span)]
                    )
                return replace(rule, trim_fraction=fraction, variant=f"by {by}")
            return replace(rule, trim_to=_whole_tokens(to, source), variant=f"to {to}")
        case nodes.Cap(selector=selector, at=at):
            selected = _selector(selector, pipeline, prices, source)
            tokens = _whole_tokens(at, source)
            return Rule("cap", lever, index, selected, cap_at=tokens, variant=f"at {at}")
        case nodes.Batch(selector=selector):
            return Rule("batch", lever, index, _selector(selector, pipeline, prices, source))
    raise AssertionError(f"no compiler for {type(lever).__name__}")


def _selector(node, pipeline, prices, source) -> Selector:
    return compile_selector(node, pipeline, prices, source)


def _ttl(ttl: nodes.Quantity | None, source: Source) -> str:
    if ttl is None:
        return "5m"
    seconds = _amount(ttl, "time", source, require_unit=True)
    for name, length in TTLS.items():
        if seconds == length:
            return name
    raise PolicyError(
        [
            _at(
                source,
                "E202",
                f"a cache lives 5 min or 1 h, not {ttl}",
                ttl.span,
                hint="write 'ttl 5 min' or 'ttl 1 h'",
            )
        ]
    )


def _whole_tokens(quantity: nodes.Quantity, source: Source) -> Decimal:
    tokens = _amount(quantity, "tokens", source, require_unit=True)
    if tokens < 0 or tokens != tokens.to_integral_value():
        raise PolicyError(
            [_at(source, "E202", "a token count is a whole number, 0 or more", quantity.span)]
        )
    return tokens


def _amount(quantity: nodes.Quantity, kind: str, source: Source, *, require_unit: bool) -> Decimal:
    from .units import EXAMPLES

    if require_unit and quantity.unit is None:
        raise PolicyError(
            [
                _at(
                    source,
                    "E200",
                    f"{quantity} needs a unit",
                    quantity.span,
                    hint=f"write it as, e.g., {EXAMPLES[kind]}",
                )
            ]
        )
    try:
        return convert(quantity.number, quantity.unit, kind).value
    except UnitProblem as error:
        code = "E201" if "mismatch" in str(error) else "E200"
        raise PolicyError([_at(source, code, str(error), quantity.span)]) from None


def _compile_requires(policy, source, errors) -> list[Requirement]:
    requires = []
    for statement in policy.requires:
        kind = METRICS[statement.metric]
        try:
            bound = _amount(statement.bound, kind, source, require_unit=kind != "fraction")
        except PolicyError as error:
            errors += error.diagnostics
            continue
        if kind == "fraction" and not Decimal(0) <= bound <= Decimal(1):
            errors.append(
                _at(
                    source,
                    "E202",
                    "quality is between 0 and 1 (or 0 % and 100 %)",
                    statement.bound.span,
                )
            )
            continue
        requires.append(Requirement(statement.metric, statement.op, bound, statement))
    return requires


def rule_warnings(policy: CompiledPolicy) -> list[Diagnostic]:
    """Rules that match no step, rules that never win, prefixes too short to cache, and more."""
    warnings = []
    for rule in policy.rules:
        if rule.kind != "cache":
            warnings += _selection_warnings(policy, rule)
    return warnings + _cache_warnings(policy)


def _selection_warnings(policy: CompiledPolicy, rule: Rule) -> list[Diagnostic]:
    """Warn about a rule that selects nothing, never wins, or batches a step that cannot wait."""
    matched = [s for s in policy.pipeline.steps if rule.matches(s)]
    if not matched:
        return [_warn(policy.source, "W100", f"'{rule.text}' matches no step", rule)]

    earlier = [r for r in policy.rules if r.kind == rule.kind and r.index < rule.index]
    winners = {s.name: next((r for r in earlier if r.matches(s)), None) for s in matched}
    if all(winners.values()):
        lines = ", ".join(f"line {n}" for n in sorted({w.line for w in winners.values()}))
        message = f"'{rule.text}' never applies: every step it matches is taken by {lines}"
        hint = "for each step, the first matching rule of a kind wins"
        return [_warn(policy.source, "W101", message, rule, hint=hint)]

    if rule.kind != "batch":
        return []
    hint = "a batched call may take hours; mark the step deferrable if that is fine"
    return [
        _warn(
            policy.source,
            "W103",
            f"step '{s.name}' is not deferrable, yet it is batched",
            rule,
            hint=hint,
        )
        for s in matched
        if not s.deferrable and winners[s.name] is None
    ]


def _cache_warnings(policy: CompiledPolicy) -> list[Diagnostic]:
    caches = [r for r in policy.rules if r.kind == "cache"]
    warnings = [
        _warn(
            policy.source,
            "W101",
            f"'{r.text}' never applies: the cache on line {caches[0].line} comes first",
            r,
        )
        for r in caches[1:]
    ]
    if not caches or caches[0].cache_form == "history":
        return warnings
    cache = caches[0]
    routes = [r for r in policy.rules if r.kind == "route"]
    prefix = cache.prefix_size if cache.prefix_size is not None else policy.pipeline.prefix
    models = {
        next((r.model for r in routes if r.matches(s)), s.model)
        for s in policy.pipeline.steps
        if s.uses_prefix
    }
    for model in sorted(models):
        price = policy.prices.models[model]
        if prefix < price.min_cacheable:
            warnings.append(
                _warn(
                    policy.source,
                    "W102",
                    f"the {prefix}-token prefix is below {model}'s minimum cacheable size of "
                    f"{price.min_cacheable} tokens: calls to {model} are not cached",
                    cache,
                )
            )
        elif not price.caches or price.cache_write(cache.ttl) is None:
            warnings.append(
                _warn(
                    policy.source,
                    "W102",
                    f"{model} has no cache price for this ttl: its calls are not cached",
                    cache,
                )
            )
    return warnings


def _at(
    source: Source, code: str, message: str, span: nodes.Span, *, hint: str | None = None
) -> Diagnostic:
    return source.diagnostic(code, message, span.line, span.column, width=span.width, hint=hint)


def _warn(
    source: Source, code: str, message: str, rule: Rule, *, hint: str | None = None
) -> Diagnostic:
    span = rule.statement.span
    return source.diagnostic(
        code, message, span.line, span.column, width=span.width, severity="warning", hint=hint
    )
