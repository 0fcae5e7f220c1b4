"""Pipeline, price-table and eval TOML files in, validated pydantic models out.

Data files are checked strictly at this edge: unknown keys are errors, quantities carry units
checked by the one unit registry, and every problem becomes a diagnostic that names the file,
the line and the key (with a near name for a misspelt one).  Past this module, prices are
``Decimal`` USD per million tokens (storage in USD per million tokens per hour), token counts are
ints and times are seconds.
"""

from __future__ import annotations

import datetime
import re
import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from .diagnostics import PolicyError, Source, did_you_mean
from .units import UnitProblem, checked_number, parse_amount

DIFFICULTIES = ("easy", "medium", "hard")
TTLS = {"5m": Decimal(300), "1h": Decimal(3600)}


def _amount(kind: str, *, bare_ok: bool = False):
    """A validator that reads ``"3 USD/MTok"``-style strings (or bare numbers if allowed)."""

    def read(value: Any) -> Decimal:
        if isinstance(value, bool):
            raise ValueError(f"expected {kind}, found a boolean")
        if isinstance(value, int | float) and bare_ok:
            try:
                return checked_number(Decimal(str(value)), str(value))
            except UnitProblem as error:
                raise ValueError(str(error)) from None
        if isinstance(value, int | float):
            raise ValueError(f"expected {kind} with a unit, such as {_EXAMPLE[kind]!r}")
        if not isinstance(value, str):
            raise ValueError(f"expected {kind} written as a string such as {_EXAMPLE[kind]!r}")
        try:
            return parse_amount(value, kind).value
        except UnitProblem as error:
            raise ValueError(str(error)) from None

    return BeforeValidator(read)


_EXAMPLE = {
    "price": "3 USD/MTok",
    "tokens": "1200 tokens",
    "time": "0.6 s",
    "speed": "8000 tokens/s",
    "fraction": "50 %",
    "money": "0.04 USD",
    "storage": "4.5 USD/MTok/h",
}

Price = Annotated[Decimal, _amount("price"), Field(ge=0)]


def _whole_tokens(tokens: Decimal) -> Decimal:
    if tokens != tokens.to_integral_value():
        raise ValueError("a token count is a whole number")
    return tokens


Tokens = Annotated[
    Decimal, _amount("tokens", bare_ok=True), Field(ge=0), AfterValidator(_whole_tokens)
]
Seconds = Annotated[Decimal, _amount("time"), Field(ge=0)]
Speed = Annotated[Decimal, _amount("speed"), Field(gt=0)]
Fraction = Annotated[Decimal, _amount("fraction", bare_ok=True), Field(ge=0, le=1)]
StoragePrice = Annotated[Decimal, _amount("storage"), Field(ge=0)]


