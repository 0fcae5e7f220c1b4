"""The shipped Moatless sample in, a 10-million-call trace and the replay's speed and memory out.

Usage: python benchmarks/replay.py [--calls 10000000] [--reference-calls N] [--keep DIR]

1. Builds the trace by resampling whole runs of the real sample (named-steps run) with
   replacement, in DuckDB, and writes it as Parquet.
2. Runs ``agentpolicy eval`` on ``policies/moatless.policy`` pointed at it, in a child process,
   and reports wall time, calls per second and the child's peak memory.  ``eval`` replays every
   call once per pass: as recorded, then after each of the policy's levers.
3. Loads the trace in this process, replays the full policy once in SQL, and prices the same
   calls one at a time through the per-call reference calculator (``formulas.call_cost`` in a
   Python loop), timing both, and checks that the totals are equal to the cent.  By default it prices every call; ``--reference-calls``
   limits it to the first whole runs holding N calls and says so.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "examples" / "traces"
MAPPING = SAMPLE / "moatless-20240623-steps.mapping.toml"


def build_trace(folder: Path, calls: int) -> tuple[Path, int, int]:
    """Resample whole runs of the sample until the trace holds about ``calls`` calls."""
    source = SAMPLE / "moatless-20240623-steps.calls.jsonl"
    con = duckdb.connect()
    con.execute(f"CREATE TABLE sample AS SELECT * FROM read_json_auto('{source}')")
    con.execute(
        "CREATE TABLE runs AS SELECT instance_id, row_number() OVER (ORDER BY instance_id) - 1 "
        "AS slot, count(*) AS calls FROM sample GROUP BY instance_id"
    )
    (runs, mean) = con.execute("SELECT count(*), avg(calls) FROM runs").fetchone()
    copies = int(calls / mean) + 1
    parquet = folder / "trace.parquet"
    # Copy k takes the sample's run number hash(k) mod runs: a deterministic draw with replacement.
    con.execute(
        f"COPY (SELECT 'copy-' || k || '-' || s.instance_id AS instance_id, s.call_seq, "
        "s.transition_index, s.transition_name, s.state_model, s.input_tokens, "
        "s.output_tokens, s.completion_cost "
        f"FROM range({copies}) AS c(k) JOIN runs r ON r.slot = hash(k) % {runs} "
        "JOIN sample s ON s.instance_id = r.instance_id) "
        f"TO '{parquet}' (FORMAT parquet, ROW_GROUP_SIZE 1000000)"
    )
    (count, distinct) = con.execute(
        f"SELECT count(*), count(DISTINCT instance_id) FROM read_parquet('{parquet}')"
    ).fetchone()
    return parquet, count, distinct


def write_policy(folder: Path, parquet: Path) -> Path:
    mapping = MAPPING.read_text().replace('"moatless-20240623-steps.calls.jsonl"', f'"{parquet}"')
    (folder / "trace.mapping.toml").write_text(mapping)
    policy = (ROOT / "policies" / "moatless.policy").read_text()
    policy = policy.replace(
        "../examples/traces/moatless-20240623-steps.mapping.toml", "trace.mapping.toml"
    ).replace("../examples/traces/prices.toml", str(SAMPLE / "prices.toml"))
    (folder / "big.policy").write_text(policy)
    return folder / "big.policy"


def run_eval(policy: Path, memory_limit: str) -> tuple[dict, float, int]:
    """``agentpolicy eval`` in a child process: its JSON report, wall seconds and peak RSS."""
    started = time.perf_counter()
    child = subprocess.run(
        [
            sys.executable,
            "-m",
            "agentpolicy",
            "eval",
            str(policy),
            "--format",
            "json",
            "--memory-limit",
            memory_limit,
        ],
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - started
    if child.returncode not in (0, 1):
        sys.exit(f"eval failed ({child.returncode}):\n{child.stderr}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    return json.loads(child.stdout), seconds, peak


def run_reference(
    policy: Path, limit: int | None, memory_limit: str
) -> tuple[Decimal, Decimal, int, float, float]:
    """The per-call reference total and the SQL total over the same calls, and both times."""
    from agentpolicy.compiler import compile_file
    from agentpolicy.traces.policy import TraceOptions
    from agentpolicy.traces.reference import calls_in_order, reference_cost
    from agentpolicy.traces.replay import replay

    compiled = compile_file(policy, trace_options=TraceOptions(memory_limit=memory_limit))
    database = compiled.trace.database
    try:
        if limit is not None:
            database.run("ALTER TABLE calls RENAME TO all_calls")
            database.run(
                "CREATE VIEW calls AS SELECT * FROM all_calls "
                f"WHERE run_id <= (SELECT max(run_id) FROM (SELECT run_id FROM all_calls "
                f"ORDER BY run_id, sequence LIMIT {limit}))"
            )
        started = time.perf_counter()
        sql_total = replay(compiled, compiled.rules, "full").cost
        sql_seconds = time.perf_counter() - started
        (count,) = database.rows("SELECT count(*) FROM calls")[0]
        started = time.perf_counter()
        total = reference_cost(compiled, compiled.rules, calls_in_order(compiled))
        seconds = time.perf_counter() - started
    finally:
        database.close()
    return total, sql_total, count, seconds, sql_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10_000_000)
    parser.add_argument("--reference-calls", type=int, default=None)
    parser.add_argument("--keep", type=Path, default=None, help="build the trace in this folder")
    parser.add_argument("--memory-limit", default="2GB", help="eval's --memory-limit")
    args = parser.parse_args()

    folder = args.keep or Path(tempfile.mkdtemp(prefix="agentpolicy-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    parquet, calls, runs = build_trace(folder, args.calls)
    size = parquet.stat().st_size
    print(
        f"load average before the run: {os.getloadavg()[0]:.2f}; memory limit {args.memory_limit}"
    )
    print(
        f"trace: {calls:,} calls in {runs:,} runs, Parquet {size / 2**20:,.0f} MiB, "
        f"built in {time.perf_counter() - started:.1f} s ({os.cpu_count()} cores)"
    )
    policy = write_policy(folder, parquet)

    report, seconds, peak = run_eval(policy, args.memory_limit)
    passes = len(report["levers"]) + 1
    print(
        f"eval (SQL, DuckDB): {seconds:.1f} s wall for {passes} replays of every call "
        f"plus reading: {calls / seconds:,.0f} calls/s end to end, "
        f"{calls * passes / seconds:,.0f} call-replays/s; peak RSS {peak / 2**30:.2f} GiB"
    )
    print(f"  baseline {report['baseline']['cost']} USD -> policy {report['result']['cost']} USD")

    total, sql_total, count, ref_seconds, sql_seconds = run_reference(
        policy, args.reference_calls, args.memory_limit
    )
    scope = (
        "all calls"
        if args.reference_calls is None
        else f"the first {count:,} calls (whole runs) only"
    )
    print(
        f"one replay of the full policy over the loaded calls, {scope}: "
        f"SQL {sql_seconds:.1f} s ({count / sql_seconds:,.0f} calls/s); "
        f"per-call reference (Python, formulas.call_cost) {ref_seconds:.1f} s "
        f"({count / ref_seconds:,.0f} calls/s)"
    )
    same = total.quantize(Decimal("0.01")) == sql_total.quantize(Decimal("0.01"))
    print(
        f"  reference total {total} USD, SQL total {sql_total} USD: "
        f"{'equal to the cent' if same else 'DIFFERENT'}"
        f"{' (exactly equal)' if total == sql_total else ''}"
    )
    if args.reference_calls is None and sql_total != Decimal(report["result"]["cost"]):
        print("  the in-process SQL total differs from eval's report", file=sys.stderr)
        sys.exit(1)
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
