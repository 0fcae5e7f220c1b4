"""``agentpolicy models [FILTER]``: a price table in, the models it knows out, with their prices,
cache and batch rules, latency parameters, and where each figure came from.

The price table is genai-prices' bundled data by default (``--prices genai-prices``), or a local
price file, which lists its own models first, merged with the library it names.  FILTER keeps the
models whose name, provider or label contains it, ignoring case.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from ..cli import BAD_INPUT, OK, Streams
from ..diagnostics import near_names
from ..prices import DEFAULT, ModelPrice, PriceTable, build_price, is_library_spec
from ..report.numbers import decimal_text

SCHEMA = "agentpolicy.models/1"


@click.command("models")
@click.argument("filter_text", metavar="[FILTER]", required=False, default="")
@click.option(
    "--prices",
    "spec",
    default="genai-prices",
    show_default=True,
    help='A price file, or "genai-prices" / "genai-prices@YYYY-MM-DD" for the library alone.',
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="How to print the list.",
)
@click.pass_obj
def command(streams: Streams, filter_text: str, spec: str, output_format: str) -> int:
    """List the models a price table knows, with their prices and where each figure came from."""
    table = _table(spec)
    models = [m for m in known_models(table) if _matches(m, filter_text)]
    if not models:
        near = near_names(filter_text, _names(table))
        hint = f"; did you mean {' or '.join(near)}?" if near else ""
        streams.err.print(f"no model matches '{filter_text}'{hint}", markup=False)
        return BAD_INPUT
    if output_format == "json":
        streams.raw_out.write(json.dumps(to_document(table, models), indent=2) + "\n")
    else:
        streams.out.print(_title(table, len(models)), markup=False, highlight=False)
        streams.out.print(_rich_table(models, timed=any(m.timed for m in models)))
    return OK


def _table(spec: str) -> PriceTable:
    from ..prices import library_table, load_price_file

    if is_library_spec(spec):
        try:
            return library_table(spec)
        except ValueError:
            raise click.BadParameter(
                f"'{spec}' names no day: write genai-prices@YYYY-MM-DD", param_hint="--prices"
            ) from None
    path = Path(spec)
    if not path.is_file():
        raise click.BadParameter(f"no price file at '{spec}'", param_hint="--prices")
    return load_price_file(path)


def known_models(table: PriceTable) -> list[ModelPrice]:
    """The table's local models first, then every library model they do not already cover."""
    catalog = table.models
    local = [catalog[name] for name in catalog.entries]
    if catalog.library_date is None:
        return local
    from .. import library

    covered = {m.key for m in local}
    rest = [
        build_price(found.key, None, found, path="")
        for found in library.models(catalog.library_date)
        if found.key not in covered
    ]
    return local + sorted(rest, key=lambda m: m.key)


def _names(table: PriceTable) -> list[str]:
    names = list(table.models.entries)
    if table.models.library_date is not None:
        from .. import library

        names += library.names()
    return names


def _matches(model: ModelPrice, text: str) -> bool:
    wanted = text.lower()
    return any(wanted in (part or "").lower() for part in (model.name, model.key, model.label))


# JSON.


def to_document(table: PriceTable, models: list[ModelPrice]) -> dict:
    """The list as the ``agentpolicy.models/1`` JSON document; prices are decimal strings."""
    return {
        "schema": SCHEMA,
        "source": table.source,
        "date": table.date,
        "models": [_model(m) for m in models],
    }


def _model(m: ModelPrice) -> dict:
    base = m.standard.base
    return {
        "name": m.name,
        "key": m.key,
        "label": m.label,
        "provider": m.provider,
        "caching": m.caching,
        "prices_usd_per_mtok": _rates(base),
        "long_context": [
            {"above_tokens": int(above), "prices_usd_per_mtok": _rates(rates)}
            for above, rates in m.standard.tiers
        ],
        "batch": None
        if m.batch is None
        else {
            "discount": _text(m.batch_discount),
            "discounts_cache": m.batch_discounts_cache,
            "prices_usd_per_mtok": _rates(m.batch.base),
            "window_s": int(m.batch_window),
        },
        "min_cacheable_tokens": int(m.min_cacheable),
        "cache_step_tokens": int(m.rules.cache_step),
        "max_cache_breakpoints": m.rules.max_breakpoints,
        "cache_storage_usd_per_mtok_hour": _text(m.cache_storage),
        "latency": None
        if not m.timed
        else {
            "overhead_s": _text(m.overhead),
            "prefill_tokens_per_s": _text(m.prefill_speed),
            "output_tokens_per_s": _text(m.output_speed),
            "cache_read_prefill": _text(m.cache_read_prefill),
        },
        "pass_rate": None
        if m.pass_rate is None
        else {k: _text(v) for k, v in m.pass_rate.model_dump().items()},
        "origins": dict(m.origins),
        "overrides": [
            {"figure": o.figure, "library": _text(o.library), "local": _text(o.local)}
            for o in m.overrides
        ],
    }


