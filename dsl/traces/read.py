"""A trace mapping in, a :class:`Trace` out: one DuckDB table of calls in disjoint token buckets.

Every record of every file becomes a row of ``records`` with its file, its line (or row) and the
first problem found in it, if any: a line that is not JSON, a field that is missing, not a whole
number or negative, usage that fits no convention (more cached tokens than input), or a total
that disagrees with its parts.  ``calls`` holds the good rows, keyed by integers.  Bad rows are
an error that names the file, line and field, unless the caller skips them; either way they are
counted.

All of it is plain SQL over DuckDB's own readers (``read_csv``, ``read_parquet`` and its JSON
functions), run in a database that may spill to disk, so a trace larger than memory still loads.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

import duckdb

from ..diagnostics import Diagnostic, Location, PolicyError, Source, did_you_mean
from ..prices import PriceTable
from .mapping import FIELDS, TOKEN_FIELDS, LoadedMapping, split_path, template_parts
from .options import MEMORY_LIMIT

#: A token count at or past this is a bad record: no call is that large, and sums stay exact.
TOO_MANY = "1e15"

#: How many bad records an error lists before it says "and N more".
SHOWN_PROBLEMS = 10


@dataclass(frozen=True)
class Skipped:
    """Records left out of a replay for one reason, with the first of them."""

    field: str
    problem: str
    count: int
    first: str  # "file:line" of the first such record


@dataclass
class Trace:
    """A loaded trace: the database holding ``calls``, and what reading its files found."""

    loaded: LoadedMapping
    database: Database
    records: int
    calls: int
    runs: int
    skipped: list[Skipped]
    latency_recorded: bool
    timestamps: bool
    recorded_cost: bool
    recorded_cache: bool

    @property
    def name(self) -> str:
        return self.loaded.mapping.name

    @property
    def skipped_count(self) -> int:
        return sum(s.count for s in self.skipped)


class Database:
    """An embedded DuckDB database for one replay, spilling to a private temporary directory.

    ``run`` executes one statement; while it runs, ``progress`` (when given) is called every
    half second with DuckDB's own estimate of how far the statement has got.
    """

    def __init__(self, *, memory_limit: str = MEMORY_LIMIT, temp_root: str | None = None) -> None:
        self.temp = tempfile.mkdtemp(prefix="agentpolicy-", dir=temp_root)
        self.connection = duckdb.connect(":memory:")
        self.connection.execute(f"SET memory_limit = '{memory_limit}'")
        self.connection.execute(f"SET temp_directory = '{_sql_text(self.temp)}'")
        # Progress is measured for ``query_progress`` but never printed by DuckDB itself.
        self.connection.execute("SET enable_progress_bar = true")
        self.connection.execute("SET enable_progress_bar_print = false")
        self.progress: Callable[[str, float], None] | None = None

    def run(self, sql: str, label: str = "", parameters: list | None = None):
        """Execute ``sql`` and return the cursor, reporting progress under ``label``."""
        if self.progress is None:
            return self.connection.execute(sql, parameters or [])
        from .progress import watch

        return watch(self.connection, sql, parameters or [], label, self.progress)

    def rows(self, sql: str, label: str = "") -> list[tuple]:
        return self.run(sql, label).fetchall()

    def close(self) -> None:
        self.connection.close()
        shutil.rmtree(self.temp, ignore_errors=True)


def _sql_text(text: str) -> str:
    return text.replace("'", "''")


def quote(text: str) -> str:
    """A SQL string literal."""
    return "'" + _sql_text(text) + "'"


# Reading records, one relation per layout, every field as found.


@dataclass
class _Fields:
    """The SQL expression of each mapped field over one layout's records, and its source."""

    expressions: dict[str, str] = field(default_factory=dict)
    written: dict[str, str] = field(default_factory=dict)


def _spec_paths(spec) -> list[str]:
    if isinstance(spec, list):
        return spec
    if "{" in spec:
        return [p for p, is_path in template_parts(spec) if is_path]
    return [spec]


def _combine(spec, value_of: Callable[[str], str]) -> str:
    """The SQL of a field spec: one path, the first present of several, or a template."""
    if isinstance(spec, list):
        return "coalesce(" + ", ".join(value_of(p) for p in spec) + ")"
    if "{" in spec:
        pieces = [value_of(p) if is_path else quote(p) for p, is_path in template_parts(spec)]
        return "(" + " || ".join(pieces) + ")"
    return value_of(spec)


