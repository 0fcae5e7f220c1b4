"""Usage conventions: each provider's report read once into disjoint buckets, or rejected."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentpolicy.formulas import Buckets
from agentpolicy.usage import UsageError, normalise

counts = st.integers(min_value=0, max_value=2_000_000)


@given(uncached=counts, five=counts, hour=counts, read=counts, output=counts)
def test_every_convention_reads_the_same_call_into_the_same_buckets(
    uncached, five, hour, read, output
):
    """One call, reported in each convention, is one set of disjoint buckets."""
    expected = Buckets(*(Decimal(n) for n in (uncached, five, hour, read, output)))
    total = uncached + five + hour + read
    anthropic = {
        "input_tokens": uncached,
        "cache_creation_input_tokens": five + hour,
        "cache_creation": {"ephemeral_5m_input_tokens": five, "ephemeral_1h_input_tokens": hour},
        "cache_read_input_tokens": read,
        "output_tokens": output,
    }
    inclusive = {
        "input_tokens": total,
        "cache_write_tokens": five + hour,
        "cache_write_1h_tokens": hour,
        "cache_read_tokens": read,
        "output_tokens": output,
    }
    assert normalise(anthropic, "anthropic") == expected
    assert normalise(inclusive, "inclusive") == expected


@given(uncached=counts, read=counts, written=counts, output=counts, reasoning=counts)
def test_openai_counts_cached_and_written_tokens_inside_the_prompt(
    uncached, read, written, output, reasoning
):
    reasoning = min(reasoning, output)
    chat = {
        "prompt_tokens": uncached + read + written,
        "prompt_tokens_details": {"cached_tokens": read, "cache_write_tokens": written},
        "completion_tokens": output,
        "completion_tokens_details": {"reasoning_tokens": reasoning},
    }
    responses = {
        "input_tokens": uncached + read + written,
        "input_tokens_details": {"cached_tokens": read, "cache_write_tokens": written},
        "output_tokens": output,
        "output_tokens_details": {"reasoning_tokens": reasoning},
    }
    expected = Buckets(
        uncached=Decimal(uncached),
        write_5m=Decimal(written),
        read=Decimal(read),
        output=Decimal(output),
    )
    assert normalise(chat, "openai") == expected
    assert normalise(responses, "openai") == expected


def test_gemini_bills_thoughts_as_output_beside_the_candidates():
    usage = {
        "promptTokenCount": 11500,
        "cachedContentTokenCount": 10000,
        "candidatesTokenCount": 1000,
        "thoughtsTokenCount": 10000,
        "totalTokenCount": 32500,
    }
    assert normalise(usage, "gemini") == Buckets(
        uncached=Decimal(1500), read=Decimal(10000), output=Decimal(11000)
    )


def test_opentelemetry_counts_cache_tokens_inside_the_input():
    attributes = {
        "gen_ai.usage.input_tokens": 5000,
        "gen_ai.usage.cache_read.input_tokens": 3000,
        "gen_ai.usage.cache_creation.input_tokens": 1500,
        "gen_ai.usage.output_tokens": 400,
    }
    assert normalise(attributes, "opentelemetry") == Buckets(
        uncached=Decimal(500), write_5m=Decimal(1500), read=Decimal(3000), output=Decimal(400)
    )


@pytest.mark.parametrize(
    ("convention", "usage", "complaint"),
    [
        ("openai", {"prompt_tokens": 100, "prompt_tokens_details": {"cached_tokens": 101}}, "101"),
        ("gemini", {"promptTokenCount": 10, "cachedContentTokenCount": 11}, "cannot be part"),
        (
            "opentelemetry",
            {"gen_ai.usage.input_tokens": 5, "gen_ai.usage.cache_read.input_tokens": 6},
            "cannot be part",
        ),
        ("inclusive", {"input_tokens": 10, "cache_read_tokens": 8, "cache_write_tokens": 3}, "11"),
        (
            "openai",
            {
                "prompt_tokens": 10,
                "completion_tokens": 5,
                "completion_tokens_details": {"reasoning_tokens": 6},
            },
            "reasoning",
        ),
        (
            "anthropic",
            {
                "input_tokens": 5,
                "cache_creation_input_tokens": 100,
                "cache_creation": {
                    "ephemeral_5m_input_tokens": 60,
                    "ephemeral_1h_input_tokens": 30,
                },
            },
            "splits 90",
        ),
        (
            "inclusive",
            {"input_tokens": 10, "cache_write_tokens": 3, "cache_write_1h_tokens": 4},
            "",
        ),
        ("anthropic", {"output_tokens": 5}, "no 'input_tokens'"),
        ("anthropic", {"input_tokens": -1}, "0 or more"),
        ("anthropic", {"input_tokens": 1.5}, "whole number"),
        ("anthropic", {"input_tokens": True}, "token count"),
        ("anthropic", [1, 2], "mapping"),
        ("bedrock", {"input_tokens": 1}, "unknown usage convention"),
    ],
)
def test_usage_that_fits_no_convention_is_rejected_with_the_reason(convention, usage, complaint):
    with pytest.raises(UsageError) as raised:
        normalise(usage, convention)
    assert complaint in str(raised.value)


def test_the_classic_double_count_is_impossible():
    """Cached tokens are never charged at the input price as well as the cached price."""
    usage = {
        "prompt_tokens": 2006,
        "completion_tokens": 300,
        "prompt_tokens_details": {"cached_tokens": 1920},
    }
    buckets = normalise(usage, "openai")
    assert buckets.input == 2006
    assert buckets.uncached == 86
