"""One call's disjoint token buckets and its model's prices in, exact cost and latency out.

    cost    = (U·p_in + W5·p_write_5m + W1·p_write_1h + R·p_read + O·p_out) / 10⁶ · batch factor
    latency = t0 + (U + W5 + W1 + c_read·R) / prefill speed + O / output speed

U is uncached input, W5 and W1 cache writes for 5 minutes and 1 hour, R cache reads, O output
(reasoning included).  Prices are USD per million tokens; every figure stays a ``Decimal``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from .inputs import ModelPrice

MILLION = Decimal(1_000_000)
ZERO = Decimal(0)


@dataclass(frozen=True)
class Buckets:
    """A call's tokens, split so that no token is counted twice."""

    uncached: Decimal = ZERO
    write_5m: Decimal = ZERO
    write_1h: Decimal = ZERO
    read: Decimal = ZERO
    output: Decimal = ZERO

    def __add__(self, other: Buckets) -> Buckets:
        return Buckets(
            self.uncached + other.uncached,
            self.write_5m + other.write_5m,
            self.write_1h + other.write_1h,
            self.read + other.read,
            self.output + other.output,
        )

    @property
    def input(self) -> Decimal:
        return self.uncached + self.write_5m + self.write_1h + self.read


def call_cost(price: ModelPrice, tokens: Buckets, *, batched: bool = False) -> Decimal:
    """The exact USD cost of one call; the batch discount applies to its whole final cost."""
    cost = (
        tokens.uncached * price.input
        + tokens.write_5m * (price.cache_write_5m or ZERO)
        + tokens.write_1h * (price.cache_write_1h or ZERO)
        + tokens.read * (price.cache_read or ZERO)
        + tokens.output * price.output
    ) / MILLION
    if batched:
        cost *= 1 - price.batch_discount
    return cost


def call_latency(price: ModelPrice, tokens: Buckets) -> Decimal:
    """Seconds from sending the call to its last output token."""
    prefill = (
        tokens.uncached + tokens.write_5m + tokens.write_1h + price.cache_read_prefill * tokens.read
    )
    return price.overhead + prefill / price.prefill_speed + tokens.output / price.output_speed
