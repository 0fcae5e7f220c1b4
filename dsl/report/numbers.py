"""Exact figures in, the strings reports show out: money, seconds, rates and signed changes."""

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
    if places is not None:
        value = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)
        return f"{sign}${value:,.{places}f}"
    return f"{sign}${decimal_text(value)}"


def usd_per_run(value: Decimal) -> str:
    """Cost per run: exact up to six decimals, so that $0.0669 reads as such."""
    rounded = value.quantize(Decimal("0.000001"), rounding=ROUND_HALF_EVEN)
    return usd(rounded)


def seconds(value: Decimal) -> str:
    return f"{value:.2f} s"


def rate(value: Decimal) -> str:
    return f"{value:.4f}"


def change(before: Decimal, after: Decimal, kind: str) -> str:
    """The signed change from ``before`` to ``after`` with its percentage, one sign only."""
    delta = after - before
    if kind == "money":
        amount = usd(abs(delta), places=2) if abs(delta) >= 1 else usd_per_run(abs(delta))
    elif kind == "time":
        amount = seconds(abs(delta))
    else:
        amount = rate(abs(delta))
    sign = "+" if delta > 0 else "−" if delta < 0 else "±"
    if before == 0:
        return f"{sign}{amount}" if delta else "±0"
    percent = abs(delta) / abs(before) * 100
    return f"{sign}{amount} ({sign}{percent:.1f} %)"
