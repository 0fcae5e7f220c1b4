"""An evaluated policy in, a report out: as a rich table, as JSON, or as markdown.

``build`` evaluates the baseline, the policy and each prefix of its levers once and gathers the
figures in an :class:`~agentpolicy.report.model.EvalReport`; the renderers only format them.
"""

from .model import EvalReport, build
from .render import to_json, to_markdown

__all__ = ["EvalReport", "build", "to_json", "to_markdown"]