class _Strict(BaseModel):
    """Unknown keys are errors, and no value is coerced: ``"yes"`` is not a boolean."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, defer_build=True)


# The price and model table, as a local TOML file writes it.  ``prices.py`` merges it with the
# price library it names and resolves every model a policy uses.


class PassRates(_Strict):
    """Eval pass rate of a model on steps of each difficulty (0–1)."""

    easy: Fraction
    medium: Fraction
    hard: Fraction


class LongContext(_Strict):
    """Prices for a request with more than ``above`` input tokens: the whole request pays them."""

    above: Tokens
    input: Price
    output: Price
    cache_write_5m: Price | None = None
    cache_write_1h: Price | None = None
    cache_read: Price | None = None


class ModelEntry(_Strict):
    """One model as the local price file writes it.

    A model the price library knows needs only what the library lacks (latency parameters, pass
    rates, batch discount, minimum cacheable prefix); any price given here overrides the
    library's.  A model the library does not know must give at least its input and output prices.
    """

    provider: Literal["anthropic", "openai", "google"] | None = None
    input: Price | None = None
    output: Price | None = None
    cache_write_5m: Price | None = None
    cache_write_1h: Price | None = None
    cache_read: Price | None = None
    long_context: LongContext | None = None
    cache_storage: StoragePrice | None = None
    min_cacheable: Tokens | None = None
    batch_discount: Fraction | None = None
    batch_discounts_cache: bool | None = None
    overhead: Seconds | None = None
    prefill_speed: Speed | None = None
    output_speed: Speed | None = None
    cache_read_prefill: Fraction | None = None
    pass_rate: PassRates | None = None


class PriceFile(_Strict):
    """A local price file: models by the name policies and pipelines use for them.

    With ``library = "genai-prices"`` the file adds to (and overrides) the library's prices, read
    as they stood on ``date``; without it, the file is the whole price table.
    """

    source: str | None = None
    date: Annotated[datetime.date | None, Field(strict=False)] = None  # a TOML date or a string
    library: Literal["genai-prices"] | None = None
    models: dict[str, ModelEntry] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _not_empty(self) -> PriceFile:
        if not self.models and self.library is None:
            raise ValueError("the price table names no model and no price library")
        return self


# The pipeline.


class Step(_Strict):
    """One step of the agent: model, difficulty, and per-call tokens (input beyond the prefix)."""

    name: str = Field(min_length=1)
    model: str
    difficulty: Literal["easy", "medium", "hard"]
    calls: int = Field(default=1, ge=1, le=10_000)
    input: Tokens
    output: Tokens
    deferrable: bool = False
    uses_prefix: bool = True
    parallel_calls: bool = False
    after: list[str] | None = None


class Pipeline(_Strict):
    """An agent run: a shared prompt prefix and the steps in the order they run."""

    name: str = "pipeline"
    prefix: Tokens = Decimal(0)
    steps: list[Step] = Field(min_length=1)

    def problems(self) -> list[tuple[tuple, str]]:
        """Where the steps contradict each other: a name given twice, or a step that runs after
        one that is not an earlier step; each with the key path it is found at."""
        found, seen = [], set()
        for index, step in enumerate(self.steps):
            if step.name in seen:
                found.append((("steps", index, "name"), f"step '{step.name}' is named twice"))
            for earlier in step.after or []:
                if earlier not in seen:
                    message = f"step '{step.name}' runs after '{earlier}', not an earlier step"
                    found.append((("steps", index, "after"), message))
            seen.add(step.name)
        return found

    def step(self, name: str) -> Step:
        return next(s for s in self.steps if s.name == name)


# Measured evals.


class Eval(_Strict):
    """A measured pass rate of one step on one model, with the trim and cap it ran under."""

    step: str
    model: str
    trim: str | None = None
    cap: str | None = None
    pass_rate: Fraction
    cases: int | None = Field(default=None, ge=1)


class Evals(_Strict):
    evals: list[Eval] = Field(default_factory=list)


# Loading with located errors.


def load(path: Path, model: type[BaseModel], *, what: str):
    """Read a TOML file into ``model``; every problem is a located diagnostic."""
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise PolicyError(
            [Source(path, "").diagnostic("E300", f"cannot read the {what}: {reason}")]
        ) from None
    text = text.removeprefix("\ufeff")  # a byte-order mark some editors write
    source = Source(path, text)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        line, column = _toml_error_position(str(error))
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(error))
        raise PolicyError(
            [source.diagnostic("E301", f"the {what} is not valid TOML: {message}", line, column)]
        ) from None
    try:
        loaded = model.model_validate(data)
    except ValidationError as error:
        raise PolicyError(_validation_diagnostics(error, source, model, data, what)) from None
    problems = loaded.problems() if hasattr(loaded, "problems") else []
    if problems:
        raise PolicyError(
            [
                source.diagnostic("E302", message, *locate(text, path)[:2])
                for path, message in problems
            ]
        )
    return loaded


def _toml_error_position(message: str) -> tuple[int, int]:
    found = re.search(r"line (\d+), column (\d+)", message)
    return (int(found.group(1)), int(found.group(2))) if found else (0, 0)


def _validation_diagnostics(error: ValidationError, source: Source, model, data, what: str):
    diagnostics = []
    for problem in error.errors(include_url=False):
        path = tuple(problem["loc"])
        line, column, width = locate(source.text, path)
        dotted = _dotted(path)
        if problem["type"] == "extra_forbidden":
            known = _known_keys(model, path[:-1], data)
            diagnostics.append(
                source.diagnostic(
                    "E303",
                    f"unknown key '{dotted}' in the {what}",
                    line,
                    column,
                    width=width,
                    hint=did_you_mean(str(path[-1]), known)
                    or ("known keys: " + ", ".join(sorted(known)) if known else None),
                )
            )
            continue
        message = _PLAIN.get(problem["type"], problem["msg"].removeprefix("Value error, "))
        where = f"'{dotted}'" if dotted else "the file"
        diagnostics.append(
            source.diagnostic(
                "E302", f"{where} in the {what}: {message}", line, column, width=width
            )
        )
    return diagnostics


#: pydantic's messages for the commonest problems, in the words of this tool's files.
_PLAIN = {
    "missing": "is missing",
    "bool_type": "must be true or false",
    "int_type": "must be a whole number",
    "string_type": "must be text in quotes",
    "list_type": 'must be a list, such as ["plan"]',
    "dict_type": "must be a table",
    "model_type": "must be a table",
}


def _dotted(path: tuple) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _known_keys(model: type[BaseModel], path: tuple, data) -> list[str]:
    """The field names allowed at ``path`` inside ``model``, for a near-name hint."""
    current: Any = model
    for part in path:
        if isinstance(part, int) or current is None:
            continue
        field = current.model_fields.get(part) if isinstance(current, type) else None
        if field is None:
            # A key of a dict of models, such as the model's name in ``models``.
            continue
        current = _inner_model(field.annotation)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _inner_model(annotation):
    """The pydantic model inside ``list[M]``, ``dict[str, M]`` or ``M | None``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


