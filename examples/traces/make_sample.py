"""The shared Moatless call records in, the small sample shipped in this folder out.

Usage: python examples/traces/make_sample.py DIR_WITH_THE_FULL_FILES

Keeps the first tasks in sorted order of ``instance_id`` (all of their calls, in file order) and,
for each kept call, only the fields the mappings read plus the ids that place it in its run;
every kept value is copied unchanged.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

RUNS = {
    # file in the shared folder: (file here, tasks kept, fields kept)
    "moatless_20241117_claude-3-5-sonnet-20241022_calls.jsonl": (
        "moatless-20241117-caching.calls.jsonl",
        40,
        [
            "instance_id",
            "call_seq",
            "node_id",
            "parent_id",
            "action_args_class",
            "completion_type",
            "model",
            "usage",
            "response_usage",
        ],
    ),
    "moatless_20240623_claude-3.5-sonnet_calls.jsonl": (
        "moatless-20240623-steps.calls.jsonl",
        60,
        [
            "instance_id",
            "call_seq",
            "transition_index",
            "transition_name",
            "state_model",
            "input_tokens",
            "output_tokens",
            "completion_cost",
        ],
    ),
}


def main(shared: Path) -> None:
    for name, (target, tasks, fields) in RUNS.items():
        records = [json.loads(line) for line in (shared / name).read_text().splitlines()]
        kept_ids = sorted({r["instance_id"] for r in records})[:tasks]
        kept = [r for r in records if r["instance_id"] in set(kept_ids)]
        with open(HERE / target, "w") as out:
            for record in kept:
                out.write(json.dumps({k: record[k] for k in fields}) + "\n")
        print(f"{target}: {len(kept)} calls of {len(kept_ids)} tasks")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
