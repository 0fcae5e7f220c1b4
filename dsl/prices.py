"""A policy's ``prices`` header in, a :class:`PriceTable` out: every model it names, priced.

A price table comes from a local TOML file, from the genai-prices library, or from both: a file
with ``library = "genai-prices"`` adds to the library what it lacks (latency parameters, pass
rates, batch discount, minimum cacheable prefix, explicit-cache storage price) and may override
any of its prices, each override listed in reports.  ``prices "genai-prices"`` (or
``"genai-prices@2026-12-01"`` for the prices of one day) is the library alone.

Each model resolves to a :class:`ModelPrice`: its standard and batch :class:`Tariff` (base rates
and long-context cliffs), the billing rules of its provider (``providers.py``), and for each
figure the place it came from.  Names resolve lazily, as a policy uses them, so a table backed by
the library answers for any model the library knows without building them all.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path

from .diagnostics import PolicyError, Source, did_you_mean, near_names
from .inputs import TTLS, ModelEntry, PassRates, PriceFile, load, locate
from .providers import ProviderRules, min_cacheable, rules_for

FIGURES = ("input", "output", "cache_write_5m", "cache_write_1h", "cache_read")

#: Where a figure came from, as ``agentpolicy models`` and reports name it.
LIBRARY, LOCAL, OVERRIDE, RULE, DOCS, DEFAULT = (
    "genai-prices",
    "local",
    "override",
    "provider rule",
    "provider docs",
    "default",
)


@dataclass(frozen=True)
class Rates:
    """Per-token prices in USD per million tokens; a missing cache price means no such cache."""

    input: Decimal
    output: Decimal
    cache_write_5m: Decimal | None = None
    cache_write_1h: Decimal | None = None
    cache_read: Decimal | None = None

    def scaled(self, factor: Decimal, *, cache: bool) -> Rates:
        """These rates times ``factor``; cache prices too only when ``cache`` is set."""
        scale = lambda p: None if p is None else p * factor  # noqa: E731
        keep = scale if cache else (lambda p: p)
        return Rates(
            self.input * factor,
            self.output * factor,
            keep(self.cache_write_5m),
            keep(self.cache_write_1h),
            keep(self.cache_read),
        )

    def write(self, ttl: str) -> Decimal | None:
        return self.cache_write_5m if ttl == "5m" else self.cache_write_1h


@dataclass(frozen=True)
class Tariff:
    """Base rates and long-context tiers: ``(above, rates)`` pairs in ascending order."""

    base: Rates
    tiers: tuple[tuple[Decimal, Rates], ...] = ()

    def at(self, input_tokens: Decimal) -> Rates:
        """The rates of a request with this many input tokens, cache tokens included.

        A tier is a cliff: once the request has strictly more input tokens than the tier's
        threshold, every token of it, output included, pays the tier's rates; at exactly the
        threshold it does not.
        """
        rates = self.base
        for above, tier in self.tiers:
            if input_tokens > above:
                rates = tier
        return rates

    def each(self, change) -> Tariff:
        """This tariff with ``change`` applied to the base rates and to every tier's."""
        return Tariff(change(self.base), tuple((above, change(r)) for above, r in self.tiers))

    @property
    def threshold(self) -> Decimal | None:
        return self.tiers[0][0] if self.tiers else None


@dataclass(frozen=True)
class Override:
    """A price the local file sets for a model the library already prices."""

    model: str
    figure: str
    library: Decimal | None
    local: Decimal
    path: str


