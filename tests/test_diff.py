"""agentpolicy diff: pinned outputs, the sign and zero rules, the gate's exit codes, refusals."""

from __future__ import annotations

import json
import re
import tempfile
import tomllib
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import LAB, POLICIES, ROOT
from generated import policy_text
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentpolicy.comparison import listed_statements
from agentpolicy.compiler import compile_file
from agentpolicy.report.numbers import change

GOLDEN = Path(__file__).parent / "golden"
LAB_POLICY = POLICIES / "lab.policy"
HEADER = f'pipeline "{LAB}/pipeline.toml"\nprices "{LAB}/models.toml"\nruns 10000\n'


def _golden(name: str) -> str:
    return (GOLDEN / name).read_text()


@pytest.fixture
def in_repository(monkeypatch):
    """Run from the repository root, so that pinned outputs show its relative paths."""
    monkeypatch.chdir(ROOT)


# Pinned outputs, on the fixed-width colourless console of conftest.


def test_table_of_a_regression_pinned(cli, in_repository):
    result = cli(
        "diff", "policies/lab.policy", "policies/lab-cache-1h.policy", "--fail-on-increase"
    )
    assert result.code == 1
    assert result.err == ""
    assert result.out == _golden("diff-lab-cache-1h.txt")


def test_markdown_pull_request_comment_pinned(cli, in_repository):
    result = cli(
        "diff",
        "policies/lab.policy",
        "policies/lab-opus.policy",
        "--format",
        "markdown",
        "--max-increase-pct",
        "20",
        "--max-quality-drop",
        "0.01",
    )
    assert (result.code, result.err) == (0, "")
    assert result.out == _golden("diff-lab-opus.md")


def test_table_with_unchanged_steps_pinned(cli, in_repository):
    result = cli("diff", "policies/lab.policy", "policies/lab-opus.policy", "--show-unchanged")
    assert (result.code, result.err) == (0, "")
    assert result.out == _golden("diff-lab-opus-unchanged.txt")


def test_unchanged_steps_are_summarised_in_one_line_by_default(cli):
    result = cli("diff", LAB_POLICY, POLICIES / "lab-opus.policy")
    assert "2 steps unchanged, not shown: search, extract (--show-unchanged lists them)." in (
        result.out
    )
    assert "search ×3" not in result.out


def test_json_document(cli):
    result = cli("diff", LAB_POLICY, POLICIES / "lab-opus.policy", "--format", "json")
    assert (result.code, result.err) == (0, "")
    document = json.loads(result.out)

    assert document["schema"] == "agentpolicy.diff/1"
    assert document["a"] == {"name": "lab", "path": str(LAB_POLICY), "bases": [], "runs": 10000}
    assert document["b"]["bases"] == [str(LAB_POLICY)]
    assert document["totals"]["cost_total"] == {
        "a": "322.00",
        "b": "378.20",
        "change": "56.20",
        "percent": 17.4534,
        "new": False,
    }
    assert document["totals"]["deferred_latency_per_run_s"]["new"] is True
    assert document["totals"]["deferred_latency_per_run_s"]["percent"] is None
    assert document["unchanged_steps"] == ["search", "extract"]
    critique = next(s for s in document["steps"] if s["name"] == "critique")
    assert critique["model"] == {"a": "sonnet", "b": "haiku"}
    assert critique["cost_per_run"] == {
        "a": "0.0045",
        "b": "0.0015",
        "change": "-0.003",
        "percent": -66.6667,
        "new": False,
    }
    assert [
        (s["change"], s["statement"], s["kind"], s["line"], s["moves"])
        for s in document["statements"]
    ] == [
        ("added", "route step difficulty=hard to opus", "route", 10, ["plan", "draft"]),
        ("added", "route step difficulty=medium to haiku", "route", 11, ["critique"]),
        ("added", "trim input of step difficulty=hard by 40 %", "trim", 12, ["plan", "draft"]),
        ("added", "batch if deferrable", "batch", 13, ["notify"]),
    ]
    assert document["gate"] == {"passed": True, "checks": []}


