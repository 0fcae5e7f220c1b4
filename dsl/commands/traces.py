"""The options every command that may read a trace shares, in; :class:`TraceOptions` out."""

from __future__ import annotations

import functools
import re

import click

from ..cli import Streams


class _Silent:
    def __call__(self, label: str, fraction: float) -> None:
        pass

    def done(self) -> None:
        pass


def with_trace_options(command):
    """Add ``--skip-bad`` and ``--memory-limit`` to a command."""

    @click.option(
        "--skip-bad",
        is_flag=True,
        help="Replay a trace's good records and count the bad ones, instead of stopping on them.",
    )
    @click.option(
        "--memory-limit",
        default="2GB",
        show_default=True,
        callback=_memory,
        help="Memory the trace replay may use before it spills to a temporary directory.",
    )
    @functools.wraps(command)
    def wrapped(*args, **kwargs):
        return command(*args, **kwargs)

    return wrapped


_BYTES = {"B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12}
_BYTES |= {"KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}


def _memory(context, parameter, value: str) -> str:
    """A size such as ``2GB``, ``500MB`` or ``1.5GiB``, from 100 MB (below that DuckDB cannot
    even sort a small trace) to 1 TB."""
    found = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([KMGT]i?B|B)", value.strip())
    if not found:
        raise click.BadParameter(f"'{value}' is not a size such as 2GB or 500MB")
    size = float(found.group(1)) * _BYTES[found.group(2)]
    if not 100e6 <= size <= 1e12:
        raise click.BadParameter(f"'{value}' is outside 100MB to 1TB")
    return value.strip()


def trace_options(streams: Streams, *, skip_bad: bool, memory_limit: str):
    """The progress display (on stderr when it is a terminal) and the trace options."""
    from ..traces.options import TraceOptions
    from ..traces.progress import TerminalProgress

    err = streams.err.file
    progress = TerminalProgress(err) if hasattr(err, "isatty") and err.isatty() else _Silent()
    options = TraceOptions(
        skip_bad=skip_bad,
        memory_limit=memory_limit,
        progress=progress if isinstance(progress, TerminalProgress) else None,
    )
    return progress, options
