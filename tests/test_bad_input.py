"""Bad or extreme input ends in a located diagnostic and exit 2, and nothing is silently bent."""

import errno
import io
import json
from decimal import Decimal

import pytest
from labkit import step, write

from agentpolicy.compiler import compile_file
from agentpolicy.diagnostics import PolicyError
from agentpolicy.engine import evaluate


def diagnostics(path):
    with pytest.raises(PolicyError) as caught:
        compile_file(path)
    return caught.value.diagnostics


def only(path):
    (diagnostic,) = diagnostics(path)
    return diagnostic


@pytest.mark.parametrize(
    "statement",
    [
        "require cost <= 1e999999999 USD",
        "require latency <= 1e16 s",
        "cache prefix ttl 1e999999999 h",
        "require cost per run <= 0.0000000000001 USD",
    ],
)
def test_numbers_past_the_bounds_are_errors(tmp_path, statement):
    d = only(write(tmp_path, statement, step("a")))
    assert d.code in ("E200", "E202") and d.location.line == 3
    assert "10^16" in d.message or "decimal places" in d.message


def test_runs_past_the_bound_is_an_error(tmp_path):
    d = only(write(tmp_path, "runs 10_000_000_000_000", step("a")))
    assert (d.code, d.location.line) == ("E202", 3)


def test_money_stays_exact_at_the_largest_run_volume(cli, tmp_path):
    path = write(tmp_path, "runs 1_000_000_000_000", step("a", input=1, output=1))
    report = json.loads(cli("eval", path, "--format", "json").out)
    # (1201 tok × 3 USD/MTok + 1 tok × 15 USD/MTok) per run, 10^12 runs, every digit kept.
    assert Decimal(report["result"]["cost_total"]) == Decimal("0.003618") * 10**12


@pytest.mark.parametrize(
    ("fields", "key"),
    [
        ({"calls": 20_000}, "calls"),
        ({"calls": "2"}, "calls"),
        ({"calls": 2.0}, "calls"),
        ({"deferrable": "yes"}, "deferrable"),
        ({"deferrable": 1}, "deferrable"),
        ({"input": 100.5}, "input"),
        ({"input": "1e30 tokens"}, "input"),
    ],
)
def test_pipeline_values_are_not_coerced(tmp_path, fields, key):
    d = only(write(tmp_path, "", step("a", **fields)))
    assert d.code == "E302" and d.location.path.endswith("pipeline.toml")
    assert d.source_line.startswith(key)


def test_a_fractional_prefix_is_an_error(tmp_path):
    path = write(tmp_path, "", step("a"))
    pipeline = tmp_path / "pipeline.toml"
    pipeline.write_text(pipeline.read_text().replace('"1200 tokens"', '"1200.5 tokens"'))
    d = only(path)
    assert d.code == "E302" and "whole number" in d.message and d.location.line == 2


def test_steps_named_twice_or_out_of_order_are_located(tmp_path):
    path = write(tmp_path, "", step("a"), step("b", after=["c"]), step("a"))
    first, second = diagnostics(path)
    assert (first.code, first.source_line) == ("E302", "after = ['c']")
    assert (second.code, second.source_line) == ("E302", 'name = "a"')
    assert second.location.line > first.location.line


def test_a_cap_of_no_tokens_and_a_fraction_in_runs_are_errors(tmp_path):
    assert only(write(tmp_path, "cap output of every step at 0 tokens", step("a"))).code == "E202"
    d = only(write(tmp_path, "trim input of every step by 0.4 run", step("a")))
    assert d.code == "E201" and "'run'" in d.message


def test_a_lever_that_changes_nothing_leaves_quality_as_the_table_has_it(tmp_path):
    path = write(
        tmp_path,
        "trim input of every step by 0 %\ncap output of every step at 5000 tokens",
        step("a", "hard"),
    )
    assert evaluate(compile_file(path)).step("a").quality_basis == "table"


def evals_policy(tmp_path, evals: str, levers: str = "route step name = a to haiku"):
    (tmp_path / "evals.toml").write_text(evals)
    return write(tmp_path, f'evals "evals.toml"\n{levers}', step("a"))


@pytest.mark.parametrize(
    ("entry", "code", "key"),
    [
        ('step = "b"\nmodel = "haiku"', "E212", "step"),
        ('step = "a"\nmodel = "haiku3"', "E211", "model"),
        ('step = "a"\nmodel = "haiku"\ntrim = "garbage"', "E302", "trim"),
        ('step = "a"\nmodel = "haiku"\ntrim = "to 40 USD"', "E302", "trim"),
        ('step = "a"\nmodel = "haiku"\ntrim = "by 40"', "E302", "trim"),
        ('step = "a"\nmodel = "haiku"\ncap = "at 300"', "E302", "cap"),
    ],
)
def test_an_eval_that_cannot_apply_is_an_error_in_the_evals_file(tmp_path, entry, code, key):
    d = only(evals_policy(tmp_path, f"[[evals]]\n{entry}\npass_rate = 0.9\n"))
    assert d.code == code and d.location.path.endswith("evals.toml")
    assert d.source_line.startswith(key)


def test_a_second_eval_of_the_same_thing_is_an_error(tmp_path):
    entry = '[[evals]]\nstep = "a"\nmodel = "haiku"\npass_rate = 0.9\n'
    d = only(evals_policy(tmp_path, entry + "\n" + entry))
    assert d.code == "E302" and d.location.line == 7


def test_evals_match_trims_and_caps_by_value_not_by_spelling(tmp_path):
    path = evals_policy(
        tmp_path,
        '[[evals]]\nstep = "a"\nmodel = "haiku"\ntrim = "by 40%"\ncap = "300 tokens"\n'
        "pass_rate = 0.91\n",
        "route step name = a to haiku\ntrim input of every step by 40 %\n"
        "cap output of every step at 300 tok",
    )
    a = evaluate(compile_file(path)).step("a")
    assert (a.quality, a.quality_basis) == (Decimal("0.91"), "measured")


def test_byte_order_marks_are_read_past(cli, tmp_path):
    path = write(tmp_path, "cache prefix", step("a"))
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    models = tmp_path / "models.toml"
    models.write_bytes(b"\xef\xbb\xbf" + models.read_bytes())
    assert cli("eval", path).code == 0


def test_the_caret_stays_under_its_column_after_a_tab(cli, tmp_path):
    path = write(tmp_path, "\troute step difficulty=easy to haikuu", step("a"))
    result = cli("check", path)
    quoted, caret = [line for line in result.err.splitlines() if line.startswith(("3 |", "  |"))][
        -2:
    ]
    assert quoted.index("haikuu") == caret.index("^")


class _FullDisk(io.StringIO):
    def write(self, text):
        raise OSError(errno.ENOSPC, "No space left on device")


def test_an_unwritable_output_exits_2(tmp_path):
    from agentpolicy.cli import run

    err = io.StringIO()
    code = run(["eval", str(write(tmp_path, "", step("a")))], out=_FullDisk(), err=err)
    assert code == 2
    assert "cannot write the output: No space left on device" in err.getvalue()
