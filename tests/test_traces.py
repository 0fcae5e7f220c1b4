"""Replaying policies on recorded traces: readers, conventions, levers, bad records, scale."""

from __future__ import annotations

import io
import json
import re
import shutil
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from conftest import POLICIES, ROOT

from agentpolicy.compiler import compile_file
from agentpolicy.traces.policy import TraceOptions
from agentpolicy.traces.reference import calls_in_order, reference_cost
from agentpolicy.traces.replay import replay

TRACES = ROOT / "examples" / "traces"
PRICES = TRACES / "prices.toml"
SONNET = "claude-3-5-sonnet-20241022"
SHARED = ROOT.parent / "shared" / "data" / "traces"


def write_trace(tmp_path: Path, mapping: str, levers: str = "", **files: str) -> Path:
    """A mapping, its data files and a policy over them; returns the policy's path."""
    for name, text in files.items():
        (tmp_path / name.replace("__", ".")).write_text(text)
    (tmp_path / "calls.mapping.toml").write_text(mapping)
    policy = tmp_path / "test.policy"
    policy.write_text(f'trace "calls.mapping.toml"\nprices "{PRICES}"\n{levers}\n')
    return policy


def evaluate(cli, policy: Path, *flags: str) -> dict:
    result = cli("eval", policy, "--format", "json", *flags)
    assert result.code == 0, result.err
    return json.loads(result.out)


def lines(*records: dict) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


# Readers and conventions.


def test_anthropic_usage_objects_keep_their_disjoint_buckets(cli, tmp_path):
    usage = {
        "input_tokens": 10,
        "cache_creation_input_tokens": 3000,
        "cache_read_input_tokens": 5000,
        "output_tokens": 200,
        "cache_creation": {"ephemeral_5m_input_tokens": 2000, "ephemeral_1h_input_tokens": 1000},
    }
    policy = write_trace(
        tmp_path,
        'files = ["calls.jsonl"]\nconvention = "anthropic"\n',
        calls__jsonl=lines({"model": SONNET, "usage": usage}),
    )
    report = evaluate(cli, policy)
    tokens = report["baseline"]["tokens"]
    assert tokens == {
        "uncached_input": 10,
        "cache_write_5m": 2000,
        "cache_write_1h": 1000,
        "cache_read": 5000,
        "output": 200,
    }
    # 10·3 + 2000·3.75 + 1000·6 + 5000·0.30 + 200·15, per million tokens.
    assert Decimal(report["baseline"]["cost"]) == Decimal("0.01803")


def test_openai_usage_objects_count_cached_tokens_inside_the_prompt(cli, tmp_path):
    usage = {
        "prompt_tokens": 5000,
        "completion_tokens": 300,
        "total_tokens": 5300,
        "prompt_tokens_details": {"cached_tokens": 4096},
        "completion_tokens_details": {"reasoning_tokens": 120},
    }
    policy = write_trace(
        tmp_path,
        'files = ["calls.jsonl"]\nconvention = "openai"\n',
        calls__jsonl=lines({"model": SONNET, "usage": usage}),
    )
    tokens = evaluate(cli, policy)["baseline"]["tokens"]
    assert tokens["uncached_input"] == 904 and tokens["cache_read"] == 4096
    assert tokens["output"] == 300  # reasoning is inside the output count, not added to it


def _span(trace, start, attributes, flat=True):
    if flat:
        return {"trace_id": trace, "name": "chat", "start_time": start, "attributes": attributes}
    return {
        "traceId": trace,
        "name": "chat",
        "startTimeUnixNano": str(start),
        "endTimeUnixNano": str(start + 2_500_000_000),
        "attributes": [
            {"key": k, "value": {"intValue" if isinstance(v, int) else "stringValue": str(v)}}
            for k, v in attributes.items()
        ],
    }


