"""Selector syntax in, checked predicates over pipeline steps out.

A selector tests the fields of a step as the pipeline writes them — ``name``, ``difficulty``,
``model``, ``deferrable``, ``calls``, and the token counts ``input``, ``output`` and ``prefix`` —
never as an earlier lever changed it, so the order of rules never changes what they select.
Each compiled test can say why it did or did not match a step, with the step's own value.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from . import nodes
from .diagnostics import PolicyError, Source, did_you_mean
from .inputs import DIFFICULTIES, Pipeline, Step
from .prices import PriceTable
from .units import UnitProblem, convert

#: Step fields a selector may test, with the kind of value each holds.
FIELDS = {
    "name": "step",
    "difficulty": "difficulty",
    "model": "model",
    "deferrable": "boolean",
    "calls": "count",
    "input": "tokens",
    "output": "tokens",
    "prefix": "tokens",
}

ORDERED = {"difficulty", "count", "tokens"}
_OPS: dict[str, Callable[[object, object], bool]] = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def step_value(step: Step, field: str, pipeline: Pipeline):
    """The value of ``field`` for ``step``, in the form selectors compare."""
    if field == "difficulty":
        return DIFFICULTIES.index(step.difficulty)
    if field == "prefix":
        return pipeline.prefix if step.uses_prefix else Decimal(0)
    return getattr(step, field)


def shown_value(step: Step, field: str, pipeline: Pipeline) -> str:
    """The value of ``field`` for ``step`` as a person reads it."""
    value = step_value(step, field, pipeline)
    if field == "difficulty":
        return step.difficulty
    if FIELDS[field] == "tokens":
        return f"{value} tokens"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass(frozen=True)
class Check:
    """One test in a selector and whether a step passed it, for explanations."""

    text: str
    step_value: str
    passed: bool


class Selector:
    """A compiled predicate: ``matches(step)`` and ``checks(step)`` for why it did or did not."""

    def __init__(
        self,
        node: nodes.Predicate,
        pipeline: Pipeline,
        source: Source,
        tests: dict[int, Callable[[Step, Pipeline], bool]],
    ) -> None:
        self.node = node
        self._tests = tests  # leaf tests by the id of their node, which self.node keeps alive
        self.pipeline = pipeline
        self.text = source.text[node.span.start : node.span.end] if source.text else ""

    def matches(self, step: Step) -> bool:
        return self._evaluate(self.node, step)

    def checks(self, step: Step) -> list[Check]:
        """The leaf tests of the selector with the step's values and their outcomes."""
        out: list[Check] = []
        self._collect(self.node, step, out)
        return out

    def _evaluate(self, node: nodes.Predicate, step: Step) -> bool:
        match node:
            case nodes.Everything():
                return True
            case nodes.AllOf(operands=operands):
                return all(self._evaluate(o, step) for o in operands)
            case nodes.AnyOf(operands=operands):
                return any(self._evaluate(o, step) for o in operands)
            case nodes.Not(operand=operand):
                return not self._evaluate(operand, step)
            case _:
                return self._tests[id(node)](step, self.pipeline)

    def _collect(self, node: nodes.Predicate, step: Step, out: list[Check]) -> None:
        match node:
            case nodes.AllOf(operands=ops) | nodes.AnyOf(operands=ops):
                for operand in ops:
                    self._collect(operand, step, out)
            case nodes.Not(operand=operand):
                self._collect(operand, step, out)
            case nodes.Everything():
                out.append(Check("every step", step.name, True))
            case _:
                field = node.field.text
                out.append(
                    Check(
                        text=self._source_of(node),
                        step_value=f"{field} = {shown_value(step, field, self.pipeline)}",
                        passed=self._tests[id(node)](step, self.pipeline),
                    )
                )

    def _source_of(self, node) -> str:
        offset = self.node.span.start
        return self.text[node.span.start - offset : node.span.end - offset]


