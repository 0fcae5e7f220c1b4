"""Problems found in a policy or a data file in, located diagnostics with a human face out.

Every problem the tool reports is a :class:`Diagnostic`: a stable code, a severity, a message, the
file, line and column it points at, and an optional hint such as a near name.  Errors stop the
command with exit code 2; warnings are reported beside the result.  :class:`PolicyError` carries
one or more error diagnostics up to the command line, which renders them on stderr.
"""

from __future__ import annotations

import difflib
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

#: Every diagnostic code with its one-line meaning; docs/diagnostics.md explains each.
CODES = {
    "E100": "the policy is not valid text",
    "E101": "unexpected character",
    "E102": "unexpected word or symbol",
    "E103": "the policy ends in the middle of a statement",
    "E104": "statement not supported by this version",
    "E105": "selectors nested too deeply",
    "E200": "unknown unit",
    "E201": "unit mismatch",
    "E202": "value out of range",
    "E210": "unknown step field",
    "E211": "unknown model",
    "E212": "unknown step",
    "E213": "value not allowed for this step field",
    "E214": "comparison not allowed for this step field",
    "E220": "header statement given twice",
    "E221": "required header statement missing",
    "E300": "file cannot be read",
    "E301": "data file is not valid TOML",
    "E302": "data file has a wrong or missing value",
    "E303": "data file has an unknown key",
    "E400": "the base policy named by extends does not exist",
    "E401": "policies extend each other in a cycle",
    "E410": "the two policies run on different pipelines",
    "E411": "the two policies use different price tables",
    "E414": "two trace policies that cannot be compared",
    "E430": "the formatted policy cannot be written",
    "E500": "model in the price file is neither in the price library nor priced locally",
    "E501": "the price library's day cannot be read",
    "E502": "model has prices but no latency parameters or pass rates",
    "E503": "explicit cache billed for storage has no storage price",
    "E504": "reported usage fits no provider convention",
    "E600": "a policy names both a pipeline and a trace",
    "E601": "no trace file matches, or their layout is unknown",
    "E602": "a mapped field has no column in the trace files",
    "E603": "model in the trace is not in the price table",
    "E604": "the trace bills cache tokens to a model without cache prices",
    "E605": "the trace holds no call",
    "E606": "quality is not estimated on a trace",
    "E607": "a cached prefix on a trace needs its size",
    "E608": "the trace files cannot be read",
    "E610": "a trace record is corrupt or incomplete",
    "W100": "rule matches no step",
    "W101": "rule is shadowed by earlier rules",
    "W102": "prefix is below the model's minimum cacheable size",
    "W103": "a step that is not deferrable is batched",
    "W104": "a step waits for a batched step",
    "W300": "the model caches automatically: the cache lever changes nothing",
    "W301": "batched model has no batch price",
    "W302": "'warm' has no parallel step on a cold prefix to warm",
    "W303": "traffic given but nothing is cached",
    "W304": "a request passes the model's long-context tier",
    "W305": "a model name is read as a library model of another name",
    "W200": "the two policies are compared with different evals",
    "W201": "the two policies are evaluated for different numbers of runs",
    "W400": "the trace mapping describes a step the trace does not have",
}


@dataclass(frozen=True)
class Location:
    """A point in a source file: 1-based line and column, and how many columns to underline."""

    path: str
    line: int = 0
    column: int = 0
    width: int = 1

    def __str__(self) -> str:
        if self.line:
            return f"{self.path}:{self.line}:{self.column}"
        return self.path


@dataclass(frozen=True)
class Diagnostic:
    """One located problem, with the facts a test can assert on and a message a person reads."""

    code: str
    message: str
    location: Location
    severity: str = "error"
    hint: str | None = None
    source_line: str | None = field(default=None, compare=False)

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def render(self) -> str:
        """The diagnostic as text: header, location, the source line with a caret, and hint."""
        lines = [f"{self.severity}[{self.code}]: {self.message}", f"  --> {self.location}"]
        if self.source_line is not None and self.location.line:
            gutter = " " * len(str(self.location.line))
            caret = " " * (self.location.column - 1) + "^" * max(1, self.location.width)
            lines += [
                f"{gutter} |",
                f"{self.location.line} | {self.source_line}",
                f"{gutter} | {caret}",
            ]
        if self.hint:
            lines.append(f"  = help: {self.hint}")
        return "\n".join(lines)

    def as_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "file": self.location.path,
            "line": self.location.line,
            "column": self.location.column,
            "hint": self.hint,
        }


class PolicyError(ValueError):
    """The input is wrong: carries the error diagnostics that explain why."""

    def __init__(self, diagnostics: Iterable[Diagnostic]) -> None:
        self.diagnostics = list(diagnostics)
        super().__init__("\n".join(d.render() for d in self.diagnostics))


class Source:
    """The text of one file, for turning offsets into locations and quoting lines."""

    def __init__(self, path: str | Path, text: str) -> None:
        self.path = str(path)
        self.text = text
        self.lines = text.splitlines()

    def line_text(self, line: int) -> str | None:
        """The line as a diagnostic quotes it: a tab shows as one space and a control character
        as U+FFFD, so that the caret stays under its column and the terminal is left alone."""
        if not 0 < line <= len(self.lines):
            return None
        return "".join(_shown(character) for character in self.lines[line - 1])

    def diagnostic(
        self,
        code: str,
        message: str,
        line: int = 0,
        column: int = 0,
        *,
        width: int = 1,
        severity: str = "error",
        hint: str | None = None,
    ) -> Diagnostic:
        """A diagnostic at ``line:column`` of this file, quoting that line."""
        return Diagnostic(
            code=code,
            message=message,
            location=Location(self.path, line, column, width),
            severity=severity,
            hint=hint,
            source_line=self.line_text(line),
        )


def _shown(character: str) -> str:
    if character == "\t":
        return " "
    return "\ufffd" if unicodedata.category(character) == "Cc" else character


def near_names(word: str, candidates: Iterable[str]) -> list[str]:
    """The candidates close enough to ``word`` to be what the user meant, best first."""
    candidates = list(candidates)
    folded = {c.lower(): c for c in candidates}
    close = difflib.get_close_matches(word.lower(), list(folded), n=3, cutoff=0.6)
    return [folded[c] for c in close]


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    """A "did you mean" hint for an unknown name, or None when nothing is near."""
    near = near_names(word, candidates)
    if not near:
        return None
    return "did you mean " + " or ".join(f"'{n}'" for n in near) + "?"
