"""Real prices from genai-prices: offline, by the names people use, dated, and overridable."""

from __future__ import annotations

import datetime
import json
import socket
from decimal import Decimal

import pytest
from conftest import POLICIES, ROOT
from helpers import write_policy
from test_provider_rules import PRICES, pipeline

from agentpolicy import library
from agentpolicy.prices import library_table


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a socket fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("agentpolicy tried to open a network connection")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_a_real_policy_evaluates_offline_and_names_its_price_source_and_date(no_network, cli):
    result = cli("eval", POLICIES / "real-anthropic.policy", "--format", "json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report["prices"]["source"] == f"genai-prices {library.version()} + models.toml"
    assert report["prices"]["date"] == "2026-12-01"
    assert report["prices"]["library"] == "genai-prices"
    assert Decimal(report["result"]["cost_per_run"]) < Decimal(report["baseline"]["cost_per_run"])

    from genai_prices import update_prices

    assert update_prices._shared_updater.thread is None  # the price updater never started


def test_the_real_policy_table_and_markdown_name_the_source_and_date(cli):
    for args in ((), ("--format", "markdown")):
        out = cli("eval", POLICIES / "real-anthropic.policy", *args).out
        assert f"prices: genai-prices {library.version()}" in out
        assert "as of 2026-12-01" in out


def test_the_real_policy_baseline_is_the_sum_of_its_calls_at_real_prices(cli):
    report = json.loads(cli("eval", POLICIES / "real-anthropic.policy", "--format", "json").out)
    # Sonnet 4.5 at 3 / 15 USD per MTok, nothing cached: every step's prefix and input.
    steps = [(6400, 60, 1), (7500, 120, 4), (9500, 700, 1), (7200, 200, 1), (6900, 250, 1)]
    expected = sum(calls * (inp * 3 + out * 15) for inp, out, calls in steps) / Decimal(10**6)
    assert Decimal(report["baseline"]["cost_per_run"]) == expected


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("anthropic:claude-sonnet-4-5", "anthropic:claude-sonnet-4-5"),
        ("claude-sonnet-4-5-20250929", "anthropic:claude-sonnet-4-5"),
        ("claude-3-5-sonnet-20241022", "anthropic:claude-3-5-sonnet"),
        ("gpt-4o", "openai:gpt-4o"),
        ("openai:gpt-4o", "openai:gpt-4o"),
        ("gemini-2.5-pro", "google:gemini-2.5-pro"),
        ("openai:ft:gpt-4o-mini", "openai:ft:gpt-4o-mini"),
    ],
)
def test_names_people_use_resolve_to_one_model(no_network, name, key):
    table = library_table("genai-prices@2026-12-01")
    assert table.models[name].key == key


def test_prices_are_read_as_they_stood_on_the_tables_date():
    before = library.lookup("gpt-5.6-sol", datetime.date(2026, 8, 1)).standard.base
    after = library.lookup("gpt-5.6-sol", datetime.date(2026, 9, 1)).standard.base
    assert (before.input, before.output) == (Decimal(5), Decimal(30))
    assert (after.input, after.output) == (Decimal(4), Decimal(20))


def test_an_unknown_model_in_the_pipeline_suggests_the_near_name(tmp_path, cli):
    path = write_policy(
        tmp_path, policy="", pipeline=pipeline("claude-sonet-4-5", 2000), prices=PRICES
    )
    result = cli("check", path)
    assert result.code == 2
    assert "error[E211]: step 'work' uses unknown model 'claude-sonet-4-5'" in result.err
    assert "pipeline.toml:5:1" in result.err
    assert "did you mean 'anthropic:claude-sonnet-4-5'" in result.err  # the local file's name


def test_an_unknown_model_in_a_route_suggests_the_near_name(tmp_path, cli):
    path = write_policy(
        tmp_path,
        policy="route every step to gpt-4oo\n",
        pipeline=pipeline("gpt-4o", 2000),
        prices=PRICES,
    )
    result = cli("check", path)
    assert result.code == 2
    assert "unknown model 'gpt-4oo'" in result.err
    assert "did you mean 'gpt-4o'" in result.err


def test_a_local_entry_the_library_does_not_know_must_be_priced(tmp_path, cli):
    prices = PRICES + '[models."claude-sonet-4-5"]\noverhead = "1 s"\n'
    path = write_policy(tmp_path, policy="", pipeline=pipeline("gpt-4o", 2000), prices=prices)
    result = cli("check", path)
    assert result.code == 2
    assert "error[E500]: 'claude-sonet-4-5' is not a model genai-prices knows" in result.err
    assert "models.toml:25:1" in result.err
    assert "did you mean 'anthropic:claude-sonnet-4-5'" in result.err


