"""A regular (non-editable) install finds all its modules, its grammar and its unit definitions."""

import json
import subprocess
import sys
import sysconfig
from decimal import Decimal
from pathlib import Path

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
    source = {p.relative_to(ROOT / "dsl") for p in (ROOT / "dsl").rglob("*.py")}
    installed = {
        p.relative_to(target / "agentpolicy") for p in (target / "agentpolicy").rglob("*.py")
    }
    assert source <= installed, f"not installed: {sorted(map(str, source - installed))}"

    # A bare interpreter environment that sees the installed copy and the dependencies, but not
    # this checkout's editable install (whose finder would hide a module missing from the wheel).
    bare = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True)
    site = Path(sysconfig.get_paths(vars={"base": str(bare), "platbase": str(bare)})["purelib"])
    dependencies = Path(sysconfig.get_paths()["purelib"])
    (site / "paths.pth").write_text(f"{target}\n{dependencies}\n")
    python = bare / "bin" / "python"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    probe = subprocess.run(
        [python, "-c", "import agentpolicy; print(agentpolicy.__file__)"],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        check=True,
    )
    assert probe.stdout.startswith(str(target))
    result = subprocess.run(
        [python, "-m", "agentpolicy", "eval", str(POLICIES / "lab.policy"), "--format", "json"],
        cwd=elsewhere,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert Decimal(json.loads(result.stdout)["result"]["cost_total"]) == Decimal("322.00")