def _rates(rates) -> dict:
    return {
        figure: _text(getattr(rates, figure))
        for figure in ("input", "output", "cache_write_5m", "cache_write_1h", "cache_read")
    }


def _text(value: Decimal | None) -> str | None:
    return None if value is None else decimal_text(value, min_places=0)


# Table.


def _title(table: PriceTable, count: int) -> str:
    dated = f" as of {table.date}" if table.date else ""
    noun = "model" if count == 1 else "models"
    return f"{count:,} {noun} · prices: {table.source}{dated} · USD per million tokens"


_HEADERS = (
    "model",
    "caching",
    "input",
    "output",
    "write 5m / 1h",
    "read",
    "long context",
    "batch",
    "min cache",
    "latency t0 / prefill / out",
    "from",
)


def _rich_table(models: list[ModelPrice], *, timed: bool) -> Table:
    """The models as a table; the latency column only when some model has latency figures."""
    table = Table(show_edge=False)
    shown = [i for i, header in enumerate(_HEADERS) if timed or not header.startswith("latency")]
    for index in shown:
        header = _HEADERS[index]
        left = header in ("model", "caching", "from", "long context", "batch")
        table.add_column(header, justify="left" if left else "right", overflow="fold")
    for m in models:
        row = _row(m)
        table.add_row(*(escape(row[i]) for i in shown))
    return table


def _row(m: ModelPrice) -> tuple[str, ...]:
    base = m.standard.base
    return (
        m.name if m.name == m.key else f"{m.name} ({m.key})",
        m.caching,
        _price(base.input),
        _price(base.output),
        f"{_price(base.cache_write_5m)} / {_price(base.cache_write_1h)}",
        _price(base.cache_read),
        _long_context(m),
        _batch(m),
        f"{m.min_cacheable:,.0f}"
        + (f" step {m.rules.cache_step:,.0f}" if m.rules.cache_step > 1 else ""),
        _latency(m),
        _origins(m),
    )


def _price(value: Decimal | None) -> str:
    return "—" if value is None else decimal_text(value, min_places=0)


def _long_context(m: ModelPrice) -> str:
    if not m.standard.tiers:
        return "—"
    above, rates = m.standard.tiers[0]
    return f"> {above:,.0f}: {_price(rates.input)} / {_price(rates.output)}"


def _batch(m: ModelPrice) -> str:
    if m.batch is None:
        return "—"
    stacks = "cache too" if m.batch_discounts_cache else "not cache"
    return f"−{m.batch_discount:.0%} ({stacks})"


def _latency(m: ModelPrice) -> str:
    if not m.timed:
        return "—"
    return (
        f"{decimal_text(m.overhead, min_places=0)} s / {m.prefill_speed:,.0f} / "
        f"{m.output_speed:,.0f} tok/s"
    )


def _origins(m: ModelPrice) -> str:
    """Where the row's figures came from, by group: ``prices: genai-prices; min cache: …``.

    A group names where most of its figures came from, then each figure that came from elsewhere;
    defaults are left out.
    """
    groups: dict[str, dict[str, str]] = {}
    for figure, origin in m.origins.items():
        if origin != DEFAULT:
            groups.setdefault(_GROUP.get(figure, figure), {})[figure] = origin
    parts = []
    for group, figures in groups.items():
        origins = list(figures.values())
        usual = max(set(origins), key=origins.count)
        parts.append(f"{group}: {usual}")
        parts += [f"{_SHORT.get(f, f)}: {o}" for f, o in figures.items() if o != usual]
    return "; ".join(parts)


_GROUP = {
    **dict.fromkeys(
        ("input", "output", "cache_write_5m", "cache_write_1h", "cache_read", "long_context"),
        "prices",
    ),
    "batch": "batch",
    "min_cacheable": "min cache",
    "cache_storage": "storage",
    **dict.fromkeys(("overhead", "prefill_speed", "output_speed", "cache_read_prefill"), "latency"),
    "pass_rate": "pass rates",
}

_SHORT = {
    "cache_write_5m": "write 5m",
    "cache_write_1h": "write 1h",
    "cache_read": "read",
    "long_context": "tiers",
    "prefill_speed": "prefill",
    "output_speed": "output speed",
    "cache_read_prefill": "read prefill",
}
