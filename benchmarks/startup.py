"""How long `agentpolicy eval policies/lab.policy` takes from a cold start, beside its floor.

Runs three commands in fresh processes, interleaved round by round so that machine noise hits
them alike, and prints the median and best wall time of each:

- ``python -c pass``: the interpreter alone;
- a bare import of the dependencies (lark, pint, pydantic, rich, click);
- an import of the parts of them the engine uses (pydantic's BaseModel and rich's Table load
  much more than the bare package import does);
- ``python -m agentpolicy eval policies/lab.policy`` (the report written to /dev/null).

The difference between the last two is what the engine itself adds: building (or loading) the
grammar and the unit registry, reading the data files, evaluating and rendering.

    python benchmarks/startup.py [--rounds 20]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "import lark, pint, pydantic, rich, click": [
        sys.executable,
        "-c",
        "import lark, pint, pydantic, rich, click",
    ],
    "import what the engine uses from them": [
        sys.executable,
        "-c",
        "import tomllib, click, pint; from lark import Lark, Transformer; "
        "from pydantic import BaseModel, BeforeValidator, Field, field_validator; "
        "from rich.console import Console; from rich.table import Table",
    ],
    "agentpolicy eval policies/lab.policy": [
        sys.executable,
        "-m",
        "agentpolicy",
        "eval",
        str(ROOT / "policies" / "lab.policy"),
    ],
}


def wall_time(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    rounds = parser.parse_args().rounds

    for command in COMMANDS.values():  # one warm-up each: disk caches and lark's grammar cache
        wall_time(command)
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(rounds):
        for name, command in COMMANDS.items():
            times[name].append(wall_time(command))

    print(f"{rounds} rounds, interleaved, wall time per fresh process")
    print(f"{'command':<42} {'median':>9} {'best':>9}")
    for name, samples in times.items():
        print(
            f"{name:<42} {statistics.median(samples) * 1000:>7.0f} ms {min(samples) * 1000:>6.0f} ms"
        )
    median = {name: statistics.median(samples) for name, samples in times.items()}
    engine = median["agentpolicy eval policies/lab.policy"]
    bare = median["import lark, pint, pydantic, rich, click"]
    used = median["import what the engine uses from them"]
    print(
        f"\neval takes {engine / bare:.2f}× the bare import of its dependencies "
        f"and {engine / used:.2f}× the import of what it uses from them;\n"
        f"the engine itself (its modules, grammar, unit registry, evaluation and report) "
        f"adds {(engine - used) * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
