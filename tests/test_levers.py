"""Each lever's arithmetic, and how the levers interact, on small pipelines."""

from decimal import Decimal

from labkit import compiled, step

from agentpolicy.engine import evaluate
from agentpolicy.formulas import Buckets, call_cost, call_latency

D = Decimal


def test_baseline_cost_is_the_formula_of_each_call(tmp_path):
    policy = compiled(tmp_path, "", step("a", input=800, output=200))
    result = evaluate(policy)
    # (1200 + 800) tok × 3 USD/MTok + 200 tok × 15 USD/MTok
    assert result.cost_per_run == D("0.009")
    assert result.steps[0].calls[0].buckets == Buckets(uncached=D(2000), output=D(200))


def test_cache_writes_on_the_first_call_and_reads_on_later_ones(tmp_path):
    policy = compiled(tmp_path, "cache prefix", step("a", calls=3, input=0, output=0))
    calls = evaluate(policy).steps[0].calls
    assert [c.cache for c in calls] == ["write", "read", "read"]
    assert calls[0].cost == D(1200) * D("3.75") / 1_000_000
    assert calls[1].cost == D(1200) * D("0.30") / 1_000_000


def test_one_hour_ttl_writes_at_the_one_hour_price(tmp_path):
    policy = compiled(tmp_path, "cache prefix ttl 1 h", step("a", calls=2, input=0, output=0))
    first, second = evaluate(policy).steps[0].calls
    assert first.buckets.write_1h == D(1200) and first.buckets.write_5m == 0
    assert first.cost == D(1200) * D(6) / 1_000_000
    assert second.buckets.read == D(1200)


def test_caches_are_per_model_so_routing_moves_a_step_to_another_cache(tmp_path):
    policy = compiled(
        tmp_path,
        "cache prefix\nroute step name = b to haiku",
        step("a", difficulty="hard"),
        step("b"),
        step("c", difficulty="hard"),
    )
    events = {s.name: (s.model, s.calls[0].cache) for s in evaluate(policy).steps}
    # b is haiku's first call: it writes haiku's cache; c still reads sonnet's.
    assert events == {"a": ("sonnet", "write"), "b": ("haiku", "write"), "c": ("sonnet", "read")}


def test_a_prefix_below_the_minimum_is_not_cached_and_warns(tmp_path):
    policy = compiled(tmp_path, "cache prefix", step("a", calls=2), prefix=1000)
    assert [c.cache for c in evaluate(policy).steps[0].calls] == [None, None]
    (warning,) = policy.warnings
    assert warning.code == "W102"
    assert "1024" in warning.message and "sonnet" in warning.message
    assert warning.location.line == 3  # the cache statement


def test_steps_that_do_not_use_the_prefix_are_not_cached(tmp_path):
    policy = compiled(tmp_path, "cache prefix", step("a"), step("b", uses_prefix=False))
    b = evaluate(policy).step("b")
    assert b.calls[0].cache is None
    assert b.calls[0].buckets.uncached == D(1000)


def test_first_matching_route_wins_and_the_shadowed_rule_warns(tmp_path):
    policy = compiled(
        tmp_path,
        "route step difficulty = easy to haiku\nroute step name = a to opus",
        step("a"),
    )
    assert evaluate(policy).step("a").model == "haiku"
    (warning,) = policy.warnings
    assert warning.code == "W101" and warning.location.line == 4
    assert "line 3" in warning.message


def test_a_rule_that_matches_no_step_warns(tmp_path):
    policy = compiled(tmp_path, "route step difficulty = medium to haiku", step("a"))
    (warning,) = policy.warnings
    assert (warning.code, warning.location.line, warning.location.column) == ("W100", 3, 1)


def test_untouched_steps_are_reported(tmp_path):
    policy = compiled(tmp_path, "route step name = a to haiku", step("a"), step("b"))
    result = evaluate(policy)
    assert not result.step("a").untouched
    assert result.step("b").untouched


def test_trim_by_percent_trims_own_input_not_the_prefix(tmp_path):
    policy = compiled(tmp_path, "trim input of every step by 25 %", step("a", input=1001))
    buckets = evaluate(policy).steps[0].calls[0].buckets
    # 1001 × 0.75 = 750.75, rounded half up to whole tokens; the 1200-token prefix is kept.
    assert buckets.uncached == D(1200 + 751)


def test_trim_to_tokens_caps_own_input(tmp_path):
    policy = compiled(
        tmp_path,
        "trim input of every step to 500 tokens",
        step("a", input=800),
        step("b", input=300),
    )
    result = evaluate(policy)
    assert result.step("a").calls[0].buckets.uncached == D(1700)
    assert result.step("b").calls[0].buckets.uncached == D(1500)


def test_cap_output(tmp_path):
    policy = compiled(
        tmp_path,
        "cap output of step difficulty = hard at 150 tokens",
        step("a", difficulty="hard", output=400),
        step("b", output=400),
    )
    result = evaluate(policy)
    assert result.step("a").tokens.output == D(150)
    assert result.step("b").tokens.output == D(400)
    assert result.step("a").quality_basis == "assumed"


def test_batch_discount_applies_to_the_final_cost_including_cache(tmp_path):
    policy = compiled(
        tmp_path,
        "cache prefix\nbatch if deferrable",
        step("a"),
        step("b", deferrable=True),
    )
    b = evaluate(policy).step("b")
    unbatched = (D(1000) * 3 + D(1200) * D("0.30") + D(100) * 15) / 1_000_000
    assert b.calls[0].cache == "read"
    assert b.cost == unbatched / 2
    assert b.deferred


