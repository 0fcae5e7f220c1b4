"""A compiled policy (or any prefix of its rules) in, an :class:`Evaluation` of one run out.

The engine applies the levers in their fixed order — route, then trim and cap, then cache, then
batch — to every call of every step, splits each call's tokens into disjoint buckets, and prices
and times it with the formulas of ``formulas.py``.  A cache belongs to one model within one run:
the first call to a model writes the prefix, later calls to that model read it while it lives.
Quality is the product of the steps' pass rates: measured where an eval covers the step as the
policy leaves it, otherwise taken from the model table and, for a changed step, marked assumed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from .compiler import LEVER_ORDER, CompiledPolicy, Rule
from .formulas import Buckets, call_cost, call_latency
from .inputs import Step

ZERO = Decimal(0)


@dataclass(frozen=True)
class Call:
    """One model call of a step, after the levers: its buckets, cost and latency."""

    step: str
    index: int
    model: str
    buckets: Buckets
    cost: Decimal
    latency: Decimal
    batched: bool
    cache: str | None  # "write", "read", or None when the prefix was not cached


@dataclass
class StepResult:
    """A step of one run under a set of rules."""

    name: str
    difficulty: str
    model_before: str
    model: str
    calls: list[Call]
    latency: Decimal
    deferred: bool
    quality: Decimal
    quality_basis: str  # "measured", "table" or "assumed"
    rules: list[Rule] = field(default_factory=list)

    @property
    def cost(self) -> Decimal:
        return sum((c.cost for c in self.calls), ZERO)

    @property
    def tokens(self) -> Buckets:
        total = Buckets()
        for call in self.calls:
            total = total + call.buckets
        return total

    @property
    def untouched(self) -> bool:
        return not self.rules


@dataclass
class Evaluation:
    """One run of the pipeline under a set of rules, and its totals for the policy's runs."""

    steps: list[StepResult]
    runs: int
    latency_per_run: Decimal
    deferred_latency: Decimal

    @property
    def cost_per_run(self) -> Decimal:
        return sum((s.cost for s in self.steps), ZERO)

    @property
    def cost_total(self) -> Decimal:
        return self.cost_per_run * self.runs

    @property
    def quality(self) -> Decimal:
        product = Decimal(1)
        for step in self.steps:
            product *= step.quality
        return product

    def step(self, name: str) -> StepResult:
        return next(s for s in self.steps if s.name == name)


def evaluate(policy: CompiledPolicy, rules: Sequence[Rule] | None = None) -> Evaluation:
    """Evaluate one run of the pipeline under ``rules`` (by default, all of the policy's)."""
    rules = policy.rules if rules is None else list(rules)
    by_kind = {kind: [r for r in rules if r.kind == kind] for kind in LEVER_ORDER}
    plans = [_plan_step(step, by_kind) for step in policy.pipeline.steps]
    calls = _price_calls(policy, plans, by_kind["cache"][:1])
    steps = [_step_result(policy, plan, calls[plan.step.name]) for plan in plans]
    latency, deferred = _run_latency(policy, steps)
    return Evaluation(
        steps=steps, runs=policy.runs, latency_per_run=latency, deferred_latency=deferred
    )


@dataclass
class _StepPlan:
    """What the levers decided for a step before pricing: model, tokens and batching."""

    step: Step
    model: str
    own_input: Decimal
    output: Decimal
    batched: bool
    route: Rule | None
    trim: Rule | None
    cap: Rule | None
    batch: Rule | None


def _first(rules: list[Rule], step: Step) -> Rule | None:
    """The first rule of a kind that matches the step: it wins, later ones are shadowed."""
    return next((r for r in rules if r.matches(step)), None)


def _plan_step(step: Step, by_kind: dict[str, list[Rule]]) -> _StepPlan:
    route = _first(by_kind["route"], step)
    trim = _first(by_kind["trim"], step)
    cap = _first(by_kind["cap"], step)
    batch = _first(by_kind["batch"], step)

    own_input = step.input
    if trim is not None and trim.trim_fraction is not None:
        own_input = _whole(own_input * (1 - trim.trim_fraction))
    elif trim is not None:
        own_input = min(own_input, trim.trim_to)
    output = min(step.output, cap.cap_at) if cap is not None else step.output

    return _StepPlan(
        step=step,
        model=route.model if route else step.model,
        own_input=own_input,
        output=output,
        batched=batch is not None,
        route=route,
        trim=trim,
        cap=cap,
        batch=batch,
    )


def _whole(tokens: Decimal) -> Decimal:
    """Trimmed token counts are whole tokens, rounded half up."""
    return tokens.quantize(Decimal(1), rounding=ROUND_HALF_UP)