def test_every_policy_in_the_repository_diffs_against_itself_and_the_lab(cli):
    for path in sorted(POLICIES.glob("*.policy")):
        if 'trace "' in path.read_text():
            itself = cli("diff", path, path, "--format", "json")
            assert itself.code == 0, (path, itself.err)
            assert json.loads(itself.out)["schema"] == "agentpolicy.trace-diff/1"
            refused = cli("diff", LAB_POLICY, path)
            assert (refused.code, refused.err[:12]) == (2, "error[E414]:"), path
            continue
        itself = cli("diff", path, path, "--format", "json")
        assert itself.code == 0, (path, itself.err)
        assert json.loads(itself.out)["schema"] == "agentpolicy.diff/1"
        against_lab = cli("diff", LAB_POLICY, path, "--format", "json")
        on_lab = (
            '"../examples/lab/pipeline.toml"' in path.read_text() or "extends" in path.read_text()
        )
        assert against_lab.code == (0 if on_lab else 2), (path, against_lab.err)
        if not on_lab:
            assert against_lab.err.startswith("error[E410]")


# The rules for numbers.


@pytest.mark.parametrize(
    ("before", "after", "kind", "shown"),
    [
        ("0.0322", "0.0358", "money", "+$0.0036 (+11.2 %)"),
        ("322", "218.7", "money", "−$103.30 (−32.1 %)"),
        ("26.68", "19.78", "time", "−6.90 s (−25.9 %)"),
        ("0.7884", "0.7648", "rate", "−0.0236 (−3.0 %)"),
        ("0", "0.005", "money", "+$0.005 (new)"),
        ("0", "1.26", "time", "+1.26 s (new)"),
        ("4.2", "4.2", "time", "±0"),
        ("0", "0", "money", "±0"),
        ("1", "100", "money", "+$99.00 (+9,900.0 %)"),
    ],
)
def test_a_change_has_one_sign_and_zero_baselines_are_new(before, after, kind, shown):
    assert change(Decimal(before), Decimal(after), kind) == shown


@settings(max_examples=300)
@given(
    before=st.decimals(min_value=0, max_value=10**6, places=6),
    after=st.decimals(min_value=0, max_value=10**6, places=6),
    kind=st.sampled_from(["money", "time", "rate"]),
)
def test_a_change_never_shows_two_signs_or_an_infinite_percentage(before, after, kind):
    shown = change(before, after, kind)
    signs = re.findall(r"[+−±-]", shown)
    assert "-" not in signs  # the minus sign is U+2212, never a hyphen
    assert len(set(signs)) <= 1
    assert "inf" not in shown.lower()
    if after == before:
        assert shown == "±0"
    elif before == 0:
        assert shown.endswith("(new)")
    else:
        sign = "+" if after > before else "−"
        assert shown.startswith(sign) and f"({sign}" in shown


def test_a_step_that_cost_nothing_under_a_is_new(cli, tmp_path):
    models = tomllib.loads((LAB / "models.toml").read_text())
    free = dict(models["models"]["haiku"])
    free.update(input="0 USD/MTok", output="0 USD/MTok", cache_write_5m="0 USD/MTok")
    free.update(cache_write_1h="0 USD/MTok", cache_read="0 USD/MTok")
    text = (
        (LAB / "models.toml").read_text()
        + "\n[models.local]\n"
        + "\n".join(f"{key} = {_toml(value)}" for key, value in free.items())
    )
    (tmp_path / "models.toml").write_text(text)
    header = f'pipeline "{LAB}/pipeline.toml"\nprices "models.toml"\n'
    (tmp_path / "a.policy").write_text(header + "route step name=notify to local\n")
    (tmp_path / "b.policy").write_text(header)

    result = cli("diff", tmp_path / "a.policy", tmp_path / "b.policy", "--format", "json")
    assert result.code == 0, result.err
    notify = next(s for s in json.loads(result.out)["steps"] if s["name"] == "notify")
    assert notify["cost_per_run"]["a"] == "0.00"
    assert (notify["cost_per_run"]["percent"], notify["cost_per_run"]["new"]) == (None, True)

    table = cli("diff", tmp_path / "a.policy", tmp_path / "b.policy")
    assert "+$0.0078 (new)" in table.out
    assert "inf" not in table.out.lower()


def _toml(value) -> str:
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {v}" for k, v in value.items()) + " }"
    return json.dumps(value)


# The CI gate and exit codes.


@pytest.mark.parametrize(
    ("options", "code"),
    [
        ([], 0),
        (["--fail-on-increase"], 1),
        (["--max-increase-usd", "36"], 0),  # exactly the limit: not crossed
        (["--max-increase-usd", "35.99"], 1),
        (["--max-increase-usd", "36 USD"], 0),
        (["--max-increase-usd", "3500 cent"], 1),
        (["--max-increase-pct", "11.19"], 0),
        (["--max-increase-pct", "11.18"], 1),  # the rise is 11.1801… %
        (["--max-increase-pct", "11.19 %"], 0),
        (["--max-latency-increase", "0"], 0),
        (["--max-quality-drop", "0"], 0),
        (["--max-increase-usd", "100", "--fail-on-increase"], 1),
    ],
)
def test_thresholds_on_a_cost_rise(cli, options, code):
    result = cli("diff", LAB_POLICY, POLICIES / "lab-cache-1h.policy", *options)
    assert result.code == code, result.out + result.err


