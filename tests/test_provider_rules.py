"""Each provider's billing rules, as the formulas and the engine apply them."""

from __future__ import annotations

import datetime
import json
from decimal import Decimal

import pytest
from helpers import priced, write_policy
from hypothesis import given
from hypothesis import strategies as st

from agentpolicy import library
from agentpolicy.compiler import compile_file
from agentpolicy.engine import evaluate
from agentpolicy.formulas import Buckets, MissingPrice, call_cost
from agentpolicy.prices import build_price
from agentpolicy.providers import ANTHROPIC, GOOGLE, OPENAI, breakpoints_allowed

DAY = datetime.date(2026, 12, 1)
M = Decimal(1_000_000)


def real(name: str):
    return build_price(name, None, library.lookup(name, DAY), path="")


# Long-context tiers: a cliff on the whole request.


def test_exactly_at_the_threshold_the_request_pays_the_base_rates():
    sonnet = real("anthropic:claude-sonnet-4-5")
    tokens = Buckets(
        uncached=Decimal(100_000),
        write_5m=Decimal(50_000),
        read=Decimal(50_000),
        output=Decimal(1_000),
    )
    assert tokens.input == 200_000
    expected = (100_000 * 3 + 50_000 * Decimal("3.75") + 50_000 * Decimal("0.3") + 1_000 * 15) / M
    assert call_cost(sonnet, tokens) == expected


def test_one_cache_token_past_the_threshold_puts_every_token_at_the_tier_rates():
    """Cache tokens count toward the threshold, and output pays the higher rate too."""
    sonnet = real("anthropic:claude-sonnet-4-5")
    tokens = Buckets(
        uncached=Decimal(100_000),
        write_5m=Decimal(50_000),
        read=Decimal(50_001),
        output=Decimal(1_000),
    )
    expected = (
        100_000 * 6 + 50_000 * Decimal("7.5") + 50_001 * Decimal("0.6") + 1_000 * Decimal("22.5")
    ) / M
    assert call_cost(sonnet, tokens) == expected


def test_a_batched_request_past_the_threshold_pays_the_batch_tier():
    sonnet = real("anthropic:claude-sonnet-4-5")
    tokens = Buckets(uncached=Decimal(200_001), output=Decimal(1_000))
    assert call_cost(sonnet, tokens, batched=True) == (200_001 * 3 + 1_000 * Decimal("11.25")) / M


TIERED = priced(
    "tiered",
    input=2,
    output=10,
    cache_write_5m="2.5",
    cache_write_1h=4,
    cache_read="0.2",
    long_context={
        "above": "128000 tokens",
        "input": "4 USD/MTok",
        "output": "15 USD/MTok",
        "cache_write_5m": "5 USD/MTok",
        "cache_write_1h": "8 USD/MTok",
        "cache_read": "0.4 USD/MTok",
    },
)

tokens = st.integers(min_value=0, max_value=200_000).map(Decimal)


@given(uncached=tokens, five=tokens, hour=tokens, read=tokens, output=tokens)
def test_any_request_pays_one_set_of_rates_chosen_by_its_whole_input(
    uncached, five, hour, read, output
):
    call = Buckets(uncached, five, hour, read, output)
    above = call.input > 128_000
    rates = (4, 15, 5, 8, Decimal("0.4")) if above else (2, 10, Decimal("2.5"), 4, Decimal("0.2"))
    expected = (
        uncached * rates[0]
        + output * rates[1]
        + five * rates[2]
        + hour * rates[3]
        + read * rates[4]
    ) / M
    assert call_cost(TIERED, call) == expected


def test_tokens_in_a_bucket_without_a_price_are_an_error_not_free():
    plain = priced("plain", input=1, output=2)
    with pytest.raises(MissingPrice):
        call_cost(plain, Buckets(read=Decimal(10)))


# Anthropic.


def test_anthropic_writes_cost_1_25_and_2_times_input_where_the_data_is_silent():
    model = priced("house-claude", provider="anthropic", input=3, output=15, cache_read="0.3")
    assert model.cache_write_5m == Decimal("3.75")
    assert model.cache_write_1h == Decimal(6)
    assert model.origins["cache_write_5m"] == "provider rule"
    assert real("claude-3-5-sonnet-20241022").cache_write_1h == 2 * Decimal(3)


def test_anthropic_reads_at_the_models_own_read_price():
    fable = real("anthropic:claude-fable-5-1")
    assert fable.cache_read == Decimal("0.25")
    assert call_cost(fable, Buckets(read=M)) == Decimal("0.25")


def test_anthropic_allows_at_most_four_cache_breakpoints():
    assert breakpoints_allowed(ANTHROPIC, 4)
    assert not breakpoints_allowed(ANTHROPIC, 5)
    assert breakpoints_allowed(OPENAI, 40) and breakpoints_allowed(GOOGLE, 40)