def test_the_library_alone_prices_but_cannot_time_a_model(tmp_path, cli):
    (tmp_path / "pipeline.toml").write_text(pipeline("gpt-4o", 2000))
    policy = tmp_path / "p.policy"
    policy.write_text('pipeline "pipeline.toml"\nprices "genai-prices@2026-12-01"\n')
    result = cli("check", policy)
    assert result.code == 2
    assert "error[E502]: model 'gpt-4o' has prices but no latency parameters or pass rates" in (
        result.err
    )


def test_a_price_day_that_is_no_date_is_an_error(tmp_path, cli):
    (tmp_path / "pipeline.toml").write_text(pipeline("gpt-4o", 2000))
    policy = tmp_path / "p.policy"
    policy.write_text('pipeline "pipeline.toml"\nprices "genai-prices@next-week"\n')
    result = cli("check", policy)
    assert result.code == 2
    assert "error[E501]" in result.err and "p.policy:2:8" in result.err


def test_a_local_override_is_used_and_shown_in_the_report(tmp_path, cli):
    prices = PRICES.replace('[models."gpt-4o"]\n', '[models."gpt-4o"]\ninput = "2.25 USD/MTok"\n')
    path = write_policy(tmp_path, policy="", pipeline=pipeline("gpt-4o", 0, calls=1), prices=prices)
    report = json.loads(cli("eval", path, "--format", "json").out)
    assert report["prices"]["overrides"] == [
        {
            "model": "gpt-4o",
            "figure": "input",
            "library_usd_per_mtok": "2.50",
            "local_usd_per_mtok": "2.25",
            "path": str(tmp_path / "models.toml"),
        }
    ]
    assert Decimal(report["baseline"]["cost_per_run"]) == (500 * Decimal("2.25") + 100 * 10) / (
        Decimal(10**6)
    )
    table = cli("eval", path).out
    assert "Prices the local file overrides" in table
    assert "2.50 USD/MTok" in table and "2.25 USD/MTok" in table


def test_the_lab_keeps_its_illustrative_table():
    from agentpolicy.compiler import compile_file

    compiled = compile_file(POLICIES / "lab.policy")
    assert compiled.prices.source == "cost lab (illustrative)"
    assert compiled.prices.library is None
    assert compiled.prices.models["sonnet"].origins["input"] == "local"


# agentpolicy models.


def test_models_lists_real_prices_with_where_each_came_from(no_network, cli):
    result = cli("models", "claude-sonnet-4-5", "--prices", "genai-prices@2026-12-01")
    assert result.code == 0, result.err
    assert "prices: genai-prices" in result.out
    row = next(line for line in result.out.splitlines() if "anthropic:claude-sonnet-4-5" in line)
    assert "explicit" in row and "3.75 / 6" in row and "> 200,000: 6 / 22.5" in row
    assert "−50% (cache too)" in row


def test_models_json_gives_prices_rules_and_origins(cli):
    result = cli("models", "gpt-4o", "--prices", "examples/real/models.toml", "--format", "json")
    document = json.loads(result.out)
    assert document["schema"] == "agentpolicy.models/1"
    assert document["date"] == "2026-12-01"
    gpt = next(m for m in document["models"] if m["key"] == "openai:gpt-4o")
    assert gpt["caching"] == "automatic"
    assert gpt["prices_usd_per_mtok"]["input"] == "2.5"
    assert gpt["prices_usd_per_mtok"]["cache_write_5m"] == "2.5"
    assert gpt["batch"]["discounts_cache"] is False
    assert gpt["cache_step_tokens"] == 128
    assert gpt["latency"]["overhead_s"] == "0.5"
    assert gpt["origins"]["input"] == "genai-prices"
    assert gpt["origins"]["cache_write_5m"] == "provider rule"
    assert gpt["origins"]["prefill_speed"] == "local"


def test_models_with_no_match_suggests_a_near_name(cli):
    result = cli("models", "gtp-4o")
    assert result.code == 2
    assert "no model matches 'gtp-4o'; did you mean gpt-4o" in result.err


def test_models_lists_a_local_table(cli):
    result = cli("models", "--prices", "examples/lab/models.toml", "--format", "json")
    names = [m["name"] for m in json.loads(result.out)["models"]]
    assert names == ["sonnet", "haiku", "opus"]


def test_a_name_the_library_reads_as_another_model_warns(tmp_path, cli):
    import shutil

    for name in ("models.toml", "pipeline.toml"):
        shutil.copy(ROOT / "examples" / "real" / name, tmp_path / name)
    policy = tmp_path / "p.policy"
    policy.write_text(
        'pipeline "pipeline.toml"\nprices "models.toml"\n'
        'route step name=answer to "claude-haiku-4-5x"\n'
        "route step name=check to claude-haiku-4-5-20251001\n"
    )
    result = cli("check", policy)
    assert result.code == 0
    assert "warning[W305]: 'claude-haiku-4-5x' is read as anthropic:claude-haiku-4-5" in result.err
    assert result.err.count("W305") == 1  # a dated name is the model it dates
