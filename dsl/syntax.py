"""Policy text in, a :class:`~agentpolicy.nodes.Policy` syntax tree out, or located diagnostics.

The language is defined once, in ``grammar/policy.lark`` (installed as ``agentpolicy.grammar``).
The LALR parser is built once per process and lark caches its tables on disk between runs.
Syntax errors are turned into diagnostics that name the line and column, show what was expected
and suggest the keyword the user probably meant.
"""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from . import nodes
from .diagnostics import PolicyError, Source, did_you_mean
from .units import parse_number

#: Words the language reserves, for "did you mean" on a misspelt keyword.
KEYWORDS = (
    "policy pipeline prices evals runs extends cache prefix ttl route to trim input of by cap "
    "output at batch if require cost per run latency quality step steps every and or not in "
    "history warm traffic trace"
).split()


@functools.cache
def parser() -> Lark:
    """The LALR parser for the policy grammar, built once and cached by lark between runs."""
    grammar = resources.files("agentpolicy.grammar").joinpath("policy.lark").read_text("utf-8")
    return Lark(
        grammar, parser="lalr", propagate_positions=True, maybe_placeholders=True, cache=True
    )


def parse_file(path: str | Path) -> nodes.Policy:
    """Read and parse a policy file; unreadable or undecodable files are diagnostics too."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        source = Source(path, "")
        message = f"cannot read the policy: {error.strerror}"
        raise PolicyError([source.diagnostic("E300", message)]) from None
    return parse_bytes(data, path)


def parse_bytes(data: bytes, path: str | Path) -> nodes.Policy:
    """Decode policy bytes as UTF-8 and parse them."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        before = data[: error.start]
        line = before.count(b"\n") + 1
        column = error.start - (before.rfind(b"\n") + 1) + 1
        source = Source(path, data.decode("utf-8", errors="replace"))
        raise PolicyError(
            [
                source.diagnostic(
                    "E100", f"byte 0x{data[error.start]:02x} is not valid UTF-8", line, column
                )
            ]
        ) from None
    return parse_text(text, path)


def parse_text(text: str, path: str | Path = "<policy>") -> nodes.Policy:
    """Parse policy text into its syntax tree."""
    source = Source(path, text)
    if "\x00" in text:
        offset = text.index("\x00")
        line = text.count("\n", 0, offset) + 1
        column = offset - (text.rfind("\n", 0, offset) + 1) + 1
        raise PolicyError(
            [source.diagnostic("E100", "the policy contains a NUL character", line, column)]
        )
    try:
        tree = parser().parse(text)
    except UnexpectedInput as error:
        raise PolicyError([syntax_diagnostic(error, source)]) from None
    statements = _Builder(text).transform(tree)
    return nodes.Policy(path=str(path), statements=tuple(statements))


def syntax_diagnostic(error: UnexpectedInput, source: Source):
    """Turn a lark parse error into a diagnostic that says what was expected."""
    expected = sorted(_describe(name) for name in getattr(error, "expected", None) or ())
    if isinstance(error, UnexpectedCharacters):
        char = source.text[error.pos_in_stream] if error.pos_in_stream < len(source.text) else ""
        allowed = sorted(_describe(name) for name in (error.allowed or ()))
        return source.diagnostic(
            "E101",
            f"unexpected character {char!r}",
            error.line,
            error.column,
            hint=_expected_hint(allowed),
        )
    if isinstance(error, UnexpectedEOF) or (
        isinstance(error, UnexpectedToken) and error.token.type == "$END"
    ):
        line = len(source.lines) or 1
        column = len(source.line_text(line) or "") + 1
        return source.diagnostic(
            "E103",
            "the policy ends in the middle of a statement",
            line,
            column,
            hint=_expected_hint(expected),
        )
    token: Token = error.token
    shown = "a line break" if token.type == "_NEWLINE" else f"'{token}'"
    words = [w.strip("'") for w in expected if w.startswith("'")]
    hint = did_you_mean(str(token), words) if token.type != "_NEWLINE" else None
    return source.diagnostic(
        "E102",
        f"unexpected {shown}",
        token.line,
        token.column,
        width=len(str(token)) if token.type != "_NEWLINE" else 1,
        hint=hint or _expected_hint(expected),
    )


_TERMINAL_NAMES = {
    "NAME": "a name",
    "FIELD": "a step field",
    "STRING": "a quoted string",
    "NUMBER": "a number",
    "INT": "a whole number",
    "UNIT_NAME": "a unit",
    "COMPARATOR": "a comparison (=, !=, <, <=, >, >=)",
    "_NEWLINE": "a line break",
    "SEMICOLON": "';'",
    "LPAR": "'('",
    "RPAR": "')'",
    "COMMA": "','",
    "SLASH": "'/'",
    "PERCENT": "'%'",
    "$END": "the end of the policy",
}


def _describe(terminal: str) -> str:
    if terminal in _TERMINAL_NAMES:
        return _TERMINAL_NAMES[terminal]
    try:
        pattern = parser().get_terminal(terminal).pattern
    except KeyError:
        return terminal.lower()
    return f"'{pattern.value}'" if pattern.type == "str" else terminal.lower()