def _written(spec) -> str:
    return " or ".join(spec) if isinstance(spec, list) else spec


def _json_records(loaded: LoadedMapping) -> tuple[str, _Fields]:
    """JSON lines (or OTLP export lines flattened to one span each) with their line numbers."""
    mapping = loaded.mapping
    paths: list[str] = []
    fields = _Fields()
    specs = {name: mapping.path(name) for name in _ALL}
    for spec in specs.values():
        for path in _spec_paths(spec) if spec is not None else []:
            if path not in paths:
                paths.append(path)
    json_paths = ", ".join(quote("$." + ".".join(f'"{k}"' for k in split_path(p))) for p in paths)

    def value_of(path: str) -> str:
        return f"found[{paths.index(path) + 1}]"

    for name, spec in specs.items():
        if spec is not None:
            fields.expressions[name] = _combine(spec, value_of)
            fields.written[name] = _written(spec)

    lines = " UNION ALL ".join(
        f"SELECT {quote(str(path))} AS file, row_number() OVER () AS record, line "
        f"FROM read_csv({quote(str(path))}, columns = {{'line': 'VARCHAR'}}, header = false, "
        "delim = E'\\x1f', quote = '', escape = '', auto_detect = false)"
        for path in loaded.files
    )
    if loaded.layout == "otlp":
        body = _otlp_spans(lines)
    else:
        body = (
            f"SELECT file, record, 1 AS part, line FROM ({lines}) "
            "WHERE line IS NOT NULL AND trim(line) <> ''"
        )
    sql = (
        "SELECT file, record, part, NOT json_valid(line) AS unreadable, "
        f"CASE WHEN json_valid(line) THEN json_extract_string(line, [{json_paths}]) END AS found "
        f"FROM ({body})"
    )
    return sql, fields


def _otlp_spans(lines: str) -> str:
    """OTLP/JSON export lines → one flat span object per row, attributes as a plain object."""
    spans = "json_extract(line, '$.resourceSpans[*].scopeSpans[*].spans[*]')"
    attributes = (
        'from_json(span -> \'attributes\', \'[{"key": "VARCHAR", "value": {"stringValue": '
        '"VARCHAR", "intValue": "VARCHAR", "doubleValue": "VARCHAR", "boolValue": "VARCHAR"}}]\')'
    )
    flat = (
        "json_merge_patch(span, json_object('attributes', to_json(map_from_entries(list_transform("
        f"{attributes}, lambda a: {{'k': a.key, 'v': coalesce(a.value.stringValue, "
        "a.value.intValue, a.value.doubleValue, a.value.boolValue)})))))"
    )
    unnested = (
        f"SELECT file, record, unnest({spans}) AS span, generate_subscripts({spans}, 1) AS part "
        f"FROM ({lines}) WHERE line IS NOT NULL AND trim(line) <> '' AND json_valid(line)"
    )
    broken = (
        f"SELECT file, record, 1 AS part, line FROM ({lines}) "
        "WHERE line IS NOT NULL AND trim(line) <> '' AND NOT json_valid(line)"
    )
    return (
        f"SELECT file, record, part, {flat}::VARCHAR AS line FROM ({unnested}) UNION ALL {broken}"
    )


def _table_records(
    loaded: LoadedMapping, database: Database, source: Source
) -> tuple[str, _Fields]:
    """CSV or Parquet rows with their row numbers; every mapped column must exist."""
    mapping = loaded.mapping
    files = "[" + ", ".join(quote(str(f)) for f in loaded.files) + "]"
    if loaded.layout == "csv":
        relation = (
            f"SELECT *, row_number() OVER () AS record FROM read_csv({files}, header = true, "
            "all_varchar = true, filename = true)"
        )
    else:
        relation = (
            f"SELECT *, file_row_number + 1 AS record FROM read_parquet({files}, "
            "filename = true, file_row_number = true)"
        )

    def value_of(path: str) -> str:
        return ".".join(f'"{k}"' for k in split_path(path))

    try:  # a file that is not what its layout says fails here, before any column is looked for
        database.run(f"SELECT * FROM ({relation}) LIMIT 0")
    except duckdb.Error as error:
        raise PolicyError(
            [source.diagnostic("E608", f"cannot read the trace files: {_reason(error)}")]
        ) from None

    fields = _Fields()
    errors = []
    for name in _ALL:
        spec = mapping.path(name)
        if spec is None:
            continue
        expression = _combine(spec, value_of)
        try:
            database.run(f"SELECT {expression} FROM ({relation}) LIMIT 0")
        except duckdb.Error:
            # A convention's default path that the table lacks is a field the log does not
            # have; a path the mapping names, or a field every call needs, must be there.
            named = getattr(mapping.fields, name) is not None
            if named or name in ("model", "input", "output"):
                errors.append(_mapping_error(source, name, spec, loaded))
            continue
        fields.expressions[name] = expression
        fields.written[name] = _written(spec)
    if errors:
        raise PolicyError(errors)
    selected = ", ".join(f"{e} AS f_{n}" for n, e in fields.expressions.items())
    sql = (
        f"SELECT filename AS file, record, 1 AS part, false AS unreadable, {selected} "
        f"FROM ({relation})"
    )
    return sql, fields


