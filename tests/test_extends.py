"""extends: a variant is its base's statements then its own; headers replaced; located errors."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from conftest import LAB

from agentpolicy.compiler import compile_file
from agentpolicy.diagnostics import PolicyError

BASE = f"""policy "base"
pipeline "{LAB}/pipeline.toml"
prices "{LAB}/models.toml"
runs 10000

cache prefix
route step difficulty=easy to haiku
require quality >= 0.7
"""


def test_a_variant_adds_its_statements_after_the_base_and_replaces_its_headers(cli, tmp_path):
    (tmp_path / "base.policy").write_text(BASE)
    (tmp_path / "variant.policy").write_text(
        'extends "base.policy"\nruns 500\nroute step difficulty=hard to opus\n'
    )
    result = cli("eval", tmp_path / "variant.policy", "--format", "json")
    assert result.code == 0, result.err
    report = json.loads(result.out)

    assert report["runs"] == 500
    assert report["policy"]["name"] == "variant"  # the base's name is not inherited
    assert [(lever["statement"], lever["file"], lever["line"]) for lever in report["levers"]] == [
        ("cache prefix", str(tmp_path / "base.policy"), 6),
        ("route step difficulty=easy to haiku", str(tmp_path / "base.policy"), 7),
        ("route step difficulty=hard to opus", str(tmp_path / "variant.policy"), 3),
    ]
    assert [(r["statement"], r["file"]) for r in report["requires"]] == [
        ("require quality >= 0.7", str(tmp_path / "base.policy"))
    ]
    plan = next(s for s in report["steps"] if s["name"] == "plan")
    assert plan["model_after"] == "opus"


def test_variant_statements_are_tried_after_the_base_rules(tmp_path):
    (tmp_path / "base.policy").write_text(BASE)
    (tmp_path / "variant.policy").write_text(
        'extends "base.policy"\nroute step difficulty=easy to opus\n'
    )
    compiled = compile_file(tmp_path / "variant.policy")
    [warning] = compiled.warnings
    assert warning.code == "W101"
    assert warning.location.path == str(tmp_path / "variant.policy")
    assert warning.location.line == 2
    assert "taken by line 7 of base.policy" in warning.message


def test_header_paths_are_relative_to_the_file_that_writes_them(tmp_path):
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "base.policy").write_text(
        'pipeline "../lab/pipeline.toml"\nprices "../lab/models.toml"\ncache prefix\n'
    )
    (tmp_path / "lab").symlink_to(LAB)
    (tmp_path / "team").mkdir()
    (tmp_path / "team" / "variant.policy").write_text(
        'extends "../shared/base.policy"\nprices "../lab/models.toml"\n'
    )
    compiled = compile_file(tmp_path / "team" / "variant.policy")
    assert compiled.files["pipeline"] == str(tmp_path / "lab" / "pipeline.toml")
    assert compiled.files["prices"] == str(tmp_path / "lab" / "models.toml")
    assert compiled.bases == [str(tmp_path / "shared" / "base.policy")]


def test_a_base_can_extend_another_base(tmp_path):
    (tmp_path / "base.policy").write_text(BASE)
    (tmp_path / "middle.policy").write_text('extends "base.policy"\nruns 20\nbatch if deferrable\n')
    (tmp_path / "top.policy").write_text(
        'extends "middle.policy"\ntrim input of step name=plan by 10 %\n'
    )
    compiled = compile_file(tmp_path / "top.policy")
    assert compiled.runs == 20
    assert [r.text for r in compiled.rules] == [
        "cache prefix",
        "route step difficulty=easy to haiku",
        "batch if deferrable",
        "trim input of step name=plan by 10 %",
    ]
    assert compiled.bases == [str(tmp_path / "middle.policy"), str(tmp_path / "base.policy")]


def test_a_missing_base_is_located_at_the_extends(cli, tmp_path):
    (tmp_path / "variant.policy").write_text('# a variant\nextends "nowhere.policy"\n')
    result = cli("check", tmp_path / "variant.policy")
    assert result.code == 2
    assert result.err == (
        f"error[E400]: the base policy 'nowhere.policy' does not exist (looked for "
        f"{tmp_path / 'nowhere.policy'})\n"
        f"  --> {tmp_path / 'variant.policy'}:2:9\n"
        "  |\n"
        '2 | extends "nowhere.policy"\n'
        "  |         ^^^^^^^^^^^^^^^^\n"
        "  = help: paths are relative to the policy file that says extends\n"
        f"{tmp_path / 'variant.policy'}: failed, 1 error\n"
    )


def test_a_cycle_is_located_at_the_extends_that_closes_it(cli, tmp_path):
    (tmp_path / "a.policy").write_text('extends "b.policy"\n')
    (tmp_path / "b.policy").write_text('runs 3\nextends "a.policy"\n')
    result = cli("check", tmp_path / "a.policy")
    assert result.code == 2
    a, b = tmp_path / "a.policy", tmp_path / "b.policy"
    assert result.err.splitlines()[:2] == [
        f"error[E401]: the policies extend each other in a cycle: {a} → {b} → {a}",
        f"  --> {b}:2:9",
    ]


def test_a_policy_that_extends_itself(tmp_path):
    (tmp_path / "a.policy").write_text('extends "./a.policy"\n')
    with pytest.raises(PolicyError) as caught:
        compile_file(tmp_path / "a.policy")
    [diagnostic] = caught.value.diagnostics
    assert (diagnostic.code, diagnostic.message) == (
        "E401",
        f"'{tmp_path / 'a.policy'}' extends itself",
    )


def test_errors_in_a_base_name_the_base_file(tmp_path):
    (tmp_path / "base.policy").write_text(BASE.replace("to haiku", "to haiku3"))
    (tmp_path / "variant.policy").write_text(
        'extends "base.policy"\nroute step name=plan to opus\n'
    )
    with pytest.raises(PolicyError) as caught:
        compile_file(tmp_path / "variant.policy")
    [diagnostic] = caught.value.diagnostics
    assert diagnostic.code == "E211"
    assert (diagnostic.location.path, diagnostic.location.line) == (
        str(tmp_path / "base.policy"),
        7,
    )
    assert diagnostic.source_line == "route step difficulty=easy to haiku3"


def test_warnings_from_a_base_statement_name_the_base_file(tmp_path):
    (tmp_path / "base.policy").write_text(BASE + "route step name=plan and name=draft to opus\n")
    (tmp_path / "variant.policy").write_text('extends "base.policy"\n')
    [warning] = compile_file(tmp_path / "variant.policy").warnings
    assert (warning.code, warning.location.path, warning.location.line) == (
        "W100",
        str(tmp_path / "base.policy"),
        9,
    )


def test_extends_given_twice_in_one_file(tmp_path):
    (tmp_path / "base.policy").write_text(BASE)
    (tmp_path / "variant.policy").write_text('extends "base.policy"\nextends "base.policy"\n')
    with pytest.raises(PolicyError) as caught:
        compile_file(tmp_path / "variant.policy")
    [diagnostic] = caught.value.diagnostics
    assert (diagnostic.code, diagnostic.location.line) == ("E220", 2)


def test_a_header_given_twice_in_a_base_is_reported_even_when_the_variant_replaces_it(tmp_path):
    (tmp_path / "base.policy").write_text(BASE + "runs 5\n")
    (tmp_path / "variant.policy").write_text('extends "base.policy"\nruns 7\n')
    with pytest.raises(PolicyError) as caught:
        compile_file(tmp_path / "variant.policy")
    [diagnostic] = caught.value.diagnostics
    assert (diagnostic.code, diagnostic.location.path) == ("E220", str(tmp_path / "base.policy"))


def test_the_variant_evaluates_as_the_merged_policy_written_out(cli, tmp_path):
    (tmp_path / "base.policy").write_text(BASE)
    (tmp_path / "variant.policy").write_text('extends "base.policy"\nbatch if deferrable\n')
    (tmp_path / "flat.policy").write_text(
        BASE.replace('"base"', '"variant"') + "batch if deferrable\n"
    )
    variant = json.loads(cli("eval", tmp_path / "variant.policy", "--format", "json").out)
    flat = json.loads(cli("eval", tmp_path / "flat.policy", "--format", "json").out)
    assert variant["result"] == flat["result"]
    assert Decimal(variant["result"]["cost_total"]) < Decimal(variant["baseline"]["cost_total"])
