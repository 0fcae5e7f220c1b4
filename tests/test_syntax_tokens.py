"""The parse that keeps tokens and comments behaves exactly as lark's ordinary parse."""

from __future__ import annotations

from conftest import POLICIES
from hypothesis import given, settings
from hypothesis import strategies as st
from lark.exceptions import UnexpectedInput

from agentpolicy.syntax import _parse_keeping_tokens, parse_text, parser

LAB_TEXT = (POLICIES / "lab.policy").read_text()


def _outcome(parse):
    try:
        return ("tree", parse())
    except UnexpectedInput as error:
        expected = sorted(getattr(error, "expected", None) or getattr(error, "allowed", ()))
        return (type(error).__name__, error.line, error.column, expected)


@st.composite
def _damaged(draw) -> str:
    """The lab policy with a few characters deleted, inserted or replaced."""
    text = LAB_TEXT
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(text)))
        insert = draw(st.sampled_from(["", "(", ")", ";", "\n", " to", "=", "#", '"', "5", "%"]))
        cut = draw(st.integers(0, 4))
        text = text[:at] + insert + text[at + cut :]
    return text


@settings(max_examples=300, deadline=None)
@given(text=_damaged())
def test_errors_and_trees_match_lark_parse(text):
    ordinary = _outcome(lambda: parser().parse(text))
    keeping = _outcome(lambda: _parse_keeping_tokens(text)[0])
    assert ordinary == keeping


def test_comments_are_kept_with_their_positions_and_do_not_change_the_statements():
    with_comments = parse_text("# one\ncache prefix  # two\n#three\n")
    without = parse_text("\ncache prefix\n\n")
    assert [(c.text, c.span.line, c.span.column) for c in with_comments.comments] == [
        ("# one", 1, 1),
        ("# two", 2, 15),
        ("#three", 3, 1),
    ]
    assert [s.text for s in with_comments.statements] == [s.text for s in without.statements]


def test_a_quoted_step_name_in_a_selector_parses():
    policy = parse_text('route step name="plan" to opus')
    assert policy.statements[0].selector.value.text == "plan"
    assert policy.statements[0].selector.value.quoted