def _mapping_error(source: Source, name: str, spec, loaded: LoadedMapping) -> Diagnostic:
    written = _written(spec)
    line, column = 0, 0
    for number, text in enumerate(source.lines, start=1):
        if text.strip().startswith(name) and "=" in text:
            line, column = number, text.index(name) + 1
            break
    return source.diagnostic(
        "E602",
        f"the trace files have no column '{written}' for the field '{name}'",
        line,
        column,
        width=len(name),
        hint=f"the {loaded.layout} files are {', '.join(f.name for f in loaded.files)}",
    )


_ALL = FIELDS


# Typing, checking and normalising the records.


def _typed(raw: str, fields: _Fields, loaded: LoadedMapping, json_layout: bool) -> str:
    """The records with typed fields, disjoint buckets and the first problem of each, in SQL."""
    mapping = loaded.mapping
    value = {
        name: (f"({e})" if json_layout else f"f_{name}") for name, e in fields.expressions.items()
    }
    text = {name: f"CAST({v} AS VARCHAR)" for name, v in value.items()}
    number = {name: f"TRY_CAST({v} AS DOUBLE)" for name, v in value.items()}
    tokens = {  # a count too large for a token count is a bad record, not a failed cast
        name: (
            f"CAST(CASE WHEN {number[name]} < {TOO_MANY} THEN {number[name]} ELSE 0 END AS BIGINT)"
        )
        if name in value
        else "CAST(0 AS BIGINT)"
        for name in TOKEN_FIELDS + ("total",)
    }

    problems: list[tuple[str, str, str]] = []  # (condition, field, problem)
    if json_layout:
        problems.append(("unreadable", "record", "is not valid JSON"))
    for name in ("run", "conversation", "order", "step", "model", "input", "output"):
        if name in value:
            problems.append((f"{value[name]} IS NULL", name, "is missing"))
    for name in (*TOKEN_FIELDS, "total", "latency"):
        if name not in value:
            continue
        problems.append(
            (f"{value[name]} IS NOT NULL AND {number[name]} IS NULL", name, "is not a number")
        )
        problems.append((f"{number[name]} < 0", name, "is negative"))
        problems.append((f"NOT isfinite({number[name]})", name, "is not a finite number"))
        problems.append((f"{number[name]} >= {TOO_MANY}", name, "is too large (10^15 or more)"))
        if name != "latency":
            problems.append(
                (f"{number[name]} <> floor({number[name]})", name, "is not a whole number")
            )
    if "order" in value:
        order_ok = (
            f"({number['order']} IS NOT NULL OR TRY_CAST({text['order']} AS TIMESTAMP) IS NOT NULL)"
        )
        problems.append((f"NOT {order_ok}", "order", "is neither a number nor a timestamp"))
    for name in ("started", "ended"):
        if name in value:
            ok = f"({number[name]} IS NOT NULL OR TRY_CAST({text[name]} AS TIMESTAMP) IS NOT NULL)"
            problems.append((f"{value[name]} IS NOT NULL AND NOT {ok}", name, "is not a time"))
    if "recorded_cost" in value:
        problems.append(
            (
                f"{value['recorded_cost']} IS NOT NULL AND {number['recorded_cost']} IS NULL",
                "recorded_cost",
                "is not a number",
            )
        )

    t = tokens
    cached = f"({t['cache_read']} + {t['cache_write']})"
    if mapping.rules.cached_inside_input:
        problems.append(
            (
                f"{cached} > {t['input']}",
                "cache_read",
                "counts more cached tokens than the input holds: the usage fits no convention",
            )
        )
        uncached = f"{t['input']} - {cached}"
        prompt = t["input"]
    else:
        uncached = t["input"]
        prompt = f"({t['input']} + {cached})"
    problems.append(
        (f"{t['cache_write_1h']} > {t['cache_write']}", "cache_write_1h", "exceeds cache_write")
    )
    problems.append((f"{t['reasoning']} > {t['output']}", "reasoning", "exceeds output"))
    if "total" in value:
        problems.append(
            (
                f"{value['total']} IS NOT NULL AND {t['total']} <> {prompt} + {t['output']}",
                "total",
                "does not equal input plus output",
            )
        )

    step = text.get("step", "'call'")
    for rename in mapping.step_rename:
        step = f"regexp_replace({step}, {quote(rename.pattern)}, {quote(rename.replace)})"
    order = (
        f"coalesce({number['order']}, epoch_us(TRY_CAST({text['order']} AS TIMESTAMP)) / 1e6)"
        if "order" in value
        else "CAST(record AS DOUBLE) + part / 1e6"
    )
    latency = "NULL"
    if "latency" in value:
        scale = "1000.0" if mapping.latency_unit == "ms" else "1.0"
        latency = f"{number['latency']} / {scale}"
    elif "started" in value and "ended" in value:
        ended = _seconds("ended", value, number, text, mapping)
        latency = f"({ended} - {_seconds('started', value, number, text, mapping)})"
    for name in ("step", "model"):
        named = step if name == "step" else text.get("model")
        if named is not None and name in value:
            problems.append((f"trim({named}) = ''", name, "is empty"))
    if latency != "NULL":
        field = "ended" if "ended" in value else "latency"
        problems.append((f"{latency} < 0", field, "is before the call started"))

    problem_field = "CASE " + " ".join(f"WHEN {c} THEN {quote(f)}" for c, f, _ in problems) + " END"
    problem = "CASE " + " ".join(f"WHEN {c} THEN {quote(p)}" for c, _, p in problems) + " END"
    found = (
        "CASE "
        + " ".join(f"WHEN {c} THEN {text[f] if f in text else 'NULL'}" for c, f, _ in problems)
        + " END"
    )

    started = _seconds("started", value, number, text, mapping) if "started" in value else "NULL"
    cost = (
        f"TRY_CAST({text['recorded_cost']} AS DECIMAL(38, 12))"
        if "recorded_cost" in value
        else "NULL"
    )
    run = text.get("run", "file")
    conversation = text.get("conversation", "''")

    return (
        "SELECT file, record, part, "
        f"{problem_field} AS problem_field, {problem} AS problem, {found} AS found, "
        f"{run} AS run, {conversation} AS conversation, {order} AS order_key, "
        f"{step} AS step, {text['model']} AS model, "
        f"{uncached} AS uncached, {t['cache_write']} - {t['cache_write_1h']} AS write_5m, "
        f"{t['cache_write_1h']} AS write_1h, {t['cache_read']} AS read, {t['output']} AS output, "
        f"CAST({latency} AS DOUBLE) AS latency_s, CAST({started} AS DOUBLE) AS started_s, "
        f"{cost} AS recorded_cost "
        f"FROM ({raw})"
    )


