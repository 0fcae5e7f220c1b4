"""Quantities with units in, checked magnitudes in the engine's canonical units out.

One pint registry, defined in ``units.txt`` beside this module, holds the three dimensions the
engine reasons in: time, tokens and currency (USD).  The registry is built once per process and
only here; everything past this module works on plain ``Decimal`` magnitudes in canonical units
(USD, tokens, seconds, USD per million tokens, fractions), so the arithmetic stays exact.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

import pint

DEFINITIONS = Path(__file__).with_name("units.txt")

#: The canonical unit of each kind of quantity the language and the data files use.
CANONICAL = {
    "money": "USD",
    "tokens": "token",
    "time": "second",
    "price": "USD / MTok",
    "speed": "token / second",
    "fraction": "dimensionless",
    "storage": "USD / MTok / hour",
    "rate": "run / hour",
}

#: How each kind is written in an example, for messages that say what was expected.
EXAMPLES = {
    "money": "0.04 USD",
    "tokens": "1200 tokens",
    "time": "5 min",
    "price": "3 USD/MTok",
    "speed": "8000 tokens/s",
    "fraction": "40 %",
    "storage": "4.5 USD/MTok/h",
    "rate": "120 runs/hour",
}


@functools.cache
def registry() -> pint.UnitRegistry:
    """The process-wide unit registry, built on first use from ``units.txt``."""
    return pint.UnitRegistry(str(DEFINITIONS), non_int_type=Decimal, cache_folder=None)


class UnitProblem(ValueError):
    """A quantity whose number or unit cannot be read, or whose unit is of the wrong kind."""

    def __init__(self, message: str, *, found_unit: str | None = None) -> None:
        super().__init__(message)
        self.found_unit = found_unit


@dataclass(frozen=True)
class Amount:
    """A magnitude in the canonical unit of its kind, with the text it was written as."""

    kind: str
    value: Decimal
    written: str

    def __str__(self) -> str:
        return self.written


def parse_number(text: str) -> Decimal:
    """Read a decimal literal as the language writes it (underscores allowed between digits)."""
    try:
        return Decimal(text.replace("_", ""))
    except InvalidOperation:
        raise UnitProblem(f"'{text}' is not a number") from None


def convert(number: Decimal, unit: str | None, kind: str) -> Amount:
    """Convert ``number unit`` to the canonical unit of ``kind``, or raise ``UnitProblem``.

    A missing unit is read as dimensionless, which only a fraction accepts.
    """
    written = f"{number} {unit}" if unit else f"{number}"
    ureg = registry()
    try:
        quantity = ureg.Quantity(number, unit or "dimensionless")
    except (pint.UndefinedUnitError, pint.errors.DefinitionSyntaxError, AttributeError):
        raise UnitProblem(f"unknown unit '{unit}'", found_unit=unit) from None
    except Exception as error:  # pint's parser raises assorted errors on malformed units
        raise UnitProblem(f"cannot read the unit '{unit}' ({error})", found_unit=unit) from None

    target = CANONICAL[kind]
    try:
        value = quantity.to(target).magnitude
    except pint.DimensionalityError:
        raise UnitProblem(mismatch_message(unit, kind, quantity), found_unit=unit) from None
    return Amount(kind=kind, value=Decimal(value), written=written)


def mismatch_message(unit: str | None, kind: str, quantity: pint.Quantity) -> str:
    """Name both units and both dimensions of a unit mismatch."""
    found = unit or "no unit"
    expected = CANONICAL[kind]
    found_dims = str(quantity.dimensionality) if unit else "dimensionless"
    expected_dims = str(registry().Quantity(1, expected).dimensionality)
    return (
        f"unit mismatch: '{found}' ({found_dims}) where {kind} in '{expected}' "
        f"({expected_dims}) is expected, e.g. {EXAMPLES[kind]}"
    )


def parse_amount(text: str, kind: str) -> Amount:
    """Read a quantity written as one string, such as ``"3 USD/MTok"`` in a data file."""
    number, _, unit = text.strip().partition(" ")
    if not number:
        raise UnitProblem(f"expected {kind} such as '{EXAMPLES[kind]}', found an empty string")
    try:
        value = parse_number(number)
    except UnitProblem:
        raise UnitProblem(f"expected {kind} such as '{EXAMPLES[kind]}', found '{text}'") from None
    return convert(value, unit.strip() or None, kind)