@pytest.mark.parametrize(
    ("options", "code"),
    [
        (["--max-quality-drop", "0.01"], 1),
        (["--max-quality-drop", "1 %"], 1),
        (["--max-quality-drop", "2 %"], 0),
        (["--max-latency-increase", "2 s"], 0),
        (["--fail-on-increase"], 0),  # B is the cheaper one here
    ],
)
def test_thresholds_on_a_quality_drop(cli, options, code):
    result = cli("diff", POLICIES / "lab-opus.policy", LAB_POLICY, *options)
    assert result.code == code, result.out + result.err


def test_a_failed_gate_is_reported_in_every_format(cli):
    args = ("diff", LAB_POLICY, POLICIES / "lab-cache-1h.policy", "--max-increase-usd", "10")
    table = cli(*args)
    assert "✗ FAIL --max-increase-usd 10: cost for 10,000 runs +$36.00 (+11.2 %)" in table.out
    markdown = cli(*args, "--format", "markdown")
    assert "- ❌ FAIL `--max-increase-usd 10`: cost for 10,000 runs +$36.00 (+11.2 %)" in (
        markdown.out
    )
    document = json.loads(cli(*args, "--format", "json").out)
    assert document["gate"] == {
        "passed": False,
        "checks": [
            {"check": "max-increase-usd", "limit": "10.00", "actual": "36.00", "passed": False}
        ],
    }
    assert table.code == markdown.code == 1


@pytest.mark.parametrize(
    "limit",
    [
        ("--max-increase-usd", "-5"),
        ("--max-increase-usd", "5 s"),
        ("--max-latency-increase", "5 USD"),
        ("--max-quality-drop", "2"),
        ("--max-increase-pct", "ten"),
    ],
)
def test_a_bad_threshold_is_a_usage_error(cli, limit):
    result = cli("diff", LAB_POLICY, LAB_POLICY, *limit)
    assert result.code == 2
    assert "Invalid value" in result.err


# Refusals and warnings.


def test_policies_on_different_pipelines_are_refused_with_the_difference(cli, tmp_path):
    pipeline = (LAB / "pipeline.toml").read_text().replace("input = 900", "input = 1000")
    (tmp_path / "pipeline.toml").write_text(pipeline)
    (tmp_path / "b.policy").write_text(
        f'pipeline "pipeline.toml"\nprices "{LAB}/models.toml"\nruns 10000\n'
    )
    result = cli("diff", LAB_POLICY, tmp_path / "b.policy")
    assert result.code == 2
    assert result.out == ""
    assert result.err.splitlines()[:2] == [
        "error[E410]: the two policies cannot be compared: they use different pipelines "
        "(steps[0].input: 900 in A, 1000 in B)",
        f"  --> {tmp_path / 'b.policy'}:1:10",
    ]


def test_policies_on_different_price_tables_are_refused(cli, tmp_path):
    prices = (
        (LAB / "models.toml")
        .read_text()
        .replace('output = "25 USD/MTok"', 'output = "20 USD/MTok"')
    )
    (tmp_path / "models.toml").write_text(prices)
    (tmp_path / "b.policy").write_text(
        f'pipeline "{LAB}/pipeline.toml"\nprices "models.toml"\nroute step name=plan to opus\n'
    )
    result = cli("diff", LAB_POLICY, tmp_path / "b.policy")
    assert result.code == 2
    assert result.err.startswith(
        "error[E411]: the two policies cannot be compared: they use different price tables "
        "(opus.output: 25 in A, 20 in B)"
    )


def test_the_same_price_table_under_another_path_compares(cli, tmp_path):
    (tmp_path / "models.toml").write_text((LAB / "models.toml").read_text())
    (tmp_path / "b.policy").write_text(
        f'pipeline "{LAB}/pipeline.toml"\nprices "models.toml"\nruns 10000\n'
    )
    assert cli("diff", LAB_POLICY, tmp_path / "b.policy").code == 0