def _expected_hint(expected: list[str]) -> str | None:
    if not expected:
        return None
    if len(expected) > 12:
        expected = expected[:12] + ["…"]
    return "expected " + ", ".join(expected)


def _span(item) -> nodes.Span:
    """The span of a token or of a rule's meta."""
    if isinstance(item, Token):
        return nodes.Span(item.line, item.column, item.start_pos, item.end_pos)
    return nodes.Span(item.line, item.column, item.start_pos, item.end_pos)


def _unquote(token: Token) -> str:
    return (
        bytes(str(token)[1:-1], "utf-8").decode("unicode_escape")
        if "\\" in token
        else str(token)[1:-1]
    )


@v_args(meta=True, inline=True)
class _Builder(Transformer):
    """Builds :mod:`nodes` from the lark tree; rule names match ``policy.lark``."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def _statement_fields(self, meta) -> dict:
        span = _span(meta)
        return {"span": span, "text": " ".join(self.text[span.start : span.end].split())}

    def start(self, meta, *statements):
        return list(statements)

    # Headers.

    def _header(self, meta, keyword: str, token: Token):
        if token.type == "STRING":
            value = nodes.Word(_unquote(token), _span(token), quoted=True)
        else:
            value = int(str(token).replace("_", ""))
        return nodes.Header(
            **self._statement_fields(meta), keyword=keyword, value=value, value_span=_span(token)
        )

    def policy_name(self, meta, token):
        return self._header(meta, "policy", token)

    def pipeline(self, meta, token):
        return self._header(meta, "pipeline", token)

    def prices(self, meta, token):
        return self._header(meta, "prices", token)

    def evals(self, meta, token):
        return self._header(meta, "evals", token)

    def runs(self, meta, token):
        return self._header(meta, "runs", token)

    def extends(self, meta, token):
        return self._header(meta, "extends", token)

    def trace(self, meta, token):
        return self._header(meta, "trace", token)

    # Levers.

    def traffic(self, meta, rate):
        return nodes.Traffic(**self._statement_fields(meta), rate=rate)

    def cache_prefix(self, meta, size, ttl, warm):
        fields = self._statement_fields(meta)
        return nodes.CachePrefix(**fields, ttl=ttl, size=size, warm=warm is not None)

    def cache_history(self, meta, selector, ttl):
        fields = self._statement_fields(meta)
        return nodes.CacheHistory(**fields, ttl=ttl, selector=selector)

    def prefix_size(self, meta, quantity):
        return quantity

    def ttl(self, meta, quantity):
        return quantity

    def warm(self, meta):
        return True

    def route(self, meta, selector, model):
        return nodes.Route(**self._statement_fields(meta), selector=selector, model=model)

    def trim_by(self, meta, selector, amount):
        return nodes.Trim(**self._statement_fields(meta), selector=selector, by=amount, to=None)

    def trim_to(self, meta, selector, amount):
        return nodes.Trim(**self._statement_fields(meta), selector=selector, by=None, to=amount)

    def cap(self, meta, selector, amount):
        return nodes.Cap(**self._statement_fields(meta), selector=selector, at=amount)

    def batch(self, meta, selector):
        return nodes.Batch(**self._statement_fields(meta), selector=selector)

    def require(self, meta, metric, op, bound):
        return nodes.Require(
            **self._statement_fields(meta), metric=metric, op=_normal_op(op), bound=bound
        )

    def cost_per_run(self, meta):
        return "cost per run"

    def cost_total(self, meta):
        return "cost"

    def latency(self, meta):
        return "latency"

    def quality(self, meta):
        return "quality"

    # Selectors and predicates.

    def selector(self, meta, predicate):
        return predicate

    def every_step(self, meta):
        return nodes.Everything(_span(meta))

    def any_of(self, meta, *operands):
        return operands[0] if len(operands) == 1 else nodes.AnyOf(tuple(operands), _span(meta))

    def all_of(self, meta, *operands):
        return operands[0] if len(operands) == 1 else nodes.AllOf(tuple(operands), _span(meta))

    def negate(self, meta, operand):
        return nodes.Not(operand, _span(meta))

    def compare(self, meta, field, op, value):
        return nodes.Compare(self._word(field), _normal_op(op), value, _span(meta))

    def member(self, meta, field, *values):
        return nodes.Member(self._word(field), tuple(values), False, _span(meta))

    def not_member(self, meta, field, *values):
        return nodes.Member(self._word(field), tuple(values), True, _span(meta))

    def flag(self, meta, field):
        return nodes.Flag(self._word(field), _span(meta))

    # Values.

    def _word(self, token: Token) -> nodes.Word:
        return nodes.Word(str(token), _span(token))

    def word(self, meta, token):
        return self._word(token)

    def text(self, meta, token):
        return nodes.Word(_unquote(token), _span(token), quoted=True)

    def model(self, meta, token):
        if token.type == "STRING":
            return nodes.Word(_unquote(token), _span(token), quoted=True)
        return self._word(token)

    def quantity(self, meta, number, unit=None):
        # The NUMBER terminal only matches what Decimal reads, underscores aside.
        return nodes.Quantity(parse_number(str(number)), unit, _span(meta))

    def unit(self, meta, *parts):
        return "/".join(str(p) for p in parts)


def _normal_op(op) -> str:
    op = str(op)
    return "=" if op == "==" else op
