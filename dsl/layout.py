"""Tokens and comments of a parsed policy in, its canonical text out.

The canonical form writes one statement per line, its tokens separated by one space, except:
none after ``(``, before ``)`` or ``,``, or around the ``/`` of a unit; none around ``=`` or
``!=`` when it tests a step field (``difficulty=easy``), while ordered comparisons and the
comparison of a ``require`` keep their spaces (``input > 1000 tokens``, ``latency <= 25 s``);
``==`` is written ``=``.  Numbers, names and strings stay exactly as written.

A comment keeps its place: on its own line (moved to the first column), or after the last
statement of the line it followed, two spaces away.  Runs of blank lines become one blank line;
blank lines at the start and the end of the file go.  Statements keep their order, since the
order of rules decides which rule wins.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import groupby

from lark import Token

from . import nodes

#: Comparisons written tight against a step field, as in ``difficulty=easy``.
KEY_VALUE = {"=", "==", "!="}


def statement_text(tokens: Sequence[Token]) -> str:
    """The canonical text of one statement, from the tokens the parser read for it."""
    words: list[str] = []
    for index, token in enumerate(tokens):
        if index and not _joined(tokens, index):
            words.append(" ")
        words.append("=" if token.type == "COMPARATOR" and token == "==" else str(token))
    return "".join(words)


def _joined(tokens: Sequence[Token], index: int) -> bool:
    """Whether the token at ``index`` is written against the one before it, with no space."""
    left, right = tokens[index - 1], tokens[index]
    if left == "(" or right in (")", ","):
        return True
    if left == "/" or right == "/":
        return True
    if right.type == "COMPARATOR" and right in KEY_VALUE and left.type == "FIELD":
        return True
    return (
        left.type == "COMPARATOR"
        and left in KEY_VALUE
        and index >= 2
        and tokens[index - 2].type == "FIELD"
    )


def format_policy(policy: nodes.Policy) -> str:
    """The canonical text of a parsed policy, with every comment in its place."""
    on_line: dict[int, list[str]] = {}
    for line, statements in groupby(policy.statements, key=lambda s: s.span.line):
        on_line[line] = [s.text for s in statements]
    for comment in policy.comments:
        texts = on_line.setdefault(comment.span.line, [])
        if texts:
            texts[-1] += "  " + comment.text
        else:
            texts.append(comment.text)

    out: list[str] = []
    previous = None
    for line in sorted(on_line):
        if previous is not None and line > previous + 1:
            out.append("")
        out += on_line[line]
        previous = line
    return "\n".join(out) + "\n" if out else ""


def same_meaning(before: nodes.Policy, after: nodes.Policy) -> bool:
    """Whether two parses hold the same statements, in order, and the same comments, in order."""
    return _shape(before) == _shape(after)


def _shape(policy: nodes.Policy) -> tuple:
    statements = tuple((type(s).__name__, s.text) for s in policy.statements)
    return statements, tuple(c.text for c in policy.comments)