def test_otel_spans_mix_current_and_deprecated_attribute_names(cli, tmp_path):
    current = {
        "gen_ai.request.model": SONNET,
        "gen_ai.agent.name": "planner",
        "gen_ai.usage.input_tokens": 3000,
        "gen_ai.usage.cache_read.input_tokens": 2000,
        "gen_ai.usage.output_tokens": 100,
    }
    deprecated = {
        "gen_ai.request.model": SONNET,
        "gen_ai.agent.name": "coder",
        "gen_ai.usage.prompt_tokens": 1500,
        "gen_ai.usage.completion_tokens": 50,
    }
    policy = write_trace(
        tmp_path,
        'files = ["spans.jsonl"]\nconvention = "otel"\n[fields]\nrun = "trace_id"\n',
        spans__jsonl=lines(
            _span("t1", "2025-01-01T10:00:00Z", current),
            _span("t1", "2025-01-01T10:00:05Z", deprecated),
        ),
    )
    report = evaluate(cli, policy)
    steps = {s["name"]: s["tokens_before"] for s in report["steps"]}
    assert steps["planner"]["uncached_input"] == 1000 and steps["planner"]["cache_read"] == 2000
    assert steps["coder"]["uncached_input"] == 1500 and steps["coder"]["output"] == 50
    assert report["trace"]["runs"] == 1


def test_otlp_json_export_with_nested_spans_and_recorded_latency(cli, tmp_path):
    attributes = {
        "gen_ai.request.model": SONNET,
        "gen_ai.usage.input_tokens": 4000,
        "gen_ai.usage.output_tokens": 100,
    }
    export = {
        "resourceSpans": [
            {
                "scopeSpans": [
                    {
                        "spans": [
                            _span("t1", 1_735_725_600_000_000_000, attributes, flat=False),
                            _span("t1", 1_735_725_610_000_000_000, attributes, flat=False),
                        ]
                    }
                ]
            }
        ]
    }
    policy = write_trace(
        tmp_path,
        'files = ["export.jsonl"]\nlayout = "otlp"\nconvention = "otel"\n',
        export__jsonl=lines(export),
    )
    report = evaluate(cli, policy)
    assert report["trace"]["calls"] == 2 and report["trace"]["latency_recorded"]
    assert report["baseline"]["latency_per_run_s"]["mean"] == pytest.approx(5.0)


CSV_MAPPING = """files = ["log.csv"]
convention = "openai"
latency_unit = "ms"
[fields]
run = "session"
order = "seq"
step = "agent"
model = "model"
input = "prompt"
cache_read = "cached"
output = "completion"
latency = "ms"
"""


def test_csv_log_through_a_field_mapping(cli, tmp_path):
    policy = write_trace(
        tmp_path,
        CSV_MAPPING,
        log__csv="session,seq,agent,model,prompt,cached,completion,ms\n"
        f"s1,1,plan,{SONNET},2000,0,100,1500\n"
        f"s1,2,act,{SONNET},2500,1900,80,900\n",
    )
    report = evaluate(cli, policy)
    assert report["baseline"]["tokens"]["cache_read"] == 1900
    assert report["baseline"]["tokens"]["uncached_input"] == 2000 + 600
    assert report["baseline"]["latency_per_run_s"]["mean"] == pytest.approx(2.4)


def test_a_bad_csv_row_is_located_by_its_line(cli, tmp_path):
    policy = write_trace(
        tmp_path,
        CSV_MAPPING,
        log__csv="session,seq,agent,model,prompt,cached,completion,ms\n"
        f"s1,1,plan,{SONNET},2000,0,100,1500\n"
        f"s1,2,act,{SONNET},lots,0,80,900\n",
    )
    result = cli("eval", policy)
    assert result.code == 2
    assert (
        "log.csv:3:1" in result.err
        and "row 2: field 'input' (prompt) is not a number" in result.err
    )


def test_a_total_that_disagrees_with_its_parts_is_rejected(cli, tmp_path):
    usage = {"prompt_tokens": 100, "completion_tokens": 5, "total_tokens": 110}
    policy = write_trace(
        tmp_path,
        'files = ["calls.jsonl"]\nconvention = "openai"\n',
        calls__jsonl=lines({"model": SONNET, "usage": usage}),
    )
    result = cli("eval", policy)
    assert (
        result.code == 2
        and "'total' (usage.total_tokens) does not equal input plus output" in result.err
    )


def test_trim_on_a_trace_scales_the_recorded_split(cli, tmp_path):
    usage = {
        "input_tokens": 1000,
        "cache_creation_input_tokens": 1000,
        "cache_read_input_tokens": 2000,
        "output_tokens": 10,
    }
    policy = write_trace(
        tmp_path,
        'files = ["calls.jsonl"]\nconvention = "anthropic"\n',
        "trim input of every step by 50 %",
        calls__jsonl=lines({"model": SONNET, "usage": usage}),
    )
    tokens = evaluate(cli, policy)["result"]["tokens"]
    assert tokens["uncached_input"] == 500
    assert tokens["cache_write_5m"] == 500 and tokens["cache_read"] == 1000


