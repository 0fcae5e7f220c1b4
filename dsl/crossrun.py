"""A compiled policy and its traffic in, caching across runs out: hit rates, break-even rates,
and whether a 1-hour cache pays off against the 5-minute one.

Runs that arrive at random, ``λ`` an hour, find the prefix an earlier run cached with chance
``1 − exp(−λ·T)`` for a time to live of ``T`` hours.  Caching beats not caching when that chance
is above the break-even rate ``(w − 1) / (w − r)``, ``w`` and ``r`` the write and read prices as
multiples of the input price.  A longer time to live raises the chance and the write price
together; :func:`compare_ttls` evaluates the whole policy with each, so that every effect (reads
within a run included) is counted once, by the engine.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from .compiler import CompiledPolicy
from .engine import cache_for, evaluate
from .formulas import break_even_hit_rate, warm_chance
from .inputs import TTLS


@dataclass(frozen=True)
class ModelCaching:
    """One model's cache economics at the policy's traffic, for each time to live."""

    model: str
    read: Decimal  # cache-read price as a multiple of the input price
    write: dict[str, Decimal]  # cache-write multiple, by time to live
    hit_rate: dict[str, Decimal]  # chance a run finds the prefix warm, by time to live
    break_even: dict[str, Decimal | None]  # hit rate above which caching pays, by time to live


@dataclass(frozen=True)
class TtlComparison:
    """The policy evaluated with its prefix cache kept 5 minutes and kept 1 hour."""

    runs_per_hour: Decimal
    cost_per_run: dict[str, Decimal]
    models: list[ModelCaching]

    @property
    def better(self) -> str:
        """``1h`` when the hour-long cache costs less per run, ``5m`` when it costs more."""
        five, hour = self.cost_per_run["5m"], self.cost_per_run["1h"]
        return "1h" if hour < five else "5m" if hour > five else "same"

    @property
    def saving_per_run(self) -> Decimal:
        """What the 1-hour cache saves per run against the 5-minute one (negative: it costs)."""
        return self.cost_per_run["5m"] - self.cost_per_run["1h"]

    def as_dict(self) -> dict:
        """The comparison as JSON fields: decimal strings for money, floats for rates."""
        return {
            "runs_per_hour": float(self.runs_per_hour),
            "cost_per_run_5m": _text(self.cost_per_run["5m"]),
            "cost_per_run_1h": _text(self.cost_per_run["1h"]),
            "saving_per_run_1h": _text(self.saving_per_run),
            "better": self.better,
            "models": [
                {
                    "model": m.model,
                    "read_multiple": float(m.read),
                    "write_multiple": {k: float(v) for k, v in m.write.items()},
                    "hit_rate": {k: round(float(v), 6) for k, v in m.hit_rate.items()},
                    "break_even_hit_rate": {
                        k: None if v is None else round(float(v), 6)
                        for k, v in m.break_even.items()
                    },
                }
                for m in self.models
            ],
        }


def compare_ttls(
    policy: CompiledPolicy, *, runs_per_hour: Decimal | None = None
) -> TtlComparison | None:
    """Whether a 1-hour prefix cache pays off against the 5-minute one at the policy's traffic.

    ``runs_per_hour`` replaces the policy's ``traffic`` (none means no run finds another's cache).
    None when the policy caches no prefix.
    """
    cache = next((r for r in policy.rules if r.kind == "cache"), None)
    if cache is None:
        return None
    rate = policy.traffic if runs_per_hour is None else runs_per_hour
    at_rate = replace(policy, traffic=rate or None)
    costs = {}
    for ttl in TTLS:
        rules = [replace(r, ttl=ttl) if r is cache else r for r in policy.rules]
        costs[ttl] = evaluate(at_rate, rules).cost_per_run
    return TtlComparison(rate or Decimal(0), costs, _models(policy, cache, rate or Decimal(0)))


def _models(policy: CompiledPolicy, cache, rate: Decimal) -> list[ModelCaching]:
    """The models whose prefix this cache rule caches, with their multiples and rates."""
    found: dict[str, ModelCaching] = {}
    for step in evaluate(policy).steps:
        price = policy.prices.models[step.model]
        prefix = policy.pipeline.prefix
        if price.caching != "explicit" or cache_for(price, prefix, cache) is None:
            continue
        read = price.cache_read / price.input
        writes = {t: price.cache_write(t) / price.input for t in TTLS if price.cache_write(t)}
        found.setdefault(
            price.key,
            ModelCaching(
                model=step.model,
                read=read,
                write=writes,
                hit_rate={t: warm_chance(rate, TTLS[t]) for t in writes},
                break_even={t: break_even_hit_rate(w, read) for t, w in writes.items()},
            ),
        )
    return list(found.values())


def _text(value: Decimal) -> str:
    from .report.numbers import decimal_text

    return decimal_text(value)