def _price_calls(
    policy: CompiledPolicy, plans: list[_StepPlan], cache: list[Rule]
) -> dict[str, list[Call]]:
    """Price every call in run order, tracking each model's cache within the run.

    Calls start one after another in pipeline order (the calls of a ``parallel_calls`` step
    together); a model's cache is warm for a call that starts within the TTL of that model's last
    write or read, and a read refreshes it, as providers do.
    """
    cache_rule = cache[0] if cache else None
    ttl_seconds = {"5m": Decimal(300), "1h": Decimal(3600)}[cache_rule.ttl] if cache_rule else ZERO
    last_use: dict[str, Decimal] = {}
    clock = ZERO
    priced: dict[str, list[Call]] = {}

    for plan in plans:
        price = policy.prices.models[plan.model]
        prefix = _prefix_size(policy, cache_rule) if plan.step.uses_prefix else ZERO
        cacheable = (
            cache_rule is not None
            and prefix > 0
            and prefix >= price.min_cacheable
            and price.caches
            and price.cache_write(cache_rule.ttl) is not None
        )
        warm_at_start = (
            cacheable and plan.model in last_use and clock - last_use[plan.model] <= ttl_seconds
        )
        calls = []
        for index in range(plan.step.calls):
            start = clock
            if cacheable and plan.step.parallel_calls:
                event = "read" if warm_at_start else "write"
            elif cacheable:
                warm = plan.model in last_use and start - last_use[plan.model] <= ttl_seconds
                event = "read" if warm else "write"
            else:
                event = None
            buckets = _buckets(plan, prefix, event, cache_rule.ttl if cache_rule else "5m")
            cost = call_cost(price, buckets, batched=plan.batched)
            latency = call_latency(price, buckets)
            calls.append(
                Call(plan.step.name, index, plan.model, buckets, cost, latency, plan.batched, event)
            )
            if event is not None:
                last_use[plan.model] = start
            if not plan.step.parallel_calls:
                clock += latency
        if plan.step.parallel_calls:
            clock += max(c.latency for c in calls)
        priced[plan.step.name] = calls
    return priced


def _prefix_size(policy: CompiledPolicy, cache_rule: Rule | None) -> Decimal:
    """The cached prefix: the size the cache statement states, else the pipeline's prefix."""
    if cache_rule is not None and cache_rule.prefix_size is not None:
        return cache_rule.prefix_size
    return policy.pipeline.prefix


def _buckets(plan: _StepPlan, prefix: Decimal, event: str | None, ttl: str) -> Buckets:
    if event == "write":
        written = {"write_5m": prefix} if ttl == "5m" else {"write_1h": prefix}
        return Buckets(uncached=plan.own_input, output=plan.output, **written)
    if event == "read":
        return Buckets(uncached=plan.own_input, read=prefix, output=plan.output)
    return Buckets(uncached=prefix + plan.own_input, output=plan.output)


def _step_result(policy: CompiledPolicy, plan: _StepPlan, calls: list[Call]) -> StepResult:
    step = plan.step
    if step.parallel_calls:
        latency = max(c.latency for c in calls)
    else:
        latency = sum((c.latency for c in calls), ZERO)
    touched = [r for r in (plan.route, plan.trim, plan.cap, plan.batch) if r is not None]
    if any(c.cache for c in calls):
        touched += [r for r in policy.rules if r.kind == "cache"][:1]
    touched.sort(key=lambda r: LEVER_ORDER.index(r.kind))
    quality, basis = _quality(policy, plan)
    return StepResult(
        name=step.name,
        difficulty=step.difficulty,
        model_before=step.model,
        model=plan.model,
        calls=calls,
        latency=latency,
        deferred=plan.batched,
        quality=quality,
        quality_basis=basis,
        rules=touched,
    )


def _quality(policy: CompiledPolicy, plan: _StepPlan) -> tuple[Decimal, str]:
    """The step's pass rate and its basis: measured by an eval, from the table, or assumed."""
    trim = plan.trim.variant if plan.trim else None
    cap = plan.cap.variant if plan.cap else None
    if policy.evals is not None:
        for measured in policy.evals.evals:
            if (measured.step, measured.model) == (plan.step.name, plan.model) and (
                _same(measured.trim, trim) and _same(measured.cap, cap)
            ):
                return measured.pass_rate, "measured"
    rate = getattr(policy.prices.models[plan.model].pass_rate, plan.step.difficulty)
    changed = plan.model != plan.step.model or trim is not None or cap is not None
    return rate, "assumed" if changed else "table"


def _same(written: str | None, applied: str | None) -> bool:
    normal = lambda text: " ".join(text.split()) if text else None  # noqa: E731
    return normal(written) == normal(applied)


def _run_latency(policy: CompiledPolicy, steps: list[StepResult]) -> tuple[Decimal, Decimal]:
    """The interactive latency of a run (its longest path) and the latency of deferred steps.

    A step starts when the steps it runs after have finished: those its ``after`` names, or the
    step before it.  A batched step leaves the interactive path: it adds nothing to it.
    """
    finish: dict[str, Decimal] = {}
    previous: str | None = None
    for spec, result in zip(policy.pipeline.steps, steps, strict=True):
        after = spec.after if spec.after is not None else ([previous] if previous else [])
        start = max((finish[name] for name in after), default=ZERO)
        finish[spec.name] = start + (ZERO if result.deferred else result.latency)
        previous = spec.name
    deferred = sum((s.latency for s in steps if s.deferred), ZERO)
    return max(finish.values(), default=ZERO), deferred


def cumulative(policy: CompiledPolicy) -> list[tuple[Rule, Evaluation]]:
    """The policy's levers in the order written, each with the evaluation of the policy up to it."""
    return [(rule, evaluate(policy, policy.rules[: i + 1])) for i, rule in enumerate(policy.rules)]