def test_a_trace_in_parquet_replays_like_its_jsonl(cli, tmp_path):
    source = TRACES / "moatless-20240623-steps.calls.jsonl"
    duckdb.sql(
        f"COPY (SELECT * FROM read_json_auto('{source}')) TO '{tmp_path / 'calls.parquet'}' "
        "(FORMAT parquet)"
    )
    mapping = (TRACES / "moatless-20240623-steps.mapping.toml").read_text()
    mapping = mapping.replace("moatless-20240623-steps.calls.jsonl", "calls.parquet")
    policy = write_trace(tmp_path, mapping, "cache history")
    parquet = evaluate(cli, policy)
    jsonl = evaluate(cli, _sample_policy(tmp_path, "moatless-20240623-steps", "cache history"))
    assert parquet["trace"]["calls"] == jsonl["trace"]["calls"] == 536
    assert parquet["result"]["cost"] == jsonl["result"]["cost"]
    assert parquet["baseline"]["cost"] == "9.806169"


def _sample_policy(tmp_path: Path, trace: str, levers: str) -> Path:
    policy = tmp_path / f"{trace}.policy"
    policy.write_text(
        f'trace "{TRACES / (trace + ".mapping.toml")}"\nprices "{PRICES}"\n{levers}\n'
    )
    return policy


# Bad records.


def test_more_cached_than_input_fits_no_convention(cli, tmp_path):
    usage = {
        "prompt_tokens": 100,
        "completion_tokens": 5,
        "prompt_tokens_details": {"cached_tokens": 900},
    }
    policy = write_trace(
        tmp_path,
        'files = ["calls.jsonl"]\nconvention = "openai"\n',
        calls__jsonl=lines(
            {"model": SONNET, "usage": {"prompt_tokens": 10, "completion_tokens": 1}}
        )
        + lines({"model": SONNET, "usage": usage}),
    )
    result = cli("eval", policy)
    assert result.code == 2
    assert "calls.jsonl:2:1" in result.err and "E610" in result.err
    assert "cache_read" in result.err and "fits no convention" in result.err


def test_bad_records_stop_the_replay_unless_skipped(cli, tmp_path):
    good = {"model": SONNET, "usage": {"input_tokens": 10, "output_tokens": 1}}
    policy = write_trace(
        tmp_path,
        'files = ["calls.jsonl"]\nconvention = "anthropic"\n',
        calls__jsonl=lines(good)
        + "{not json\n"
        + lines({"model": SONNET, "usage": {"output_tokens": 3}})
        + lines({"model": SONNET, "usage": {"input_tokens": 2.5, "output_tokens": 3}})
        + "\n"
        + lines(good),
    )
    stopped = cli("eval", policy)
    assert stopped.code == 2
    assert "calls.jsonl:2:1" in stopped.err and "is not valid JSON" in stopped.err
    assert (
        "calls.jsonl:3:1" in stopped.err
        and "'input' (usage.input_tokens) is missing" in stopped.err
    )
    assert "calls.jsonl:4:1" in stopped.err and "is not a whole number, found '2.5'" in stopped.err
    assert "--skip-bad" in stopped.err

    report = evaluate(cli, policy, "--skip-bad")
    assert report["trace"]["records"] == 5 and report["trace"]["calls"] == 2
    skipped = {(s["field"], s["problem"]): s["count"] for s in report["trace"]["skipped"]}
    assert skipped == {
        ("record", "is not valid JSON"): 1,
        ("input", "is missing"): 1,
        ("input", "is not a whole number"): 1,
    }
    table = cli("eval", policy, "--skip-bad")
    assert "read 5 records from 1 file(s), skipped 3" in table.out


def test_an_unknown_model_is_an_error_naming_it(cli, tmp_path):
    policy = write_trace(
        tmp_path,
        'files = ["calls.jsonl"]\nconvention = "anthropic"\n',
        calls__jsonl=lines(
            {"model": "claude-3-5-sonet-20241022", "usage": {"input_tokens": 1, "output_tokens": 1}}
        ),
    )
    result = cli("eval", policy, "--skip-bad")
    assert result.code == 2
    assert "E603" in result.err and "'claude-3-5-sonet-20241022'" in result.err
    assert "did you mean 'claude-3-5-sonnet-20241022'" in result.err


