"""A parsed policy in, a checked :class:`CompiledPolicy` out: rules, requires and warnings.

Compiling reads the files the header names (paths relative to the policy), checks every model,
step field, value and unit against them, and turns each lever statement into a :class:`Rule` the
engine applies.  Problems that make the policy meaningless are errors (``PolicyError``); rules
that match no step or never win are warnings with their location.  A variant (``extends``) is
compiled from its merged statements (``variants.py``); each diagnostic names the file its
statement is written in.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path

from . import nodes
from .checks import price_errors
from .diagnostics import Diagnostic, PolicyError, Source, did_you_mean
from .inputs import TTLS, Evals, Pipeline, Step, load, locate
from .prices import PriceTable, is_library_spec, library_table, load_price_file
from .selectors import Selector, compile_selector
from .units import UnitProblem, convert, parse_amount

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
    variant: str | None = None  # a trim's or cap's parameter as written: ``by 40 %``
    effect: tuple | None = None  # the same, as evals are matched on: ``("by", Decimal("0.4"))``
    warm: bool = False
    source: Source | None = None  # the file the rule is written in
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
    #: Measured pass rates by (step, model key, trim effect, cap effect), from the evals file.
    measured: dict[tuple, Decimal] = field(default_factory=dict)
    source: Source | None = None
    files: dict[str, str] = field(default_factory=dict)
    traffic: Decimal | None = None  # runs per hour, for caching across runs
    traffic_statement: nodes.Traffic | None = None
    bases: list[str] = field(default_factory=list)  # the files it extends, nearest first
    statements: list[nodes.Statement] = field(default_factory=list)  # as merged, in order
    headers: dict[str, nodes.Header] = field(default_factory=dict)
    sources: dict[str, Source] = field(default_factory=dict)  # every file's text, by path
    trace: object | None = None  # a loaded trace (traces.read.Trace) when the policy names one

    def source_of(self, statement: nodes.Statement) -> Source:
        """The text of the file a statement is written in."""
        return self.sources.get(statement.origin, self.source)

    def place(self, statement: nodes.Statement) -> str:
        """Where a statement stands: ``line 8``, or ``line 8 of lab.policy`` in a base."""
        base = self.base_of(statement)
        return f"line {statement.span.line}" + (f" of {base}" if base else "")

    def line_label(self, statement: nodes.Statement) -> str:
        """A statement's line for a table column: ``8``, or ``lab.policy:8`` in a base."""
        base = self.base_of(statement)
        return f"{base}:{statement.span.line}" if base else str(statement.span.line)

    def base_of(self, statement: nodes.Statement) -> str | None:
        """The base file a statement comes from, relative to this policy, or None if its own."""
        if not statement.origin or self.source is None or statement.origin == self.source.path:
            return None
        return os.path.relpath(statement.origin, Path(self.source.path).parent)


def compile_file(path: str | Path, *, trace_options=None) -> CompiledPolicy:
    """Parse and compile the policy at ``path``, with the bases it extends.

    ``trace_options`` say how to read a trace, for a policy that names one.
    """
    from .variants import resolve

    variant = resolve(path)
    compiled = compile_policy(
        variant.policy, variant.source, sources=variant.sources, trace_options=trace_options
    )
    compiled.bases = variant.bases
    return compiled


def compile_policy(
    policy: nodes.Policy,
    source: Source,
    *,
    sources: dict[str, Source] | None = None,
    trace_options=None,
) -> CompiledPolicy:
    """Check a parsed policy against its pipeline, prices and evals and compile its levers.

    ``sources`` holds the text of every file the statements come from, by path, when the policy
    is a variant; by default every statement is taken to be written in ``source``.
    """
    sources = sources or {}
    where = lambda statement: sources.get(statement.origin, source)  # noqa: E731
    headers = _headers(policy, source, where)
    if "trace" in headers:
        from .traces.policy import compile_trace_policy

        return compile_trace_policy(policy, source, headers, trace_options, where, sources)
    files = {
        k: os.path.normpath(Path(where(headers[k]).path).parent / headers[k].value.text)
        for k in ("pipeline", "prices", "evals")
        if k in headers
    }

    def load_named(keyword, model, what):
        header = headers[keyword]
        return _load_named(files[keyword], model, what, header, where(header))

    pipeline = load_named("pipeline", Pipeline, "pipeline")
    prices = _load_prices(headers["prices"], files, where(headers["prices"]))
    evals = load_named("evals", Evals, "evals") if "evals" in files else None
    measured = measured_rates(evals, pipeline, prices, files["evals"]) if evals else {}
    _check_pipeline_models(pipeline, prices, files["pipeline"])

    errors: list[Diagnostic] = _unsupported(policy, where)
    rules = _compile_rules(policy, pipeline, prices, where, errors)
    requires = _compile_requires(policy, where, errors)
    traffic = _traffic(policy, where, errors)
    if not errors:
        errors += price_errors(pipeline, prices, rules, source, files["pipeline"])
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
        measured=measured,
        runs=runs,
        rules=rules,
        requires=requires,
        source=source,
        files=files,
        traffic=traffic,
        traffic_statement=next(
            (s for s in reversed(policy.statements) if isinstance(s, nodes.Traffic)), None
        ),
        statements=list(policy.statements),
        headers=headers,
        sources=sources or {source.path: source},
    )
    compiled.warnings = rule_warnings(compiled)
    return compiled


