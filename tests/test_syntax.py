"""The grammar: every statement parses to its node, and syntax errors are located diagnostics."""

from decimal import Decimal

import pytest

from agentpolicy import nodes
from agentpolicy.diagnostics import PolicyError
from agentpolicy.syntax import KEYWORDS, parse_bytes, parse_text


def one(text: str):
    (statement,) = parse_text(text).statements
    return statement


def test_the_one_liner_parses_as_written():
    policy = parse_text("route step difficulty=easy to haiku; cache prefix; batch if deferrable")
    kinds = [type(s) for s in policy.statements]
    assert kinds == [nodes.Route, nodes.CachePrefix, nodes.Batch]
    route = policy.statements[0]
    assert route.model.text == "haiku"
    assert route.selector.field.text == "difficulty"
    assert route.selector.value.text == "easy"
    assert policy.statements[2].selector.field.text == "deferrable"


@pytest.mark.parametrize(
    ("text", "keyword", "value"),
    [
        ('policy "lab"', "policy", "lab"),
        ('pipeline "../examples/lab/pipeline.toml"', "pipeline", "../examples/lab/pipeline.toml"),
        ('prices "models.toml"', "prices", "models.toml"),
        ('evals "evals.toml"', "evals", "evals.toml"),
        ('extends "base.policy"', "extends", "base.policy"),
    ],
)
def test_header_statements(text, keyword, value):
    header = one(text)
    assert isinstance(header, nodes.Header)
    assert (header.keyword, header.value.text) == (keyword, value)


def test_runs_takes_a_whole_number_with_underscores():
    assert one("runs 10_000").value == 10000


def test_cache_prefix_and_its_ttl():
    assert one("cache prefix").ttl is None
    ttl = one("cache prefix ttl 1 h").ttl
    assert (ttl.number, ttl.unit) == (Decimal(1), "h")
    assert one("cache prefix ttl 5 min").ttl.unit == "min"


def test_route_to_a_quoted_or_namespaced_model():
    assert one("route step name = plan to anthropic:claude-sonnet-4-5").model.text == (
        "anthropic:claude-sonnet-4-5"
    )
    assert one('route step name = plan to "openrouter/anthropic/claude"').model.quoted


def test_trim_by_percent_and_to_tokens():
    by = one("trim input of step difficulty in (easy, medium) by 40 %")
    assert (by.by.number, by.by.unit, by.to) == (Decimal(40), "%", None)
    assert [v.text for v in by.selector.values] == ["easy", "medium"]
    to = one("trim input of step name = extract to 800 tokens")
    assert (to.to.number, to.to.unit, to.by) == (Decimal(800), "tokens", None)


def test_cap_output():
    cap = one("cap output of step difficulty = hard at 300 tokens")
    assert (cap.at.number, cap.at.unit) == (Decimal(300), "tokens")


def test_batch_with_selector_or_predicate():
    assert isinstance(one("batch step name = notify").selector, nodes.Compare)
    assert isinstance(one("batch if not deferrable").selector, nodes.Not)
    assert isinstance(one("batch every step").selector, nodes.Everything)


@pytest.mark.parametrize(
    ("text", "metric", "op", "unit"),
    [
        ("require cost per run <= 0.04 USD", "cost per run", "<=", "USD"),
        ("require cost <= 400 USD", "cost", "<=", "USD"),
        ("require latency <= 25 s", "latency", "<=", "s"),
        ("require quality >= 0.75", "quality", ">=", None),
    ],
)
def test_require_statements(text, metric, op, unit):
    require = one(text)
    assert (require.metric, require.op, require.bound.unit) == (metric, op, unit)


def test_selectors_combine_with_and_or_not_and_parentheses():
    predicate = one(
        "route step (difficulty = easy or name in (plan, draft)) and not deferrable "
        "and input >= 1_000 tokens to haiku"
    ).selector
    assert isinstance(predicate, nodes.AllOf)
    first, second, third = predicate.operands
    assert isinstance(first, nodes.AnyOf)
    assert isinstance(second, nodes.Not)
    assert (third.op, third.value.number, third.value.unit) == (">=", Decimal(1000), "tokens")


