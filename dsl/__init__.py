"""agentpolicy: declarative cost, latency and quality policies for LLM agents, evaluated offline.

The package is a pipeline of stages, one module each:

- ``syntax``: policy text → syntax tree (``nodes``), using the lark grammar in ``grammar/``;
- ``layout``: the parsed tokens and comments → canonical text (statements, ``agentpolicy fmt``);
- ``variants``: a policy that ``extends`` another → the statements it means, file by file;
- ``units``: the one pint registry; quantities → exact magnitudes in canonical units;
- ``inputs``: pipeline, price and eval TOML files → validated models (pydantic);
- ``compiler``: syntax tree + inputs → checked levers, requires and warnings;
- ``engine``: levers applied to the pipeline → per-call token buckets, cost, latency, quality;
- ``report``: an evaluation → a table (rich), JSON or markdown;
- ``comparison``: two policies → their figures side by side and the statements that moved them;
- ``explain``: a policy → for each step, the rules that applied and why, for the formulas;
- ``cli``: the ``agentpolicy`` command.

Money is ``Decimal`` from the price table to the report; nothing is rounded along the way.
"""

__version__ = "0.1.0"