def locate(text: str, path: tuple) -> tuple[int, int, int]:
    """Find the line and column of a key path in TOML text, as well as plain text allows.

    Walks table headers (``[a.b]``, ``[[steps]]``) and ``key = value`` lines; an array-of-tables
    index counts the headers of that array.  Falls back to the closest enclosing table.
    """
    lines = text.splitlines()
    table: tuple = ()
    counts: dict[tuple, int] = {}
    best = (0, 0, 1)
    best_depth = -1
    for number, raw in enumerate(lines, start=1):
        stripped = raw.strip()
        header = re.match(r"^(\[\[?)\s*([^\]]+?)\s*\]\]?", stripped)
        if header:
            keys = tuple(_toml_keys(header.group(2)))
            if header.group(1) == "[[":
                counts[keys] = counts.get(keys, -1) + 1
                table = keys + (counts[keys],)
            else:
                table = _with_indexes(keys, counts)
            depth = _match_depth(table, path)
            if depth > best_depth:
                column = raw.index("[") + 1
                best, best_depth = (number, column, len(stripped)), depth
            continue
        assignment = re.match(r"^\s*([A-Za-z0-9_\-.\"' ]+?)\s*=", raw)
        if assignment:
            full = table + tuple(_toml_keys(assignment.group(1)))
            depth = _match_depth(full, path)
            if depth > best_depth or (depth == best_depth and depth == len(path)):
                column = len(raw) - len(raw.lstrip()) + 1
                best, best_depth = (number, column, len(assignment.group(1).strip())), depth
                if depth == len(path):
                    return best
    return best


def _toml_keys(dotted: str) -> list[str]:
    """``models."google:gemini-2.5-pro".input`` → its three keys: a quoted key keeps its dots."""
    parts = re.findall(r'\s*("[^"]*"|\'[^\']*\'|[^.]+)\s*(?:\.|$)', dotted)
    return [k.strip().strip("\"'") for k in parts]


def _with_indexes(keys: tuple, counts: dict[tuple, int]) -> tuple:
    out: tuple = ()
    for key in keys:
        out += (key,)
        if out in counts:
            out += (counts[out],)
    return out


def _match_depth(found: tuple, wanted: tuple) -> int:
    """How many leading parts of ``wanted`` ``found`` matches, or -1 if it strays."""
    if len(found) > len(wanted) or wanted[: len(found)] != found:
        return -1
    return len(found)
