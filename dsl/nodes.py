"""The syntax tree of a policy: plain, immutable nodes that carry their source spans.

The parser (``syntax.py``) builds these from the lark tree; the compiler (``compiler.py``) reads
them.  Nothing here knows about pipelines, prices or units beyond the text the user wrote.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal


@dataclass(frozen=True)
class Span:
    """Where a node stands in its file: 1-based line and column, and its offsets."""

    line: int
    column: int
    start: int
    end: int

    @property
    def width(self) -> int:
        return max(1, self.end - self.start)


@dataclass(frozen=True)
class Word:
    """A bare or quoted name as written: a model, a step, a field value."""

    text: str
    span: Span
    quoted: bool = False


@dataclass(frozen=True)
class Quantity:
    """A number with an optional unit, still as written (checked by the compiler)."""

    number: Decimal
    unit: str | None
    span: Span

    def __str__(self) -> str:
        return f"{self.number} {self.unit}" if self.unit else f"{self.number}"


Value = Word | Quantity


# Predicates over a step's fields.


@dataclass(frozen=True)
class Compare:
    field: Word
    op: str
    value: Value
    span: Span


@dataclass(frozen=True)
class Member:
    field: Word
    values: tuple[Value, ...]
    negated: bool
    span: Span


@dataclass(frozen=True)
class Flag:
    field: Word
    span: Span


@dataclass(frozen=True)
class Not:
    operand: Predicate
    span: Span


@dataclass(frozen=True)
class AllOf:
    operands: tuple[Predicate, ...]
    span: Span


@dataclass(frozen=True)
class AnyOf:
    operands: tuple[Predicate, ...]
    span: Span


@dataclass(frozen=True)
class Everything:
    """The selector ``every step``."""

    span: Span


Predicate = Compare | Member | Flag | Not | AllOf | AnyOf | Everything


# Statements.  Each knows its span and its canonical text (``layout.statement_text``), which
# reports quote and ``agentpolicy fmt`` writes.


@dataclass(frozen=True)
class Statement:
    span: Span
    text: str
    #: The file the statement is written in: a variant's statements and its base's differ.
    origin: str = field(default="", kw_only=True)


@dataclass(frozen=True)
class Header(Statement):
    """``policy``, ``pipeline``, ``trace``, ``prices``, ``evals``, ``runs`` or ``extends``."""

    keyword: str
    value: Word | int
    value_span: Span


@dataclass(frozen=True)
class Traffic(Statement):
    """``traffic 120 runs/hour``: how often runs arrive, for caching across runs."""

    rate: Quantity


@dataclass(frozen=True)
class CachePrefix(Statement):
    """``cache prefix [N tokens] [ttl T] [warm]``."""

    ttl: Quantity | None
    size: Quantity | None = None
    warm: bool = False


@dataclass(frozen=True)
class CacheHistory(Statement):
    """``cache history [of SELECTOR] [ttl T]``: a call reads what the call before it wrote."""

    ttl: Quantity | None
    selector: Predicate | None = None


@dataclass(frozen=True)
class Route(Statement):
    selector: Predicate
    model: Word


@dataclass(frozen=True)
class Trim(Statement):
    selector: Predicate
    by: Quantity | None
    to: Quantity | None


@dataclass(frozen=True)
class Cap(Statement):
    selector: Predicate
    at: Quantity


@dataclass(frozen=True)
class Batch(Statement):
    selector: Predicate


@dataclass(frozen=True)
class Require(Statement):
    metric: str
    op: str
    bound: Quantity


Lever = CachePrefix | CacheHistory | Route | Trim | Cap | Batch


@dataclass(frozen=True)
class Comment:
    """A ``#`` comment as written (without its line break); it means nothing to the engine."""

    text: str
    span: Span


@dataclass(frozen=True)
class Policy:
    """A parsed policy file: its statements in the order written, and its comments."""

    path: str
    statements: tuple[Statement, ...]
    comments: tuple[Comment, ...] = ()

    @property
    def headers(self) -> list[Header]:
        return [s for s in self.statements if isinstance(s, Header)]

    @property
    def levers(self) -> list[Lever]:
        return [s for s in self.statements if isinstance(s, Lever)]

    @property
    def requires(self) -> list[Require]:
        return [s for s in self.statements if isinstance(s, Require)]