def compile_selector(
    node: nodes.Predicate, pipeline: Pipeline, prices: PriceTable, source: Source
) -> Selector:
    """Check every field and value of a selector and compile its tests; raise on errors."""
    errors, tests = [], {}
    for leaf in _leaves(node):
        try:
            tests[id(leaf)] = _compile_leaf(leaf, pipeline, prices, source)
        except PolicyError as error:
            errors += error.diagnostics
    if errors:
        raise PolicyError(errors)
    return Selector(node, pipeline, source, tests)


def _leaves(node: nodes.Predicate):
    match node:
        case nodes.AllOf(operands=ops) | nodes.AnyOf(operands=ops):
            for operand in ops:
                yield from _leaves(operand)
        case nodes.Not(operand=operand):
            yield from _leaves(operand)
        case nodes.Everything():
            return
        case _:
            yield node


def _compile_leaf(leaf, pipeline: Pipeline, prices: PriceTable, source: Source):
    field = leaf.field
    kind = FIELDS.get(field.text)
    if kind is None:
        raise _error(
            source,
            "E210",
            f"unknown step field '{field.text}'",
            field.span,
            did_you_mean(field.text, FIELDS) or "step fields: " + ", ".join(FIELDS),
        )
    name = field.text

    if isinstance(leaf, nodes.Flag):
        if kind != "boolean":
            raise _error(
                source,
                "E214",
                f"'{name}' is not a yes/no field; compare it, as in '{name} = …'",
                field.span,
            )
        return lambda step, pipe: bool(step_value(step, name, pipe))

    if isinstance(leaf, nodes.Member):
        wanted = [_read_value(v, kind, name, pipeline, prices, source) for v in leaf.values]
        if leaf.negated:
            return lambda step, pipe: step_value(step, name, pipe) not in wanted
        return lambda step, pipe: step_value(step, name, pipe) in wanted

    if leaf.op not in ("=", "!=") and kind not in ORDERED:
        raise _error(
            source,
            "E214",
            f"'{name}' can only be compared with =, != or in (…), not '{leaf.op}'",
            leaf.span,
        )
    wanted = _read_value(leaf.value, kind, name, pipeline, prices, source)
    test = _OPS[leaf.op]
    return lambda step, pipe: test(step_value(step, name, pipe), wanted)


def _read_value(value, kind: str, field: str, pipeline: Pipeline, prices: PriceTable, source):
    """Check one value against the field's kind and return it in comparable form."""
    if kind == "tokens":
        if not isinstance(value, nodes.Quantity):
            raise _error(
                source, "E213", f"'{field}' is a token count, such as 1000 tokens", value.span
            )
        try:
            return convert(value.number, value.unit, "tokens").value
        except UnitProblem as error:
            code = "E201" if "mismatch" in str(error) else "E200"
            raise _error(source, code, str(error), value.span) from None
    if kind == "count":
        if not isinstance(value, nodes.Quantity) or value.unit is not None:
            raise _error(source, "E213", f"'{field}' is a plain number, such as 3", value.span)
        return value.number
    if isinstance(value, nodes.Quantity):
        raise _error(source, "E213", f"'{field}' takes a name, not the number {value}", value.span)

    text = value.text
    if kind == "boolean":
        if text not in ("true", "false"):
            raise _error(source, "E213", f"'{field}' is true or false, not '{text}'", value.span)
        return text == "true"
    if kind == "difficulty":
        if text not in DIFFICULTIES:
            raise _error(
                source,
                "E213",
                f"unknown difficulty '{text}'",
                value.span,
                did_you_mean(text, DIFFICULTIES) or "difficulties: easy, medium, hard",
            )
        return DIFFICULTIES.index(text)
    if kind == "step":
        names = [s.name for s in pipeline.steps]
        if text not in names:
            raise _error(
                source,
                "E212",
                f"the pipeline has no step '{text}'",
                value.span,
                did_you_mean(text, names) or "steps: " + ", ".join(names),
            )
        return text
    if text not in prices.models:
        raise _error(
            source,
            "E211",
            f"unknown model '{text}'",
            value.span,
            prices.hint(text),
        )
    return text


def _error(source: Source, code: str, message: str, span: nodes.Span, hint: str | None = None):
    return PolicyError(
        [source.diagnostic(code, message, span.line, span.column, width=span.width, hint=hint)]
    )