def test_batched_steps_leave_the_interactive_path(tmp_path):
    policy = compiled(tmp_path, "batch step name = b", step("a"), step("b", deferrable=True))
    result = evaluate(policy)
    assert result.latency_per_run == result.step("a").latency
    assert result.deferred_latency == result.step("b").latency


def test_batching_a_step_that_cannot_wait_warns(tmp_path):
    policy = compiled(tmp_path, "batch step name = a", step("a"))
    assert [w.code for w in policy.warnings] == ["W103"]


def test_latency_formula_reads_cached_tokens_at_a_tenth(tmp_path):
    policy = compiled(tmp_path, "", step("a"))
    price = policy.prices.models["sonnet"]
    tokens = Buckets(uncached=D(800), read=D(1200), output=D(120))
    # 0.6 s + (800 + 0.1 × 1200) / 8000 + 120 / 60
    assert call_latency(price, tokens) == D("0.6") + D(920) / 8000 + D(2)
    assert (
        call_cost(price, tokens, batched=True)
        == (D(800) * 3 + D(1200) * D("0.3") + D(1800)) / 2 / 10**6
    )


def test_run_latency_is_the_longest_path(tmp_path):
    policy = compiled(
        tmp_path,
        "",
        step("a", output=60),
        step("b", output=600, after=["a"]),
        step("c", output=60, after=["a"]),
    )
    result = evaluate(policy)
    a, b, c = (result.step(n).latency for n in "abc")
    assert result.latency_per_run == a + max(b, c)


def test_parallel_calls_each_pay_a_write_on_a_cold_cache(tmp_path):
    policy = compiled(tmp_path, "cache prefix", step("a", calls=3, parallel_calls=True))
    calls = evaluate(policy).steps[0].calls
    assert [c.cache for c in calls] == ["write", "write", "write"]
    assert evaluate(policy).steps[0].latency == calls[0].latency


def test_quality_is_the_product_of_step_pass_rates(tmp_path):
    policy = compiled(
        tmp_path, "route step name = b to haiku", step("a", "hard"), step("b", "medium")
    )
    result = evaluate(policy)
    assert result.quality == D("0.92") * D("0.90")
    assert [s.quality_basis for s in result.steps] == ["table", "assumed"]


def test_an_eval_for_the_changed_step_makes_its_quality_measured(tmp_path):
    (tmp_path / "evals.toml").write_text(
        '[[evals]]\nstep = "b"\nmodel = "haiku"\ntrim = "by 40 %"\npass_rate = 0.93\ncases = 200\n'
    )
    policy = compiled(
        tmp_path,
        'evals "evals.toml"\nroute step name = b to haiku\ntrim input of step name = b by 40 %',
        step("a", "hard"),
        step("b", "medium"),
    )
    b = evaluate(policy).step("b")
    assert (b.quality, b.quality_basis) == (D("0.93"), "measured")


def test_money_stays_exact(tmp_path):
    policy = compiled(tmp_path, "runs 3", step("a", input=1, output=1))
    result = evaluate(policy)
    # (1201 tok × 3 + 1 tok × 15) / 10^6 per run, three runs: no float rounding anywhere.
    assert result.cost_total == Decimal("0.010854")
    assert str(result.cost_per_run.normalize()) == "0.003618"


def test_steps_that_start_together_each_write_the_cold_cache(tmp_path):
    policy = compiled(
        tmp_path,
        "cache prefix",
        step("a", after=[]),
        step("b", after=[]),
        step("c", after=["a", "b"]),
    )
    events = {s.name: s.calls[0].cache for s in evaluate(policy).steps}
    assert events == {"a": "write", "b": "write", "c": "read"}


def test_a_step_that_starts_earlier_writes_first_whatever_the_pipeline_order(tmp_path):
    policy = compiled(
        tmp_path,
        "cache prefix",
        step("slow", output=600, after=[]),
        step("fast", output=10, after=[]),
        step("late", output=10, after=["fast"]),
    )
    events = {s.name: s.calls[0].cache for s in evaluate(policy).steps}
    # late starts when fast ends, while slow is still running: slow's write is not ready yet,
    # but fast's own write, which started at the same moment as slow's, is not either.
    assert events == {"slow": "write", "fast": "write", "late": "read"}


def test_a_batched_call_does_not_warm_the_cache_for_interactive_calls(tmp_path):
    policy = compiled(
        tmp_path,
        "cache prefix\nbatch step name = a",
        step("a", deferrable=True),
        step("b"),
    )
    result = evaluate(policy)
    assert result.step("a").calls[0].cache == "write"
    assert result.step("b").calls[0].cache == "write"


def test_the_step_after_a_batched_one_waits_only_for_the_interactive_step_before(tmp_path):
    policy = compiled(
        tmp_path,
        "batch if deferrable",
        step("a"),
        step("notify", deferrable=True),
        step("b"),
    )
    result = evaluate(policy)
    assert result.latency_per_run == result.step("a").latency + result.step("b").latency
    assert policy.warnings == []


def test_a_step_that_waits_for_a_batched_step_warns(tmp_path):
    policy = compiled(
        tmp_path,
        "batch if deferrable",
        step("a", deferrable=True),
        step("b", after=["a"]),
    )
    (warning,) = policy.warnings
    assert warning.code == "W104" and "'b'" in warning.message


def test_batching_several_hurried_steps_is_one_warning(tmp_path):
    policy = compiled(tmp_path, "batch every step", step("a"), step("b"))
    (warning,) = policy.warnings
    assert warning.code == "W103" and "'a', 'b' are not deferrable" in warning.message
