"""Recorded model calls in, a policy's replay over them out: the trace half of agentpolicy.

A trace is read through a *mapping* (``mapping.py``): a TOML file that names the log files, how
their records are laid out (JSONL, CSV, Parquet, OpenTelemetry spans) and which usage convention
their token counts follow.  ``read.py`` turns the records into one relational table of calls
with disjoint token buckets, inside an embedded DuckDB database, and reports every record it
cannot read with its file, line or row, and field.  ``policy.py`` derives the step table that
selectors test and compiles a policy against it; ``replay.py`` reprices every call as the
levers change it, in plain SQL with window functions over each run's calls (no Python loop per
call), so the same statements can run on a distributed SQL engine; ``report.py`` gathers and
renders the per-step and per-run figures.  ``reference.py`` is the slow, obvious per-call
calculator the tests and the benchmark hold the SQL replay to.
"""