def _seconds(name: str, value, number, text, mapping) -> str:
    """A time field in seconds since the epoch: a timestamp, or a number in the mapping's unit."""
    divisors = {"s": "1.0", "ms": "1e3", "us": "1e6", "ns": "1e9"}
    n = number[name]
    if mapping.time_unit == "auto":
        scaled = (
            f"CASE WHEN {n} > 1e17 THEN {n} / 1e9 WHEN {n} > 1e14 THEN {n} / 1e6 "
            f"WHEN {n} > 1e11 THEN {n} / 1e3 ELSE {n} END"
        )
    else:
        scaled = f"{n} / {divisors[mapping.time_unit]}"
    return f"coalesce({scaled}, epoch_us(TRY_CAST({text[name]} AS TIMESTAMP)) / 1e6)"


# Loading a trace.


def read_trace(
    loaded: LoadedMapping,
    prices: PriceTable,
    prices_path: str,
    *,
    skip_bad: bool = False,
    database: Database | None = None,
) -> Trace:
    """Read every record of the trace into ``calls``; bad records and unknown models are errors."""
    database = database or Database()
    source = Source(loaded.path, loaded.path.read_text("utf-8"))
    json_layout = loaded.layout in ("jsonl", "otlp")
    if json_layout:
        raw, fields = _json_records(loaded)
    else:
        raw, fields = _table_records(loaded, database, source)
    typed = _typed(raw, fields, loaded, json_layout)
    # Line numbers come from the order DuckDB reads the lines in, which must then be kept.
    database.run(f"SET preserve_insertion_order = {'true' if json_layout else 'false'}")
    try:
        database.run(f"CREATE OR REPLACE TABLE records AS {typed}", "reading the trace")
        database.run("SET preserve_insertion_order = false")
    except duckdb.Error as error:
        raise PolicyError(
            [source.diagnostic("E608", f"cannot read the trace files: {_reason(error)}")]
        ) from None
    database.run("CREATE OR REPLACE VIEW good AS SELECT * FROM records WHERE problem IS NULL")

    skipped = _bad_records(database, fields, loaded, skip_bad)
    _check_models(database, prices, prices_path)
    (records,) = database.rows("SELECT count(*) FROM records")[0]
    _compact(database, prices)
    return _summary(database, loaded, records, skipped)


