"""Quantities with units in, checked magnitudes in the engine's canonical units out.

One pint registry, defined in ``units.txt`` beside this module, holds the three dimensions the
engine reasons in: time, tokens and currency (USD).  The registry is built once per process and
only here; everything past this module works on plain ``Decimal`` magnitudes in canonical units
(USD, tokens, seconds, USD per million tokens, fractions), so the arithmetic stays exact.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
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
    """The process-wide unit registry, built on first use from ``units.txt``.

    pint is imported here, not at the top, so that a command that reads no unit never loads it.
    """
    import pint

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


#: The largest number a policy or data file may write, and the most decimal places it may have.
#: Within these bounds every sum and product of money stays exact in the precision the command
#: line evaluates with (``PRECISION`` significant digits).
LARGEST = Decimal("1e15")
PLACES = 12
PRECISION = 80


def parse_number(text: str) -> Decimal:
    """Read a decimal literal as the language writes it (underscores allowed between digits)."""
    try:
        value = Decimal(text.replace("_", ""))
    except InvalidOperation:
        raise UnitProblem(f"'{text}' is not a number") from None
    return checked_number(value, text)


def checked_number(value: Decimal, written: str) -> Decimal:
    """A number within the bounds that keep the arithmetic exact, or ``UnitProblem``."""
    # Read off the digits, without arithmetic that could overflow the decimal context.
    if not value.is_finite() or (value and value.adjusted() > LARGEST.adjusted()):
        raise UnitProblem(f"'{written}' is too large: numbers are below 10^16")
    _, digits, exponent = value.as_tuple()
    trailing_zeros = len(digits) - len("".join(map(str, digits)).rstrip("0"))
    if value and exponent + trailing_zeros < -PLACES:
        raise UnitProblem(f"'{written}' has more than {PLACES} decimal places")
    return value


def convert(number: Decimal, unit: str | None, kind: str) -> Amount:
    """Convert ``number unit`` to the canonical unit of ``kind``, or raise ``UnitProblem``.

    A missing unit is read as dimensionless, which only a fraction accepts.
    """
    written = f"{number} {unit}" if unit else f"{number}"
    checked_number(number, written)
    if kind == "fraction" and unit not in (None, "%", "percent"):
        raise UnitProblem(
            f"unit mismatch: '{unit}' where a fraction is expected, e.g. 40 % or 0.4",
            found_unit=unit,
        )
    ureg = registry()
    import pint

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
        f"unit mismatch: '{found}' is {_WORDS.get(found_dims, 'a quantity')} ({found_dims}), "
        f"but {_WORDS.get(expected_dims, kind)} in '{expected}' ({expected_dims}) is expected, "
        f"e.g. {EXAMPLES[kind]}"
    )


#: What a dimensionality is, in words, for messages.
_WORDS = {
    "[currency]": "money",
    "[token]": "a token count",
    "[time]": "a time",
    "[currency] / [token]": "a price per token",
    "[token] / [time]": "a speed",
    "[currency] / [time] / [token]": "a storage price",
    "1 / [time]": "a rate",
    "dimensionless": "a plain number",
}


#: A number, then whatever follows it: ``"40%"`` and ``"40 %"`` read alike.
_NUMBER_THEN_UNIT = re.compile(r"\s*([-+]?[0-9][0-9_]*(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?)(.*)")


def parse_amount(text: str, kind: str) -> Amount:
    """Read a quantity written as one string, such as ``"3 USD/MTok"`` in a data file."""
    found = _NUMBER_THEN_UNIT.match(text)
    number, unit = (found.group(1), found.group(2)) if found else (text.strip(), "")
    if not number:
        raise UnitProblem(f"expected {kind} such as '{EXAMPLES[kind]}', found an empty string")
    try:
        value = parse_number(number)
    except UnitProblem as error:
        if "not a number" not in str(error):
            raise
        raise UnitProblem(f"expected {kind} such as '{EXAMPLES[kind]}', found '{text}'") from None
    return convert(value, unit.strip() or None, kind)