def test_a_mapped_column_missing_from_a_csv_is_located_in_the_mapping(cli, tmp_path):
    policy = write_trace(
        tmp_path,
        'files = ["log.csv"]\nconvention = "openai"\n[fields]\nmodel = "model"\n'
        'input = "prompt"\noutput = "completion"\n',
        log__csv=f"model,prompt\n{SONNET},10\n",
    )
    result = cli("eval", policy)
    assert result.code == 2 and "E602" in result.err and "calls.mapping.toml:6" in result.err


# Levers on traces.


def test_cache_history_reads_what_the_previous_call_wrote(cli, tmp_path):
    calls = [(1, 3000, 100), (2, 3500, 100), (3, 4200, 100)]
    policy = write_trace(
        tmp_path,
        'files = ["calls.jsonl"]\nconvention = "anthropic"\n[fields]\nrun = "run"\norder = "n"\n',
        "cache history",
        calls__jsonl=lines(
            *(
                {
                    "run": "r",
                    "n": n,
                    "model": SONNET,
                    "usage": {"input_tokens": i, "output_tokens": o},
                }
                for n, i, o in calls
            )
        ),
    )
    tokens = evaluate(cli, policy)["result"]["tokens"]
    assert tokens["cache_read"] == 3000 + 3500
    assert tokens["cache_write_5m"] == 3000 + 500 + 700
    assert tokens["uncached_input"] == 0


def test_cache_history_expires_after_its_ttl_where_timestamps_exist(cli, tmp_path):
    spans = [
        _span("t", "2025-01-01T10:00:00Z", _usage(3000)),
        _span("t", "2025-01-01T10:10:00Z", _usage(3500)),
    ]
    mapping = 'files = ["spans.jsonl"]\nconvention = "otel"\n[fields]\nrun = "trace_id"\n'
    short = write_trace(tmp_path, mapping, "cache history", spans__jsonl=lines(*spans))
    assert evaluate(cli, short)["result"]["tokens"]["cache_read"] == 0
    long = write_trace(tmp_path, mapping, "cache history ttl 1 h")
    tokens = evaluate(cli, long)["result"]["tokens"]
    assert tokens["cache_read"] == 3000 and tokens["cache_write_1h"] == 3500


def _usage(tokens: int) -> dict:
    return {
        "gen_ai.request.model": SONNET,
        "gen_ai.usage.input_tokens": tokens,
        "gen_ai.usage.output_tokens": 10,
    }


def test_cache_prefix_with_a_size_on_a_trace(cli, tmp_path):
    policy = write_trace(
        tmp_path,
        'files = ["calls.jsonl"]\nconvention = "anthropic"\n',
        "cache prefix 2000 tokens",
        calls__jsonl=lines(
            *(
                {"model": SONNET, "usage": {"input_tokens": n, "output_tokens": 1}}
                for n in (2500, 2600, 1000)
            )
        ),
    )
    tokens = evaluate(cli, policy)["result"]["tokens"]
    assert tokens == {
        "uncached_input": 500 + 600 + 1000,
        "cache_write_5m": 2000,
        "cache_write_1h": 0,
        "cache_read": 2000,
        "output": 3,
    }


def test_a_prefix_without_its_size_is_an_error_on_a_trace(cli, tmp_path):
    policy = _sample_policy(tmp_path, "moatless-20240623-steps", "cache prefix")
    result = cli("check", policy)
    assert result.code == 2 and "E607" in result.err


def test_quality_is_not_estimated_on_a_trace(cli, tmp_path):
    policy = _sample_policy(tmp_path, "moatless-20240623-steps", "require quality >= 0.9")
    result = cli("check", policy)
    assert result.code == 2 and "E606" in result.err


def test_batch_halves_the_cost_and_leaves_the_interactive_path(cli, tmp_path):
    policy = _sample_policy(
        tmp_path, "moatless-20240623-steps", f"batch step model = {'claude-3-5-sonnet-20240620'}"
    )
    report = evaluate(cli, policy)
    direct = [s for s in report["steps"] if s["model_before"] == "claude-3-5-sonnet-20240620"]
    for step in direct:
        assert Decimal(step["cost_after"]) * 2 == Decimal(step["cost_before"])
        assert step["batched_calls"] == step["calls"]
    assert report["result"]["deferred_latency_per_run_s"] > 0


