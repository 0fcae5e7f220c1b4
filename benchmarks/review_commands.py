"""The lab's policies in, the time fmt, diff and explain take on them out (printed, in ms).

Run from the repository root: ``.venv/bin/python benchmarks/review_commands.py``.  Each figure is
the median of repeated in-process runs of the command, output discarded, after one warm-up run
(which builds the parser and reads lark's cache).
"""

from __future__ import annotations

import io
import statistics
import time
from pathlib import Path

from agentpolicy.cli import run

POLICIES = Path(__file__).resolve().parent.parent / "policies"
REPEATS = 50

CASES = {
    "fmt --check, every policy": ["fmt", "--check", *sorted(map(str, POLICIES.glob("*.policy")))],
    "check lab-opus (extends)": ["check", str(POLICIES / "lab-opus.policy")],
    "diff lab lab-opus, table": [
        "diff",
        str(POLICIES / "lab.policy"),
        str(POLICIES / "lab-opus.policy"),
    ],
    "diff lab lab-opus, json": [
        "diff",
        str(POLICIES / "lab.policy"),
        str(POLICIES / "lab-opus.policy"),
        "--format",
        "json",
    ],
    "explain lab, every step": ["explain", str(POLICIES / "lab.policy")],
}


def median_ms(argv: list[str]) -> float:
    run(argv, out=io.StringIO(), err=io.StringIO())
    timings = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        run(argv, out=io.StringIO(), err=io.StringIO())
        timings.append((time.perf_counter() - start) * 1000)
    return statistics.median(timings)


def main() -> None:
    for name, argv in CASES.items():
        print(f"{name:<30} {median_ms(argv):8.2f} ms")


if __name__ == "__main__":
    main()