@dataclass(frozen=True)
class ModelPrice:
    """One model, priced: tariffs, cache and batch rules, latency, quality, and their origins."""

    name: str
    key: str
    provider: str | None
    rules: ProviderRules
    standard: Tariff
    batch: Tariff | None
    min_cacheable: Decimal
    cache_storage: Decimal | None
    overhead: Decimal | None
    prefill_speed: Decimal | None
    output_speed: Decimal | None
    cache_read_prefill: Decimal
    pass_rate: PassRates | None
    origins: Mapping[str, str] = field(default_factory=dict, compare=False)
    overrides: tuple[Override, ...] = ()
    label: str | None = None
    context_window: int | None = None

    @property
    def input(self) -> Decimal:
        return self.standard.base.input

    @property
    def output(self) -> Decimal:
        return self.standard.base.output

    @property
    def cache_write_5m(self) -> Decimal | None:
        return self.standard.base.cache_write_5m

    @property
    def cache_write_1h(self) -> Decimal | None:
        return self.standard.base.cache_write_1h

    @property
    def cache_read(self) -> Decimal | None:
        return self.standard.base.cache_read

    @property
    def caching(self) -> str:
        return self.rules.caching if self.caches else "none"

    @property
    def caches(self) -> bool:
        return self.rules.caching != "none" and (
            self.cache_read is not None
            and (self.cache_write_5m is not None or self.cache_write_1h is not None)
        )

    def cache_write(self, ttl: str) -> Decimal | None:
        return self.standard.base.write(ttl)

    @property
    def batch_discount(self) -> Decimal:
        """The share taken off the input price by batching (0 when the model has no batch)."""
        if self.batch is None or not self.input:
            return Decimal(0)
        return 1 - self.batch.base.input / self.input

    @property
    def batch_discounts_cache(self) -> bool:
        """Whether batching also lowers the cache-read price."""
        if self.batch is None or self.cache_read is None or self.batch.base.cache_read is None:
            return False
        return self.batch.base.cache_read < self.cache_read

    @property
    def batch_window(self) -> Decimal:
        return self.rules.batch_window

    @property
    def timed(self) -> bool:
        """Whether the table gives the latency parameters evaluation needs."""
        return None not in (self.overhead, self.prefill_speed, self.output_speed)

    def rates(self, input_tokens: Decimal, *, batched: bool = False) -> Rates:
        """The rates one request pays: batch or standard, at the tier its input reaches."""
        tariff = self.batch if batched and self.batch is not None else self.standard
        return tariff.at(input_tokens)


@dataclass
class PriceTable:
    """The models a policy can use, by the names it uses, with where their prices come from."""

    source: str
    date: str | None
    models: ModelCatalog
    path: str | None = None
    library: str | None = None

    @property
    def overrides(self) -> list[Override]:
        return self.models.overrides()

    def hint(self, name: str) -> str | None:
        """A near-name suggestion for an unknown model, or the models there are to pick from."""
        return self.models.hint(name)


class ModelCatalog(Mapping[str, ModelPrice]):
    """Models by name: the local file's entries, then (when one is named) the library's models.

    A name resolves once and is remembered; two names of one library model (``gpt-4o`` and
    ``openai:gpt-4o``) resolve to prices with the same ``key``, so they share one cache.
    """

    def __init__(
        self,
        entries: dict[str, ModelEntry],
        *,
        library_date: datetime.date | None,
        path: str | None,
        entry_keys: dict[str, str] | None = None,
    ) -> None:
        self.entries = entries
        self.library_date = library_date
        self.path = path
        self._by_key = {key: name for name, key in (entry_keys or {}).items()}
        self._resolved: dict[str, ModelPrice] = {}

    def __getitem__(self, name: str) -> ModelPrice:
        if name not in self._resolved:
            self._resolved[name] = self._resolve(name)
        return self._resolved[name]

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        try:
            self[name]
        except KeyError:
            return False
        return True

    def __iter__(self) -> Iterator[str]:
        yield from self.entries
        if self.library_date is not None:
            from . import library

            yield from (n for n in library.names() if ":" in n)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def _resolve(self, name: str) -> ModelPrice:
        found = self._library_model(name)
        entry = self.entries.get(name)
        if found is not None and entry is None and found.key in self._by_key:
            entry = self.entries[self._by_key[found.key]]
        if found is None and entry is None:
            raise KeyError(name)
        return build_price(name, entry, found, path=self.path or "")

    def _library_model(self, name: str):
        if self.library_date is None:
            return None
        from . import library

        try:
            return library.lookup(name, self.library_date)
        except LookupError:
            return None

    def hint(self, name: str) -> str | None:
        """A near name for an unknown model: the local file's first, then the library's."""
        others = [n for n in self.entries if n != name]
        local = did_you_mean(name, others)
        if local or self.library_date is None:
            return local or ("models: " + ", ".join(others) if others else None)
        from . import library

        near = near_names(name, [n for n in library.names() if n != name])
        if near:
            return "did you mean " + " or ".join(f"'{n}'" for n in near) + "?"
        return "`agentpolicy models FILTER` lists the models genai-prices knows"

    def overrides(self) -> list[Override]:
        seen: dict[tuple[str, str], Override] = {}
        for price in self._resolved.values():
            for override in price.overrides:
                seen.setdefault((override.model, override.figure), override)
        return list(seen.values())