def test_routing_on_a_trace_selects_steps_by_name_and_reprices_them(cli, tmp_path):
    policy = _sample_policy(
        tmp_path,
        "moatless-20240623-steps",
        "route step name = SearchCode to claude-3-haiku-20240307",
    )
    report = evaluate(cli, policy)
    for step in report["steps"]:
        routed = step["name"] == "SearchCode"
        assert (step["model_after"] == "claude-3-haiku-20240307") == routed
        if routed:
            # Haiku 3 costs a twelfth of Sonnet, input and output alike.
            assert Decimal(step["cost_after"]) * 12 == Decimal(step["cost_before"])


# Correctness against the per-call reference and the billed caching.


@pytest.mark.parametrize("policy", ["moatless.policy", "moatless-cache-check.policy"])
def test_the_sql_replay_equals_the_per_call_reference(policy):
    compiled = compile_file(POLICIES / policy)
    try:
        for count in range(len(compiled.rules) + 1):
            rules = compiled.rules[:count]
            replayed = replay(compiled, rules, f"check_{count}")
            reference = reference_cost(compiled, rules, calls_in_order(compiled))
            assert replayed.cost == reference
    finally:
        compiled.trace.database.close()


#: How close `cache history` must come to the caching Anthropic billed on the sample.
COST_TOLERANCE = Decimal("0.10")


def test_cache_history_predicts_the_billed_caching_within_tolerance(cli):
    report = evaluate(cli, POLICIES / "moatless-cache-check.policy")
    check = report["cache_check"]
    assert Decimal(check["billed"]["cost"]) == Decimal(report["baseline"]["cost"])
    assert check["billed"]["cache_read"] == 4_077_564  # the response_usage sums of the sample
    assert check["billed"]["cache_write_5m"] == 866_401
    error = check["error"]
    assert abs(error["cost"]) <= COST_TOLERANCE
    assert abs(error["cache_read"]) <= 0.10
    assert abs(error["cache_write"]) <= 0.25
    # The figures docs/traces.md explains, pinned so that a change to the replay shows.
    assert error["cost"] == pytest.approx(-0.0698, abs=0.0005)
    assert error["cache_write"] == pytest.approx(-0.1734, abs=0.0005)
    assert error["cache_read"] == pytest.approx(0.0431, abs=0.0005)


def test_moatless_recorded_cost_omits_cache_reads(cli):
    report = evaluate(cli, POLICIES / "moatless-cache-check.policy")
    assert Decimal(report["baseline"]["recorded_cost"]) < Decimal(report["baseline"]["cost"])


@pytest.mark.skipif(not SHARED.is_dir(), reason="the full Moatless files are not beside the repo")
def test_cache_history_on_the_full_caching_run(cli, tmp_path):
    mapping = (TRACES / "moatless-20241117-caching.mapping.toml").read_text()
    full = SHARED / "moatless_20241117_claude-3-5-sonnet-20241022_calls.jsonl"
    mapping = mapping.replace('"moatless-20241117-caching.calls.jsonl"', f'"{full}"')
    policy_text = (POLICIES / "moatless-cache-check.policy").read_text()
    levers = policy_text.strip().splitlines()[-1]
    policy = write_trace(tmp_path, mapping, levers)
    report = evaluate(cli, policy)
    assert report["trace"]["calls"] == 1716
    assert Decimal(report["baseline"]["recorded_cost"]).quantize(Decimal("0.01")) == Decimal(
        "31.32"
    )
    assert Decimal(report["baseline"]["cost"]).quantize(Decimal("0.01")) == Decimal("39.71")
    assert abs(report["cache_check"]["error"]["cost"]) <= COST_TOLERANCE


# Scale.


