"""A compiled policy (or any prefix of its rules) in, an :class:`Evaluation` of one run out.

The engine applies the levers in their fixed order — route, then trim and cap, then cache, then
batch — to every call of every step, splits each call's tokens into disjoint buckets, and prices
and times it with the formulas of ``formulas.py``.  A cache belongs to one model within one run:
the first call to a model writes the prefix, later calls to that model read it while it lives.
How a model caches follows its provider's rules (``providers.py``): explicitly when the policy
says ``cache prefix``, or automatically whatever the policy says.  With ``traffic``, a call that
finds no cache from its own run may find one left by an earlier run: it is priced at the expected
cost of a write and a read, weighted by that chance.
Quality is the product of the steps' pass rates: measured where an eval covers the step as the
policy leaves it, otherwise taken from the model table and, for a changed step, marked assumed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from .compiler import LEVER_ORDER, CompiledPolicy, Rule
from .formulas import HOUR, Buckets, call_cost, call_latency, warm_chance
from .inputs import TTLS, Step
from .prices import ModelPrice

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
    hit_rate: Decimal | None = None  # for a write: the chance an earlier run left it warm


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
    warmup: Decimal = ZERO  # latency added by warming the cache before parallel calls

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
    deferred_within: Decimal = ZERO  # the longest batch window of a deferred step, in seconds
    hit_rates: dict[str, Decimal] = field(default_factory=dict)  # per model, from traffic

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
    pricing = _Pricing(policy, by_kind["cache"][:1])
    priced, finish = _run(plans, pricing)
    steps = [_step_result(policy, plan, *priced[plan.step.name]) for plan in plans]
    latency = max(finish.values(), default=ZERO)
    deferred = sum((s.latency for s in steps if s.deferred), ZERO)
    within = max(
        (policy.prices.models[s.model].batch_window for s in steps if s.deferred), default=ZERO
    )
    return Evaluation(
        steps=steps,
        runs=policy.runs,
        latency_per_run=latency,
        deferred_latency=deferred,
        deferred_within=within,
        hit_rates=pricing.hit_rates,
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


@dataclass(frozen=True)
class _Cache:
    """How calls to one model cache the prefix: tokens, time to live, storage billed per write."""

    tokens: Decimal
    ttl: str
    ttl_seconds: Decimal
    refresh: bool
    storage_hours: Decimal


def cache_for(price: ModelPrice, prefix: Decimal, rule: Rule | None) -> _Cache | None:
    """How a call with this prefix caches on this model, under the policy's cache rule.

    Automatic caching (OpenAI) needs no rule and caches the longest whole number of cache steps
    once the prefix reaches the minimum; explicit caching (Anthropic, Gemini, local models)
    caches the whole prefix only when the policy says ``cache prefix`` and the prefix reaches the
    model's minimum.  Below the minimum nothing is cached.
    """
    rules = price.rules
    if prefix <= 0 or prefix < price.min_cacheable or not price.caches:
        return None
    if price.caching == "automatic":
        step = rules.cache_step
        tokens = (prefix // step) * step
        return _Cache(tokens, "5m", rules.automatic_ttl, rules.read_refreshes, ZERO)
    if rule is None or price.cache_write(rule.ttl) is None:
        return None
    seconds = TTLS[rule.ttl]
    storage = seconds / HOUR if rules.bills_storage else ZERO
    return _Cache(prefix, rule.ttl, seconds, rules.read_refreshes, storage)


def _run(plans: list[_StepPlan], pricing: _Pricing) -> tuple[dict[str, tuple], dict[str, Decimal]]:
    """Price the steps in the order they start, and when each one finishes.

    A step starts when the steps it waits for have finished: those its ``after`` names, or else
    the nearest earlier step that is not batched.  A batched step is handed to the batch API when
    it starts and holds nobody up, so for the interactive path it finishes as it starts.  Steps
    are priced in order of their start (pipeline order breaks ties), so that a cache is only
    read by calls that start after the call that wrote it has finished.
    """
    waits_for = _dependencies(plans)
    finish: dict[str, Decimal] = {}
    priced: dict[str, tuple] = {}
    pending = list(plans)
    while pending:
        starts = {
            p.step.name: max((finish[d] for d in waits_for[p.step.name]), default=ZERO)
            for p in pending
            if all(d in finish for d in waits_for[p.step.name])
        }
        plan = min((p for p in pending if p.step.name in starts), key=lambda p: starts[p.step.name])
        start = starts[plan.step.name]
        priced[plan.step.name] = calls, latency, warmup = pricing.step(plan, start)
        finish[plan.step.name] = start if plan.batched else start + latency
        pending.remove(plan)
    return priced, finish


def _dependencies(plans: list[_StepPlan]) -> dict[str, list[str]]:
    waits_for, previous = {}, None
    for plan in plans:
        after = plan.step.after
        waits_for[plan.step.name] = after if after is not None else ([previous] if previous else [])
        if not plan.batched:
            previous = plan.step.name
    return waits_for


class _Pricing:
    """Prices the calls of each step from its start, tracking each model's cache within the run.

    A step's calls run one after another (the calls of a ``parallel_calls`` step together, unless
    ``warm`` sends one first).  A model's cache is warm for a call that starts after the call
    that wrote it has finished, and within the time to live of its last write (or read, where
    reads refresh it).  Batched calls read a warm cache but leave it as they found it: they run
    later, out of band.  A cold call may still find the prefix cached by an earlier run, with the
    chance traffic gives.
    """

    def __init__(self, policy: CompiledPolicy, cache: list[Rule]) -> None:
        self.policy = policy
        self.rule = cache[0] if cache else None
        self.last_use: dict[str, Decimal] = {}
        self.ready_at: dict[str, Decimal] = {}
        self.hit_rates: dict[str, Decimal] = {}

    def step(self, plan: _StepPlan, start: Decimal) -> tuple[list[Call], Decimal, Decimal]:
        """The step's calls, its latency, and the latency its cache warm-up added."""
        price = self.policy.prices.models[plan.model]
        prefix = self.policy.pipeline.prefix if plan.step.uses_prefix else ZERO
        cache = cache_for(price, _cached_part(prefix, self.rule), self.rule)
        if plan.step.parallel_calls:
            return self._parallel(plan, price, prefix, cache, start)

        calls, clock = [], start
        for index in range(plan.step.calls):
            event = self._event(price, cache, clock)
            calls.append(self._call(plan, price, prefix, cache, index, clock, event))
            clock += calls[-1].latency
        # Summed apart from the clock, so that a step's latency never depends on when it starts.
        return calls, sum((c.latency for c in calls), ZERO), ZERO

    def _parallel(self, plan, price, prefix, cache, start) -> tuple[list[Call], Decimal, Decimal]:
        """Calls that start together: each pays a write on a cold cache, unless one warms it.

        With ``cache prefix warm``, one call goes first and the others start when it ends, so
        that they read; the step then takes that first call's latency longer.
        """
        event = self._event(price, cache, start)
        warming = event == "write" and self.rule is not None and self.rule.warm
        if not warming or plan.step.calls == 1:
            calls = [
                self._call(plan, price, prefix, cache, i, start, event)
                for i in range(plan.step.calls)
            ]
            return calls, max(c.latency for c in calls), ZERO

        first = self._call(plan, price, prefix, cache, 0, start, "write")
        after = start + first.latency
        rest = [
            self._call(plan, price, prefix, cache, i, after, "read")
            for i in range(1, plan.step.calls)
        ]
        latency = first.latency + max(c.latency for c in rest)
        # The warm-up is what warming adds: the side-by-side calls now wait for the first one.
        return [first, *rest], latency, latency - first.latency

    def _event(self, price: ModelPrice, cache: _Cache | None, start: Decimal) -> str | None:
        """Whether a call starting now writes the cache, reads it, or is not cached."""
        if cache is None:
            return None
        last, ready = self.last_use.get(price.key), self.ready_at.get(price.key)
        warm = last is not None and ready <= start and start - last <= cache.ttl_seconds
        return "read" if warm else "write"

    def _call(self, plan, price, prefix, cache, index, start, event) -> Call:
        buckets = _buckets(plan, prefix, event, cache)
        hit_rate = None
        if event == "write" and self.policy.traffic:
            hit_rate = warm_chance(self.policy.traffic, cache.ttl_seconds)
            self.hit_rates[price.key] = hit_rate
            buckets = buckets.mixed(_buckets(plan, prefix, "read", cache), hit_rate)
        latency = call_latency(price, buckets)
        if not plan.batched and event == "write":
            self.last_use[price.key], self.ready_at[price.key] = start, start + latency
        elif not plan.batched and event == "read" and cache.refresh:
            self.last_use[price.key] = start
        return Call(
            plan.step.name,
            index,
            plan.model,
            buckets,
            call_cost(price, buckets, batched=plan.batched),
            latency,
            plan.batched,
            event,
            hit_rate,
        )


