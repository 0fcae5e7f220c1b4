"""Checks against the pipeline and price table: every problem is located, with a near name."""

import pytest
from labkit import step, write

from agentpolicy.compiler import compile_file
from agentpolicy.diagnostics import PolicyError


def errors(path):
    with pytest.raises(PolicyError) as caught:
        compile_file(path)
    return caught.value.diagnostics


def only_error(path):
    (diagnostic,) = errors(path)
    return diagnostic


def test_unknown_model_suggests_the_near_name(tmp_path):
    d = only_error(write(tmp_path, "route step difficulty=easy to haikuu", step("a")))
    assert (d.code, d.location.line, d.location.column, d.location.width) == ("E211", 3, 31, 6)
    assert "'haiku'" in d.hint


def test_unknown_step_field_suggests_the_near_name(tmp_path):
    d = only_error(write(tmp_path, "route step dificulty=easy to haiku", step("a")))
    assert (d.code, d.location.column) == ("E210", 12)
    assert "'difficulty'" in d.hint


def test_unknown_difficulty_and_step_name(tmp_path):
    path = write(
        tmp_path, "route step difficulty=eazy to haiku\nbatch step name = notfy", step("notify")
    )
    first, second = errors(path)
    assert (first.code, first.hint) == ("E213", "did you mean 'easy'?")
    assert (second.code, second.location.line) == ("E212", 4)
    assert "'notify'" in second.hint


def test_unit_mismatch_names_both_units(tmp_path):
    d = only_error(write(tmp_path, "require cost per run <= 25 s", step("a")))
    assert d.code == "E201"
    assert "'s'" in d.message and "USD" in d.message
    assert "[time]" in d.message and "[currency]" in d.message


def test_token_selector_needs_token_units(tmp_path):
    d = only_error(write(tmp_path, "route step input > 3 USD to haiku", step("a")))
    assert d.code == "E201" and "'USD'" in d.message and "token" in d.message


def test_unknown_unit(tmp_path):
    d = only_error(write(tmp_path, "require latency <= 25 parsecs", step("a")))
    assert d.code == "E200" and "parsecs" in d.message


def test_trim_needs_a_percentage_within_range(tmp_path):
    assert only_error(write(tmp_path, "trim input of every step by 40", step("a"))).code == "E200"
    assert (
        only_error(write(tmp_path, "trim input of every step by 140 %", step("a"))).code == "E202"
    )


def test_ttl_is_five_minutes_or_one_hour(tmp_path):
    d = only_error(write(tmp_path, "cache prefix ttl 10 min", step("a")))
    assert d.code == "E202" and "ttl 1 h" in d.hint


def test_ordering_a_name_field_is_an_error(tmp_path):
    d = only_error(write(tmp_path, "route step name > a to haiku", step("a")))
    assert d.code == "E214"


def test_header_twice_and_missing_headers(tmp_path):
    assert only_error(write(tmp_path, "runs 2\nruns 3", step("a"))).code == "E220"
    path = tmp_path / "bare.policy"
    path.write_text("cache prefix\n")
    assert sorted(d.code for d in errors(path)) == ["E221", "E221"]


def test_missing_data_file_is_reported_at_its_path(tmp_path):
    path = tmp_path / "p.policy"
    path.write_text('prices "nowhere.toml"\npipeline "pipeline.toml"\n')
    write(tmp_path, "", step("a"))
    d = only_error(path)
    assert (d.code, d.location.line, d.location.column) == ("E300", 1, 8)


def test_price_in_the_wrong_unit_names_file_line_and_both_units(tmp_path):
    path = write(tmp_path, "", step("a"))
    models = tmp_path / "models.toml"
    models.write_text(models.read_text().replace('output = "5 USD/MTok"', 'output = "5 USD/s"'))
    d = only_error(path)
    assert d.code == "E302"
    assert d.location.path.endswith("models.toml")
    assert d.source_line.strip() == 'output = "5 USD/s"'
    assert "'USD/s'" in d.message and "USD / MTok" in d.message


def test_unknown_key_in_a_data_file_suggests_the_near_key(tmp_path):
    path = write(tmp_path, "", step("a", deferable=True))
    d = only_error(path)
    assert (d.code, d.location.path.endswith("pipeline.toml")) == ("E303", True)
    assert "'deferrable'" in d.hint
    assert d.source_line == "deferable = true"


def test_invalid_toml_is_located(tmp_path):
    path = write(tmp_path, "", step("a"))
    (tmp_path / "pipeline.toml").write_text('name = "x"\nprefix = \n')
    d = only_error(path)
    assert (d.code, d.location.line) == ("E301", 2)


def test_pipeline_step_with_unknown_model(tmp_path):
    d = only_error(write(tmp_path, "", step("a", model="sonet")))
    assert (d.code, d.location.path.endswith("pipeline.toml")) == ("E211", True)
    assert "'sonnet'" in d.hint