def test_a_trace_larger_than_the_memory_limit_still_completes(tmp_path):
    rows = 1_500_000
    parquet = tmp_path / "big.parquet"
    duckdb.sql(
        f"COPY (SELECT 'run-' || (i // 12) AS run, i AS seq, 'step-' || (i % 7) AS step, "
        f"'{SONNET}' AS model, 1000 + (i * 7919) % 20000 AS input, 100 + i % 500 AS output "
        f"FROM range({rows}) t(i)) TO '{parquet}' (FORMAT parquet)"
    )
    (tmp_path / "big.mapping.toml").write_text(
        'files = ["big.parquet"]\nconvention = "anthropic"\n[fields]\nrun = "run"\n'
        'order = "seq"\nstep = "step"\nmodel = "model"\ninput = "input"\noutput = "output"\n'
        'cache_write = ""\ncache_write_1h = ""\ncache_read = ""\n'
    )
    policy = tmp_path / "big.policy"
    policy.write_text(f'trace "big.mapping.toml"\nprices "{PRICES}"\ncache history\n')
    compiled = compile_file(policy, trace_options=TraceOptions(memory_limit="200MB"))
    try:
        result = replay(compiled, compiled.rules, "policy")
        assert result.calls == rows and result.runs == rows // 12
        database = compiled.trace.database
        (spilled,) = database.rows("SELECT coalesce(sum(size), 0) FROM duckdb_temporary_files()")[0]
        (held,) = database.rows("SELECT sum(estimated_size) FROM duckdb_tables()")[0]
        assert spilled > 0 or held > 200_000_000
    finally:
        compiled.trace.database.close()


def test_a_step_the_mapping_describes_but_the_trace_lacks_is_a_warning(cli, tmp_path):
    mapping = (TRACES / "moatless-20240623-steps.mapping.toml").read_text()
    mapping = mapping.replace("[steps.SearchCode]", "[steps.SerchCode]")
    mapping = mapping.replace(
        '"moatless-20240623-steps.calls.jsonl"', f'"{TRACES}/moatless-20240623-steps.calls.jsonl"'
    )
    policy = write_trace(tmp_path, mapping)
    result = cli("check", policy)
    assert result.code == 0
    assert "W400" in result.err and "did you mean 'SearchCode'" in result.err


def test_a_policy_names_a_pipeline_or_a_trace_not_both(cli, tmp_path):
    policy = tmp_path / "both.policy"
    policy.write_text(
        f'pipeline "{ROOT}/examples/lab/pipeline.toml"\n'
        f'trace "{TRACES}/moatless-20240623-steps.mapping.toml"\nprices "{PRICES}"\n'
    )
    result = cli("check", policy)
    assert result.code == 2 and "E600" in result.err


def test_cache_history_needs_a_trace_and_a_sized_prefix_works_on_a_pipeline(cli, tmp_path):
    lab = (POLICIES / "lab.policy").read_text().replace("../examples", f"{ROOT}/examples")
    history = tmp_path / "history.policy"
    history.write_text(lab.replace("cache prefix", "cache history"))
    result = cli("check", history)
    assert result.code == 2 and "E104" in result.err and "name a trace" in result.err

    sized = tmp_path / "sized.policy"
    sized.write_text(lab.replace("cache prefix", "cache prefix 1200 tokens"))
    report = evaluate(cli, sized)
    assert Decimal(report["levers"][0]["cost_total_after"]) == Decimal("451.20")


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_replay_shows_its_progress_on_a_terminal_and_clears_it(monkeypatch, tmp_path):
    from agentpolicy.cli import run
    from agentpolicy.traces import progress

    monkeypatch.setattr(progress, "POLL_SECONDS", 0.001)
    out, err = io.StringIO(), _Terminal()
    code = run(["eval", str(POLICIES / "moatless.policy"), "--format", "json"], out=out, err=err)
    assert code == 0
    shown = err.getvalue()
    assert "\rreading the trace:" in shown and "\rreplaying " in shown
    assert shown.endswith("\r")  # the line is blanked once the report is ready
    assert json.loads(out.getvalue())["schema"] == "agentpolicy.trace-eval/1"


def test_no_progress_when_stderr_is_not_a_terminal(cli):
    result = cli("eval", POLICIES / "moatless.policy")
    assert "replaying" not in result.err and "%" not in result.err


def test_a_memory_limit_that_is_not_a_size_is_a_usage_error(cli):
    result = cli("eval", POLICIES / "moatless.policy", "--memory-limit", "lots")
    assert result.code == 2 and "not a size" in result.err


