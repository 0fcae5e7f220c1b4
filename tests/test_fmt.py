"""agentpolicy fmt: canonical layout, comments kept in place, idempotent, meaning unchanged."""

from __future__ import annotations

import json
import re
import shutil
import stat
import tempfile
from pathlib import Path

import pytest
from conftest import LAB, POLICIES
from generated import policy_text
from hypothesis import HealthCheck, given, settings

from agentpolicy.commands import fmt
from agentpolicy.layout import format_policy
from agentpolicy.syntax import parse_text

REPO_POLICIES = sorted(POLICIES.glob("*.policy"))

MESSY = f"""

  # The header block.
policy   "messy"    # named
pipeline "{LAB}/pipeline.toml";prices "{LAB}/models.toml"



route step difficulty == easy to haiku ; cache prefix   ttl 5 min   # two on a line
	trim input of steps difficulty in ( easy ,medium,) by 40%
# between
batch if ( deferrable )and not(name="draft");
require cost per run<=0.04 USD ; require quality >= 75%
# the end


"""

MESSY_FORMATTED = f"""# The header block.
policy "messy"  # named
pipeline "{LAB}/pipeline.toml"
prices "{LAB}/models.toml"

route step difficulty=easy to haiku
cache prefix ttl 5 min  # two on a line
trim input of steps difficulty in (easy, medium,) by 40 %
# between
batch if (deferrable) and not (name="draft")
require cost per run <= 0.04 USD
require quality >= 75 %
# the end
"""


def test_the_canonical_layout_of_a_messy_policy():
    assert format_policy(parse_text(MESSY)) == MESSY_FORMATTED


def test_the_one_liner_formats_to_one_statement_per_line(cli, tmp_path):
    policy = tmp_path / "one.policy"
    policy.write_text("route step difficulty=easy to haiku; cache prefix; batch if deferrable\n")
    result = cli("fmt", policy)
    assert (result.code, result.err) == (0, "")
    assert result.out == "route step difficulty=easy to haiku\ncache prefix\nbatch if deferrable\n"


def test_comments_stay_in_order_and_in_place():
    text = (
        "# first\n"
        "cache prefix # after cache\n"
        "   # indented\n"
        "route step name = plan to opus;batch if deferrable   #after both\n"
        "#last, without a line break"
    )
    assert format_policy(parse_text(text)) == (
        "# first\n"
        "cache prefix  # after cache\n"
        "# indented\n"
        "route step name=plan to opus\n"
        "batch if deferrable  #after both\n"
        "#last, without a line break\n"
    )


def test_a_file_of_comments_only_and_an_empty_file():
    assert format_policy(parse_text("\n\n# only\n\n\n# comments\n\n")) == "# only\n\n# comments\n"
    assert format_policy(parse_text("")) == ""
    assert format_policy(parse_text("\n ;\n\n")) == ""


def test_spacing_rules():
    cases = {
        "route step input>1_000tokens to opus": "route step input > 1_000 tokens to opus",
        "route step model!=haiku  and(calls>=2)to opus": (
            "route step model!=haiku and (calls >= 2) to opus"
        ),
        "require cost=1 USD": "require cost = 1 USD",
        "require latency<25s": "require latency < 25 s",
        'route step name = "plan" to "opus"': 'route step name="plan" to "opus"',
        "trim input of every step to 1200tokens": "trim input of every step to 1200 tokens",
        "cache prefix ttl 1h": "cache prefix ttl 1 h",
        "route step difficulty not in(easy)to opus": "route step difficulty not in (easy) to opus",
    }
    for written, canonical in cases.items():
        assert format_policy(parse_text(written)) == canonical + "\n", written


def test_statement_text_in_reports_is_the_canonical_text():
    policy = parse_text("trim   input of step difficulty in(easy,medium) by 40%")
    assert policy.statements[0].text == "trim input of step difficulty in (easy, medium) by 40 %"