def test_different_runs_are_compared_with_a_warning(cli, tmp_path):
    (tmp_path / "a.policy").write_text(HEADER + "cache prefix\n")
    (tmp_path / "b.policy").write_text(HEADER.replace("10000", "20000") + "cache prefix\n")
    result = cli("diff", tmp_path / "a.policy", tmp_path / "b.policy")
    assert result.code == 0
    assert result.err.startswith("warning[W201]: A is evaluated for 10,000 runs and B for 20,000")
    assert "runs 10,000 → 20,000" in result.out
    assert "No step changed." in result.out
    assert "- runs 10000" in result.out and "+ runs 20000" in result.out


def test_a_missing_policy_is_bad_input(cli, tmp_path):
    result = cli("diff", LAB_POLICY, tmp_path / "nowhere.policy")
    assert result.code == 2
    assert result.err.startswith("error[E300]")


# The statements.


def test_policies_that_differ_only_in_layout_have_no_differing_statement(cli, tmp_path):
    (tmp_path / "a.policy").write_text(
        HEADER + "route step difficulty = easy to haiku;cache prefix\n"
    )
    (tmp_path / "b.policy").write_text(
        HEADER + "# the same\nroute step difficulty==easy to haiku\ncache  prefix\n"
    )
    result = cli("diff", tmp_path / "a.policy", tmp_path / "b.policy", "--fail-on-increase")
    assert result.code == 0
    assert "No step changed." in result.out
    assert "No statement differs." in result.out


def test_reordered_rules_differ_and_name_the_steps_they_move(cli, tmp_path):
    first = "route step difficulty=easy to haiku\n"
    second = "route step name=search to opus\n"
    (tmp_path / "a.policy").write_text(HEADER + first + second)
    (tmp_path / "b.policy").write_text(HEADER + second + first)
    result = cli("diff", tmp_path / "a.policy", tmp_path / "b.policy", "--format", "json")
    statements = json.loads(result.out)["statements"]
    assert [(s["change"], s["statement"], s["moves"]) for s in statements] == [
        ("added", "route step name=search to opus", ["search"]),
        ("removed", "route step name=search to opus", []),
    ]


def test_a_require_moves_no_step(cli, tmp_path):
    (tmp_path / "a.policy").write_text(HEADER)
    (tmp_path / "b.policy").write_text(HEADER + "require latency <= 30 s\n")
    result = cli("diff", tmp_path / "a.policy", tmp_path / "b.policy")
    assert "+ require latency <= 30 s" in result.out
    assert "a require: moves no step" in result.out


# Symmetry.


def test_b_against_a_is_a_against_b_reversed(cli):
    forward = json.loads(
        cli("diff", LAB_POLICY, POLICIES / "lab-opus.policy", "--format", "json").out
    )
    back = json.loads(cli("diff", POLICIES / "lab-opus.policy", LAB_POLICY, "--format", "json").out)
    for key, figure in forward["totals"].items():
        assert (figure["a"], figure["b"]) == (back["totals"][key]["b"], back["totals"][key]["a"])
    assert [(s["statement"], s["change"]) for s in forward["statements"]] == [
        (s["statement"], "added" if s["change"] == "removed" else "removed")
        for s in back["statements"]
    ]


# Generated policies.

_SETTINGS = settings(
    max_examples=25,
    deadline=None,
    # The cli fixture keeps no state between calls, so sharing it across examples is safe.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@_SETTINGS
@given(text=policy_text(keep_lines=True))
def test_a_generated_policy_against_itself_and_against_the_lab(cli, text):
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "generated.policy"
        path.write_text(text)

        itself = cli("diff", path, path, "--fail-on-increase", "--format", "json")
        assert itself.code == 0, itself.err
        document = json.loads(itself.out)
        assert document["statements"] == []
        assert not any(step["changed"] for step in document["steps"])

        forward = json.loads(cli("diff", LAB_POLICY, path, "--format", "json").out)
        back = json.loads(cli("diff", path, LAB_POLICY, "--format", "json").out)
        for key, figure in forward["totals"].items():
            assert (figure["a"], figure["b"]) == (
                back["totals"][key]["b"],
                back["totals"][key]["a"],
            )
        # A statement of one policy that the other lacks is listed both ways, on its side.
        # (Which of several equal statements pairs with which may differ between the two ways,
        # as with any line diff, so only what is missing is compared.)
        for document, side in ((forward, "added"), (back, "removed")):
            listed = Counter(s["statement"] for s in document["statements"] if s["change"] == side)
            assert listed >= _only_in(path, LAB_POLICY), document["statements"]


def _only_in(path: Path, other: Path) -> Counter:
    """The statement texts of one policy that the other lacks, as diff lists them."""
    texts = [Counter(s.text for s in listed_statements(compile_file(p))) for p in (path, other)]
    return texts[0] - texts[1]
