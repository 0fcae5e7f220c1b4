"""``agentpolicy fmt FILE...``: policy files in, their canonical form printed, checked or written.

Formatting is checked before anything is shown or written: the formatted text is parsed again
and must hold the same statements and comments in the same order, or the command stops with an
internal fault.  ``-w`` writes a file only when it changes, through a temporary file in the same
directory that is flushed to disk and then renamed over the original, so that a crash or a full
disk leaves either the old policy or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import difflib
import errno
import os
import stat
import sys
import tempfile
from pathlib import Path

import click

from ..cli import BAD_INPUT, OK, REQUIRE_FAILED, Streams
from ..diagnostics import Diagnostic, PolicyError, Source

STDIN = "-"


@click.command("fmt")
@click.argument("files", nargs=-1, required=True)
@click.option("--check", is_flag=True, help="Exit 1 and show a diff when a file is not canonical.")
@click.option("-w", "--write", is_flag=True, help="Rewrite files in place, atomically.")
@click.pass_obj
def command(streams: Streams, files: tuple[str, ...], check: bool, write: bool) -> int:
    """Print FILES in canonical form ('-' reads standard input)."""
    if check and write:
        raise click.UsageError("--check and -w cannot be used together")
    if write and STDIN in files:
        raise click.UsageError("-w cannot rewrite standard input")

    errors: list[Diagnostic] = []
    differ = []
    for name in files:
        try:
            original, formatted = canonical(name)
        except PolicyError as error:
            errors += error.diagnostics
            continue
        if check:
            if original != formatted:
                differ.append(name)
                streams.raw_out.write(_unified_diff(name, original, formatted))
        elif write:
            if original != formatted and _write(name, formatted, errors):
                streams.err.print(f"reformatted {name}", markup=False, highlight=False)
        else:
            streams.raw_out.write(formatted)

    streams.diagnostics(errors)
    for name in differ:
        streams.err.print(f"would reformat {name}", markup=False, highlight=False)
    if errors:
        return BAD_INPUT
    return REQUIRE_FAILED if differ else OK


def canonical(name: str) -> tuple[str, str]:
    """The text of a policy file and its canonical form, checked to mean the same."""
    from ..layout import format_policy, same_meaning
    from ..syntax import parse_bytes, parse_text, read_policy

    path = "<stdin>" if name == STDIN else name
    data = sys.stdin.buffer.read() if name == STDIN else read_policy(name)
    policy = parse_bytes(data, path)
    original = data.decode("utf-8")
    formatted = format_policy(policy)
    if not same_meaning(policy, parse_text(formatted, path)):
        raise AssertionError(f"formatting {path} would change what it says; nothing was written")
    return original, formatted


def _unified_diff(name: str, original: str, formatted: str) -> str:
    lines = difflib.unified_diff(
        original.splitlines(keepends=True),
        formatted.splitlines(keepends=True),
        fromfile=name,
        tofile=f"{name} (formatted)",
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def _write(name: str, text: str, errors: list[Diagnostic]) -> bool:
    """Replace the file at ``name`` with ``text`` atomically; a failure becomes a diagnostic."""
    try:
        write_atomically(Path(name), text)
    except OSError as error:
        reason = error.strerror or str(error)
        message = f"cannot write the formatted policy: {reason}; the file is unchanged"
        errors.append(Source(name, "").diagnostic("E430", message))
        return False
    return True


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path``, flush it to disk, rename it over.

    A symbolic link is followed, so that the file it points to is rewritten and the link stays.
    """
    path = path.resolve()
    if not os.access(path, os.W_OK):  # a read-only file stays so, though its folder is writable
        raise PermissionError(errno.EACCES, "the file is read-only", str(path))
    mode = stat.S_IMODE(path.stat().st_mode)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    _sync_directory(path.parent)


def _sync_directory(directory: Path) -> None:
    """Make the rename itself durable, where the system allows opening a directory."""
    try:
        handle = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)
