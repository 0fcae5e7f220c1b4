"""agentpolicy explain: pinned output, rules that won or did not, formulas that agree with eval."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import LAB, POLICIES, ROOT

from agentpolicy.compiler import compile_file

GOLDEN = Path(__file__).parent / "golden"

FAN_OUT = """name = "fan-out"
prefix = "1200 tokens"

[[steps]]
name = "plan"
difficulty = "hard"
model = "sonnet"
input = 900
output = 200

[[steps]]
name = "fetch"
difficulty = "easy"
model = "sonnet"
calls = 3
parallel_calls = true
input = 300
output = 40

[[steps]]
name = "summarise"
difficulty = "medium"
model = "sonnet"
input = 800
output = 100
after = ["plan"]

[[steps]]
name = "answer"
difficulty = "hard"
model = "sonnet"
input = 500
output = 300
after = ["fetch", "summarise"]
"""


@pytest.fixture
def in_repository(monkeypatch):
    monkeypatch.chdir(ROOT)


@pytest.fixture
def fan_out(tmp_path):
    """A pipeline that fans out, on prices where haiku caches only from 2,048 tokens."""
    (tmp_path / "pipeline.toml").write_text(FAN_OUT)
    models = (LAB / "models.toml").read_text()
    head, haiku = models.split("[models.haiku]")
    haiku = haiku.replace('min_cacheable = "1024 tokens"', 'min_cacheable = "2048 tokens"', 1)
    (tmp_path / "models.toml").write_text(head + "[models.haiku]" + haiku)
    policy = tmp_path / "fan.policy"
    policy.write_text(
        'pipeline "pipeline.toml"\nprices "models.toml"\nruns 100\n'
        "cache prefix\n"
        "route step difficulty=easy to haiku\n"
        "route step name=fetch or name=answer to opus\n"
        "cap output of step difficulty=hard at 250 tokens\n"
    )
    return policy


def _block(text: str, step: str) -> str:
    """The lines of one step's block in explain's output."""
    found = re.search(rf"^{step} · .*?(?=^\S|\Z)", text, re.M | re.S)
    assert found, step
    return found.group(0)


def test_the_lab_explained_pinned(cli, in_repository):
    result = cli("explain", "policies/lab.policy")
    assert (result.code, result.err) == (0, "")
    assert result.out == (GOLDEN / "explain-lab.txt").read_text()


def test_one_step_in_detail_pinned(cli, in_repository):
    result = cli("explain", "policies/lab-opus.policy", "--step", "search")
    assert (result.code, result.err) == (0, "")
    assert result.out == (GOLDEN / "explain-lab-opus-search.txt").read_text()


def test_the_formula_of_a_step_with_its_numbers_and_units(cli):
    plan = _block(cli("explain", POLICIES / "lab.policy").out, "plan")
    assert (
        "cost     (900 tok × 3 USD/MTok + 1200 tok × 3.75 USD/MTok + 200 tok × 15 USD/MTok) / 10^6"
        " = 0.0102 USD" in plan
    )
    assert (
        "latency  0.6 s + (900 tok + 1200 tok) / 8000 tok/s + 200 tok / 60 tok/s = 4.20 s" in plan
    )


def test_levers_are_explained_in_the_order_they_apply(cli, tmp_path):
    policy = tmp_path / "p.policy"
    policy.write_text(
        f'pipeline "{LAB}/pipeline.toml"\nprices "{LAB}/models.toml"\n'
        "batch if deferrable\ncache prefix\ntrim input of every step by 10 %\n"
        "route step name=notify to haiku\n"
    )
    notify = _block(cli("explain", policy).out, "notify")
    kinds = [
        line.split()[0]
        for line in notify.splitlines()[1:]
        if line.startswith("  ") and line[2] != " "
    ]
    assert kinds == ["route", "trim", "cap", "cache", "batch", "cost", "latency", "quality"]


def test_every_figure_agrees_with_eval(cli):
    """Explain shows exact figures, or ``≈`` and ten decimals where a figure has more."""

    def agrees(shown: str, exact: str) -> bool:
        if shown.startswith("≈"):
            return Decimal(exact).quantize(Decimal("1e-10")) == Decimal(shown[1:])
        return Decimal(exact) == Decimal(shown)

    for path in sorted(POLICIES.glob("*.policy")):
        if 'trace "' in path.read_text():
            continue  # a trace policy is explained per step of its trace: see test_traces.py
        text = cli("explain", path).out
        report = json.loads(cli("eval", path, "--format", "json").out)
        for step in report["steps"]:
            block = _block(text, step["name"])
            costs = [
                re.search(r"= (≈?[0-9.]+) USD", line).group(1)
                for line in block.splitlines()
                if " USD" in line and not line.lstrip().startswith("×")
            ]
            assert agrees(costs[-1], step["cost_per_run_after"]), (path, step["name"])
        run = text[text.index("\nrun\n") :]
        shown = re.search(r"= (≈?[0-9.]+) USD a run", run).group(1)
        assert agrees(shown, report["result"]["cost_per_run"]), path
        assert f"= {report['result']['latency_per_run_s']:.2f} s" in run


def test_rules_that_did_not_fire_say_why_with_the_step_values(cli, fan_out):
    text = cli("explain", fan_out).out
    plan = _block(text, "plan")
    assert (
        "line 6 'route step name=fetch or name=answer to opus' does not match: "
        "name=fetch ✗ (name = plan); name=answer ✗ (name = plan)" in plan
    )
    fetch = _block(text, "fetch")
    assert (
        "line 6 'route step name=fetch or name=answer to opus' also matches, "
        "but line 5 comes first and wins" in fetch
    )


def test_a_cache_that_does_not_apply_says_why(cli, fan_out):
    result = cli("explain", fan_out)
    assert result.err.startswith("warning[W102]")
    fetch = _block(result.out, "fetch")
    assert (
        "cache    line 4 'cache prefix' does not apply: the 1200-token prefix is below haiku's "
        "minimum cacheable size of 2048 tokens" in fetch
    )


def test_side_by_side_calls_and_the_longest_path(cli, fan_out):
    text = cli("explain", fan_out).out
    assert "step       side by side, the longest: 0.64 s" in _block(text, "fetch")
    assert "the longest path, plan 4.20 s → summarise 2.38 s → answer 7.49 s = 14.07 s" in text


def test_who_wrote_the_cache_and_who_read_it(cli, fan_out):
    text = cli("explain", fan_out).out
    assert "line 4 'cache prefix': call 1 reads it, written by plan call 1" in _block(
        text, "summarise"
    )
    assert text.endswith(
        "caches, in run order\n"
        "  sonnet   written by plan call 1; read by summarise call 1\n"
        "  opus     written by answer call 1; read by no later call\n"
    )


def test_an_unknown_step_is_a_diagnostic_with_a_near_name(cli):
    result = cli("explain", POLICIES / "lab.policy", "--step", "critic")
    assert result.code == 2
    assert result.out == ""
    assert result.err.startswith("error[E212]: the pipeline has no step 'critic'")
    assert "did you mean 'critique'?" in result.err


@pytest.mark.parametrize("path", sorted(POLICIES.glob("*.policy")), ids=lambda p: p.name)
def test_every_policy_in_the_repository_explains(cli, path):
    result = cli("explain", path)
    assert (result.code, result.err) == (0, "")
    for step in compile_file(path).pipeline.steps:
        assert _block(result.out, step.name)


def test_quality_says_whether_it_is_measured_from_the_table_or_assumed(cli, tmp_path):
    (tmp_path / "evals.toml").write_text(
        '[[evals]]\nstep = "search"\nmodel = "haiku"\ntrim = "by 40 %"\npass_rate = 0.97\n'
    )
    policy = tmp_path / "p.policy"
    policy.write_text(
        f'pipeline "{LAB}/pipeline.toml"\nprices "{LAB}/models.toml"\nevals "evals.toml"\n'
        "route step difficulty=easy to haiku\n"
        "trim input of step difficulty in (easy, medium) by 40 %\n"
    )
    text = cli("explain", policy).out
    assert "quality  0.9700 measured by an eval of search on haiku with trim by 40 %" in text
    assert "quality  0.9200: sonnet's pass rate on hard steps in the price table" in _block(
        text, "plan"
    )
    assert (
        "quality  0.9800 assumed: haiku's pass rate on easy steps in the price table; no eval "
        "measures extract on haiku with trim by 40 %, so this lever is an unverified bet"
    ) in _block(text, "extract")
