"""The diagnostics documentation has one entry per code, each with an example and a fix."""

from __future__ import annotations

import re

from conftest import ROOT

from agentpolicy.diagnostics import CODES

DIAGNOSTICS = (ROOT / "docs" / "diagnostics.md").read_text()


def _entries() -> dict[str, str]:
    parts = re.split(r"^## ([EW]\d{3})\n", DIAGNOSTICS, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_every_code_has_an_entry_and_every_entry_a_code():
    assert sorted(_entries()) == sorted(CODES)


def test_each_entry_says_what_it_means_shows_an_example_and_how_to_fix_it():
    for code, entry in _entries().items():
        severity = "error" if code.startswith("E") else "warning"
        assert entry.lstrip().startswith("**"), code  # what it means, in bold, first
        # an example, as printed: by a command, or by the library for a code no command prints
        assert f"{severity}[{code}]: " in entry or f"\n{code}: " in entry, code
        assert "**Fix:**" in entry, code