def test_anthropic_minimum_cacheable_prefix_comes_from_the_models_documented_size():
    assert real("anthropic:claude-haiku-4-5").min_cacheable == 4096
    assert real("anthropic:claude-haiku-4-5").origins["min_cacheable"] == "provider docs"
    assert real("claude-3-5-haiku-20241022").min_cacheable == 2048
    assert real("anthropic:claude-sonnet-4-5").min_cacheable == 1024


# Engine: one pipeline on real models.

PRICES = """
library = "genai-prices"
date = 2026-12-01
[models."anthropic:claude-sonnet-4-5"]
overhead = "0.5 s"
prefill_speed = "10000 tokens/s"
output_speed = "100 tokens/s"
pass_rate = { easy = 0.9, medium = 0.9, hard = 0.9 }
[models."anthropic:claude-haiku-4-5"]
overhead = "0.5 s"
prefill_speed = "10000 tokens/s"
output_speed = "100 tokens/s"
pass_rate = { easy = 0.9, medium = 0.9, hard = 0.9 }
[models."gpt-4o"]
overhead = "0.5 s"
prefill_speed = "10000 tokens/s"
output_speed = "100 tokens/s"
pass_rate = { easy = 0.9, medium = 0.9, hard = 0.9 }
[models."gemini-2.5-pro"]
overhead = "0.5 s"
prefill_speed = "10000 tokens/s"
output_speed = "100 tokens/s"
cache_storage = "4.5 USD/MTok/h"
pass_rate = { easy = 0.9, medium = 0.9, hard = 0.9 }
"""


def pipeline(model: str, prefix: int, *, calls: int = 3, parallel: bool = False, **step) -> str:
    extra = "".join(f"{k} = {json.dumps(v)}\n" for k, v in step.items())
    return (
        f'prefix = "{prefix} tokens"\n[[steps]]\nname = "work"\ndifficulty = "easy"\n'
        f'model = "{model}"\ninput = 500\noutput = 100\ncalls = {calls}\n'
        f"parallel_calls = {'true' if parallel else 'false'}\n{extra}"
    )


def evaluated(tmp_path, policy: str, pipe: str, prices: str = PRICES, rules=None):
    compiled = compile_file(write_policy(tmp_path, policy=policy, pipeline=pipe, prices=prices))
    return compiled, evaluate(compiled, rules)


@pytest.mark.parametrize(
    ("prefix", "cached"), [(1023, 0), (1024, 1024), (1100, 1024), (1279, 1152), (5000, 4992)]
)
def test_openai_caches_automatically_from_1024_tokens_in_steps_of_128(tmp_path, prefix, cached):
    _, baseline = evaluated(tmp_path, "", pipeline("gpt-4o", prefix), rules=[])
    first, second, third = baseline.steps[0].calls
    assert first.buckets.write_5m == cached
    assert second.buckets.read == cached and third.buckets.read == cached
    assert second.buckets.uncached == 500 + prefix - cached


def test_openai_writes_carry_no_premium_and_the_cache_lever_changes_nothing(tmp_path):
    compiled, result = evaluated(tmp_path, "cache prefix\n", pipeline("gpt-4o", 2048))
    baseline = evaluate(compiled, [])
    first = baseline.steps[0].calls[0]
    assert first.cost == ((500 + 2048) * Decimal("2.5") + 100 * 10) / M
    assert result.cost_per_run == baseline.cost_per_run
    assert [w.code for w in compiled.warnings] == ["W300"]


def test_anthropic_caches_only_when_the_policy_asks_and_above_the_minimum(tmp_path):
    compiled, result = evaluated(
        tmp_path, "cache prefix\n", pipeline("anthropic:claude-haiku-4-5", 3000)
    )
    assert all(c.cache is None for c in result.steps[0].calls)
    assert any(w.code == "W102" and "4096" in w.message for w in compiled.warnings)

    compiled, result = evaluated(
        tmp_path, "cache prefix\n", pipeline("anthropic:claude-haiku-4-5", 5000)
    )
    write, read, _ = result.steps[0].calls
    assert write.cost == (500 + 5000 * Decimal("1.25") + 100 * 5) / M
    assert read.cost == (500 + 5000 * Decimal("0.1") + 100 * 5) / M
    assert [c.cache for c in evaluate(compiled, []).steps[0].calls] == [None] * 3


