"""A provider's name in, the billing rules the engine applies to its models out.

The rules are data, one :class:`ProviderRules` per provider, each figure with the provider page it
comes from (see ``docs/prices.md``).  A price table can override the per-model figures (minimum
cacheable prefix, batch discount and whether it reaches cached tokens); the rules here fill in
what neither the price library nor the local file says.

``caching`` is how a prompt prefix gets cached:

- ``explicit``: only when the policy asks (``cache prefix``), written at the model's write price
  and read at its read price (Anthropic; Gemini's explicit context caching, which also bills
  storage per token and hour; and any local model without a provider);
- ``automatic``: every call whose prefix is long enough is cached, whatever the policy says, in
  steps of ``cache_step`` tokens, with no write premium unless the model has a write price
  (OpenAI);
- ``none``: the engine caches nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

HOUR = Decimal(3600)


@dataclass(frozen=True)
class ProviderRules:
    """How one provider bills caching and batching."""

    name: str
    caching: str
    #: Cache-write price as a multiple of the input price, where the price data gives none.
    write_5m_factor: Decimal | None
    write_1h_factor: Decimal | None
    #: Smallest prefix that is cached at all, unless the model has its own minimum.
    min_cacheable: Decimal
    #: Automatic caching caches the longest prefix that is a whole number of these steps.
    cache_step: Decimal
    #: Most cache breakpoints one request may set (None: no limit the engine knows).
    max_breakpoints: int | None
    #: How long an automatic cache lives after its last use, in seconds.
    automatic_ttl: Decimal
    #: Whether a cache read restarts the cache's time to live.
    read_refreshes: bool
    #: Whether the explicit cache is billed per token and hour of storage.
    bills_storage: bool
    #: Whether the batch discount also reaches cache writes and reads, for a local batch discount.
    batch_discounts_cache: bool
    #: The longest a batched call may take to complete, in seconds.
    batch_window: Decimal


ANTHROPIC = ProviderRules(
    name="anthropic",
    caching="explicit",
    write_5m_factor=Decimal("1.25"),
    write_1h_factor=Decimal(2),
    min_cacheable=Decimal(1024),
    cache_step=Decimal(1),
    max_breakpoints=4,
    automatic_ttl=Decimal(0),
    read_refreshes=True,
    bills_storage=False,
    batch_discounts_cache=True,
    batch_window=24 * HOUR,
)

OPENAI = ProviderRules(
    name="openai",
    caching="automatic",
    write_5m_factor=Decimal(1),
    write_1h_factor=None,
    min_cacheable=Decimal(1024),
    cache_step=Decimal(128),
    max_breakpoints=None,
    automatic_ttl=5 * Decimal(60),
    read_refreshes=True,
    bills_storage=False,
    batch_discounts_cache=False,
    batch_window=24 * HOUR,
)

GOOGLE = ProviderRules(
    name="google",
    caching="explicit",
    write_5m_factor=Decimal(1),
    write_1h_factor=Decimal(1),
    min_cacheable=Decimal(1024),
    cache_step=Decimal(1),
    max_breakpoints=None,
    automatic_ttl=Decimal(0),
    read_refreshes=False,
    bills_storage=True,
    batch_discounts_cache=False,
    batch_window=24 * HOUR,
)

#: A local model with no provider: explicit caching at the prices its table writes.
LOCAL = ProviderRules(
    name="local",
    caching="explicit",
    write_5m_factor=None,
    write_1h_factor=None,
    min_cacheable=Decimal(0),
    cache_step=Decimal(1),
    max_breakpoints=None,
    automatic_ttl=Decimal(0),
    read_refreshes=True,
    bills_storage=False,
    batch_discounts_cache=True,
    batch_window=24 * HOUR,
)

#: Providers whose caching the engine does not model: their models are never cached.
UNMODELLED = ProviderRules(
    name="other",
    caching="none",
    write_5m_factor=None,
    write_1h_factor=None,
    min_cacheable=Decimal(0),
    cache_step=Decimal(1),
    max_breakpoints=None,
    automatic_ttl=Decimal(0),
    read_refreshes=True,
    bills_storage=False,
    batch_discounts_cache=False,
    batch_window=24 * HOUR,
)

PROVIDERS = {rules.name: rules for rules in (ANTHROPIC, OPENAI, GOOGLE)}

#: Minimum cacheable prefix per model family, from the providers' caching pages, longest
#: matching model-id prefix first.  Models not listed take their provider's minimum.
MIN_CACHEABLE = {
    "anthropic": {
        "claude-opus-4-6": 4096,
        "claude-opus-4-5": 4096,
        "claude-haiku-4-5": 4096,
        "claude-sonnet-4-6": 2048,
        "claude-sonnet-4-5": 1024,
        "claude-opus-4-1": 1024,
        "claude-opus-4-0": 1024,
        "claude-sonnet-4-0": 1024,
        "claude-3-7-sonnet": 1024,
        "claude-3-5-sonnet": 1024,
        "claude-3-opus": 1024,
        "claude-3-5-haiku": 2048,
        "claude-3-haiku": 2048,
    },
    "google": {
        "gemini-2.5-pro": 4096,
        "gemini-2.5-flash": 1024,
        "gemini-3-pro": 4096,
        "gemini-3-flash": 1024,
    },
}


def rules_for(provider: str | None, *, local: bool = False) -> ProviderRules:
    """The rules for a provider id; a local model without one gets :data:`LOCAL`."""
    if provider is None:
        return LOCAL if local else UNMODELLED
    return PROVIDERS.get(provider, UNMODELLED)


def min_cacheable(provider: str | None, model_id: str) -> Decimal | None:
    """The documented minimum cacheable prefix of one model, or None when none is listed."""
    listed = MIN_CACHEABLE.get(provider or "", {})
    best = max((p for p in listed if model_id.startswith(p)), key=len, default=None)
    return Decimal(listed[best]) if best else None


def breakpoints_allowed(rules: ProviderRules, breakpoints: int) -> bool:
    """Whether one request may set this many cache breakpoints under the provider's rules."""
    return rules.max_breakpoints is None or breakpoints <= rules.max_breakpoints