@pytest.mark.parametrize("path", REPO_POLICIES, ids=lambda p: p.name)
def test_every_policy_in_the_repository_is_canonical(cli, path):
    result = cli("fmt", "--check", path)
    assert (result.code, result.out, result.err) == (0, "", "")


def _messed_up(text: str) -> str:
    """The same policy written carelessly: wide and tabbed spacing, '==', statements on one line."""
    lines = []
    for line in text.splitlines():
        code, hash_, comment = line.partition("#")
        code = re.sub(r"(?<![<>!=])=(?!=)", " == ", code).replace(" ", "  \t ")
        if code.strip() and lines and lines[-1].strip() and "#" not in lines[-1]:
            lines[-1] += " ;" + code
        else:
            lines.append("\t" + code if code.strip() else code)
        if hash_:
            lines[-1] += " " + hash_ + comment
    return "\n\n" + "\n".join(lines) + "\n\n\n"


@pytest.fixture
def repository_copy(tmp_path):
    """The policies in a scratch directory, beside a link to the examples they name."""
    (tmp_path / "examples").symlink_to(POLICIES.parent / "examples")
    shutil.copytree(POLICIES, tmp_path / "policies")
    return tmp_path / "policies"


@pytest.mark.parametrize("name", [p.name for p in REPO_POLICIES])
def test_formatting_a_carelessly_written_repository_policy_restores_it(cli, repository_copy, name):
    path = repository_copy / name
    canonical_text = path.read_text()
    before = _eval_json(cli, path)

    path.write_text(_messed_up(canonical_text))
    assert path.read_text() != canonical_text
    messed = _eval_json(cli, path)
    assert messed[0] == before[0]
    assert _without_positions(messed[1]) == _without_positions(before[1])

    assert cli("fmt", "-w", path).code == 0
    assert path.read_text() == canonical_text
    assert _eval_json(cli, path) == before


def test_check_shows_a_unified_diff_and_exits_1(cli, tmp_path):
    policy = tmp_path / "p.policy"
    policy.write_text("cache prefix;route step difficulty = easy to haiku # cheap\n")
    result = cli("fmt", "--check", policy)
    assert result.code == 1
    assert result.out == (
        f"--- {policy}\n"
        f"+++ {policy} (formatted)\n"
        "@@ -1 +1,2 @@\n"
        "-cache prefix;route step difficulty = easy to haiku # cheap\n"
        "+cache prefix\n"
        "+route step difficulty=easy to haiku  # cheap\n"
    )
    assert result.err == f"would reformat {policy}\n"
    assert policy.read_text() == "cache prefix;route step difficulty = easy to haiku # cheap\n"


def test_write_rewrites_in_place_keeping_the_file_mode(cli, tmp_path):
    policy = tmp_path / "p.policy"
    policy.write_text("cache prefix ;  batch if deferrable\n")
    policy.chmod(0o640)
    result = cli("fmt", "-w", policy)
    assert (result.code, result.out, result.err) == (0, "", f"reformatted {policy}\n")
    assert policy.read_text() == "cache prefix\nbatch if deferrable\n"
    assert stat.S_IMODE(policy.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.policy"]


def test_write_through_a_symbolic_link_rewrites_the_file_and_keeps_the_link(cli, tmp_path):
    policy, link = tmp_path / "p.policy", tmp_path / "link.policy"
    policy.write_text("cache prefix ;  batch if deferrable\n")
    link.symlink_to(policy)
    assert cli("fmt", "-w", link).code == 0
    assert link.is_symlink()
    assert policy.read_text() == "cache prefix\nbatch if deferrable\n"


def test_write_leaves_a_canonical_file_untouched(cli, tmp_path):
    policy = tmp_path / "p.policy"
    policy.write_text("cache prefix\n")
    before = policy.stat()
    result = cli("fmt", "-w", policy)
    assert (result.code, result.out, result.err) == (0, "", "")
    after = policy.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


@pytest.mark.parametrize("failing", ["fsync", "replace"])
def test_a_failed_write_leaves_the_old_policy_and_no_temporary_file(
    cli, tmp_path, monkeypatch, failing
):
    policy = tmp_path / "p.policy"
    policy.write_text("cache prefix;batch if deferrable\n")

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(fmt.os, failing, disk_full)
    result = cli("fmt", "-w", policy)
    assert result.code == 2
    assert result.err.startswith("error[E430]: cannot write the formatted policy: No space left")
    assert policy.read_text() == "cache prefix;batch if deferrable\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.policy"]


