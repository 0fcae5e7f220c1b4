"""One call's disjoint token buckets and its model's prices in, exact cost and latency out.

    cost    = (U·p_in + W5·p_write_5m + W1·p_write_1h + R·p_read + O·p_out) / 10⁶
              + S·p_storage / 10⁶
    latency = t0 + (U + W5 + W1 + c_read·R) / prefill speed + O / output speed

U is uncached input, W5 and W1 cache writes for 5 minutes and 1 hour, R cache reads, O output
(reasoning included), S token-hours of explicit cache storage.  The prices are those of the
request as a whole: batch prices for a batched call, and a long-context tier's prices for every
token once the request's input (U + W5 + W1 + R) is past the tier's threshold.  Prices are USD per
million tokens (storage per million tokens per hour); every figure stays a ``Decimal``.

Across runs, a cached prefix is still warm when the next run arrives, at ``λ`` runs per hour and a
time to live of ``T`` hours, with probability about ``1 − exp(−λ·T)`` (arrivals at random).
Caching pays off when that hit rate is above ``(w − 1) / (w − r)`` for write and read prices of
``w`` and ``r`` times the input price.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from decimal import Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .prices import ModelPrice

MILLION = Decimal(1_000_000)
ZERO = Decimal(0)
HOUR = Decimal(3600)


class MissingPrice(ValueError):
    """Tokens in a bucket the model has no price for: never priced as zero."""


@dataclass(frozen=True)
class Buckets:
    """A call's tokens, split so that no token is counted twice."""

    uncached: Decimal = ZERO
    write_5m: Decimal = ZERO
    write_1h: Decimal = ZERO
    read: Decimal = ZERO
    output: Decimal = ZERO
    storage: Decimal = ZERO  # token-hours of explicit cache storage billed to this call

    def __add__(self, other: Buckets) -> Buckets:
        return Buckets(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    def scaled(self, share: Decimal) -> Buckets:
        return Buckets(*(getattr(self, f.name) * share for f in fields(self)))

    def mixed(self, other: Buckets, share: Decimal) -> Buckets:
        """The expected buckets when ``other`` happens with probability ``share``."""
        return self.scaled(1 - share) + other.scaled(share)

    @property
    def input(self) -> Decimal:
        """Every input token of the request, cache writes and reads included."""
        return self.uncached + self.write_5m + self.write_1h + self.read


def call_cost(price: ModelPrice, tokens: Buckets, *, batched: bool = False) -> Decimal:
    """The exact USD cost of one call at the rates its whole request pays."""
    rates = price.rates(tokens.input, batched=batched)
    cost = tokens.uncached * rates.input + tokens.output * rates.output
    for count, rate, what in (
        (tokens.write_5m, rates.cache_write_5m, "5-minute cache write"),
        (tokens.write_1h, rates.cache_write_1h, "1-hour cache write"),
        (tokens.read, rates.cache_read, "cache read"),
        (tokens.storage, price.cache_storage, "cache storage"),
    ):
        if count:
            cost += count * _priced(rate, price, what)
    return cost / MILLION


def _priced(rate: Decimal | None, price: ModelPrice, what: str) -> Decimal:
    if rate is None:
        raise MissingPrice(f"{price.name} has no {what} price, yet the call has such tokens")
    return rate


def call_latency(price: ModelPrice, tokens: Buckets) -> Decimal:
    """Seconds from sending the call to its last output token."""
    prefill = (
        tokens.uncached + tokens.write_5m + tokens.write_1h + price.cache_read_prefill * tokens.read
    )
    return price.overhead + prefill / price.prefill_speed + tokens.output / price.output_speed


def warm_chance(runs_per_hour: Decimal, ttl_seconds: Decimal) -> Decimal:
    """The chance a run finds a prefix still cached by an earlier run: ``1 − exp(−λ·T)``."""
    if runs_per_hour <= 0 or ttl_seconds <= 0:
        return ZERO
    return 1 - (-(runs_per_hour * ttl_seconds / HOUR)).exp()


def break_even_hit_rate(write: Decimal, read: Decimal) -> Decimal | None:
    """The hit rate above which caching beats not caching: ``(w − 1) / (w − r)``.

    ``write`` and ``read`` are the cache prices as multiples of the input price.  With no write
    premium (w ≤ 1) caching pays at any hit rate: the answer is 0.  None when reads are no
    cheaper than writes, so that caching never pays.
    """
    if write <= 1:
        return ZERO
    if write <= read:
        return None
    return (write - 1) / (write - read)
