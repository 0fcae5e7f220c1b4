"""Command-line arguments in, a report on stdout, diagnostics on stderr and an exit code out.

Exit codes: 0 all is well; 1 a ``require`` failed (the report is still printed); 2 the input is
wrong (syntax, checks, unreadable files, bad usage); 3 an internal fault, which is a bug.
:func:`run` returns the code and is what tests call; :func:`main` is the console script.
"""

from __future__ import annotations

import os
import sys
from typing import IO

import click
from rich.console import Console

from . import __version__
from .diagnostics import Diagnostic, PolicyError

OK, REQUIRE_FAILED, BAD_INPUT, INTERNAL = 0, 1, 2, 3


class _Streams:
    """The two consoles of one invocation: the report, and the diagnostics."""

    def __init__(self, out: IO[str], err: IO[str]) -> None:
        self.out = _console(out)
        self.err = _console(err)
        self.raw_out = out

    def diagnostics(self, diagnostics: list[Diagnostic]) -> None:
        for diagnostic in diagnostics:
            style = "red" if diagnostic.is_error else "yellow"
            self.err.print(diagnostic.render(), style=style, markup=False, highlight=False)


def _console(file: IO[str]) -> Console:
    """A console that wraps at the terminal's width, or at a roomy fixed width when piped."""
    interactive = hasattr(file, "isatty") and file.isatty()
    width = None if interactive else int(os.environ.get("COLUMNS", 0)) or 180
    return Console(file=file, width=width, highlight=False, soft_wrap=False)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="agentpolicy")
def cli() -> None:
    """Evaluate cost, latency and quality policies for LLM agents, offline."""


@cli.command("eval")
@click.argument("policy")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["table", "json", "markdown"]),
    default="table",
    show_default=True,
    help="How to print the report.",
)
@click.pass_obj
def eval_command(streams: _Streams, policy: str, output_format: str) -> int:
    """Evaluate POLICY on its pipeline: dollars, latency and quality, before and after."""
    from .compiler import compile_file
    from .report import build, to_json, to_markdown

    compiled = compile_file(policy)
    streams.diagnostics(compiled.warnings)
    report = build(compiled)
    if output_format == "json":
        streams.raw_out.write(to_json(report) + "\n")
    elif output_format == "markdown":
        streams.raw_out.write(to_markdown(report))
    else:
        streams.out.print(report)
    return OK if report.passed else REQUIRE_FAILED


@cli.command("check")
@click.argument("policy")
@click.pass_obj
def check_command(streams: _Streams, policy: str) -> int:
    """Check POLICY against its pipeline and prices without evaluating it."""
    from .compiler import compile_file

    compiled = compile_file(policy)
    streams.diagnostics(compiled.warnings)
    count = len(compiled.warnings)
    streams.err.print(
        f"{policy}: ok" + (f", {count} warning{'s' if count != 1 else ''}" if count else ""),
        markup=False,
        highlight=False,
    )
    return OK


def run(
    argv: list[str] | None = None, *, out: IO[str] | None = None, err: IO[str] | None = None
) -> int:
    """Run the command line and return its exit code; never raises."""
    out = out or sys.stdout
    err = err or sys.stderr
    streams = _Streams(out, err)
    try:
        code = cli.main(
            args=argv if argv is not None else sys.argv[1:],
            prog_name="agentpolicy",
            standalone_mode=False,
            obj=streams,
        )
    except PolicyError as error:
        streams.diagnostics(error.diagnostics)
        return BAD_INPUT
    except click.exceptions.Exit as done:
        return done.exit_code
    except click.ClickException as error:
        error.show(file=err)
        return BAD_INPUT
    except click.exceptions.Abort:
        err.write("aborted\n")
        return BAD_INPUT
    except BrokenPipeError:
        return OK
    except Exception as fault:  # an internal fault: say so plainly, keep the details available
        if os.environ.get("AGENTPOLICY_DEBUG"):
            raise
        err.write(
            f"internal error: {type(fault).__name__}: {fault}\n"
            "This is a bug in agentpolicy; run again with AGENTPOLICY_DEBUG=1 for the traceback.\n"
        )
        return INTERNAL
    return code if isinstance(code, int) else OK


def main() -> None:
    sys.exit(run())
