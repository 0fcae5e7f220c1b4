"""agentpolicy: declarative cost, latency and quality policies for LLM agents, evaluated offline.

The package is a pipeline of stages, one module (or package) each:

- ``syntax``: policy text → syntax tree (``nodes``), using the lark grammar in ``grammar/``;
  ``layout`` turns a parsed policy back into canonical text (``fmt``);
- ``variants``: a policy that ``extends`` another → the statements it means, file by file;
- ``units``: the one pint registry; quantities → exact magnitudes in canonical units;
- ``inputs``: pipeline, price and eval TOML files → validated models (pydantic);
- ``prices``, ``library``, ``providers``: a price table, from a local file and genai-prices'
  bundled data, with each provider's billing rules; ``usage`` reads reported usage;
- ``compiler`` (with ``selectors`` and ``checks``): syntax tree + inputs → checked levers,
  requires and warnings;
- ``engine`` (with ``formulas`` and ``crossrun``): levers applied to the pipeline → per-call
  token buckets, cost, latency, quality;
- ``report``, ``explain``, ``comparison``: an evaluation → a report, an explanation of each step,
  or two policies compared, as rich tables, JSON or markdown;
- ``traces``: recorded calls → a replay of the policy on them, in SQL on DuckDB;
- ``cli`` and ``commands``: the ``agentpolicy`` command.

Money is ``Decimal`` from the price table to the report; nothing is rounded along the way.
"""

__version__ = "0.1.0"
