"""The cost lab: the reference figures follow from the formulas, in the table and in JSON."""

import json
from decimal import Decimal

from conftest import POLICIES


def test_lab_policy_reproduces_the_reference_table(cli):
    result = cli("eval", POLICIES / "lab.policy", "--format", "json")
    assert result.code == 0, result.err
    report = json.loads(result.out)

    assert Decimal(report["baseline"]["cost_total"]) == Decimal("669.00")
    assert Decimal(report["baseline"]["cost_per_run"]) == Decimal("0.0669")
    after = [Decimal(lever["cost_total_after"]) for lever in report["levers"]]
    assert after == [Decimal("451.20"), Decimal("345.00"), Decimal("322.00")]
    assert [lever["statement"] for lever in report["levers"]] == [
        "cache prefix",
        "route step difficulty=easy to haiku",
        "trim input of step difficulty in (easy, medium) by 40 %",
    ]
    assert Decimal(report["result"]["cost_total"]) == Decimal("322.00")
    assert round(report["baseline"]["latency_per_run_s"], 2) == 26.68
    assert round(report["result"]["latency_per_run_s"], 2) == 19.78
    assert round(report["baseline"]["quality"], 4) == 0.7884
    assert round(report["result"]["quality"], 4) == 0.7648


def test_lab_batch_policy_defers_notify(cli):
    result = cli("eval", POLICIES / "lab-batch.policy", "--format", "json")
    assert result.code == 0, result.err
    report = json.loads(result.out)

    assert Decimal(report["result"]["cost_total"]) == Decimal("315.80")
    assert round(report["result"]["latency_per_run_s"], 2) == 18.52
    notify = next(s for s in report["steps"] if s["name"] == "notify")
    assert notify["deferred"] is True
    assert [s["name"] for s in report["steps"] if s["deferred"]] == ["notify"]


def test_lab_table_shows_the_cumulative_levers(cli):
    result = cli("eval", POLICIES / "lab.policy")
    assert result.code == 0, result.err
    for figure in (
        "$669.00",
        "$451.20",
        "$345.00",
        "$322.00",
        "26.68 s",
        "19.78 s",
        "0.7884",
        "0.7648",
    ):
        assert figure in result.out
