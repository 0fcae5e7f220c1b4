"""Small pipelines and policies written to a temporary folder, for lever-by-lever tests."""

from __future__ import annotations

import shutil
from pathlib import Path

from conftest import LAB

from agentpolicy.compiler import CompiledPolicy, compile_file


def step(name: str, difficulty: str = "easy", model: str = "sonnet", **fields) -> str:
    lines = ["[[steps]]", f'name = "{name}"', f'difficulty = "{difficulty}"', f'model = "{model}"']
    fields.setdefault("input", 1000)
    fields.setdefault("output", 100)
    for key, value in fields.items():
        if isinstance(value, bool):
            lines.append(f"{key} = {'true' if value else 'false'}")
        elif isinstance(value, str):
            lines.append(f'{key} = "{value}"')
        else:
            lines.append(f"{key} = {value}")
    return "\n".join(lines) + "\n"


def write(folder: Path, policy: str, *steps: str, prefix: int = 1200) -> Path:
    """A policy over the lab's models and a pipeline of ``steps`` in ``folder``."""
    shutil.copy(LAB / "models.toml", folder / "models.toml")
    pipeline = f'name = "test"\nprefix = "{prefix} tokens"\n\n' + "\n".join(steps)
    (folder / "pipeline.toml").write_text(pipeline)
    header = 'pipeline "pipeline.toml"\nprices "models.toml"\n'
    path = folder / "test.policy"
    path.write_text(header + policy + "\n")
    return path


def compiled(folder: Path, policy: str, *steps: str, prefix: int = 1200) -> CompiledPolicy:
    return compile_file(write(folder, policy, *steps, prefix=prefix))