def test_comparisons_and_not_in():
    for op in ("=", "!=", "<", "<=", ">", ">="):
        assert one(f"route step difficulty {op} medium to haiku").selector.op == op
    assert one("route step difficulty == easy to haiku").selector.op == "="
    assert one("route step name not in (plan) to haiku").selector.negated


def test_comments_blank_lines_and_semicolons():
    policy = parse_text("# heading\n\n  cache prefix   # trailing\n;;\nruns 3 ;\n")
    assert [type(s) for s in policy.statements] == [nodes.CachePrefix, nodes.Header]


def test_statement_spans_and_text():
    policy = parse_text('policy "x"\n  route   step difficulty=easy   to haiku\n')
    route = policy.statements[1]
    assert (route.span.line, route.span.column) == (2, 3)
    assert route.text == "route step difficulty=easy to haiku"


def error_of(text: str):
    with pytest.raises(PolicyError) as caught:
        parse_text(text, "lab.policy")
    (diagnostic,) = caught.value.diagnostics
    return diagnostic


def test_misspelt_keyword_is_located_and_suggested():
    diagnostic = error_of("cache prefix\nrout step difficulty=easy to haiku\n")
    assert (diagnostic.code, diagnostic.location.line, diagnostic.location.column) == ("E102", 2, 1)
    assert "'route'" in diagnostic.hint
    rendered = diagnostic.render()
    assert "lab.policy:2:1" in rendered
    assert "rout step difficulty=easy to haiku" in rendered
    assert "^^^^" in rendered


def test_missing_word_says_what_was_expected():
    diagnostic = error_of("route step difficulty=easy haiku")
    assert (diagnostic.code, diagnostic.location.column) == ("E102", 28)
    assert "'to'" in diagnostic.hint


def test_unexpected_character():
    diagnostic = error_of("route step name = $x to haiku")
    assert (diagnostic.code, diagnostic.location.column) == ("E101", 19)


def test_unfinished_statement():
    diagnostic = error_of("cache prefix ttl")
    assert diagnostic.code == "E103"
    assert "a number" in diagnostic.hint


def test_invalid_utf8_is_located():
    with pytest.raises(PolicyError) as caught:
        parse_bytes(b"cache prefix\nroute \xff", "bad.policy")
    (diagnostic,) = caught.value.diagnostics
    assert (diagnostic.code, diagnostic.location.line, diagnostic.location.column) == ("E100", 2, 7)


@pytest.mark.parametrize(
    ("text", "word", "hint"),
    [
        ("cacheprefix", "cacheprefix", "did you mean 'cache prefix'?"),
        ("routestep name=plan to haiku", "routestep", "did you mean 'route step'?"),
        ("route step name=plan tohaiku", "tohaiku", "put a space after 'to'"),
        ("cache prefixx", "prefixx", "did you mean 'prefix'?"),
    ],
)
def test_a_keyword_glued_to_the_next_word_is_not_read_as_the_keyword(text, word, hint):
    diagnostic = error_of(text)
    assert (diagnostic.code, diagnostic.message) == ("E102", f"unexpected '{word}'")
    assert diagnostic.hint == hint


def test_quoted_values_in_selectors():
    compare = one('route step name = "first step" to haiku').selector
    assert (compare.value.text, compare.value.quoted) == ("first step", True)
    member = one('route step name in ("a b", plan) to haiku').selector
    assert [v.text for v in member.values] == ["a b", "plan"]


def test_deep_nesting_is_a_diagnostic():
    assert error_of("route step " + "not " * 2000 + "deferrable to haiku").code == "E105"


def test_every_keyword_of_the_grammar_is_known():
    from agentpolicy.syntax import parser

    words = {
        t.pattern.value
        for t in parser().terminals
        if t.pattern.type == "str" and t.pattern.value.isalpha()
    }
    assert words == set(KEYWORDS)
