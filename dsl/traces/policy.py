"""A parsed policy whose header names a trace in, a checked :class:`CompiledPolicy` out.

The trace is read first (bad records and unknown models stop here), then its *step table* is
derived: one :class:`~agentpolicy.inputs.Step` for each step name and recorded model, with the
median prompt and output of its calls as ``input`` and ``output``, its mean calls per run as
``calls``, and the difficulty and deferrability the mapping gives it (``medium`` and no by
default).  Selectors test these rows exactly as they test a hand-written pipeline's steps, and
the levers compile with the pipeline compiler's own code.
"""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

from .. import nodes
from ..compiler import (
    CompiledPolicy,
    _at,
    _compile_requires,
    _compile_rules,
    _load_prices,
    _unsupported,
    rule_warnings,
)
from ..diagnostics import Diagnostic, PolicyError, Source, did_you_mean
from ..inputs import Pipeline, Step
from ..prices import PriceTable
from .mapping import load_mapping
from .options import TraceOptions
from .read import Database, Trace, read_trace
from .replay import load_prices


def compile_trace_policy(
    policy: nodes.Policy,
    source: Source,
    headers: dict[str, nodes.Header],
    options: TraceOptions | None = None,
    where=None,
    sources: dict[str, Source] | None = None,
) -> CompiledPolicy:
    """Read the policy's trace, derive its step table and compile the policy against it.

    ``where`` gives the file a statement is written in (a variant's differ from its base's).
    """
    options = options or TraceOptions()
    where = where or (lambda statement: source)
    paths = {
        keyword: os.path.normpath(
            Path(where(headers[keyword]).path).parent / headers[keyword].value.text
        )
        for keyword in ("trace", "prices")
    }
    trace_path = paths["trace"]
    errors = _trace_only(policy, where, headers)
    if errors:
        raise PolicyError(errors)

    prices = _load_prices(headers["prices"], paths, where(headers["prices"]))
    prices_path = paths["prices"]
    loaded = _load_mapping(trace_path, headers["trace"], where(headers["trace"]))
    database = Database(memory_limit=options.memory_limit, temp_root=options.temp_root)
    database.progress = options.progress
    try:
        trace = read_trace(
            loaded, prices, prices_path, skip_bad=options.skip_bad, database=database
        )
        load_prices(database, prices)
        pipeline = step_table(trace, prices)
        errors = _unsupported(policy, where, trace=True)
        rules = _compile_rules(policy, pipeline, prices, where, errors)
        requires = _compile_requires(policy, where, errors)
        errors += _prefix_sizes(rules, where)
        if errors:
            raise PolicyError(errors)
    except BaseException:
        database.close()
        raise

    name = headers["policy"].value.text if "policy" in headers else Path(source.path).stem
    compiled = CompiledPolicy(
        name=name,
        path=source.path,
        pipeline=pipeline,
        prices=prices,
        evals=None,
        runs=headers["runs"].value if "runs" in headers else trace.runs,
        rules=rules,
        requires=requires,
        source=source,
        files={"trace": trace_path, "prices": prices_path},
        trace=trace,
        statements=list(policy.statements),
        headers=headers,
        sources=sources or {source.path: source},
    )
    compiled.warnings = _mapping_warnings(trace, pipeline) + rule_warnings(compiled)
    return compiled


def _mapping_warnings(trace: Trace, pipeline: Pipeline) -> list[Diagnostic]:
    """A step the mapping describes but the trace never calls is probably misspelt."""
    loaded = trace.loaded
    names = sorted({s.name for s in pipeline.steps})
    source = Source(loaded.path, loaded.path.read_text("utf-8"))
    warnings = []
    for step in loaded.mapping.steps:
        if step in names:
            continue
        line = next(
            (n for n, text in enumerate(source.lines, 1) if text.strip() == f"[steps.{step}]"), 0
        )
        warnings.append(
            source.diagnostic(
                "W400",
                f"the mapping describes step '{step}', which no call of the trace has",
                line,
                1 if line else 0,
                width=len(f"[steps.{step}]"),
                severity="warning",
                hint=did_you_mean(step, names) or "steps: " + ", ".join(names),
            )
        )
    return warnings


def _load_mapping(path: str, header: nodes.Header, source: Source):
    if not Path(path).is_file():
        raise PolicyError(
            [
                _at(
                    source,
                    "E300",
                    f"the trace mapping '{header.value.text}' does not exist (looked for {path})",
                    header.value_span,
                    hint="paths are relative to the policy file",
                )
            ]
        )
    return load_mapping(Path(path))


def _trace_only(policy: nodes.Policy, where, headers) -> list[Diagnostic]:
    """What a trace cannot answer: quality (a trace records no pass rate) and measured evals."""
    errors = []
    if "evals" in headers:
        errors.append(
            _at(
                where(headers["evals"]),
                "E606",
                "a trace replay does not estimate quality, so it takes no evals",
                headers["evals"].span,
                hint="evaluate quality on the hand-written pipeline of the same agent",
            )
        )
    for require in policy.requires:
        if require.metric == "quality":
            errors.append(
                _at(
                    where(require),
                    "E606",
                    "a trace replay does not estimate quality: it records no pass rate",
                    require.span,
                    hint="require cost, cost per run or latency on a trace",
                )
            )
    return errors


def _prefix_sizes(rules, where) -> list[Diagnostic]:
    """A prefix cache on a trace needs its size: a trace records whole prompts only."""
    return [
        _at(
            where(rule.statement),
            "E607",
            "on a trace, a cached prefix needs its size",
            rule.statement.span,
            hint="write e.g. 'cache prefix 4000 tokens', or 'cache history' for agent loops",
        )
        for rule in rules
        if rule.cache_form == "prefix" and rule.prefix_size is None
    ]


def step_table(trace: Trace, prices: PriceTable) -> Pipeline:
    """One step per step name and recorded model, with the figures selectors test."""
    mapping = trace.loaded.mapping
    rows = trace.database.rows(
        "SELECT s.step, s.model, c.calls, c.runs, c.prompt, c.output FROM (SELECT step_id, "
        "count(*) AS calls, count(DISTINCT run_id) AS runs, "
        "median(uncached + write_5m + write_1h + read) AS prompt, median(output) AS output "
        "FROM calls GROUP BY step_id) AS c JOIN steps s USING (step_id) ORDER BY s.step, s.model"
    )
    steps = [
        Step(
            name=step,
            model=model,
            difficulty=mapping.difficulty(step),
            calls=max(1, round(calls / runs)),
            input=int(round(prompt)),
            output=int(round(output)),
            deferrable=mapping.deferrable(step),
        )
        for step, model, calls, runs, prompt, output in rows
    ]
    # A step name may appear with several models, which a hand-written pipeline forbids.
    return Pipeline.model_construct(name=mapping.name, prefix=Decimal(0), steps=steps)
