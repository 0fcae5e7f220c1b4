"""A trace and a set of rules in, one :class:`Pass` out: each call repriced as the levers change it.

The levers are decided once per step of the derived step table (a few dozen rows, in Python,
with the same selectors the pipeline engine uses) and joined to the calls as a small table;
everything per call is one SQL statement:

1. ``shaped``   — each call joined to its step's decision (model after routing, trim, cap,
   batch, cache form), with the prompt after trimming (beyond a stated prefix) and the output
   after capping;
2. ``chained``  — for a cache lever, the previous call of the same run to the same model in the
   same cache chain (for ``cache history``, in the same conversation), by a window ``lag`` over
   the run's calls in order;
3. ``bucketed`` — disjoint buckets: a history cache reads what the previous call sent (when it
   was long enough to cache and, where timestamps exist, within the TTL) and writes the rest; a
   prefix cache writes the prefix on a chain's first call and reads it after; without a cache
   lever the recorded split is kept (scaled down by a trim);
4. ``priced``   — cost per call in exact decimals (micro-dollars), latency per call from the
   model table's formula (or the recorded latency moved by the formula's change), and sums
   by ``GROUPING SETS`` per run and per step.

Runs, conversations, steps and models are integer keys (see ``read._compact``), and every
window orders by one integer, the call's place in its run.  The statements are plain SQL
(window functions, joins, grouping sets), no DuckDB-only feature past the readers, so the same
replay can run on a distributed engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from ..compiler import LEVER_ORDER, CompiledPolicy, Rule
from ..formulas import Buckets
from ..inputs import TTLS, Step
from ..prices import PriceTable
from .read import Database, decimal

MICRO = Decimal(1_000_000)


@dataclass(frozen=True)
class Decision:
    """What a set of rules does to one step (a step name with one model) of the trace."""

    step: Step
    model_after: str
    trim_fraction: Decimal | None
    trim_to: Decimal | None
    cap_at: Decimal | None
    batched: bool
    cache: Rule | None
    rules: tuple[Rule, ...]


def decide(policy: CompiledPolicy, rules: list[Rule]) -> list[Decision]:
    """The first matching rule of each kind wins, as in the pipeline engine; one cache rule."""
    by_kind = {kind: [r for r in rules if r.kind == kind] for kind in LEVER_ORDER}
    cache = by_kind["cache"][:1]
    decisions = []
    for step in policy.pipeline.steps:
        first = {k: next((r for r in by_kind[k] if r.matches(step)), None) for k in LEVER_ORDER}
        first["cache"] = next((r for r in cache if r.matches(step)), None)
        trim = first["trim"]
        decisions.append(
            Decision(
                step=step,
                model_after=first["route"].model if first["route"] else step.model,
                trim_fraction=trim.trim_fraction if trim else None,
                trim_to=trim.trim_to if trim else None,
                cap_at=first["cap"].cap_at if first["cap"] else None,
                batched=first["batch"] is not None,
                cache=first["cache"],
                rules=tuple(r for r in (first[k] for k in LEVER_ORDER) if r is not None),
            )
        )
    return decisions


@dataclass(frozen=True)
class Stats:
    """A per-run distribution: mean, median and 95th percentile."""

    mean: Decimal
    median: Decimal
    p95: Decimal


@dataclass(frozen=True)
class StepFigures:
    """One step (with one recorded model) under a pass: calls, tokens, cost and latency."""

    step: str
    model: str
    model_after: str
    calls: int
    tokens: Buckets
    cost: Decimal
    recorded_cost: Decimal | None
    latency: float
    batched_calls: int


@dataclass
class Pass:
    """A replay of every call of the trace under one set of rules."""

    name: str
    rules: list[Rule]
    steps: list[StepFigures]
    runs: int
    calls: int
    cost: Decimal
    recorded_cost: Decimal | None
    cost_per_run: Stats
    latency_per_run: Stats
    deferred_latency_per_run: Decimal
    modelled_latency_calls: int
    decisions: list[Decision] = field(default_factory=list)

    @property
    def tokens(self) -> Buckets:
        total = Buckets()
        for step in self.steps:
            total = total + step.tokens
        return total

    def step(self, name: str, model: str) -> StepFigures | None:
        return next((s for s in self.steps if (s.step, s.model) == (name, model)), None)


def load_prices(database: Database, prices: PriceTable) -> None:
    """The price table as a small relation, one row per model, prices in USD per MTok."""
    database.run(
        "CREATE OR REPLACE TABLE prices (model_id INTEGER, p_in DECIMAL(28, 9), "
        "p_out DECIMAL(28, 9), p_w5 DECIMAL(28, 9), p_w1 DECIMAL(28, 9), p_read DECIMAL(28, 9), "
        "caches BOOLEAN, min_cacheable BIGINT, batch_discount DECIMAL(10, 6), overhead DOUBLE, "
        "prefill_speed DOUBLE, output_speed DOUBLE, read_prefill DOUBLE)"
    )
    for model_id, p in enumerate(prices.models.values()):
        database.run(
            "INSERT INTO prices VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            parameters=[
                model_id,
                p.input,
                p.output,
                p.cache_write_5m,
                p.cache_write_1h,
                p.cache_read,
                p.caches,
                int(p.min_cacheable),
                p.batch_discount,
                float(p.overhead),
                float(p.prefill_speed),
                float(p.output_speed),
                float(p.cache_read_prefill),
            ],
        )


def _load_decisions(database: Database, policy: CompiledPolicy, decisions: list[Decision]):
    models = {name: i for i, name in enumerate(policy.prices.models)}
    steps = {
        (step, model): i
        for i, step, model in database.rows("SELECT step_id, step, model FROM steps")
    }
    database.run(
        "CREATE OR REPLACE TEMP TABLE decisions (step_id INTEGER, model_id INTEGER, "
        "model_after_id INTEGER, trim_fraction DECIMAL(10, 6), trim_to BIGINT, cap_at BIGINT, "
        "batched BOOLEAN, cache_form VARCHAR, ttl_s DOUBLE, ttl_1h BOOLEAN, prefix_size BIGINT)"
    )
    for d in decisions:
        cache = d.cache
        database.run(
            "INSERT INTO decisions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            parameters=[
                steps[(d.step.name, d.step.model)],
                models[d.step.model],
                models[d.model_after],
                d.trim_fraction,
                int(d.trim_to) if d.trim_to is not None else None,
                int(d.cap_at) if d.cap_at is not None else None,
                d.batched,
                cache.cache_form if cache else None,
                float(TTLS[cache.ttl]) if cache else None,
                cache.ttl == "1h" if cache else False,
                int(cache.prefix_size) if cache and cache.prefix_size is not None else None,
            ],
        )


_SHAPED = """
SELECT run_id, conversation_id, step_id, sequence, uncached, write_5m, write_1h, read, output,
       latency_s, started_s, recorded_cost, model_id, model_after_id, batched, cache_form,
       ttl_s, ttl_1h, prefix_size, prompt,
       CASE WHEN cache_form = 'history' THEN conversation_id
            WHEN cache_form = 'prefix' THEN -1 ELSE -2 END AS chain,
       CASE WHEN trim_fraction IS NOT NULL
                 THEN kept + CAST(round((prompt - kept) * (1 - trim_fraction)) AS BIGINT)
            WHEN trim_to IS NOT NULL THEN kept + least(prompt - kept, trim_to)
            ELSE prompt END AS prompt_after,
       CASE WHEN cap_at IS NOT NULL THEN least(output, cap_at) ELSE output END AS output_after
