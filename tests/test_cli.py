"""The command line: exit codes, stdout for reports, stderr for diagnostics, the JSON contract."""

import json

from conftest import POLICIES
from labkit import step, write


def test_eval_prints_the_report_on_stdout_and_exits_0(cli):
    result = cli("eval", POLICIES / "lab.policy")
    assert result.code == 0
    assert "Levers, cumulative in policy order" in result.out
    assert result.err == ""


def test_a_failed_require_exits_1_and_still_prints_the_report(cli, tmp_path):
    path = write(tmp_path, "require cost per run <= 0.001 USD\nrequire latency <= 60 s", step("a"))
    result = cli("eval", path)
    assert result.code == 1
    assert "✗ FAIL require cost per run <= 0.001 USD" in result.out
    assert "✓ pass require latency <= 60 s" in result.out
    report = json.loads(cli("eval", path, "--format", "json").out)
    assert [r["passed"] for r in report["requires"]] == [False, True]


def test_a_syntax_error_exits_2_with_a_located_diagnostic_on_stderr(cli, tmp_path):
    path = write(tmp_path, "cache prefx", step("a"))
    result = cli("eval", path)
    assert result.code == 2
    assert result.out == ""
    assert f"{path}:3:7" in result.err
    assert "cache prefx" in result.err and "^^^^^" in result.err
    assert "Traceback" not in result.err


def test_unreadable_policy_exits_2(cli, tmp_path):
    result = cli("eval", tmp_path / "missing.policy")
    assert result.code == 2
    assert "E300" in result.err and "missing.policy" in result.err


def test_bad_usage_exits_2(cli):
    assert cli("eval").code == 2
    assert cli("eval", POLICIES / "lab.policy", "--format", "yaml").code == 2
    assert cli("frobnicate").code == 2


def test_help_and_version_exit_0(cli):
    assert cli("--help").code == 0
    assert cli("--version").code == 0


def test_check_reports_warnings_and_exits_0(cli, tmp_path):
    path = write(tmp_path, "route step difficulty = hard to haiku", step("a"))
    result = cli("check", path)
    assert result.code == 0
    assert "warning[W100]" in result.err
    assert "1 warning" in result.err


def test_check_exits_2_on_errors(cli, tmp_path):
    assert cli("check", write(tmp_path, "route step name = a to gpt", step("a"))).code == 2


def test_json_contract(cli):
    report = json.loads(cli("eval", POLICIES / "lab-batch.policy", "--format", "json").out)
    assert report["schema"] == "agentpolicy.eval/1"
    assert report["policy"]["name"] == "lab-batch"
    assert report["runs"] == 10000
    for totals in (report["baseline"], report["result"]):
        assert isinstance(totals["cost_per_run"], str) and isinstance(totals["cost_total"], str)
        assert {"latency_per_run_s", "quality"} <= set(totals)
    lever = report["levers"][3]
    assert (lever["statement"], lever["line"], lever["cost_total_after"]) == (
        "batch if deferrable",
        10,
        "315.80",
    )
    assert {"latency_per_run_s_after", "quality_after"} <= set(lever)
    search = report["steps"][1]
    assert (search["name"], search["model_before"], search["model_after"]) == (
        "search",
        "sonnet",
        "haiku",
    )
    assert search["tokens_after"] == {
        "uncached_input": 540,
        "cache_write_5m": 1200,
        "cache_write_1h": 0,
        "cache_read": 2400,
        "output": 120,
        "cache_storage_token_hours": 0,
    }
    assert search["quality_basis"] == "assumed" and search["quality_measured"] is False
    assert [r["line"] for r in search["rules"]] == [8, 9, 7]
    (rule,) = report["steps"][0]["rules"]
    assert (rule["statement"], rule["line"], rule["kind"]) == ("cache prefix", 7, "cache")
    assert rule["file"].endswith("lab-batch.policy")
    assert all(r["passed"] for r in report["requires"])
    assert report["warnings"] == []


def test_json_warnings_carry_code_and_location(cli, tmp_path):
    path = write(tmp_path, "batch step name = a", step("a"))
    report = json.loads(cli("eval", path, "--format", "json").out)
    (warning,) = report["warnings"]
    assert (warning["code"], warning["line"], warning["column"]) == ("W103", 3, 1)


def test_markdown_format(cli):
    result = cli("eval", POLICIES / "lab.policy", "--format", "markdown")
    assert result.code == 0
    assert (
        "| 3 | 10 | trim input of step difficulty in (easy, medium) by 40 % | $322.00 |"
        in result.out
    )


def test_an_internal_fault_exits_3_without_a_traceback(cli, monkeypatch):
    import agentpolicy.report.model as model

    def broken(policy):
        raise RuntimeError("boom")

    monkeypatch.setattr(model, "build", broken)
    monkeypatch.setattr("agentpolicy.report.build", broken)
    result = cli("eval", POLICIES / "lab.policy")
    assert result.code == 3
    assert "internal error: RuntimeError: boom" in result.err
    assert "Traceback" not in result.err
