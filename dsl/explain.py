"""A compiled policy in, an :class:`Explanation` of why each step costs what it costs out.

For every step the explanation follows the levers in the order they apply — route, trim and
cap, cache, batch — and says for each kind which rule won, which rules matched but came too late,
and which did not match, with the selector tests and the step's own values.  It groups the
step's calls that came out alike, and records for every cached call which call wrote the prefix
it read.  The numbers are the engine's: nothing here evaluates a formula of its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from .compiler import CompiledPolicy, Rule
from .engine import Call, Evaluation, StepResult, evaluate
from .inputs import Step
from .selectors import Check

#: The lever kinds in the order they apply to a call; trim and cap apply side by side.
APPLY_ORDER = ("route", "trim", "cap", "cache", "batch")


@dataclass(frozen=True)
class Verdict:
    """What one rule did for one step."""

    rule: Rule
    outcome: str  # "won", "shadowed" (an earlier rule won), "no match" or "not applied" (a cache)
    checks: list[Check]
    winner: Rule | None = None  # for "shadowed": the rule that won instead


@dataclass(frozen=True)
class LeverKind:
    """One kind of lever for one step: the winning rule, if any, and every other rule's verdict."""

    kind: str
    verdicts: list[Verdict]
    reason: str | None = None  # why a cache did not apply, when it did not

    @property
    def winner(self) -> Verdict | None:
        return next((v for v in self.verdicts if v.outcome == "won"), None)


@dataclass(frozen=True)
class CallGroup:
    """Consecutive calls of a step that came out alike: same tokens, cost, latency and cache."""

    first: int  # 1-based call numbers
    last: int
    call: Call
    read_from: CallRef | None  # for a cache read: the call that wrote the prefix

    @property
    def count(self) -> int:
        return self.last - self.first + 1


@dataclass(frozen=True)
class CallRef:
    """A call by its step and 1-based number, as explanations name it."""

    step: str
    number: int


@dataclass
class CacheWrite:
    """The calls that wrote one model's prefix (several when they ran side by side), and the
    calls that read it afterwards."""

    writers: list[CallRef]
    readers: list[CallRef] = field(default_factory=list)


@dataclass
class CacheLog:
    """One model's cache within a run: each write, with the calls that read what it wrote."""

    model: str
    writes: list[CacheWrite] = field(default_factory=list)


@dataclass
class StepExplanation:
    step: Step
    result: StepResult
    levers: list[LeverKind]
    calls: list[CallGroup]


@dataclass
class Explanation:
    """Why each step of the pipeline costs what it costs under the policy."""

    policy: CompiledPolicy
    evaluation: Evaluation
    steps: list[StepExplanation]
    caches: list[CacheLog]
    path: list[str]  # the steps on the run's longest path, in order

    def step(self, name: str) -> StepExplanation:
        return next(s for s in self.steps if s.step.name == name)


def explain(policy: CompiledPolicy) -> Explanation:
    """Evaluate the policy and explain each step of the run."""
    evaluation = evaluate(policy)
    caches, read_from = _cache_logs(evaluation)
    steps = [
        StepExplanation(
            step=spec,
            result=result,
            levers=[_lever_kind(policy, kind, spec, result) for kind in APPLY_ORDER],
            calls=_call_groups(result, read_from),
        )
        for spec, result in zip(policy.pipeline.steps, evaluation.steps, strict=True)
    ]
    return Explanation(
        policy=policy,
        evaluation=evaluation,
        steps=steps,
        caches=caches,
        path=_longest_path(policy, evaluation),
    )


