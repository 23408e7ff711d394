"""`--format json`: the report of shared FINDINGS.md."""

from __future__ import annotations

import json
from typing import Any

from kubeiam.grouping import grouped_records
from kubeiam.report import Report

_compact = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": ")).encode


def dumps(value: Any, indent: int = 0, depth: int = 2) -> str:
    """Objects indented down to `depth`, then one compact line per list item.

    Why not `json.dumps(indent=2)`: with `indent` the standard library falls back to its pure-Python
    encoder, ten times slower on a report of 100,000 findings; and one finding per line diffs cleanly.
    """
    pad, inner = "  " * indent, "  " * (indent + 1)
    if isinstance(value, dict) and value and depth > 0:
        body = f",\n{inner}".join(f"{_compact(k)}: {dumps(v, indent + 1, depth - 1)}" for k, v in value.items())
        return f"{{\n{inner}{body}\n{pad}}}"
    if isinstance(value, list) and value:
        body = f",\n{inner}".join(_compact(v) for v in value)
        return f"[\n{inner}{body}\n{pad}]"
    return _compact(value)


def render_json(report: Report, colour: bool = False) -> str:
    return dumps(report.to_dict()) + "\n"


def render_json_grouped(report: Report, colour: bool = False) -> str:
    """The report with `service_accounts` (one record per ServiceAccount) in place of the flat list."""
    doc = report.to_dict()
    doc.pop("findings")
    doc["service_accounts"] = grouped_records(report)
    return dumps(doc) + "\n"
