"""A trace mapping file (TOML) in, a validated :class:`Mapping` out: where each call field lives.

A mapping names the log files (paths relative to the mapping, globs allowed), their layout, the
usage convention their token counts follow, and for each canonical field the path that holds it
in a record. A field is written as a path (``usage.input_tokens``; a key with dots in it is
quoted, as in ``attributes."gen_ai.usage.input_tokens"``), as a list of paths of which the first
present one is used (real exports mix attribute names), or as a template that joins several
paths (``"{action}.{stage}"``), or as ``""`` for a field the log does not have. Calls of one run
that share a ``conversation`` value extend one growing prompt (by default, the whole run is one
conversation); ``cache history`` follows them. Conventions are data: each names its default
paths and whether cached tokens sit inside the input count or beside it.
"""

from __future__ import annotations

import glob
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from ..diagnostics import PolicyError, Source
from ..inputs import _Strict, load

FieldSpec = str | list[str]

#: The canonical fields of one call.  Token counts are whole numbers of tokens.
TOKEN_FIELDS = ("input", "cache_write", "cache_write_1h", "cache_read", "output", "reasoning")
FIELDS = (
    "run",
    "conversation",
    "order",
    "step",
    "model",
    *TOKEN_FIELDS,
    "total",
    "latency",
    "started",
    "ended",
    "recorded_cost",
)


@dataclass(frozen=True)
class Convention:
    """How a usage record counts tokens: cached tokens inside or beside ``input``."""

    name: str
    cached_inside_input: bool
    defaults: dict[str, FieldSpec]


def _otel(name: str) -> str:
    return f'attributes."{name}"'


#: The usage conventions a mapping may name, with the paths each reads by default.
CONVENTIONS = {
    # Anthropic: input_tokens is the uncached part; cache writes and reads are counted beside it.
    "anthropic": Convention(
        "anthropic",
        cached_inside_input=False,
        defaults={
            "model": "model",
            "input": "usage.input_tokens",
            "cache_write": "usage.cache_creation_input_tokens",
            "cache_write_1h": "usage.cache_creation.ephemeral_1h_input_tokens",
            "cache_read": "usage.cache_read_input_tokens",
            "output": "usage.output_tokens",
        },
    ),
    # OpenAI: prompt_tokens includes the cached tokens, completion_tokens the reasoning tokens.
    "openai": Convention(
        "openai",
        cached_inside_input=True,
        defaults={
            "model": "model",
            "input": ["usage.prompt_tokens", "usage.input_tokens"],
            "cache_read": [
                "usage.prompt_tokens_details.cached_tokens",
                "usage.input_tokens_details.cached_tokens",
            ],
            "output": ["usage.completion_tokens", "usage.output_tokens"],
            "reasoning": [
                "usage.completion_tokens_details.reasoning_tokens",
                "usage.output_tokens_details.reasoning_tokens",
            ],
            "total": "usage.total_tokens",
        },
    ),
    # OpenTelemetry GenAI spans: input_tokens includes cache reads and writes.  Exports mix the
    # current attribute names with the deprecated ones, so both are read, current first.
    "otel": Convention(
        "otel",
        cached_inside_input=True,
        defaults={
            "run": ['attributes."gen_ai.conversation.id"', "traceId", "trace_id"],
            "order": ["startTimeUnixNano", "start_time"],
            "started": ["startTimeUnixNano", "start_time"],
            "ended": ["endTimeUnixNano", "end_time"],
            "step": [_otel("gen_ai.agent.name"), _otel("gen_ai.operation.name"), "name"],
            "model": [_otel("gen_ai.response.model"), _otel("gen_ai.request.model")],
            "input": [_otel("gen_ai.usage.input_tokens"), _otel("gen_ai.usage.prompt_tokens")],
            "output": [
                _otel("gen_ai.usage.output_tokens"),
                _otel("gen_ai.usage.completion_tokens"),
            ],
            "cache_read": [
                _otel("gen_ai.usage.cache_read.input_tokens"),
                _otel("gen_ai.usage.cache_read_input_tokens"),
            ],
            "cache_write": [
                _otel("gen_ai.usage.cache_creation.input_tokens"),
                _otel("gen_ai.usage.cache_creation_input_tokens"),
            ],
        },
    ),
}

LAYOUTS = ("jsonl", "csv", "parquet", "otlp")
_EXTENSIONS = {".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}
_EXTENSIONS |= {".parquet": "parquet", ".pq": "parquet"}


class StepInfo(_Strict):
    """What a trace does not record about a step: its difficulty and whether it can wait."""

    difficulty: Literal["easy", "medium", "hard"] | None = None
    deferrable: bool = False


class Rename(_Strict):
    """A regular-expression rewrite of step names, applied in the order written."""

    pattern: str
    replace: str

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, pattern: str) -> str:
        try:
            re.compile(pattern)
        except re.error as error:
            raise ValueError(f"not a regular expression: {error}") from None
        return pattern


