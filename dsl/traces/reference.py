"""A trace's calls and a set of rules in, the total cost out, one call at a time in Python.

This is the obvious calculator the SQL replay is held to: it walks every call in run order,
keeps each cache chain's previous prompt in a dictionary, builds the call's disjoint buckets and
prices them with :func:`~agentpolicy.formulas.call_cost`.  It is slow on purpose — a loop per
call — and is used by the tests and the benchmark, never by ``eval``.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal

from ..compiler import CompiledPolicy, Rule
from ..formulas import Buckets, call_cost
from ..inputs import TTLS
from .replay import Decision, decide

ZERO = Decimal(0)
COLUMNS = (
    "c.run_id, c.conversation_id, s.step, s.model, c.uncached, c.write_5m, c.write_1h, c.read, "
    "c.output, c.started_s"
)


def calls_in_order(policy: CompiledPolicy, batch: int = 100_000) -> Iterable[tuple]:
    """The trace's good calls, in run order, fetched in batches."""
    cursor = policy.trace.database.connection.execute(
        f"SELECT {COLUMNS} FROM calls c JOIN steps s USING (step_id) ORDER BY c.run_id, c.sequence"
    )
    while rows := cursor.fetchmany(batch):
        yield from rows


def reference_cost(policy: CompiledPolicy, rules: list[Rule], calls: Iterable[tuple]) -> Decimal:
    """The total cost of ``calls`` under ``rules``, priced call by call."""
    decisions = {(d.step.name, d.step.model): d for d in decide(policy, rules)}
    recache = any(r.kind == "cache" for r in rules)
    previous: dict[tuple, tuple[int, float | None]] = {}
    total = ZERO
    for run, conversation, step, model, uncached, w5, w1, read, output, started in calls:
        decision = decisions[(step, model)]
        price = policy.prices.models[decision.model_after]
        prompt = uncached + w5 + w1 + read
        prompt_after, output_after = _shape(decision, prompt, output)
        if recache:
            buckets = _recached(
                decision, price, prompt_after, output_after, run, conversation, started, previous
            )
        else:
            buckets = _kept(price, prompt, prompt_after, output_after, w5, w1, read)
        total += call_cost(price, buckets, batched=decision.batched)
    return total


def _shape(decision: Decision, prompt: int, output: int) -> tuple[int, int]:
    cache = decision.cache
    kept = min(prompt, int(cache.prefix_size)) if cache and cache.cache_form == "prefix" else 0
    rest = prompt - kept
    if decision.trim_fraction is not None:
        rest = int((rest * (1 - decision.trim_fraction)).quantize(Decimal(1), ROUND_HALF_UP))
    elif decision.trim_to is not None:
        rest = min(rest, int(decision.trim_to))
    capped = min(output, int(decision.cap_at)) if decision.cap_at is not None else output
    return kept + rest, capped


def _recached(decision, price, prompt, output, run, conversation, started, previous) -> Buckets:
    cache = decision.cache
    if cache is None:
        return Buckets(uncached=Decimal(prompt), output=Decimal(output))
    form = cache.cache_form
    chain = (run, decision.model_after, form, conversation if form == "history" else None)
    before = previous.get(chain)
    previous[chain] = (prompt, started)

    usable = price.caches and price.cache_write(cache.ttl) is not None
    warm = before is not None and (
        started is None or before[1] is None or started - before[1] <= float(TTLS[cache.ttl])
    )
    minimum = int(price.min_cacheable)
    read = written = 0
    if form == "history" and usable and prompt >= minimum:
        if warm and before[0] >= minimum:
            read = min(before[0], prompt)
        written = prompt - read
    elif form == "prefix" and usable and cache.prefix_size >= minimum:
        size = int(cache.prefix_size)
        if prompt >= size:
            if warm and before[0] >= size:
                read = size
            else:
                written = size
    writes = {"write_1h" if cache.ttl == "1h" else "write_5m": Decimal(written)}
    return Buckets(
        uncached=Decimal(prompt - read - written),
        read=Decimal(read),
        output=Decimal(output),
        **writes,
    )


def _kept(price, prompt, prompt_after, output, w5, w1, read) -> Buckets:
    def scaled(tokens: int, priced) -> int:
        return 0 if priced is None or prompt == 0 else tokens * prompt_after // prompt

    read_after = scaled(read, price.cache_read)
    w5_after = scaled(w5, price.cache_write_5m)
    w1_after = scaled(w1, price.cache_write_1h)
    return Buckets(
        uncached=Decimal(prompt_after - read_after - w5_after - w1_after),
        write_5m=Decimal(w5_after),
        write_1h=Decimal(w1_after),
        read=Decimal(read_after),
        output=Decimal(output),
    )