def test_gemini_explicit_cache_bills_storage_for_as_long_as_it_is_kept(tmp_path):
    costs = {}
    for ttl, hours in (("5 min", Decimal(1) / 12), ("1 h", Decimal(1))):
        _, result = evaluated(
            tmp_path, f"cache prefix ttl {ttl}\n", pipeline("gemini-2.5-pro", 8000)
        )
        write, read, _ = result.steps[0].calls
        assert write.buckets.storage == 8000 * hours
        storage = 8000 * hours * Decimal("4.5")
        assert write.cost == ((500 + 8000) * Decimal("1.25") + 100 * 10 + storage) / M
        assert read.cost == (500 * Decimal("1.25") + 8000 * Decimal("0.125") + 100 * 10) / M
        costs[ttl] = result.cost_per_run
    assert costs["1 h"] - costs["5 min"] == 8000 * (1 - Decimal(1) / 12) * Decimal("4.5") / M


def test_gemini_explicit_cache_without_a_storage_price_is_an_error(tmp_path):
    prices = PRICES.replace('cache_storage = "4.5 USD/MTok/h"\n', "")
    with pytest.raises(Exception) as raised:
        evaluated(tmp_path, "cache prefix\n", pipeline("gemini-2.5-pro", 8000), prices)
    assert [d.code for d in raised.value.diagnostics] == ["E503"]


def test_gemini_implicit_caching_is_not_counted_on_without_a_cache_lever(tmp_path):
    _, baseline = evaluated(tmp_path, "", pipeline("gemini-2.5-pro", 8000), rules=[])
    assert all(c.cache is None for c in baseline.steps[0].calls)


# Batch, with and without caching.


@pytest.mark.parametrize(
    ("model", "read_price", "input_price"),
    [
        ("anthropic:claude-sonnet-4-5", Decimal("0.15"), Decimal("1.5")),  # stacks
        ("openai:gpt-4o", Decimal("1.25"), Decimal("1.25")),  # cached input keeps its rate
        ("google:gemini-2.5-pro", Decimal("0.125"), Decimal("0.625")),  # caching not discounted
    ],
)
def test_batch_stacks_with_caching_only_where_the_provider_says(model, read_price, input_price):
    price = real(model)
    call = Buckets(uncached=Decimal(100_000), read=Decimal(100_000))  # below any tier
    assert call_cost(price, call, batched=True) == (input_price + read_price) / 10


def test_a_local_batch_discount_stacks_with_caching_as_the_provider_rule_says():
    assert priced("a", provider="anthropic", input=3, output=15).batch is None
    anthropic = priced(
        "a", provider="anthropic", input=3, output=15, cache_read="0.3", batch_discount="50 %"
    )
    openai = priced(
        "o", provider="openai", input=3, output=15, cache_read="0.3", batch_discount="50 %"
    )
    assert anthropic.batch.base.cache_read == Decimal("0.15")
    assert openai.batch.base.cache_read == Decimal("0.3")


def test_batched_steps_are_reported_as_deferred_within_the_batch_window(tmp_path, cli):
    pipe = pipeline("anthropic:claude-sonnet-4-5", 2000, deferrable=True)
    path = write_policy(tmp_path, policy="batch if deferrable\n", pipeline=pipe, prices=PRICES)
    report = json.loads(cli("eval", path, "--format", "json").out)
    assert report["result"]["deferred_within_s"] == 86400
    assert report["result"]["latency_per_run_s"] == 0
    assert report["steps"][0]["deferred"] is True
    assert "done within 24 h" in cli("eval", path).out


def test_a_request_past_a_long_context_tier_is_a_warning(tmp_path):
    pipe = pipeline(SONNET_45, 150_000, calls=1).replace("input = 500", "input = 60000")
    compiled, result = evaluated(tmp_path, "", pipe)
    warning = next(w for w in compiled.warnings if w.code == "W304")
    assert "210,000 input tokens" in warning.message and "200,000-token tier" in warning.message
    assert warning.location.path.endswith("pipeline.toml")
    call = result.steps[0].calls[0]
    assert call.cost == (210_000 * 6 + 100 * Decimal("22.5")) / M


def test_batching_a_model_without_a_batch_price_is_a_warning(tmp_path):
    prices = PRICES + (
        '[models."claude-sonnet-4-20250514"]\noverhead = "1 s"\nprefill_speed = "1000 tokens/s"\n'
        'output_speed = "10 tokens/s"\npass_rate = { easy = 1, medium = 1, hard = 1 }\n'
    )
    pipe = pipeline("claude-sonnet-4-20250514", 2000, deferrable=True)
    compiled, result = evaluated(tmp_path, "batch if deferrable\n", pipe, prices)
    assert [w.code for w in compiled.warnings] == ["W301"]
    assert result.steps[0].deferred
    assert result.cost_per_run == evaluate(compiled, []).cost_per_run


def test_every_diagnostic_code_the_code_raises_is_registered():
    import re

    from conftest import ROOT

    from agentpolicy.diagnostics import CODES

    source = "".join(p.read_text() for p in (ROOT / "dsl").rglob("*.py"))
    used = set(re.findall(r'"([EW]\d{3})"', source))
    assert used <= set(CODES)


SONNET_45 = "anthropic:claude-sonnet-4-5"