def _compact(database: Database, prices: PriceTable) -> None:
    """The good records as ``calls``: integer keys, token columns, each call's place in its run.

    Runs, conversations and steps (a step name with its recorded model) become small tables of
    their own, so that the replay sorts, partitions and groups on integers; ``sequence`` numbers
    each run's calls in order once, so that every window orders by one integer.  The wide
    ``records`` table is dropped afterwards.
    """
    models = ", ".join(f"({i}, {quote(name)})" for i, name in enumerate(prices.models))
    for statement in (
        f"CREATE OR REPLACE TABLE models AS SELECT * FROM (VALUES {models}) AS m(model_id, model)",
        "CREATE OR REPLACE TABLE runs AS SELECT row_number() OVER (ORDER BY run) AS run_id, run "
        "FROM (SELECT DISTINCT run FROM good) AS distinct_runs",
        "CREATE OR REPLACE TABLE conversations AS SELECT CAST(row_number() OVER "
        "(ORDER BY conversation) AS INTEGER) AS conversation_id, conversation "
        "FROM (SELECT DISTINCT conversation FROM good) AS distinct_conversations",
        "CREATE OR REPLACE TABLE steps AS SELECT CAST(row_number() OVER (ORDER BY step, model) "
        "AS INTEGER) AS step_id, step, model, model_id "
        "FROM (SELECT DISTINCT step, model FROM good) AS distinct_steps JOIN models USING (model)",
        "CREATE OR REPLACE TABLE calls AS SELECT r.run_id, v.conversation_id, s.step_id, "
        "CAST(row_number() OVER (PARTITION BY r.run_id ORDER BY g.order_key, g.file, g.record, "
        "g.part) AS INTEGER) AS sequence, g.uncached, g.write_5m, g.write_1h, g.read, g.output, "
        "g.latency_s, g.started_s, g.recorded_cost "
        "FROM good g JOIN runs r USING (run) JOIN conversations v USING (conversation) "
        "JOIN steps s USING (step, model)",
        "DROP VIEW good",
        "CREATE OR REPLACE TABLE records AS SELECT * FROM records LIMIT 0",
    ):
        database.run(statement, "indexing the calls")


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0]


def _where_sql(loaded: LoadedMapping) -> str:
    """A record's place as ``file:line``, in SQL: a CSV row's line counts its header line."""
    line = "record + 1" if loaded.layout == "csv" else "record"
    return f"file || ':' || ({line})"