def test_a_file_that_is_not_what_its_layout_says_is_unreadable_not_missing_columns(cli, tmp_path):
    shutil.copy(ROOT / "examples" / "traces" / "prices.toml", tmp_path / "prices.toml")
    (tmp_path / "calls.parquet").write_text("not parquet at all")
    (tmp_path / "m.toml").write_text(
        'name = "x"\nfiles = ["calls.parquet"]\nconvention = "anthropic"\n[fields]\n'
        'run = "run"\norder = "seq"\nstep = "step"\nmodel = "model"\n'
        'input = "input_tokens"\noutput = "output_tokens"\n'
    )
    (tmp_path / "p.policy").write_text('trace "m.toml"\nprices "prices.toml"\n')
    result = cli("eval", tmp_path / "p.policy")
    assert result.code == 2
    assert result.err.startswith("error[E608]: cannot read the trace files:")
    assert "calls.parquet" in result.err and "LINE 1" not in result.err


def test_values_no_call_can_have_are_bad_records_that_skip_bad_can_skip(cli, tmp_path):
    good = {"model": SONNET, "step": "a", "usage": {"input_tokens": 10, "output_tokens": 1}}
    huge = {**good, "usage": {"input_tokens": 2 * 10**16, "output_tokens": 1}}
    nan = {**good, "usage": {"input_tokens": "NaN", "output_tokens": 1}}
    policy = write_trace(
        tmp_path,
        'files = ["calls.jsonl"]\nconvention = "anthropic"\n[fields]\nstep = "step"\n',
        calls__jsonl=lines(good, huge, nan, {**good, "step": "  "}, good),
    )
    stopped = cli("eval", policy)
    assert stopped.code == 2 and "Traceback" not in stopped.err
    assert "calls.jsonl:2:1" in stopped.err and "is too large (10^15 or more)" in stopped.err
    assert "calls.jsonl:3:1" in stopped.err and "is not a finite number" in stopped.err
    assert "calls.jsonl:4:1" in stopped.err and "field 'step' (step) is empty" in stopped.err
    report = evaluate(cli, policy, "--skip-bad")
    assert report["trace"]["calls"] == 2


def test_a_call_that_ends_before_it_starts_is_a_bad_record(cli, tmp_path):
    record = {"model": SONNET, "usage": {"input_tokens": 10, "output_tokens": 1}}
    policy = write_trace(
        tmp_path,
        'files = ["calls.jsonl"]\nconvention = "anthropic"\n[fields]\nstarted = "t0"\n'
        'ended = "t1"\n',
        calls__jsonl=lines(
            {**record, "t0": "2024-05-01T10:00:00Z", "t1": "2024-05-01T10:00:02Z"},
            {**record, "t0": "2024-05-01T10:00:05Z", "t1": "2024-05-01T10:00:03Z"},
        ),
    )
    result = cli("eval", policy)
    assert result.code == 2
    assert "calls.jsonl:2:1" in result.err and "field 'ended' (t1) is before the call" in result.err


def test_skipped_csv_rows_are_located_by_their_line_like_errors(cli, tmp_path):
    policy = write_trace(
        tmp_path,
        CSV_MAPPING,
        log__csv="session,seq,agent,model,prompt,cached,completion,ms\n"
        f"s1,1,plan,{SONNET},2000,0,100,1500\n"
        f"s1,2,act,{SONNET},lots,0,80,900\n",
    )
    report = evaluate(cli, policy, "--skip-bad")
    (skipped,) = report["trace"]["skipped"]
    assert skipped["first"].endswith("log.csv:3")


@pytest.mark.parametrize("limit", ["2MB", "0B", "5TB"])
def test_a_memory_limit_out_of_range_is_a_usage_error(cli, limit):
    result = cli("eval", POLICIES / "moatless.policy", "--memory-limit", limit)
    assert result.code == 2 and "outside 100MB to 1TB" in result.err


def _variant_of_moatless(tmp_path: Path, change: str) -> Path:
    text = (POLICIES / "moatless.policy").read_text().replace('"../examples', f'"{ROOT}/examples')
    variant = tmp_path / "variant.policy"
    variant.write_text(text.replace("at 400 tokens", change))
    return variant


