"""A compiled policy in, every figure a report shows out: baseline, result, levers and steps."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from ..compiler import CompiledPolicy, Requirement, Rule
from ..crossrun import TtlComparison, compare_ttls
from ..engine import Evaluation, cumulative, evaluate

_COMPARE = {
    "<=": lambda a, b: a <= b,
    "<": lambda a, b: a < b,
    ">=": lambda a, b: a >= b,
    ">": lambda a, b: a > b,
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}


@dataclass(frozen=True)
class RequireResult:
    requirement: Requirement
    actual: Decimal
    passed: bool


@dataclass
class EvalReport:
    """What ``agentpolicy eval`` reports about one policy."""

    policy: CompiledPolicy
    baseline: Evaluation
    result: Evaluation
    levers: list[tuple[Rule, Evaluation]]
    requires: list[RequireResult]
    ttl: TtlComparison | None = None  # with traffic: the 5-minute and 1-hour caches compared

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.requires)

    def __rich_console__(self, console, options):
        from .render import rich_renderables

        yield from rich_renderables(self)


def build(policy: CompiledPolicy) -> EvalReport:
    """Evaluate the baseline, the policy and each prefix of its levers, and check the requires."""
    baseline = evaluate(policy, [])
    result = evaluate(policy)
    return EvalReport(
        policy=policy,
        baseline=baseline,
        result=result,
        levers=cumulative(policy),
        requires=[_check(r, result) for r in policy.requires],
        ttl=compare_ttls(policy) if policy.traffic else None,
    )


def metric(evaluation: Evaluation, name: str) -> Decimal:
    """The value of a require metric for an evaluation."""
    return {
        "cost per run": evaluation.cost_per_run,
        "cost": evaluation.cost_total,
        "latency": evaluation.latency_per_run,
        "quality": evaluation.quality,
    }[name]


def _check(requirement: Requirement, result: Evaluation) -> RequireResult:
    actual = metric(result, requirement.metric)
    return RequireResult(requirement, actual, _COMPARE[requirement.op](actual, requirement.bound))