def _cached_part(prefix: Decimal, cache_rule: Rule | None) -> Decimal:
    """How much of a call's prefix the cache holds: all of it, or the size the policy states
    (``cache prefix 800 tokens``) when that is less; the rest is billed as uncached input."""
    if cache_rule is not None and cache_rule.prefix_size is not None:
        return min(prefix, cache_rule.prefix_size)
    return prefix


def _buckets(plan: _StepPlan, prefix: Decimal, event: str | None, cache: _Cache | None) -> Buckets:
    if event is None or cache is None:
        return Buckets(uncached=prefix + plan.own_input, output=plan.output)
    uncached = plan.own_input + prefix - cache.tokens
    if event == "read":
        return Buckets(uncached=uncached, read=cache.tokens, output=plan.output)
    written = {"write_5m": cache.tokens} if cache.ttl == "5m" else {"write_1h": cache.tokens}
    storage = cache.tokens * cache.storage_hours
    return Buckets(uncached=uncached, output=plan.output, storage=storage, **written)


def _step_result(
    policy: CompiledPolicy, plan: _StepPlan, calls: list[Call], latency: Decimal, warmup: Decimal
) -> StepResult:
    step = plan.step
    touched = [r for r in (plan.route, plan.trim, plan.cap, plan.batch) if r is not None]
    explicit = policy.prices.models[plan.model].caching == "explicit"
    if any(c.cache for c in calls) and (explicit or warmup):
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
        warmup=warmup,
    )


def _quality(policy: CompiledPolicy, plan: _StepPlan) -> tuple[Decimal, str]:
    """The step's pass rate and its basis: measured by an eval, from the table, or assumed.

    A step counts as changed when its model is another, or when a trim or cap changed its
    tokens: a trim by 0 % or a cap above the step's output leaves it as the table has it.
    """
    price = policy.prices.models[plan.model]
    trim = plan.trim.effect if plan.trim else None
    cap = plan.cap.effect if plan.cap else None
    measured = policy.measured.get((plan.step.name, price.key, trim, cap))
    if measured is not None:
        return measured, "measured"
    rate = getattr(price.pass_rate, plan.step.difficulty)
    changed = (
        plan.model != plan.step.model
        or plan.own_input != plan.step.input
        or plan.output != plan.step.output
    )
    return rate, "assumed" if changed else "table"


def cumulative(policy: CompiledPolicy) -> list[tuple[Rule, Evaluation]]:
    """The policy's levers in the order written, each with the evaluation of the policy up to it."""
    return [(rule, evaluate(policy, policy.rules[: i + 1])) for i, rule in enumerate(policy.rules)]
