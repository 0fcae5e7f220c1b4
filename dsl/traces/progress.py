"""A long SQL statement in, its result out, with DuckDB's progress estimate reported meanwhile.

The statement runs on a worker thread; the calling thread asks DuckDB twice a second how far it
has got (``query_progress``) and hands the figure to a callback, which the command line prints
on stderr when stderr is a terminal.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import IO

POLL_SECONDS = 0.5


def watch(
    connection, sql: str, parameters: list, label: str, report: Callable[[str, float | None], None]
):
    """Execute ``sql`` and return its cursor, reporting progress under ``label``."""
    outcome: dict[str, object] = {}

    def work() -> None:
        try:
            outcome["cursor"] = connection.execute(sql, parameters)
        except BaseException as error:  # handed back to the calling thread below
            outcome["error"] = error

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    while worker.is_alive():
        worker.join(POLL_SECONDS)
        if worker.is_alive():
            fraction = connection.query_progress()
            known = fraction is not None and fraction >= 0
            report(label, fraction / 100 if known else None)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["cursor"]


class TerminalProgress:
    """Writes ``label  42 %`` on one rewritten stderr line, and clears it when the work is done."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream or sys.stderr
        self.started = time.monotonic()
        self.shown = False
        self.width = 0

    def __call__(self, label: str, fraction: float | None) -> None:
        elapsed = time.monotonic() - self.started
        done = f"{min(fraction, 1.0):6.1%}" if fraction is not None else "…"
        label = label or "replaying"
        if len(label) > 56:
            label = label[:55] + "…"
        text = f"\r{label}: {done}  ({elapsed:.0f} s)"
        self.width = max(self.width, len(text))
        self.stream.write(text.ljust(self.width))
        self.stream.flush()
        self.shown = True

    def done(self) -> None:
        if self.shown:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()
