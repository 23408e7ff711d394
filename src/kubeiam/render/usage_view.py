"""The report's `usage` roll-up (granted access in use, pipeline/report.py) as rows for the HTML and markdown tables."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def usage_rows(usage: Mapping[str, Any], part: str) -> list[tuple[list[str], str, Mapping[str, int]]]:
    """(label cells, unit, {used, granted, identities}) per namespace or owner and unit, least used first."""
    rows = []
    for entry in usage.get(part) or ():
        if part == "by_namespace":
            cells = [f"{entry.get('cluster')}/{entry.get('namespace')}", str(entry.get("owner") or "unowned")]
        else:
            cells = [str(entry.get("owner") or "unowned")]
        for unit, sums in (entry.get("units") or {}).items():
            rows.append((cells, str(unit), sums))
    return sorted(rows, key=lambda r: (-(r[2]["granted"] - r[2]["used"]), r[0], r[1]))


def percent(used: int, granted: int) -> str:
    """`8%`; `<1%` when something is used (4 of 1998 is not nothing)."""
    if not granted:
        return "-"
    share = 100 * used / granted
    return "<1%" if 0 < share < 0.5 else f"{share:.0f}%"


def identities(n: int) -> str:
    return f"{n} identit{'y' if n == 1 else 'ies'}"
