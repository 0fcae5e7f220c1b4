"""Command-line arguments in, a report on stdout, diagnostics on stderr and an exit code out.

Exit codes: 0 all is well; 1 a ``require`` failed (the report is still printed); 2 the input is
wrong (syntax, checks, unreadable files, bad usage); 3 an internal fault, which is a bug.
:func:`run` returns the code and is what tests call; :func:`main` is the console script.
"""

from __future__ import annotations

import decimal
import importlib
import os
import sys
from typing import IO

import click
from rich.console import Console

from . import __version__
from .diagnostics import Diagnostic, PolicyError
from .units import PRECISION

OK, REQUIRE_FAILED, BAD_INPUT, INTERNAL = 0, 1, 2, 3


class Streams:
    """The two consoles of one invocation: the report, and the diagnostics."""

    def __init__(self, out: IO[str], err: IO[str]) -> None:
        self.out = _console(out)
        self.err = _console(err)
        self.raw_out = out

    def diagnostics(self, diagnostics: list[Diagnostic]) -> None:
        for diagnostic in diagnostics:
            style = "red" if diagnostic.is_error else "yellow"
            # Never wrapped: a wrapped source line would put the caret under the wrong column.
            self.err.print(
                diagnostic.render(), style=style, markup=False, highlight=False, soft_wrap=True
            )


def _console(file: IO[str]) -> Console:
    """A console that wraps at the terminal's width, or at a roomy fixed width when piped."""
    interactive = hasattr(file, "isatty") and file.isatty()
    width = None if interactive else int(os.environ.get("COLUMNS", 0)) or 120
    return Console(file=file, width=width, highlight=False, soft_wrap=False)


#: Each subcommand and the module under ``commands/`` that defines it, imported only when run.
COMMANDS = {
    "eval": "evaluate",
    "check": "check",
    "diff": "diff",
    "explain": "explain",
    "fmt": "fmt",
    "models": "models",
}


class _Commands(click.Group):
    """A group that imports a subcommand's module when the subcommand is asked for, so that
    ``eval`` does not pay for ``fmt`` or ``models`` at start-up."""

    def list_commands(self, context: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, context: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module = importlib.import_module(f"{__package__}.commands.{COMMANDS[name]}")
        return module.command


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="agentpolicy")
def cli() -> None:
    """Evaluate cost, latency and quality policies for LLM agents, offline."""


def run(
    argv: list[str] | None = None, *, out: IO[str] | None = None, err: IO[str] | None = None
) -> int:
    """Run the command line and return its exit code; never raises."""
    out = out or sys.stdout
    err = err or sys.stderr
    streams = Streams(out, err)
    try:
        with decimal.localcontext() as context:
            context.prec = PRECISION  # money stays exact within the bounds units.py sets
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
    except RecursionError:
        err.write("error[E105]: the policy nests its selectors too deeply to evaluate\n")
        return BAD_INPUT
    except OSError as error:  # reading problems are diagnostics already: this is the output
        _say(err, f"error: cannot write the output: {error.strerror or error}\n")
        return BAD_INPUT
    except Exception as fault:  # an internal fault: say so plainly, keep the details available
        if os.environ.get("AGENTPOLICY_DEBUG"):
            raise
        err.write(
            f"internal error: {type(fault).__name__}: {fault}\n"
            "This is a bug in agentpolicy; run again with AGENTPOLICY_DEBUG=1 for the traceback.\n"
        )
        return INTERNAL
    return code if isinstance(code, int) else OK


def _say(stream: IO[str], text: str) -> None:
    """Write a last word to a stream that may itself be what failed."""
    try:
        stream.write(text)
        stream.flush()
    except OSError:
        pass


def main() -> None:
    code = run()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except OSError:  # a full disk or a closed pipe: the exit code already tells
            code = code or BAD_INPUT
    # Whatever could not be written stays unwritten, rather than fail again at exit.
    sys.stdout = sys.stderr = open(os.devnull, "w")  # noqa: SIM115
    sys.exit(code)