def test_check_and_write_together_are_a_usage_error(cli, tmp_path):
    policy = tmp_path / "p.policy"
    policy.write_text("cache prefix\n")
    assert cli("fmt", "--check", "-w", policy).code == 2


def test_a_syntax_error_is_a_located_diagnostic_and_other_files_still_format(cli, tmp_path):
    bad, good = tmp_path / "bad.policy", tmp_path / "good.policy"
    bad.write_text("cache prefix\nroute step to\n")
    good.write_text("cache prefix;batch if deferrable\n")
    result = cli("fmt", "-w", bad, good)
    assert result.code == 2
    assert f"--> {bad}:2:14" in result.err
    assert good.read_text() == "cache prefix\nbatch if deferrable\n"


def test_a_missing_file_is_a_diagnostic(cli, tmp_path):
    result = cli("fmt", tmp_path / "nowhere.policy")
    assert result.code == 2
    assert result.err.startswith("error[E300]: cannot read the policy")


def test_standard_input_is_formatted_to_standard_output(cli, monkeypatch):
    import io
    import sys

    stdin = io.TextIOWrapper(io.BytesIO(b"cache prefix;batch if deferrable"))
    monkeypatch.setattr(sys, "stdin", stdin)
    result = cli("fmt", "-")
    assert (result.code, result.out) == (0, "cache prefix\nbatch if deferrable\n")


# Generated policies.

_SETTINGS = settings(
    max_examples=60,
    deadline=None,
    # The cli fixture keeps no state between calls, so sharing it across examples is safe.
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def _eval_json(cli, path: Path) -> tuple[int, dict]:
    result = cli("eval", path, "--format", "json")
    assert result.code in (0, 1), result.err
    return result.code, json.loads(result.out)


def _without_positions(document):
    """The document with every source position taken out, including those inside messages."""
    if isinstance(document, str):
        return re.sub(r"\blines? [\d, ]+(and \d+)?", "line …", document)
    if isinstance(document, dict):
        return {
            k: _without_positions(v) for k, v in document.items() if k not in ("line", "column")
        }
    if isinstance(document, list):
        return [_without_positions(v) for v in document]
    return document


@_SETTINGS
@given(text=policy_text())
def test_generated_policies_format_idempotently_with_their_meaning_and_comments(cli, text):
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "generated.policy"
        path.write_text(text)
        before = _eval_json(cli, path)

        assert cli("fmt", "-w", path).code == 0
        formatted = path.read_text()
        after = _eval_json(cli, path)
        assert before[0] == after[0]
        assert _without_positions(before[1]) == _without_positions(after[1])

        again = cli("fmt", "--check", path)
        assert (again.code, again.out) == (0, "")
        comments = [c.text for c in parse_text(text).comments]
        assert [c.text for c in parse_text(formatted).comments] == comments


@_SETTINGS
@given(text=policy_text(keep_lines=True))
def test_generated_policies_whose_lines_stay_put_give_identical_eval_json(cli, text):
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "generated.policy"
        path.write_text(text)
        before = _eval_json(cli, path)
        assert cli("fmt", "-w", path).code == 0
        assert _eval_json(cli, path) == before


def test_windows_line_breaks_become_line_feeds():
    text = "cache prefix\r\nbatch if deferrable # wait\r\n"
    assert format_policy(parse_text(text)) == "cache prefix\nbatch if deferrable  # wait\n"