def _lever_kind(policy: CompiledPolicy, kind: str, step: Step, result: StepResult) -> LeverKind:
    """The verdict of every rule of one kind on one step, and why a cache did not apply."""
    rules = [r for r in policy.rules if r.kind == kind]
    applied = next((r for r in result.rules if r.kind == kind), None)
    if kind == "cache":
        # A cache has no selector: the first cache statement is the policy's cache.
        verdicts = [
            Verdict(rule, "shadowed", [], rules[0])
            if position
            else Verdict(rule, "won" if rule is applied else "not applied", [])
            for position, rule in enumerate(rules)
        ]
        missed = rules and applied is None
        reason = _why_not_cached(policy, step, result, rules[0]) if missed else None
        return LeverKind(kind, verdicts, reason)

    verdicts = []
    for rule in rules:
        checks = rule.selector.checks(step) if rule.selector is not None else []
        if rule is applied:
            verdicts.append(Verdict(rule, "won", checks))
        elif rule.matches(step):
            verdicts.append(Verdict(rule, "shadowed", checks, applied))
        else:
            verdicts.append(Verdict(rule, "no match", checks))
    return LeverKind(kind, verdicts)


def _why_not_cached(policy: CompiledPolicy, step: Step, result: StepResult, rule: Rule) -> str:
    """Why the engine did not cache a step's prefix, in the order it tests the conditions."""
    price = policy.prices.models[result.model]
    prefix = policy.pipeline.prefix
    if not step.uses_prefix:
        return "the step does not send the shared prefix"
    if prefix <= 0:
        return "the pipeline has no shared prefix"
    if prefix < price.min_cacheable:
        return (
            f"the {prefix}-token prefix is below {result.model}'s minimum cacheable size of "
            f"{price.min_cacheable} tokens"
        )
    ttl = "1 h" if rule.ttl == "1h" else "5 min"
    return f"{result.model} has no cache price for a {ttl} cache"


def _cache_logs(evaluation: Evaluation) -> tuple[list[CacheLog], dict[tuple[str, int], CallRef]]:
    """Each model's writes and the reads of each, walking the calls in run order."""
    logs: dict[str, CacheLog] = {}
    read_from: dict[tuple[str, int], CallRef] = {}
    for step in evaluation.steps:
        for call in step.calls:
            ref = CallRef(step.name, call.index + 1)
            log = logs.setdefault(call.model, CacheLog(call.model))
            last = log.writes[-1] if log.writes else None
            if call.cache == "write":
                if last and not last.readers and last.writers[-1].step == step.name:
                    last.writers.append(ref)  # calls side by side each write the prefix
                else:
                    log.writes.append(CacheWrite([ref]))
            elif call.cache == "read":
                last.readers.append(ref)
                read_from[(step.name, call.index)] = last.writers[0]
    return [log for log in logs.values() if log.writes], read_from


def _call_groups(result: StepResult, read_from: dict[tuple[str, int], CallRef]) -> list[CallGroup]:
    groups: list[CallGroup] = []
    for call in result.calls:
        source = read_from.get((result.name, call.index))
        last = groups[-1] if groups else None
        if last is not None and _alike(last.call, call) and last.read_from == source:
            groups[-1] = CallGroup(last.first, call.index + 1, last.call, source)
        else:
            groups.append(CallGroup(call.index + 1, call.index + 1, call, source))
    return groups


def _alike(one: Call, other: Call) -> bool:
    return (one.model, one.buckets, one.cost, one.latency, one.batched, one.cache) == (
        other.model,
        other.buckets,
        other.cost,
        other.latency,
        other.batched,
        other.cache,
    )


def _longest_path(policy: CompiledPolicy, evaluation: Evaluation) -> list[str]:
    """The steps whose latencies add up to the run's latency, as the engine walks them."""
    finish: dict[str, Decimal] = {}
    before: dict[str, str | None] = {}
    previous: str | None = None
    for spec, result in zip(policy.pipeline.steps, evaluation.steps, strict=True):
        after = spec.after if spec.after is not None else ([previous] if previous else [])
        start_from = max(after, key=lambda name: finish[name], default=None)
        start = finish[start_from] if start_from else Decimal(0)
        finish[spec.name] = start + (Decimal(0) if result.deferred else result.latency)
        before[spec.name] = start_from
        previous = spec.name

    path: list[str] = []
    step = max(finish, key=lambda name: finish[name], default=None)
    while step is not None:
        path.append(step)
        step = before[step]
    path.reverse()
    return [name for name in path if not evaluation.step(name).deferred]
