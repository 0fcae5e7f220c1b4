"""Hypothesis strategies for valid lab policies written with arbitrary spacing and comments.

A policy is drawn as statements (each a list of tokens), then laid out: tokens joined by random
blanks (at least one where two words meet), statements on their own lines or joined by ``;``,
comments on their own lines or after a statement, stray blank lines and indentation.  With
``keep_lines`` the layout never moves a statement to another line or column, so that even the
positions in ``eval --format json`` must survive formatting.
"""

from __future__ import annotations

import re

from conftest import LAB
from hypothesis import strategies as st

STEPS = ["plan", "search", "extract", "draft", "critique", "notify"]
MODELS = ["sonnet", "haiku", "opus"]
DIFFICULTIES = ["easy", "medium", "hard"]


def _equals() -> st.SearchStrategy[str]:
    return st.sampled_from(["=", "=="])


@st.composite
def _leaf(draw) -> list[str]:
    kind = draw(st.sampled_from(["difficulty", "name", "model", "deferrable", "tokens", "calls"]))
    if kind == "difficulty":
        if draw(st.booleans()):
            values = draw(st.lists(st.sampled_from(DIFFICULTIES), min_size=1, max_size=3))
            negated = ["not"] if draw(st.booleans()) else []
            return ["difficulty", *negated, "in", "(", *_commas(values), ")"]
        op = draw(st.sampled_from(["=", "==", "!=", "<", "<=", ">", ">="]))
        return ["difficulty", op, draw(st.sampled_from(DIFFICULTIES))]
    if kind == "name":
        step = draw(st.sampled_from(STEPS))
        value = f'"{step}"' if draw(st.booleans()) else step
        return ["name", draw(st.sampled_from(["=", "==", "!="])), value]
    if kind == "model":
        return ["model", draw(_equals()), draw(st.sampled_from(MODELS))]
    if kind == "deferrable":
        return ["deferrable"] if draw(st.booleans()) else ["deferrable", "=", "false"]
    if kind == "calls":
        return ["calls", draw(st.sampled_from([">", ">=", "="])), str(draw(st.integers(1, 4)))]
    field = draw(st.sampled_from(["input", "output", "prefix"]))
    op = draw(st.sampled_from(["<", "<=", ">", ">="]))
    amount = draw(st.sampled_from(["100", "1_000", "1200", "1.5", "0"]))
    unit = draw(st.sampled_from(["tokens", "tok", "KTok"]))
    return [field, op, amount, unit]


def _commas(values: list[str]) -> list[str]:
    out: list[str] = []
    for index, value in enumerate(values):
        out += [",", value] if index else [value]
    return out


def _predicate(depth: int = 2) -> st.SearchStrategy[list[str]]:
    if depth == 0:
        return _leaf()
    inner = _predicate(depth - 1)

    def grouped(tokens: list[str]) -> list[str]:
        return ["(", *tokens, ")"]

    return st.one_of(
        _leaf(),
        _leaf().map(grouped),
        st.tuples(inner, st.sampled_from(["and", "or"]), inner).map(
            lambda t: [*grouped(t[0]), t[1], *grouped(t[2])]
        ),
        inner.map(lambda tokens: ["not", *grouped(tokens)]),
    )


@st.composite
def _selector(draw) -> list[str]:
    if draw(st.integers(0, 9)) == 0:
        return ["every", "step"]
    return [draw(st.sampled_from(["step", "steps"])), *draw(_predicate())]


@st.composite
def _lever(draw) -> list[str]:
    kind = draw(st.sampled_from(["cache", "route", "trim", "cap", "batch"]))
    if kind == "cache":
        ttl = draw(
            st.sampled_from([[], ["ttl", "5", "min"], ["ttl", "1", "h"], ["ttl", "300", "s"]])
        )
        return ["cache", "prefix", *ttl]
    if kind == "route":
        return ["route", *draw(_selector()), "to", draw(st.sampled_from(MODELS))]
    if kind == "trim":
        if draw(st.booleans()):
            amount = [str(draw(st.integers(0, 90))), "%"]
            return ["trim", "input", "of", *draw(_selector()), "by", *amount]
        amount = [str(draw(st.integers(0, 2000))), "tokens"]
        return ["trim", "input", "of", *draw(_selector()), "to", *amount]
    if kind == "cap":
        return [
            "cap",
            "output",
            "of",
            *draw(_selector()),
            "at",
            str(draw(st.integers(1, 500))),
            "tokens",
        ]
    if draw(st.booleans()):
        return ["batch", "if", *draw(_predicate(1))]
    return ["batch", *draw(_selector())]


@st.composite
def _require(draw) -> list[str]:
    metric, bound = draw(
        st.sampled_from(
            [
                (["cost", "per", "run"], ["0.04", "USD"]),
                (["cost"], ["400", "USD"]),
                (["latency"], ["25", "s"]),
                (["quality"], ["0.75"]),
                (["quality"], ["70", "%"]),
            ]
        )
    )
    return ["require", *metric, draw(st.sampled_from(["<=", "<", ">=", ">"])), *bound]


@st.composite
def statements(draw) -> list[list[str]]:
    """The statements of a valid lab policy, as token lists, in a drawn order."""
    headers = [
        ["pipeline", f'"{LAB / "pipeline.toml"}"'],
        ["prices", f'"{LAB / "models.toml"}"'],
    ]
    if draw(st.booleans()):
        headers.append(["policy", '"generated"'])
    if draw(st.booleans()):
        headers.append(["runs", draw(st.sampled_from(["1", "10000", "10_000"]))])
    body = draw(st.lists(st.one_of(_lever(), _require()), max_size=7))
    every = draw(st.permutations(headers + body))
    return list(every)


_WORD = re.compile(r'[A-Za-z0-9_"%.]')
COMMENT_TEXT = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\n\r"), max_size=12
).map(lambda text: "#" + text)


@st.composite
def policy_text(draw, *, keep_lines: bool = False) -> str:
    """A valid lab policy laid out at random; see the module docstring."""
    chosen = draw(statements())
    lines: list[str] = []
    open_line = False  # whether the last line can take another statement after a ';'
    for tokens in chosen:
        text = _join(draw, tokens)
        if open_line and not keep_lines and draw(st.integers(0, 3)) == 0:
            lines[-1] += draw(st.sampled_from([";", "; ", " ; "])) + text
        else:
            indent = "" if keep_lines else draw(st.sampled_from(["", "", " ", "\t"]))
            lines.append(indent + text)
        open_line = True
        if not keep_lines and draw(st.integers(0, 4)) == 0:
            lines.append(draw(st.sampled_from(["", "", ";", "  "])))
        if draw(st.integers(0, 3)) == 0:
            ending = draw(st.sampled_from([";", " ;", "  ", ""]))
            lines[-1] += ending + draw(st.sampled_from([" ", "  ", "\t"])) + draw(COMMENT_TEXT)
            open_line = False
        if draw(st.integers(0, 4)) == 0:
            indent = "" if keep_lines else draw(st.sampled_from(["", " "]))
            lines.append(indent + draw(COMMENT_TEXT))
            open_line = False
    return "\n".join(lines) + draw(st.sampled_from(["\n", "", "\n\n"]))


def _join(draw, tokens: list[str]) -> str:
    out = tokens[0]
    for token in tokens[1:]:
        needs_space = bool(_WORD.match(out[-1]) and _WORD.match(token[0]))
        blanks = [" ", "  ", "\t"] if needs_space else ["", "", " ", "  "]
        out += draw(st.sampled_from(blanks)) + token
    return out
