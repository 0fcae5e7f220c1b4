"""A regular (non-editable) install finds its grammar and unit definitions from any folder."""

import json
import os
import subprocess
import sys
from decimal import Decimal

from conftest import POLICIES, ROOT


def test_installed_package_runs_outside_the_checkout(tmp_path):
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(target),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(target)}
    probe = subprocess.run(
        [sys.executable, "-c", "import agentpolicy; print(agentpolicy.__file__)"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert probe.stdout.startswith(str(target))

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "agentpolicy",
            "eval",
            str(POLICIES / "lab.policy"),
            "--format",
            "json",
        ],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert Decimal(json.loads(result.stdout)["result"]["cost_total"]) == Decimal("322.00")
