"""Shared fixtures: the repository's paths and a CLI runner with a fixed-width, plain console."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import pytest
from agentpolicy.cli import run

ROOT = Path(__file__).resolve().parent.parent
POLICIES = ROOT / "policies"
LAB = ROOT / "examples" / "lab"


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture(autouse=True)
def plain_terminal(monkeypatch):
    """A fixed-width console with no colour, whatever the terminal running the tests."""
    monkeypatch.setenv("COLUMNS", "180")
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("AGENTPOLICY_DEBUG", raising=False)


@pytest.fixture
def cli():
    """Run ``agentpolicy`` in-process and capture its exit code, stdout and stderr."""

    def invoke(*args: str) -> Result:
        out, err = io.StringIO(), io.StringIO()
        code = run([str(a) for a in args], out=out, err=err)
        return Result(code, out.getvalue(), err.getvalue())

    return invoke
