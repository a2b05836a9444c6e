"""The metric names a PromQL expression (or a Grafana ``label_values`` query) reads.

Enough of PromQL for the project's rules and dashboard: strings, label
matchers, ranges and grouping clauses are dropped; what remains of the
identifiers, less functions and keywords, are metric names.
"""

from __future__ import annotations

import re

KEYWORDS = frozenset(
    {
        "and",
        "or",
        "unless",
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "offset",
        "bool",
        "atan2",
    }
)
_STRING = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGE = re.compile(r"\[[^\[\]]*\]")
_GROUPING = re.compile(
    r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)", re.IGNORECASE
)
_IDENT = re.compile(r"(?<![\w$.])([a-zA-Z_:][\w:]*)(\s*\()?")
_LABEL_VALUES = re.compile(r"^\s*label_values\(\s*([^,)]+)")


def metric_names(expr: str) -> set[str]:
    """Every metric name ``expr`` selects."""
    found = _LABEL_VALUES.match(expr)
    if found:  # Grafana's label_values(metric{...}, label): only the metric counts
        expr = found.group(1)
    for pattern in (_STRING, _MATCHERS, _RANGE, _GROUPING):
        expr = pattern.sub(" ", expr)
    return {
        m.group(1)
        for m in _IDENT.finditer(expr)
        if m.group(2) is None and m.group(1).lower() not in KEYWORDS
    }
