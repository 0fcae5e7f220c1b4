"""Command-line choices in, :class:`TraceOptions` out: how to read a trace, without reading one.

Kept apart from the reader so that a command on a hand-written pipeline never loads DuckDB.
"""

from __future__ import annotations

from dataclasses import dataclass

#: How much memory DuckDB may use before it spills to its temporary directory.
MEMORY_LIMIT = "2GB"


@dataclass(frozen=True)
class TraceOptions:
    """How to read a trace: skip bad records or stop on them, and the database's limits."""

    skip_bad: bool = False
    memory_limit: str = MEMORY_LIMIT
    temp_root: str | None = None
    progress: object | None = None  # a callable(label, fraction), or None for silence