FROM (SELECT c.*, d.model_id, d.model_after_id, d.trim_fraction, d.trim_to, d.cap_at,
             d.batched, d.cache_form, d.ttl_s, d.ttl_1h, d.prefix_size,
             c.uncached + c.write_5m + c.write_1h + c.read AS prompt,
             CASE WHEN d.cache_form = 'prefix'
                  THEN least(c.uncached + c.write_5m + c.write_1h + c.read, d.prefix_size)
                  ELSE 0 END AS kept
      FROM calls c JOIN decisions d ON c.step_id = d.step_id) AS decided
"""

# The cache chain of a call: the previous call of its run, to its model, under its cache form
# (for a history cache, in its conversation: ``chain`` is the conversation, -1 for a prefix
# cache, -2 for none).  The window sees the narrow call rows only;
# prices are joined after it.
_CHAINED = """
SELECT s.*, a.*,
       lag(s.prompt_after) OVER chain AS previous_prompt,
       lag(s.started_s) OVER chain AS previous_start
FROM shaped s JOIN prices a ON a.model_id = s.model_after_id
WINDOW chain AS (PARTITION BY s.run_id, s.model_after_id, s.chain ORDER BY s.sequence)
"""

_UNCHAINED = """
SELECT s.*, a.*, CAST(NULL AS BIGINT) AS previous_prompt, CAST(NULL AS DOUBLE) AS previous_start
FROM shaped s JOIN prices a ON a.model_id = s.model_after_id
"""

# With a cache lever: the recorded caching is replaced by the lever's.
_RECACHED = """
SELECT *,
       CASE WHEN cache_form = 'history' AND cacheable AND warm
                 AND previous_prompt >= min_cacheable THEN least(previous_prompt, prompt_after)
            WHEN cache_form = 'prefix' AND cacheable AND warm
                 AND previous_prompt >= prefix_size THEN prefix_size
            ELSE 0 END AS read_after
