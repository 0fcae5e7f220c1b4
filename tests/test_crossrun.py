"""Caching across runs (traffic), warming a cache before parallel calls, and the 1-hour cache."""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal

import pytest
from helpers import write_policy
from test_provider_rules import PRICES, evaluated, pipeline

from agentpolicy.compiler import compile_file
from agentpolicy.crossrun import compare_ttls
from agentpolicy.engine import evaluate
from agentpolicy.formulas import break_even_hit_rate, warm_chance
from agentpolicy.syntax import parse_text

SONNET = "anthropic:claude-sonnet-4-5"


def test_warm_chance_follows_random_arrivals():
    assert warm_chance(Decimal(6), Decimal(300)) == 1 - Decimal("-0.5").exp()
    assert warm_chance(Decimal(0), Decimal(300)) == 0
    assert warm_chance(Decimal(12), Decimal(3600)) > Decimal("0.999")


def test_break_even_hit_rate_is_w_minus_1_over_w_minus_r():
    assert break_even_hit_rate(Decimal("1.25"), Decimal("0.1")) == Decimal("0.25") / Decimal("1.15")
    assert break_even_hit_rate(Decimal(2), Decimal("0.1")) == 1 / Decimal("1.9")
    assert break_even_hit_rate(Decimal(1), Decimal("0.5")) == 0  # no premium: always pays
    assert break_even_hit_rate(Decimal(2), Decimal(3)) is None  # reads dearer: never pays


def test_traffic_prices_the_first_write_at_its_expected_cost(tmp_path):
    compiled, result = evaluated(
        tmp_path, "traffic 6 runs/hour\ncache prefix\n", pipeline(SONNET, 2000)
    )
    hit = 1 - Decimal("-0.5").exp()
    first = result.steps[0].calls[0]
    assert first.hit_rate == hit
    assert result.hit_rates == {SONNET: hit}

    cold = evaluate(replace(compiled, traffic=None)).steps[0].calls
    write, read = cold[0].cost, cold[1].cost
    assert abs(first.cost - ((1 - hit) * write + hit * read)) < Decimal("1e-24")
    assert first.buckets.write_5m + first.buckets.read == 2000


def test_traffic_per_day_is_read_as_runs_per_hour(tmp_path):
    compiled, _ = evaluated(tmp_path, "traffic 48 runs/day\ncache prefix\n", pipeline(SONNET, 2000))
    assert compiled.traffic == 2


@pytest.mark.parametrize(
    ("statement", "code"),
    [("traffic 0 runs/hour", "E202"), ("traffic 5 USD", "E201"), ("traffic 5", "E200")],
)
def test_traffic_needs_a_positive_rate_in_runs_per_time(tmp_path, statement, code):
    with pytest.raises(Exception) as raised:
        evaluated(tmp_path, f"{statement}\ncache prefix\n", pipeline(SONNET, 2000))
    assert [d.code for d in raised.value.diagnostics] == [code]


def test_traffic_with_nothing_cached_is_a_warning(tmp_path):
    compiled, _ = evaluated(tmp_path, "traffic 6 runs/hour\n", pipeline(SONNET, 2000))
    assert [w.code for w in compiled.warnings] == ["W303"]


def test_parallel_calls_on_a_cold_prefix_each_pay_a_write(tmp_path):
    _, result = evaluated(
        tmp_path, "cache prefix\n", pipeline(SONNET, 2000, calls=4, parallel=True)
    )
    step = result.steps[0]
    assert [c.cache for c in step.calls] == ["write"] * 4
    assert step.latency == step.calls[0].latency
    assert step.warmup == 0


def test_warm_sends_one_call_first_so_the_others_read(tmp_path):
    pipe = pipeline(SONNET, 2000, calls=4, parallel=True)
    _, cold = evaluated(tmp_path, "cache prefix\n", pipe)
    _, warm = evaluated(tmp_path, "cache prefix warm\n", pipe)
    step = warm.steps[0]
    assert [c.cache for c in step.calls] == ["write", "read", "read", "read"]
    assert step.latency == step.calls[0].latency + step.calls[1].latency
    assert step.warmup == step.calls[1].latency
    saved = 3 * 2000 * (Decimal("3.75") - Decimal("0.3")) / Decimal(1_000_000)
    assert cold.cost_per_run - warm.cost_per_run == saved


