"""Exact figures in, the strings reports show out: money, seconds, rates and signed changes;
and text made safe for a markdown table cell."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal


def decimal_text(value: Decimal, *, min_places: int = 2) -> str:
    """An exact decimal in plain notation, trailing zeros dropped down to ``min_places``."""
    text = format(value.normalize(), "f")
    whole, _, fraction = text.partition(".")
    fraction = fraction.rstrip("0").ljust(min_places, "0")
    return f"{whole}.{fraction}" if fraction else whole


def usd(value: Decimal, *, places: int | None = None) -> str:
    """``$669.00``; with ``places``, rounded half-even for display only."""
    sign = "-" if value < 0 else ""
    value = abs(value)
    if places is not None and (value == 0 or value >= 1):
        value = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)
        return f"{sign}${value:,.{places}f}"
    if places is not None:  # under a dollar, cents would hide the figure: three digits instead
        value = value.quantize(Decimal(1).scaleb(value.adjusted() - 2), rounding=ROUND_HALF_EVEN)
    whole, _, fraction = decimal_text(value).partition(".")
    return f"{sign}${int(whole):,}.{fraction}"


def usd_per_run(value: Decimal) -> str:
    """Cost per run: exact up to six decimals, so that $0.0669 reads as such."""
    rounded = value.quantize(Decimal("0.000001"), rounding=ROUND_HALF_EVEN)
    return usd(rounded)


def seconds(value: Decimal) -> str:
    return f"{value:.2f} s"


def rate(value: Decimal) -> str:
    return f"{value:.4f}"


def change(before: Decimal, after: Decimal, kind: str) -> str:
    """The signed change from ``before`` to ``after`` and its percentage, with one sign only.

    No change reads ``±0``.  A change from zero has no percentage (it would be infinite): it
    reads as ``new``, as in ``+$0.0050 (new)``.
    """
    delta = after - before
    if delta == 0:
        return "±0"
    sign = "+" if delta > 0 else "−"
    amount = _amount(abs(delta), kind)
    if before == 0:
        return f"{sign}{amount} (new)"
    return f"{sign}{amount} ({sign}{abs(percent_change(before, after)):,.1f} %)"


def percent_change(before: Decimal, after: Decimal) -> Decimal | None:
    """The change from ``before`` to ``after`` in percent of ``before``; None from zero."""
    if before == 0:
        return None
    return (after - before) / abs(before) * 100


def _amount(size: Decimal, kind: str) -> str:
    if kind == "money":
        return usd(size, places=2) if size >= 1 else usd_per_run(size)
    if kind == "time":
        return seconds(size)
    return rate(size)


_MARKDOWN = str.maketrans({"|": "\\|", "<": "&lt;", ">": "&gt;", "*": "\\*", "`": "\\`"})


def markdown_cell(text: str) -> str:
    """Text for a markdown table cell: a ``|`` would end the cell, and ``<b>``, ``*`` and
    backticks in a policy's or step's name would render as markup in a pull request."""
    return text.translate(_MARKDOWN)


def markdown_table(headers, rows) -> list[str]:
    """The lines of a markdown table, every cell escaped."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(markdown_cell(cell) for cell in row) + " |" for row in rows]
    return lines


def require_figure(metric: str, value: Decimal) -> str:
    """The figure a require was checked against, as the report shows it."""
    if metric == "cost per run":
        return usd_per_run(value)
    if metric == "cost":
        return usd(value, places=2)
    return seconds(value) if metric == "latency" else rate(value)