FROM (
  SELECT *,
         cache_form IS NOT NULL AND caches
           AND (CASE WHEN ttl_1h THEN p_w1 ELSE p_w5 END) IS NOT NULL
           AND CASE WHEN cache_form = 'history' THEN prompt_after >= min_cacheable
                    ELSE prefix_size >= min_cacheable AND prompt_after >= prefix_size END
           AS cacheable,
         previous_prompt IS NOT NULL
           AND (started_s IS NULL OR previous_start IS NULL OR started_s - previous_start <= ttl_s)
           AS warm
  FROM chained) AS flagged
"""

_RECACHED_BUCKETS = """
SELECT *,
       prompt_after - read_after - written AS uncached_after,
       CASE WHEN ttl_1h THEN 0 ELSE written END AS write_5m_after,
       CASE WHEN ttl_1h THEN written ELSE 0 END AS write_1h_after
FROM (SELECT *,
             CASE WHEN NOT cacheable THEN 0
                  WHEN cache_form = 'history' THEN prompt_after - read_after
                  WHEN read_after = 0 THEN prefix_size
                  ELSE 0 END AS written
      FROM recached) AS with_written
"""

# Without a cache lever: the recorded split stands, scaled down in proportion to a trim; a
# bucket the model after routing has no price for is sent uncached.
_KEPT_BUCKETS = """
SELECT *, prompt_after - read_after - write_5m_after - write_1h_after AS uncached_after
FROM (
  SELECT *,
         CASE WHEN p_read IS NULL OR prompt = 0 THEN 0
              ELSE (read * prompt_after) // prompt END AS read_after,
         CASE WHEN p_w5 IS NULL OR prompt = 0 THEN 0
              ELSE (write_5m * prompt_after) // prompt END AS write_5m_after,
         CASE WHEN p_w1 IS NULL OR prompt = 0 THEN 0
              ELSE (write_1h * prompt_after) // prompt END AS write_1h_after
  FROM chained) AS scaled
"""

_PRICED = """
SELECT b.*,
       (b.uncached_after * b.p_in + b.write_5m_after * coalesce(b.p_w5, 0)
        + b.write_1h_after * coalesce(b.p_w1, 0) + b.read_after * coalesce(b.p_read, 0)
        + b.output_after * b.p_out)
       * CASE WHEN b.batched THEN 1 - b.batch_discount ELSE 1 END AS cost_micro,
       b.overhead + (b.uncached_after + b.write_5m_after + b.write_1h_after
                     + b.read_prefill * b.read_after) / b.prefill_speed
                  + b.output_after / b.output_speed AS modelled_after,
       o.overhead + (b.uncached + b.write_5m + b.write_1h + o.read_prefill * b.read)
                    / o.prefill_speed + b.output / o.output_speed AS modelled_before
FROM bucketed b JOIN prices o ON o.model_id = b.model_id
"""

_AGGREGATED = """
SELECT grouping(run_id) AS by_step, run_id, step_id, model_after_id,
       count(*) AS calls,
       sum(uncached_after) AS uncached, sum(write_5m_after) AS write_5m,
       sum(write_1h_after) AS write_1h, sum(read_after) AS read, sum(output_after) AS output,
       sum(cost_micro) AS cost_micro, sum(recorded_cost) AS recorded_cost,
       coalesce(sum(latency) FILTER (WHERE NOT batched), 0) AS latency,
       coalesce(sum(latency) FILTER (WHERE batched), 0) AS deferred,
       count(*) FILTER (WHERE batched) AS batched_calls,
       count(*) FILTER (WHERE latency_s IS NULL) AS modelled_calls
FROM (SELECT *,
             CASE WHEN latency_s IS NULL THEN modelled_after
                  ELSE greatest(latency_s + modelled_after - modelled_before, 0) END AS latency
      FROM priced) AS timed