def _unsupported(policy: nodes.Policy, where, *, trace: bool = False) -> list[Diagnostic]:
    """Statements this version does not evaluate on a pipeline, or on a trace."""
    found = []
    for statement in policy.statements:
        match statement:
            case nodes.Traffic() | nodes.CachePrefix(warm=True) if trace:
                hint = "a trace records when its runs arrived and which calls ran together"
                found.append((statement, hint))
            case nodes.CacheHistory() if not trace:
                hint = "cache history replays recorded calls: name a trace instead of a pipeline"
                found.append((statement, hint))
    return [
        _at(
            where(s),
            "E104",
            f"'{s.text}' is not supported on a {'trace' if trace else 'pipeline'}",
            s.span,
            hint=hint,
        )
        for s, hint in found
    ]


def _headers(policy: nodes.Policy, source: Source, where) -> dict[str, nodes.Header]:
    """The header statements by keyword; ``extends`` has been followed before compiling."""
    found: dict[str, nodes.Header] = {}
    errors = []
    for header in policy.headers:
        if header.keyword in found:
            first = found[header.keyword].span.line
            errors.append(
                _at(
                    where(header),
                    "E220",
                    f"'{header.keyword}' is given twice (first on line {first})",
                    header.span,
                )
            )
        elif header.keyword != "extends":
            found[header.keyword] = header
    if "runs" in found and not 1 <= found["runs"].value <= 10**12:
        runs = found["runs"]
        message = "runs is a whole number from 1 to 10^12"
        errors.append(_at(where(runs), "E202", message, runs.value_span))
    if "pipeline" in found and "trace" in found:
        trace = found["trace"]
        errors.append(
            _at(
                where(trace),
                "E600",
                "a policy is evaluated against a pipeline or a trace, not both",
                trace.span,
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
    _require_file(path, what, header, source)
    return load(Path(path), model, what=what)


def _require_file(path: str, what: str, header: nodes.Header, source: Source) -> None:
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


def _load_prices(header: nodes.Header, files: dict[str, str], source: Source) -> PriceTable:
    """The price table a ``prices`` header names: the price library, or a local file."""
    written = header.value.text
    if not is_library_spec(written):
        _require_file(files["prices"], "price table", header, source)
        return load_price_file(Path(files["prices"]))
    files["prices"] = written
    try:
        return library_table(written)
    except ValueError:
        raise PolicyError(
            [
                _at(
                    source,
                    "E501",
                    f"'{written}' names no day: write genai-prices@YYYY-MM-DD",
                    header.value_span,
                    hint='for example "genai-prices@2026-12-01", or "genai-prices" for today',
                )
            ]
        ) from None


def _traffic(policy: nodes.Policy, where, errors: list[Diagnostic]) -> Decimal | None:
    """Runs per hour from the ``traffic`` header, if the policy gives one.

    A variant's ``traffic`` replaces its base's, as other headers do.
    """
    stated = [s for s in policy.statements if isinstance(s, nodes.Traffic)]
    by_file: dict[str, list[nodes.Traffic]] = {}
    for statement in stated:
        by_file.setdefault(statement.origin, []).append(statement)
    for same_file in by_file.values():
        for again in same_file[1:]:
            message = f"'traffic' is given twice (first on line {same_file[0].span.line})"
            errors.append(_at(where(again), "E220", message, again.span))
    if not stated:
        return None
    chosen = stated[-1]
    try:
        rate = _amount(chosen.rate, "rate", where(chosen), require_unit=True)
    except PolicyError as error:
        errors += error.diagnostics
        return None
    if rate <= 0:
        errors.append(_at(where(chosen), "E202", "traffic is more than 0 runs", chosen.rate.span))
        return None
    return rate


def measured_rates(evals: Evals, pipeline: Pipeline, prices: PriceTable, path: str) -> dict:
    """Each eval by what it measured: step, model, and the trim and cap it ran under.

    An eval of a step or model that does not exist, or of a trim or cap that cannot be read, is
    an error in the evals file, as is a second eval of the same thing: none is silently unused.
    """
    text = Path(path).read_text("utf-8")
    data = Source(path, text)
    steps = [step.name for step in pipeline.steps]
    measured, errors = {}, []

    def problem(code, message, index, key, hint=None):
        line, column, width = locate(text, ("evals", index, key))
        errors.append(data.diagnostic(code, message, line, column, width=width, hint=hint))

    for index, entry in enumerate(evals.evals):
        if entry.step not in steps:
            hint = did_you_mean(entry.step, steps) or "steps: " + ", ".join(steps)
            problem("E212", f"the pipeline has no step '{entry.step}'", index, "step", hint)
            continue
        if entry.model not in prices.models:
            hint = prices.hint(entry.model)
            problem("E211", f"unknown model '{entry.model}'", index, "model", hint)
            continue
        try:
            trim = _effect(entry.trim, ("by", "to"))
            cap = _effect(entry.cap, ("at",), bare="at")
        except UnitProblem as error:
            problem("E302", str(error), index, str(error).split()[1])  # "the trim '…'"
            continue
        key = (entry.step, prices.models[entry.model].key, trim, cap)
        if key in measured:
            problem(
                "E302",
                f"a second eval of step '{entry.step}' on {entry.model} with the same trim and cap",
                index,
                "step",
            )
        measured[key] = entry.pass_rate
    if errors:
        raise PolicyError(errors)
    return measured


def _effect(written: str | None, words: tuple[str, ...], *, bare: str | None = None):
    """``"by 40 %"`` → ``("by", Decimal("0.4"))``; ``"at 300 tokens"`` → ``("at", 300)``.

    ``bare`` is the word understood when none is written (a cap's ``at``).
    """
    if written is None:
        return None
    lever = "trim" if "by" in words else "cap"
    word, _, amount = written.strip().partition(" ")
    if word not in words:
        if bare is None:
            raise UnitProblem(f"the {lever} '{written}' is neither 'by N %' nor 'to N tokens'")
        word, amount = bare, written.strip()
    if word == "by" and not amount.strip().endswith("%"):
        raise UnitProblem(f"the {lever} '{written}' is a percentage, such as 'by 40 %'")
    try:
        value = parse_amount(amount.strip(), "fraction" if word == "by" else "tokens").value
    except UnitProblem as error:
        raise UnitProblem(f"the {lever} '{written}': {error}") from None
    return (word, value)


def _check_pipeline_models(pipeline: Pipeline, prices: PriceTable, path: str) -> None:
    errors = []
    text = Path(path).read_text("utf-8")
    data_source = Source(path, text)
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
                    hint=prices.hint(step.model),
                )
            )
    if errors:
        raise PolicyError(errors)