def build_price(name: str, entry: ModelEntry | None, found, *, path: str) -> ModelPrice:
    """Merge a library model (or None) with a local entry (or None) into one model's prices."""
    provider = (entry.provider if entry and entry.provider else None) or (
        found.provider if found else None
    )
    rules = rules_for(provider, local=found is None)
    origins: dict[str, str] = {}
    standard, overrides = _standard(name, entry, found, origins, path)
    standard = _fill_writes(standard, rules, origins)
    entry = entry or ModelEntry()

    return ModelPrice(
        name=name,
        key=found.key if found else name,
        provider=provider,
        rules=rules,
        standard=standard,
        batch=_batch(standard, entry, found, rules, origins),
        min_cacheable=_min_cacheable(entry, found, rules, origins),
        cache_storage=_origin(origins, "cache_storage", entry.cache_storage, LOCAL),
        overhead=_origin(origins, "overhead", entry.overhead, LOCAL),
        prefill_speed=_origin(origins, "prefill_speed", entry.prefill_speed, LOCAL),
        output_speed=_origin(origins, "output_speed", entry.output_speed, LOCAL),
        cache_read_prefill=_origin(origins, "cache_read_prefill", entry.cache_read_prefill, LOCAL)
        or _origin(origins, "cache_read_prefill", Decimal("0.1"), DEFAULT),
        pass_rate=_origin(origins, "pass_rate", entry.pass_rate, LOCAL),
        origins=origins,
        overrides=tuple(overrides),
        label=found.label if found else None,
        context_window=found.context_window if found else None,
    )


def _origin(origins: dict[str, str], figure: str, value, origin: str):
    if value is not None:
        origins[figure] = origin
    return value


def _standard(name, entry, found, origins, path) -> tuple[Tariff, list[Override]]:
    """The standard tariff: the library's, with the local entry's prices over it."""
    overrides: list[Override] = []
    if found is not None:
        tariff = found.standard
        for figure in FIGURES:
            if getattr(tariff.base, figure) is not None:
                origins[figure] = LIBRARY
        if tariff.tiers:
            origins["long_context"] = LIBRARY
    else:
        tariff = Tariff(Rates(Decimal(0), Decimal(0)))
    if entry is None:
        return tariff, overrides

    written = {f: getattr(entry, f) for f in FIGURES if getattr(entry, f) is not None}
    for figure, value in written.items():
        before = getattr(tariff.base, figure) if found is not None else None
        if found is not None and before != value:
            overrides.append(Override(name, figure, before, value, path))
        origins[figure] = OVERRIDE if before is not None else LOCAL
    tariff = Tariff(replace(tariff.base, **written), tariff.tiers)
    if entry.long_context is not None:
        tier = entry.long_context
        rates = Rates(**{f: getattr(tier, f) for f in FIGURES})
        tariff = Tariff(tariff.base, ((tier.above, rates),))
        origins["long_context"] = OVERRIDE if found is not None and found.standard.tiers else LOCAL
    return tariff, overrides


def _fill_writes(tariff: Tariff, rules: ProviderRules, origins: dict[str, str]) -> Tariff:
    """Cache-write prices the data leaves out, from the provider's multiples of input."""

    def fill(rates: Rates) -> Rates:
        changes = {}
        for figure, factor in (
            ("cache_write_5m", rules.write_5m_factor),
            ("cache_write_1h", rules.write_1h_factor),
        ):
            if getattr(rates, figure) is None and factor is not None and rates.cache_read:
                changes[figure] = rates.input * factor
        return replace(rates, **changes)

    filled = tariff.each(fill)
    for figure in ("cache_write_5m", "cache_write_1h"):
        if getattr(tariff.base, figure) is None and getattr(filled.base, figure) is not None:
            origins[figure] = RULE
    return filled