GROUP BY GROUPING SETS ((run_id), (step_id, model_after_id))
"""


def call_sql(recache: bool) -> str:
    """The per-call replay as one SQL statement of common table expressions."""
    chained = _CHAINED if recache else _UNCHAINED
    bucketed = (
        f"recached AS ({_RECACHED}), bucketed AS ({_RECACHED_BUCKETS})"
        if recache
        else f"bucketed AS ({_KEPT_BUCKETS})"
    )
    return f"WITH shaped AS ({_SHAPED}), chained AS ({chained}), {bucketed}, priced AS ({_PRICED}) "


def replay(
    policy: CompiledPolicy,
    rules: list[Rule],
    name: str,
    label: str = "replaying",
    *,
    keep: bool = True,
) -> Pass:
    """Replay every call of the policy's trace under ``rules``.

    The per-run sums stay in table ``pass_<name>`` for comparisons, unless ``keep`` is false.
    """
    database: Database = policy.trace.database
    decisions = decide(policy, rules)
    _load_decisions(database, policy, decisions)
    recache = any(r.kind == "cache" for r in rules)
    table = f"pass_{name}"
    database.run(
        f"CREATE OR REPLACE TEMP TABLE {table} AS {call_sql(recache)} {_AGGREGATED}", label
    )
    gathered = _gather(database, table, name, rules, decisions)
    if not keep:
        database.run(f"DROP TABLE {table}")
    return gathered


def _gather(database: Database, table: str, name: str, rules, decisions) -> Pass:
    steps = [
        StepFigures(
            step=step,
            model=model,
            model_after=model_after,
            calls=calls,
            tokens=Buckets(*(decimal(v) for v in (uncached, write_5m, write_1h, read, output))),
            cost=decimal(cost) / MICRO,
            recorded_cost=decimal(recorded) if recorded is not None else None,
            latency=float(latency),
            batched_calls=batched,
        )
        for (
            step,
            model,
            model_after,
            calls,
            uncached,
            write_5m,
            write_1h,
            read,
            output,
            cost,
            recorded,
            latency,
            batched,
        ) in database.rows(
            "SELECT s.step, s.model, m.model, calls, uncached, write_5m, write_1h, read, output, "
            f"cost_micro, recorded_cost, latency, batched_calls FROM {table} p "
            "JOIN steps s USING (step_id) JOIN models m ON m.model_id = p.model_after_id "
            "WHERE by_step = 1 ORDER BY cost_micro DESC, s.step, s.model"
        )
    ]
    (
        runs,
        calls,
        cost,
        recorded,
        cost_quantiles,
        latency_mean,
        latency_quantiles,
        deferred,
        modelled,
    ) = database.rows(
        "SELECT count(*), sum(calls), sum(cost_micro), sum(recorded_cost), "
        "quantile_cont(cost_micro, [0.5, 0.95]), avg(latency), "
        "quantile_cont(latency, [0.5, 0.95]), avg(deferred), sum(modelled_calls) "
        f"FROM {table} WHERE by_step = 0"
    )[0]
    total = decimal(cost) / MICRO
    return Pass(
        name=name,
        rules=list(rules),
        steps=steps,
        runs=runs,
        calls=int(calls),
        cost=total,
        recorded_cost=decimal(recorded) if recorded is not None else None,
        cost_per_run=Stats(
            total / runs, decimal(cost_quantiles[0]) / MICRO, decimal(cost_quantiles[1]) / MICRO
        ),
        latency_per_run=Stats(
            decimal(latency_mean), decimal(latency_quantiles[0]), decimal(latency_quantiles[1])
        ),
        deferred_latency_per_run=decimal(deferred),
        modelled_latency_calls=int(modelled),
        decisions=decisions,
    )


@dataclass(frozen=True)
class RunErrors:
    """How far one pass's per-run cost is from another's: median and p95 of the relative error."""

    median: Decimal
    p95: Decimal


def run_errors(database: Database, predicted: str, recorded: str) -> RunErrors:
    """Per-run relative cost error of pass ``predicted`` against pass ``recorded``."""
    median, p95 = database.rows(
        "SELECT quantile_cont(abs(p.cost_micro - r.cost_micro) / r.cost_micro, [0.5, 0.95]) "
        f"FROM pass_{predicted} p JOIN pass_{recorded} r ON p.run_id = r.run_id "
        "WHERE p.by_step = 0 AND r.by_step = 0 AND r.cost_micro > 0"
    )[0][0]
    return RunErrors(decimal(median), decimal(p95))