def test_warm_with_nothing_to_warm_is_a_warning(tmp_path):
    compiled, _ = evaluated(tmp_path, "cache prefix warm\n", pipeline(SONNET, 2000))
    assert [w.code for w in compiled.warnings] == ["W302"]


def test_warm_and_traffic_compile_and_a_sized_prefix_caches_only_its_size(tmp_path):
    policy = parse_text("cache prefix warm\ntraffic 5 runs/hour\n")
    assert policy.statements[0].warm is True
    evaluated(tmp_path, "traffic 5 runs/hour\ncache prefix warm\n", pipeline(SONNET, 2000))
    _, result = evaluated(tmp_path, "cache prefix 1500 tokens\n", pipeline(SONNET, 2000))
    write, read, _ = (call.buckets for call in result.steps[0].calls)
    # 1,500 of the 2,000 prefix tokens are cached; the other 500 and the 500 of the step's own
    # input stay uncached, so every call still sends its 2,500 tokens.
    assert (write.write_5m, write.uncached) == (1500, 1000)
    assert (read.read, read.uncached) == (1500, 1000)


def test_the_report_shows_the_warm_up_latency(tmp_path, cli):
    path = write_policy(
        tmp_path,
        policy="cache prefix warm\n",
        pipeline=pipeline(SONNET, 2000, calls=4, parallel=True),
        prices=PRICES,
    )
    report = json.loads(cli("eval", path, "--format", "json").out)
    assert report["steps"][0]["warmup_s"] > 0
    assert "warm-up" in cli("eval", path).out


def test_one_hour_cache_pays_off_at_steady_traffic_and_not_at_a_trickle(tmp_path):
    policy = write_policy(
        tmp_path,
        policy="traffic 4 runs/hour\ncache prefix\n",
        pipeline=pipeline(SONNET, 4000),
        prices=PRICES,
    )
    compiled = compile_file(policy)
    steady = compare_ttls(compiled)
    assert steady.better == "1h"
    hour_rules = [replace(r, ttl="1h") for r in compiled.rules]
    assert steady.cost_per_run["1h"] == evaluate(compiled, hour_rules).cost_per_run
    assert steady.saving_per_run > 0
    caching = steady.models[0]
    assert caching.write == {"5m": Decimal("1.25"), "1h": Decimal(2)}
    assert caching.hit_rate["1h"] == warm_chance(Decimal(4), Decimal(3600))
    assert caching.break_even["1h"] == 1 / Decimal("1.9")

    trickle = compare_ttls(compiled, runs_per_hour=Decimal("0.05"))
    assert trickle.better == "5m"
    assert trickle.saving_per_run < 0


def test_the_report_names_the_hit_rate_assumed_and_the_ttl_verdict(tmp_path, cli):
    path = write_policy(
        tmp_path,
        policy="traffic 4 runs/hour\ncache prefix\n",
        pipeline=pipeline(SONNET, 4000),
        prices=PRICES,
    )
    report = json.loads(cli("eval", path, "--format", "json").out)
    traffic = report["traffic"]
    assert traffic["runs_per_hour"] == 4
    assert traffic["hit_rates"][SONNET] == round(float(1 - (Decimal(-1) / 3).exp()), 6)
    assert traffic["ttl_comparison"]["better"] == "1h"
    assert Decimal(traffic["ttl_comparison"]["saving_per_run_1h"]) > 0
    table = cli("eval", path).out
    assert "Caching across runs" in table
    assert "the 1-hour cache pays off" in table
    assert "break-even 21.7%" in table


def test_without_traffic_the_report_has_no_traffic_section(tmp_path, cli):
    path = write_policy(
        tmp_path, policy="cache prefix\n", pipeline=pipeline(SONNET, 4000), prices=PRICES
    )
    assert json.loads(cli("eval", path, "--format", "json").out)["traffic"] is None
