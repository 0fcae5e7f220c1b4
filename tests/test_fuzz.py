"""Any input ends in a report or a located diagnostic with exit 2 — never an exception."""

import shutil

import pytest
from conftest import LAB, POLICIES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentpolicy.syntax import KEYWORDS

VALID = [p.read_text() for p in sorted(POLICIES.glob("*.policy"))]
PIECES = KEYWORDS + [
    "=",
    "!=",
    "<=",
    "(",
    ")",
    ",",
    ";",
    "\n",
    "#",
    '"',
    "%",
    "USD",
    "tokens",
    "haiku",
    "opus",
    "easy",
    "notify",
    "1e999",
    "0",
    "-1",
    "1_0",
    ".5",
    "\x00",
]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """A folder laid out like the repository, so that mutated lab policies find their data."""
    root = tmp_path_factory.mktemp("fuzz")
    shutil.copytree(LAB, root / "examples" / "lab")
    (root / "policies").mkdir()
    return root / "policies"


def outcome(cli, folder, data: bytes):
    path = folder / "fuzzed.policy"
    path.write_bytes(data)
    return cli("check", path), cli("eval", path, "--format", "json")


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(max_size=300))
def test_arbitrary_bytes_end_in_a_diagnostic_and_exit_2(cli, workspace, data):
    for result in outcome(cli, workspace, data):
        assert result.code == 2
        assert "error[E" in result.err
        assert "Traceback" not in result.err


@st.composite
def mutated_policies(draw):
    text = draw(st.sampled_from(VALID))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["delete", "insert", "replace"]))
        piece = draw(st.one_of(st.sampled_from(PIECES), st.text(max_size=3)))
        if action == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 12)) :]
        elif action == "insert":
            text = text[:at] + piece + text[at:]
        else:
            text = text[:at] + piece + text[at + len(piece) :]
    return text


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=mutated_policies())
def test_mutated_policies_end_in_a_report_or_a_diagnostic(cli, workspace, text):
    for result in outcome(cli, workspace, text.encode("utf-8", errors="surrogatepass")):
        assert result.code in (0, 1, 2), result.err
        assert "Traceback" not in result.err
        if result.code == 2:
            assert "error[E" in result.err
