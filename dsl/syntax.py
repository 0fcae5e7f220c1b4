"""Policy text in, a :class:`~agentpolicy.nodes.Policy` syntax tree out, or located diagnostics.

The language is defined once, in ``grammar/policy.lark`` (installed as ``agentpolicy.grammar``).
The LALR parser is built once per process and lark caches its tables on disk between runs.
Syntax errors are turned into diagnostics that name the line and column, show what was expected
and suggest the keyword the user probably meant.

The parse keeps every token it reads, so that each statement's ``text`` is its canonical form
(``layout.statement_text``), and every comment, which the grammar otherwise ignores, so that
``agentpolicy fmt`` can put each one back where it was.
"""

from __future__ import annotations

import functools
import re
from bisect import bisect_left, bisect_right
from contextvars import ContextVar
from decimal import Decimal
from importlib import resources
from pathlib import Path

from lark import Lark, Token, Transformer, Tree, v_args
from lark.exceptions import (
    UnexpectedCharacters,
    UnexpectedEOF,
    UnexpectedInput,
    UnexpectedToken,
    VisitError,
)

from . import nodes
from .diagnostics import PolicyError, Source, did_you_mean
from .layout import statement_text

#: Words the language reserves, for "did you mean" on a misspelt keyword.
KEYWORDS = (
    "policy pipeline prices evals runs extends cache prefix ttl route to trim input of by cap "
    "output at batch if require cost per run latency quality step steps every and or not in "
    "history warm traffic trace"
).split()


#: Characters that continue a name: a keyword followed by one of them is part of a longer word.
_NAME_CHARACTERS = re.compile(r"[A-Za-z0-9_.:\-]+")

#: The text being parsed, for the keyword check below (lark's callbacks see only the token).
_parsing: ContextVar[str] = ContextVar("_parsing", default="")


class _GluedKeyword(Exception):
    """A keyword that the lexer took from the start of a longer word, such as ``cacheprefix``."""

    def __init__(self, token: Token, word: str) -> None:
        super().__init__(word)
        self.token = token
        self.word = word


def _whole_word(token: Token) -> Token:
    """Refuse a keyword glued to the word after it: ``routestep`` is not ``route step``."""
    text = _parsing.get()
    if token.end_pos < len(text) and _NAME_CHARACTERS.match(text, token.end_pos):
        raise _GluedKeyword(token, _NAME_CHARACTERS.match(text, token.start_pos).group())
    return token


#: The comments lexed by the parse running in this context; the grammar ignores them otherwise.
_COMMENTS: ContextVar[list[Token] | None] = ContextVar("comments", default=None)


def _keep_comment(token: Token) -> Token:
    found = _COMMENTS.get()
    if found is not None:
        found.append(token)
    return token


@functools.cache
def parser() -> Lark:
    """The LALR parser for the policy grammar, built once and cached by lark between runs."""
    grammar = resources.files("agentpolicy.grammar").joinpath("policy.lark").read_text("utf-8")
    return Lark(
        grammar,
        parser="lalr",
        propagate_positions=True,
        maybe_placeholders=True,
        cache=True,
        lexer_callbacks={
            "COMMENT": _keep_comment,
            **{keyword.upper(): _whole_word for keyword in KEYWORDS},
        },
    )


def parse_file(path: str | Path) -> nodes.Policy:
    """Read and parse a policy file; unreadable or undecodable files are diagnostics too."""
    return parse_bytes(read_policy(path), path)


def read_policy(path: str | Path) -> bytes:
    """The bytes of a policy file; a file that cannot be read is a diagnostic."""
    try:
        return Path(path).read_bytes()
    except OSError as error:
        source = Source(path, "")
        message = f"cannot read the policy: {error.strerror}"
        raise PolicyError([source.diagnostic("E300", message)]) from None