def _batch(standard, entry, found, rules, origins) -> Tariff | None:
    """Batch prices: a local discount over the standard tariff, else the library's batch prices."""
    if entry.batch_discount is not None:
        stacks = entry.batch_discounts_cache
        if stacks is None:
            stacks = rules.batch_discounts_cache
        factor = 1 - entry.batch_discount
        origins["batch"] = LOCAL
        return standard.each(lambda rates: rates.scaled(factor, cache=stacks))
    if found is not None and found.batch is not None:
        origins["batch"] = LIBRARY
        return _fill_writes(found.batch, rules, {})
    return None


def _min_cacheable(entry, found, rules, origins) -> Decimal:
    if entry.min_cacheable is not None:
        origins["min_cacheable"] = LOCAL
        return entry.min_cacheable
    documented = min_cacheable(found.provider, found.id) if found else None
    if documented is not None:
        origins["min_cacheable"] = DOCS
        return documented
    origins["min_cacheable"] = RULE
    return rules.min_cacheable


# Loading.

LIBRARY_SPEC = "genai-prices"


def is_library_spec(text: str) -> bool:
    """Whether a ``prices`` header names the library rather than a file."""
    return text == LIBRARY_SPEC or text.startswith(LIBRARY_SPEC + "@")


def library_table(text: str) -> PriceTable:
    """The library alone, as ``prices "genai-prices[@YYYY-MM-DD]"`` names it; ValueError if the
    date cannot be read."""
    from . import library

    _, _, written = text.partition("@")
    on = datetime.date.fromisoformat(written) if written else _today()
    catalog = ModelCatalog({}, library_date=on, path=None)
    return PriceTable(
        source=f"{LIBRARY_SPEC} {library.version()}",
        date=on.isoformat(),
        models=catalog,
        library=LIBRARY_SPEC,
    )


def load_price_file(path: Path) -> PriceTable:
    """A local price file, merged with the library it names; unknown models are diagnostics."""
    from . import library

    price_file: PriceFile = load(path, PriceFile, what="price table")
    text = path.read_text("utf-8")
    on = (price_file.date or _today()) if price_file.library else None
    keys = _entry_keys(price_file, on, Source(path, text)) if on else {}
    catalog = ModelCatalog(price_file.models, library_date=on, path=str(path), entry_keys=keys)
    _check_complete(price_file, keys, catalog, Source(path, text))

    if price_file.library:
        named = price_file.source or path.name
        source = f"{LIBRARY_SPEC} {library.version()} + {named}"
    else:
        source = price_file.source or "local price table"
    date = on.isoformat() if on else (price_file.date.isoformat() if price_file.date else None)
    return PriceTable(source, date, catalog, path=str(path), library=price_file.library)


def _entry_keys(price_file: PriceFile, on: datetime.date, source: Source) -> dict[str, str]:
    """The library model each local entry names, where it names one."""
    from . import library

    keys = {}
    for name in price_file.models:
        try:
            keys[name] = library.lookup(name, on).key
        except LookupError:
            continue
    return keys


def _check_complete(price_file, keys, catalog: ModelCatalog, source: Source) -> None:
    """A local entry the library does not price must give its own input and output prices."""
    errors = []
    for name, entry in price_file.models.items():
        if name in keys or (entry.input is not None and entry.output is not None):
            continue
        line, column, width = locate(source.text, ("models", name))
        if price_file.library:
            message = f"'{name}' is not a model genai-prices knows, and its entry has no prices"
            hint = catalog.hint(name)
        else:
            message = f"model '{name}' needs an input and an output price"
            hint = 'add, e.g., input = "3 USD/MTok" and output = "15 USD/MTok"'
        errors.append(source.diagnostic("E500", message, line, column, width=width, hint=hint))
    if errors:
        raise PolicyError(errors)


def _today() -> datetime.date:
    return datetime.datetime.now(datetime.UTC).date()


def ttl_seconds(ttl: str) -> Decimal:
    return TTLS[ttl]
