"""A model name and a date in, that model's prices from genai-prices' bundled data out.

genai-prices (the pydantic team's LLM price database) ships its data inside the package.  It can
refresh that data from the web, but only once its ``UpdatePrices`` task is started; this module
never starts it, and reads ``genai_prices.data.providers`` (the data in the installed wheel)
rather than the process-wide snapshot another library might have replaced.  Nothing here opens a
socket.

Names are read as genai-prices reads them: ``provider:model`` (``anthropic:claude-sonnet-4-5``)
picks the provider, and a bare name (``gpt-4o``, ``claude-3-5-sonnet-20241022``) goes to the
provider whose model names it matches; each provider then matches the name against its models'
patterns, so dated and aliased names find their model.  Prices can change over time in the data;
they are read as they stood at noon UTC on the date asked for.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from importlib.metadata import version as _installed_version

from .prices import Rates, Tariff

NAME = "genai-prices"

#: The price keys of genai-prices behind each of our figures, first found wins.
_KEYS = {
    "input": ("input_mtok",),
    "output": ("output_mtok",),
    "cache_write_5m": ("cache_write_5m_mtok", "cache_write_mtok"),
    "cache_write_1h": ("cache_write_1h_mtok",),
    "cache_read": ("cache_read_mtok",),
}

_BATCH = {"processing": "batch"}


@dataclass(frozen=True)
class LibraryModel:
    """One model's prices as genai-prices gives them on one date."""

    provider: str
    id: str
    label: str | None
    standard: Tariff
    batch: Tariff | None
    context_window: int | None

    @property
    def key(self) -> str:
        return f"{self.provider}:{self.id}"


def version() -> str:
    """The installed genai-prices version, which dates its bundled data."""
    return _installed_version("genai-prices")


@functools.cache
def _providers() -> tuple:
    from genai_prices.data import providers

    return tuple(providers)


def lookup(name: str, on: datetime.date) -> LibraryModel:
    """The model ``name`` refers to, priced on ``on``; LookupError when there is none."""
    provider_id, _, reference = name.partition(":")
    provider = _provider_by_id(provider_id) if reference else None
    if provider is None:
        reference = name
        provider = _provider_for(reference)
    if provider is None:
        raise LookupError(f"genai-prices knows no provider for '{name}'")
    model = provider.find_model(reference, all_providers=list(_providers())) or next(
        (m for m in provider.models if m.id == reference), None
    )
    if model is None:
        raise LookupError(f"genai-prices has no model '{reference}' at {provider.id}")
    priced = _priced(provider.id, model, on)
    if priced is None:
        raise LookupError(f"genai-prices gives '{name}' no per-token input and output prices")
    return priced


def models(on: datetime.date) -> Iterator[LibraryModel]:
    """Every model of every provider that has per-token input and output prices on ``on``."""
    for provider in _providers():
        for model in provider.models:
            priced = _priced(provider.id, model, on)
            if priced is not None:
                yield priced


@functools.cache
def names() -> tuple[str, ...]:
    """Every ``provider:model`` name and every bare model id, for near-name suggestions."""
    keyed = [f"{p.id}:{m.id}" for p in _providers() for m in p.models]
    bare = sorted({m.id for p in _providers() for m in p.models})
    return tuple(keyed + bare)


def _provider_by_id(provider_id: str):
    from genai_prices.data_snapshot import find_provider_by_id

    return find_provider_by_id(list(_providers()), provider_id)


def _provider_for(reference: str):
    """The provider whose model-name pattern matches a bare reference, as genai-prices does."""
    lowered = reference.lower()
    return next(
        (p for p in _providers() if p.model_match is not None and p.model_match.is_match(lowered)),
        None,
    )


def _priced(provider_id: str, model, on: datetime.date) -> LibraryModel | None:
    noon = datetime.datetime.combine(on, datetime.time(12), tzinfo=datetime.UTC)
    standard = _tariff(model.get_prices(noon))
    if standard is None:
        return None
    batch = _tariff(model.get_prices(noon, _BATCH)) if _has_batch(model, noon) else None
    return LibraryModel(
        provider=provider_id,
        id=model.id,
        label=model.name,
        standard=standard,
        batch=batch,
        context_window=model.context_window,
    )


def _has_batch(model, moment: datetime.datetime) -> bool:
    return any(
        variant.when == _BATCH and (variant.constraint is None or variant.constraint.active(moment))
        for variant in model.price_variants or ()
    )


def _tariff(price) -> Tariff | None:
    """genai-prices' ``ModelPrice`` as a :class:`Tariff`: base rates and long-context cliffs."""
    values = {figure: _first(price, keys) for figure, keys in _KEYS.items()}
    if values["input"] is None or values["output"] is None:
        return None
    starts = sorted({tier.start for v in values.values() for tier in getattr(v, "tiers", ())})
    base = Rates(**{figure: _at(value, None) for figure, value in values.items()})
    tiers = tuple(
        (Decimal(start), Rates(**{figure: _at(value, start) for figure, value in values.items()}))
        for start in starts
    )
    return Tariff(base, tiers)


def _first(price, keys: tuple[str, ...]):
    return next((v for v in (getattr(price, key) for key in keys) if v is not None), None)


def _at(value, start: int | None) -> Decimal | None:
    """The price of one figure for a request just past ``start`` tokens (None: the base price)."""
    if value is None or isinstance(value, Decimal):
        return value
    applicable = value.base
    for tier in value.tiers:
        if start is not None and tier.start <= start:
            applicable = tier.price
    return applicable