class Fields(_Strict):
    """The path of each canonical field in a record; unset fields take the convention's."""

    run: FieldSpec | None = None
    conversation: FieldSpec | None = None
    order: FieldSpec | None = None
    step: FieldSpec | None = None
    model: FieldSpec | None = None
    input: FieldSpec | None = None
    cache_write: FieldSpec | None = None
    cache_write_1h: FieldSpec | None = None
    cache_read: FieldSpec | None = None
    output: FieldSpec | None = None
    reasoning: FieldSpec | None = None
    total: FieldSpec | None = None
    latency: FieldSpec | None = None
    started: FieldSpec | None = None
    ended: FieldSpec | None = None
    recorded_cost: FieldSpec | None = None


class Mapping(_Strict):
    """A trace: its files, layout, usage convention and field paths, and what it lacks."""

    name: str = "trace"
    source: str | None = None
    files: list[str] = Field(min_length=1)
    layout: Literal["jsonl", "csv", "parquet", "otlp"] | None = None
    convention: Literal["anthropic", "openai", "otel"]
    fields: Fields = Fields()
    latency_unit: Literal["s", "ms"] = "s"
    time_unit: Literal["auto", "s", "ms", "us", "ns"] = "auto"
    step_rename: list[Rename] = Field(default_factory=list)
    default_difficulty: Literal["easy", "medium", "hard"] = "medium"
    steps: dict[str, StepInfo] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _has_step_and_tokens(self) -> Mapping:
        for name in ("model", "input", "output"):
            if self.path(name) is None:
                raise ValueError(f"the mapping says nowhere which field holds '{name}'")
        return self

    @property
    def rules(self) -> Convention:
        return CONVENTIONS[self.convention]

    def path(self, name: str) -> FieldSpec | None:
        """The path(s) of a canonical field: the mapping's own, else the convention's.

        A field set to the empty string is one the log does not have.
        """
        own = getattr(self.fields, name)
        if own == "" or own == []:
            return None
        return own if own is not None else self.rules.defaults.get(name)

    def difficulty(self, step: str) -> str:
        info = self.steps.get(step)
        return info.difficulty if info and info.difficulty else self.default_difficulty

    def deferrable(self, step: str) -> bool:
        info = self.steps.get(step)
        return bool(info and info.deferrable)


@dataclass(frozen=True)
class LoadedMapping:
    """A mapping with its own path and the data files its globs resolved to."""

    mapping: Mapping
    path: Path
    files: list[Path]
    layout: str


def load_mapping(path: Path) -> LoadedMapping:
    """Read a mapping file and resolve its data files; a missing file is a located error."""
    mapping = load(path, Mapping, what="trace mapping")
    text = path.read_text("utf-8")
    source = Source(path, text)
    files: list[Path] = []
    for pattern in mapping.files:
        found = sorted(glob.glob(str(path.parent / pattern)))
        if not found:
            line, column = _line_of(text, pattern)
            raise PolicyError(
                [
                    source.diagnostic(
                        "E601",
                        f"no trace file matches '{pattern}' (looked in {path.parent})",
                        line,
                        column,
                        width=len(pattern),
                        hint="paths in a mapping are relative to the mapping file",
                    )
                ]
            )
        files += [Path(f) for f in found]
    layout = mapping.layout or _layout_of(files, source, text)
    return LoadedMapping(mapping, path, files, layout)


def _layout_of(files: list[Path], source: Source, text: str) -> str:
    layouts = {_EXTENSIONS.get(f.suffix.lower()) for f in files}
    if len(layouts) == 1 and None not in layouts:
        return layouts.pop()
    line, column = _line_of(text, "files")
    raise PolicyError(
        [
            source.diagnostic(
                "E601",
                "cannot tell the layout of the trace files from their names",
                line,
                column,
                hint='add layout = "jsonl", "csv", "parquet" or "otlp"',
            )
        ]
    )


def _line_of(text: str, needle: str) -> tuple[int, int]:
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return number, line.index(needle) + 1
    return 0, 0


def split_path(path: str) -> list[str]:
    """``a."b.c".d`` → ``["a", "b.c", "d"]``: dots split keys except inside double quotes."""
    return [part.strip('"') for part in re.findall(r'"[^"]*"|[^.]+', path)]


def template_parts(spec: str) -> list[tuple[str, bool]]:
    """A template's literal text and ``{path}`` references, in order: (text, is_path)."""
    parts = []
    for literal, reference in re.findall(r"([^{]*)(?:\{([^}]*)\})?", spec):
        if literal:
            parts.append((literal, False))
        if reference:
            parts.append((reference, True))
    return parts
