"""Public cost cases: each reproduced exactly from its buckets, from its reported usage read through
its convention, and from genai-prices' own data where the library prices the model."""

from __future__ import annotations

import datetime
import json
from decimal import Decimal
from pathlib import Path

import pytest
from helpers import priced

from agentpolicy import library
from agentpolicy.formulas import Buckets, call_cost
from agentpolicy.prices import build_price
from agentpolicy.usage import normalise

CASES = json.loads((Path(__file__).parent / "data" / "cost_cases.json").read_text())

#: Each convention label the cases use, and the reader that follows it.
CONVENTIONS = {
    "normalized": "inclusive",
    "genai-prices normalized": "inclusive",
    "genai-prices normalized (input_tokens is the TOTAL incl. cache)": "inclusive",
    "inclusive (OpenAI/genai-prices style)": "inclusive",
    "inclusive (litellm Usage / OpenAI style)": "openai",
    "exclusive (Anthropic style)": "anthropic",
    "anthropic": "anthropic",
    "anthropic (input_tokens EXCLUDES cache)": "anthropic",
    "openai": "openai",
    "openai chat": "openai",
    "openai responses": "openai",
    "openai (prompt_tokens INCLUDES cached_tokens)": "openai",
    "openai chat (prompt_tokens INCLUDES cached_tokens)": "openai",
    "gemini": "gemini",
}


def _case_price(case: dict):
    figures = {
        "input": case["price_input_per_mtok"],
        "output": case["price_output_per_mtok"],
        "cache_write_5m": case.get("price_cache_write_5m_per_mtok"),
        "cache_write_1h": case.get("price_cache_write_1h_per_mtok"),
        "cache_read": case.get("price_cache_read_per_mtok"),
    }
    entry = {k: v for k, v in figures.items() if v is not None}
    if case["tier"]:
        above = case["tier"]["prices_above"]
        entry["long_context"] = {
            "above": f"{case['tier']['threshold_tokens']} tokens",
            **{
                figure: f"{above[f'price_{figure}_per_mtok']} USD/MTok"
                for figure in ("input", "output", "cache_write_5m", "cache_write_1h", "cache_read")
                if f"price_{figure}_per_mtok" in above
            },
        }
    if case["batch_multiplier"] is not None:
        entry["batch_discount"] = str(1 - Decimal(str(case["batch_multiplier"])))
    return priced(case["model"], provider=case["provider"], **entry)


def _case_buckets(case: dict) -> Buckets:
    return Buckets(
        uncached=Decimal(case["tokens_uncached_input"]),
        write_5m=Decimal(case["tokens_cache_write_5m_input"]),
        write_1h=Decimal(case["tokens_cache_write_1h_input"]),
        read=Decimal(case["tokens_cache_read_input"]),
        output=Decimal(case["tokens_output"]),
    )


def _usages(case: dict):
    for key in ("reported_usage", "equivalent_usage_other_convention"):
        if key in case:
            usage = dict(case[key])
            yield CONVENTIONS[usage.pop("convention")], usage


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_case_cost_from_its_buckets(case):
    batched = case["batch_multiplier"] is not None
    cost = call_cost(_case_price(case), _case_buckets(case), batched=batched)
    assert cost == Decimal(case["expected_cost_usd_exact"])


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_case_usage_reads_into_its_buckets_and_cost(case):
    batched = case["batch_multiplier"] is not None
    for convention, usage in _usages(case):
        buckets = normalise(usage, convention)
        assert buckets == _case_buckets(case), convention
        cost = call_cost(_case_price(case), buckets, batched=batched)
        assert cost == Decimal(case["expected_cost_usd_exact"]), convention


#: Cases whose model genai-prices prices: the name to look up and the day whose prices apply.
LIBRARY_CASES = {
    "gp-gpt4o-plain": ("openai:gpt-4o", "2026-11-01"),
    "gp-claude35-sonnet-cache-inclusive": ("claude-3.5-sonnet", "2026-11-01"),
    "gp-claude-sonnet4-anthropic-raw-5m-1h": ("claude-sonnet-4-20250514", "2026-11-01"),
    "gp-sonnet45-at-threshold": ("anthropic:claude-sonnet-4.5", "2026-11-01"),
    "gp-sonnet45-just-above-threshold": ("anthropic:claude-sonnet-4.5", "2026-11-01"),
    "gp-gpt54-all-cached-below-272k": ("gpt-5.4", "2026-11-01"),
    "gp-gpt56sol-openai-cache-write": ("gpt-5.6-sol", "2026-08-01"),
    "gp-gpt5-reasoning-subset-of-output": ("gpt-5", "2026-11-01"),
    "gp-claude-opus5-1h-write": ("claude-opus-5", "2026-11-01"),
    "ll-batch-gpt4o-explicit-batch-rates": ("gpt-4o", "2026-11-01"),
    "doc-openai-cached-example-gpt4o": ("gpt-4o", "2026-11-01"),
    "doc-gemini25pro-at-200k-boundary": ("gemini-2.5-pro", "2026-11-01"),
    "issue-litellm-9812-anthropic-console-bill": ("claude-3-7-sonnet-20250219", "2026-11-01"),
}


@pytest.mark.parametrize("case_id", sorted(LIBRARY_CASES))
def test_case_cost_from_genai_prices_data(case_id):
    case = next(c for c in CASES if c["id"] == case_id)
    name, day = LIBRARY_CASES[case_id]
    found = library.lookup(name, datetime.date.fromisoformat(day))
    price = build_price(name, None, found, path="")
    batched = "Batch" in case["model"]  # the case gives batch rates as its prices
    assert call_cost(price, _case_buckets(case), batched=batched) == Decimal(
        case["expected_cost_usd_exact"]
    )


def test_every_case_convention_is_read():
    labels = {u["convention"] for c in CASES for k, u in c.items() if k.endswith("usage")}
    labels |= {
        c["equivalent_usage_other_convention"]["convention"]
        for c in CASES
        if "equivalent_usage_other_convention" in c
    }
    assert labels <= set(CONVENTIONS)
