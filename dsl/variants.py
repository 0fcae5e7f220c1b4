"""A policy file in, the policy it means after following ``extends`` out, with every file's text.

``extends "base.policy"`` makes the file a variant of its base (the path is relative to the file
that says it).  The variant means the base's statements followed by its own: its levers and
requires come after the base's, so the base's rules are tried first.  A header statement in the
variant (``pipeline``, ``prices``, ``evals``, ``runs``) replaces the base's; the base's
``policy`` name is never inherited, since it names the base, not the variant.  A base may
itself extend another policy.  Every statement keeps the file it was written in
(``Statement.origin``), so that diagnostics point into the right file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from . import nodes
from .diagnostics import Diagnostic, PolicyError, Source
from .syntax import parse_bytes, read_policy


@dataclass(frozen=True)
class Layer:
    """One file of a policy: its parsed statements and its text."""

    policy: nodes.Policy
    source: Source


@dataclass(frozen=True)
class Variant:
    """A policy with its bases followed: the statements it means and the files they come from."""

    policy: nodes.Policy
    layers: tuple[Layer, ...]

    @property
    def sources(self) -> dict[str, Source]:
        return {layer.source.path: layer.source for layer in self.layers}

    @property
    def source(self) -> Source:
        return self.layers[-1].source

    @property
    def bases(self) -> list[str]:
        """The files this policy extends, nearest first."""
        return [layer.source.path for layer in reversed(self.layers[:-1])]


def resolve(path: str | Path) -> Variant:
    """Read the policy at ``path`` and every base it extends, and merge their statements."""
    layers = tuple(_layers(str(path), ()))
    return Variant(policy=_merge(layers), layers=layers)


def _layers(path: str, chain: tuple[tuple[str, Layer], ...]) -> list[Layer]:
    """The files of a policy, the furthest base first; ``chain`` holds the files that led here."""
    data = read_policy(path)
    policy = parse_bytes(data, path)
    layer = Layer(policy, Source(path, data.decode("utf-8")))
    _check_headers_once(layer)

    extends = next((h for h in policy.headers if h.keyword == "extends"), None)
    if extends is None:
        return [layer]
    base = os.path.normpath(Path(path).parent / extends.value.text)
    here = chain + ((os.path.realpath(path), layer),)

    seen = [real for real, _ in here]
    if os.path.realpath(base) in seen:
        start = seen.index(os.path.realpath(base))
        loop = [entry.source.path for _, entry in here[start:]] + [base]
        message = (
            f"'{path}' extends itself"
            if len(loop) == 2
            else "the policies extend each other in a cycle: " + " → ".join(loop)
        )
        hint = "a policy cannot be its own base, directly or through others; remove an extends"
        raise PolicyError([_at(layer, "E401", message, extends.value_span, hint=hint)])
    if not Path(base).is_file():
        raise PolicyError(
            [
                _at(
                    layer,
                    "E400",
                    f"the base policy '{extends.value.text}' does not exist (looked for {base})",
                    extends.value_span,
                    hint="paths are relative to the policy file that says extends",
                )
            ]
        )
    return _layers(base, here) + [layer]


def _check_headers_once(layer: Layer) -> None:
    """A header given twice in one file is an error of that file, whatever overrides it later."""
    first: dict[str, nodes.Header] = {}
    errors = []
    for header in layer.policy.headers:
        if header.keyword in first:
            line = first[header.keyword].span.line
            message = f"'{header.keyword}' is given twice (first on line {line})"
            errors.append(_at(layer, "E220", message, header.span))
        else:
            first[header.keyword] = header
    if errors:
        raise PolicyError(errors)


def _merge(layers: tuple[Layer, ...]) -> nodes.Policy:
    """The base's statements, then each variant's, headers replaced by the nearest variant's."""
    statements: list[nodes.Statement] = []
    for depth, layer in enumerate(layers):
        is_variant = depth == len(layers) - 1
        replaced = {
            keyword
            for later in layers[depth + 1 :]
            for keyword in map(_keyword, later.policy.statements)
            if keyword is not None
        }
        for statement in layer.policy.statements:
            keyword = _keyword(statement)
            if keyword == "extends" or keyword in replaced:
                continue
            if keyword == "policy" and not is_variant:
                continue
            statements.append(statement)
    variant = layers[-1].policy
    return nodes.Policy(path=variant.path, statements=tuple(statements), comments=variant.comments)


def _keyword(statement: nodes.Statement) -> str | None:
    """The header keyword of a statement that says what the policy runs against, else None."""
    if isinstance(statement, nodes.Header):
        return statement.keyword
    if isinstance(statement, nodes.Traffic):
        return "traffic"
    return None


def _at(layer: Layer, code: str, message: str, span: nodes.Span, *, hint=None) -> Diagnostic:
    return layer.source.diagnostic(
        code, message, span.line, span.column, width=span.width, hint=hint
    )