def _compile_rules(policy, pipeline, prices, where, errors) -> list[Rule]:
    rules = []
    for index, lever in enumerate(policy.levers):
        source = where(lever)
        try:
            rules.append(
                replace(_compile_lever(lever, index, pipeline, prices, source), source=source)
            )
        except PolicyError as error:
            errors += error.diagnostics
    return rules


def _compile_lever(lever, index, pipeline, prices, source) -> Rule:
    match lever:
        case nodes.CachePrefix(ttl=ttl, size=size, warm=warm):
            tokens = _whole_tokens(size, source) if size is not None else None
            if tokens is not None and tokens < 1:
                raise PolicyError(
                    [_at(source, "E202", "a cached prefix is at least 1 token", size.span)]
                )
            ttl_name = _ttl(ttl, source)
            return Rule(
                "cache",
                lever,
                index,
                ttl=ttl_name,
                warm=warm,
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
                            hint=prices.hint(model.text),
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
                effect = ("by", fraction)
                return replace(rule, trim_fraction=fraction, variant=f"by {by}", effect=effect)
            tokens = _whole_tokens(to, source)
            return replace(rule, trim_to=tokens, variant=f"to {to}", effect=("to", tokens))
        case nodes.Cap(selector=selector, at=at):
            selected = _selector(selector, pipeline, prices, source)
            tokens = _whole_tokens(at, source)
            if tokens < 1:
                raise PolicyError([_at(source, "E202", "a cap is at least 1 token", at.span)])
            variant, effect = f"at {at}", ("at", tokens)
            return Rule(
                "cap", lever, index, selected, cap_at=tokens, variant=variant, effect=effect
            )
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


def _compile_requires(policy, where, errors) -> list[Requirement]:
    requires = []
    for statement in policy.requires:
        source = where(statement)
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
    if policy.trace is not None:  # the replay checks caching and prices on the recorded calls
        return warnings + [w for w in _cache_warnings(policy) if w.code == "W101"]
    from .checks import price_warnings

    return warnings + _cache_warnings(policy) + price_warnings(policy)


def _selection_warnings(policy: CompiledPolicy, rule: Rule) -> list[Diagnostic]:
    """Warn about a rule that selects nothing, never wins, or batches a step that cannot wait."""
    matched = [s for s in policy.pipeline.steps if rule.matches(s)]
    if not matched:
        return [_warn(policy, "W100", f"'{rule.text}' matches no step", rule)]

    earlier = [r for r in policy.rules if r.kind == rule.kind and r.index < rule.index]
    winners = {s.name: next((r for r in earlier if r.matches(s)), None) for s in matched}
    if all(winners.values()):
        taken = sorted({w.index: w for w in winners.values()}.items())
        lines = ", ".join(policy.place(w.statement) for _, w in taken)
        message = f"'{rule.text}' never applies: every step it matches is taken by {lines}"
        hint = "for each step, the first matching rule of a kind wins"
        return [_warn(policy, "W101", message, rule, hint=hint)]

    if rule.kind != "batch":
        return []
    batched = [s for s in matched if winners[s.name] is None]
    return _batch_warnings(policy, rule, batched)


def _batch_warnings(policy: CompiledPolicy, rule: Rule, batched: list[Step]) -> list[Diagnostic]:
    """Batching a step that cannot wait, or one that a later step explicitly waits for."""
    warnings = []
    hurried = list(dict.fromkeys(s.name for s in batched if not s.deferrable))
    if hurried:
        names = ", ".join(f"'{n}'" for n in hurried)
        hint = "a batched call may take hours; mark a step deferrable if that is fine"
        message = f"{names} {'is' if len(hurried) == 1 else 'are'} not deferrable, yet batched"
        warnings.append(_warn(policy, "W103", message, rule, hint=hint))
    names = {s.name for s in batched}
    for step in policy.pipeline.steps:
        if step.name in names:
            continue  # a batched step waiting for another adds nothing to the interactive path
        waited = [n for n in step.after or [] if n in names]
        if waited:
            message = (
                f"step '{step.name}' runs after batched {', '.join(repr(n) for n in waited)}: "
                "its latency leaves out the wait for the batch"
            )
            hint = "a step that needs a batched step's answer waits for the batch to complete"
            warnings.append(_warn(policy, "W104", message, rule, hint=hint))
    return warnings


def _cache_warnings(policy: CompiledPolicy) -> list[Diagnostic]:
    caches = [r for r in policy.rules if r.kind == "cache"]
    warnings = [
        _warn(
            policy,
            "W101",
            f"'{r.text}' never applies: the cache on {policy.place(caches[0].statement)} "
            "comes first",
            r,
        )
        for r in caches[1:]
    ]
    if not caches or caches[0].cache_form == "history" or policy.trace is not None:
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
        if price.caching != "explicit":
            continue
        if prefix < price.min_cacheable:
            warnings.append(
                _warn(
                    policy,
                    "W102",
                    f"the {prefix}-token prefix is below {model}'s minimum cacheable size of "
                    f"{price.min_cacheable} tokens: calls to {model} are not cached",
                    cache,
                )
            )
        elif not price.caches or price.cache_write(cache.ttl) is None:
            warnings.append(
                _warn(
                    policy,
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
    policy: CompiledPolicy, code: str, message: str, rule: Rule, *, hint: str | None = None
) -> Diagnostic:
    """A warning at a rule, in the file the rule is written in."""
    source = rule.source or policy.source
    span = rule.statement.span
    return source.diagnostic(
        code, message, span.line, span.column, width=span.width, severity="warning", hint=hint
    )