def _bad_records(database: Database, fields: _Fields, loaded, skip_bad: bool) -> list[Skipped]:
    """Group the bad records by field and problem; without ``skip_bad`` they are an error."""
    where = _where_sql(loaded)
    groups = database.rows(
        f"SELECT problem_field, problem, count(*), arg_min({where}, "
        "(file, record, part)) FROM records WHERE problem IS NOT NULL GROUP BY ALL ORDER BY 3 DESC"
    )
    skipped = [Skipped(f, p, n, first) for f, p, n, first in groups]
    if not skipped or skip_bad:
        return skipped

    examples = database.rows(
        "SELECT file, record, part, problem_field, problem, found FROM records "
        f"WHERE problem IS NOT NULL ORDER BY file, record, part LIMIT {SHOWN_PROBLEMS}"
    )
    diagnostics = [_record_diagnostic(loaded, fields, *row) for row in examples]
    total = sum(s.count for s in skipped)
    if total > len(examples):
        diagnostics.append(
            Diagnostic(
                "E610",
                f"{total - len(examples)} more bad records "
                f"({total} in all: "
                + "; ".join(f"{s.count} {s.field} {s.problem}" for s in skipped)
                + ")",
                Location(str(loaded.path)),
                hint="run with --skip-bad to replay the good records and count the rest",
            )
        )
    else:
        last = diagnostics[-1]
        diagnostics[-1] = Diagnostic(
            last.code,
            last.message,
            last.location,
            hint="run with --skip-bad to replay the good records and count the rest",
            source_line=last.source_line,
        )
    raise PolicyError(diagnostics)


def _record_diagnostic(loaded, fields: _Fields, file, record, part, name, problem, found):
    """One bad record: its file and line (or row), the field at fault and what was found."""
    where = {"csv": "row", "parquet": "row"}.get(loaded.layout, "line")
    path = fields.written.get(name)
    named = f"field '{name}' ({path})" if path and name != "record" else "the record"
    shown = f", found {found!r}" if found is not None and problem != "is missing" else ""
    span = f", span {part}" if loaded.layout == "otlp" else ""
    message = f"{where} {record}{span}: {named} {problem}{shown}"
    line = record + 1 if loaded.layout == "csv" else record if where == "line" else 0
    return Diagnostic("E610", message, Location(file, line, 1 if line else 0))


def _check_models(database: Database, prices: PriceTable, prices_path: str) -> None:
    """Every model in the trace has a price; one that has none is an error naming it."""
    found = database.rows(
        "SELECT model, count(*), arg_min(file || ':' || record, (file, record)), "
        "sum(write_5m), sum(write_1h), sum(read) FROM good GROUP BY model ORDER BY model"
    )
    errors = []
    for model, count, first, write_5m, write_1h, read in found:
        price = prices.models.get(model)
        if price is None:
            errors.append(
                Diagnostic(
                    "E603",
                    f"model '{model}' of {count} calls (first at {first}) is not in the price "
                    "table",
                    Location(prices_path),
                    hint=did_you_mean(model, prices.models)
                    or f'add [models."{model}"] to {prices_path}',
                )
            )
            continue
        for tokens, price_name, value in (
            (write_5m, "cache_write_5m", price.cache_write_5m),
            (write_1h, "cache_write_1h", price.cache_write_1h),
            (read, "cache_read", price.cache_read),
        ):
            if tokens and value is None:
                errors.append(
                    Diagnostic(
                        "E604",
                        f"the trace bills {tokens:,} {price_name.replace('_', ' ')} tokens to "
                        f"'{model}', which has no {price_name} price",
                        Location(prices_path),
                        hint=f'add {price_name} to [models."{model}"]',
                    )
                )
    if errors:
        raise PolicyError(errors)


def _summary(database: Database, loaded, records: int, skipped: list[Skipped]) -> Trace:
    calls, runs, latencies, starts, costs, cached = database.rows(
        "SELECT count(*), count(DISTINCT run_id), count(latency_s), count(started_s), "
        "count(recorded_cost), coalesce(sum(write_5m + write_1h + read), 0) FROM calls"
    )[0]
    if calls == 0:
        raise PolicyError(
            [Diagnostic("E605", "the trace holds no call to replay", Location(str(loaded.path)))]
        )
    return Trace(
        loaded=loaded,
        database=database,
        records=records,
        calls=calls,
        runs=runs,
        skipped=skipped,
        latency_recorded=latencies == calls,
        timestamps=starts == calls,
        recorded_cost=costs > 0,
        recorded_cache=cached > 0,
    )


def decimal(value) -> Decimal:
    """A SQL number as an exact ``Decimal`` (DECIMAL columns arrive as Decimal already)."""
    return value if isinstance(value, Decimal) else Decimal(str(value or 0))


def _reason(error: duckdb.Error) -> str:
    """DuckDB's reason for refusing a file, without its advice on reader options: the lines
    that name the file, the line and what was wrong with it."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    advice = ("possible", "*", "-", "{", "line ", "^")
    kept = [line for line in lines[:8] if not line.lower().startswith(advice)]
    return " ".join(kept[:4]) or _first_line(error)