def parse_bytes(data: bytes, path: str | Path) -> nodes.Policy:
    """Decode policy bytes as UTF-8 and parse them."""
    try:
        text = data.decode("utf-8").removeprefix("\ufeff")  # a byte-order mark some editors write
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
    token = _parsing.set(text)
    try:
        tree, tokens, comments = _parse_keeping_tokens(text)
    except UnexpectedInput as error:
        raise PolicyError([syntax_diagnostic(error, source)]) from None
    except _GluedKeyword as glued:
        raise PolicyError([_glued_diagnostic(glued, source)]) from None
    finally:
        _parsing.reset(token)
    try:
        statements = _Builder(tokens, str(path)).transform(tree)
    except (RecursionError, VisitError) as error:
        if isinstance(error, VisitError) and not isinstance(error.orig_exc, RecursionError):
            raise
        message = "selectors are nested too deeply to read"
        raise PolicyError([source.diagnostic("E105", message, 1, 1)]) from None
    return nodes.Policy(
        path=str(path),
        statements=tuple(statements),
        comments=tuple(nodes.Comment(str(c).rstrip(), _span(c)) for c in comments),
    )


def _parse_keeping_tokens(text: str) -> tuple[Tree, list[Token], list[Token]]:
    """Parse ``text`` as ``Lark.parse`` does, keeping the tokens read and the comments skipped."""
    comments: list[Token] = []
    reset = _COMMENTS.set(comments)
    try:
        session = parser().parse_interactive(text)
        tokens = list(session.iter_parse())
        tree = session.feed_eof(tokens[-1] if tokens else None)
    finally:
        _COMMENTS.reset(reset)
    return tree, tokens, comments


def _glued_diagnostic(glued: _GluedKeyword, source: Source):
    token = glued.token
    rest = glued.word[len(token) :]
    if rest in KEYWORDS:
        hint = f"did you mean '{token} {rest}'?"
    else:
        hint = did_you_mean(glued.word, KEYWORDS) or f"put a space after '{token}'"
    return source.diagnostic(
        "E102",
        f"unexpected '{glued.word}'",
        token.line,
        token.column,
        width=len(glued.word),
        hint=hint,
    )


def syntax_diagnostic(error: UnexpectedInput, source: Source):
    """Turn a lark parse error into a diagnostic that says what was expected."""
    expected = sorted(_describe(name) for name in getattr(error, "expected", None) or ())
    if isinstance(error, UnexpectedCharacters):
        char = source.text[error.pos_in_stream] if error.pos_in_stream < len(source.text) else ""
        allowed = sorted(_describe(name) for name in (error.allowed or ()))
        if char == '"':
            return source.diagnostic(
                "E101",
                "a quoted string that does not end on this line, or has an unknown escape",
                error.line,
                error.column,
                hint='close it with "; inside it, write \\" \\\\ \\n or \\t only',
            )
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
    shown = "line break" if token.type == "_NEWLINE" else f"'{token}'"
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


_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}


def _unquote(token: Token) -> str:
    """The text of a quoted string: ``\\"``, ``\\\\``, ``\\n`` and ``\\t`` are escapes."""
    body = str(token)[1:-1]
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), body)


@v_args(meta=True, inline=True)
class _Builder(Transformer):
    """Builds :mod:`nodes` from the lark tree; rule names match ``policy.lark``."""

    def __init__(self, tokens: list[Token], origin: str) -> None:
        super().__init__()
        self.origin = origin
        self.tokens = tokens
        self.starts = [t.start_pos for t in tokens]

    def _statement_fields(self, meta) -> dict:
        span = _span(meta)
        first = bisect_left(self.starts, span.start)
        last = bisect_right(self.starts, span.end - 1)
        text = statement_text(self.tokens[first:last])
        return {"span": span, "text": text, "origin": self.origin}

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
        return nodes.Quantity(Decimal(str(number).replace("_", "")), unit, _span(meta))

    def unit(self, meta, *parts):
        return "/".join(str(p) for p in parts)


def _normal_op(op) -> str:
    op = str(op)
    return "=" if op == "==" else op