def test_diff_of_two_trace_policies_replays_both_on_the_recorded_calls(cli, tmp_path):
    variant = _variant_of_moatless(tmp_path, "at 100 tokens")
    result = cli("diff", POLICIES / "moatless.policy", variant, "--format", "json")
    assert result.code == 0, result.err
    document = json.loads(result.out)
    base = evaluate(cli, POLICIES / "moatless.policy")
    assert Decimal(document["totals"]["cost_trace"]["a"]) == Decimal(base["result"]["cost"])
    assert Decimal(document["totals"]["cost_trace"]["change"]) < 0
    assert [(s["change"], s["statement"]) for s in document["statements"]] == [
        ("removed", "cap output of step difficulty=hard at 400 tokens"),
        ("added", "cap output of step difficulty=hard at 100 tokens"),
    ]
    moved = {s["step"] for s in document["steps"] if Decimal(s["cost"]["change"]) != 0}
    assert moved == {"PlanToCode", "EditCode"}  # the hard steps the cap applies to


def test_trace_diff_gates_and_refusals(cli, tmp_path):
    cheaper = _variant_of_moatless(tmp_path, "at 100 tokens")
    gate = cli("diff", cheaper, POLICIES / "moatless.policy", "--fail-on-increase")
    assert gate.code == 1 and "✗ FAIL --fail-on-increase" in gate.out
    quality = cli("diff", POLICIES / "moatless.policy", cheaper, "--max-quality-drop", "0.01")
    assert quality.code == 2 and "error[E414]" in quality.err and "no pass rate" in quality.err
    other = cli("diff", POLICIES / "moatless.policy", POLICIES / "moatless-cache-check.policy")
    assert other.code == 2 and "they replay different traces" in other.err


def test_explain_on_a_trace_gives_each_step_its_rules_and_its_cost_formula(cli):
    result = cli("explain", POLICIES / "moatless.policy", "--step", "PlanToCode")
    assert result.code == 0, result.err
    report = evaluate(cli, POLICIES / "moatless.policy")
    costs = {
        (s["name"], s["model_before"]): Decimal(s["cost_after"])
        for s in report["steps"]
        if s["name"] == "PlanToCode"
    }
    shown = re.findall(r"after: +\((.*)\) / 10\^6 = ([0-9.]+) USD", result.out)
    assert len(shown) == len(costs) == 2
    for terms, cost in shown:
        total = sum(
            Decimal(count.replace(",", "")) * Decimal(rate)
            for count, rate in re.findall(r"([\d,]+) tok × ([\d.]+) USD/MTok", terms)
        )
        assert total / 10**6 == Decimal(cost)  # the formula, with its numbers, gives the cost
    assert sorted(Decimal(c) for _, c in shown) == sorted(costs.values())
    assert "cap      line 12 'cap output of step difficulty=hard at 400 tokens'" in result.out
    assert "does not match: difficulty=easy ✗ (difficulty = hard)" in result.out


def test_explain_on_a_trace_names_a_near_step(cli):
    result = cli("explain", POLICIES / "moatless.policy", "--step", "PlanTocode")
    assert result.code == 2 and "did you mean 'PlanToCode'?" in result.err


def test_a_second_cache_on_a_trace_is_shadowed_and_an_empty_prefix_is_an_error(cli, tmp_path):
    header = f'trace "{TRACES}/moatless-20240623-steps.mapping.toml"\nprices "{PRICES}"\n'
    two = tmp_path / "two.policy"
    two.write_text(header + "cache history\ncache prefix 2000 tokens\n")
    result = cli("check", two)
    assert result.code == 0 and "warning[W101]" in result.err
    empty = tmp_path / "empty.policy"
    empty.write_text(header + "cache prefix 0 tokens\n")
    result = cli("check", empty)
    assert result.code == 2 and "error[E202]: a cached prefix is at least 1 token" in result.err


def test_trace_diff_compares_copies_by_contents_and_shows_deferred_latency(cli, tmp_path):
    for name in ("moatless-20240623-steps.mapping.toml", "moatless-20240623-steps.calls.jsonl"):
        shutil.copy(TRACES / name, tmp_path / name)
    copy = tmp_path / "copy.policy"
    copy.write_text(
        f'trace "moatless-20240623-steps.mapping.toml"\nprices "{PRICES}"\nruns 10000\n'
        "cache history\nbatch every step\n"
    )
    result = cli("diff", POLICIES / "moatless.policy", copy, "--format", "json")
    assert result.code == 0, result.err
    totals = json.loads(result.out)["totals"]
    assert totals["latency_per_run_s_mean"]["b"] == 0
    assert totals["deferred_latency_per_run_s"]["b"] > 0
