"""What could not be checked, in a few lines a person reads: causes grouped, each with its subjects.

Shared by stderr and the table's footer, so both say the same thing. Every string comes from evidence
or an API answer: each goes through `safe_line` (no control character reaches a terminal).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kubeiam.safety.text import safe_line

SHOWN = 3
"""Subjects named per cause; the JSON report has them all."""


def coverage_lines(coverage: Mapping[str, Any], limit: int = 8) -> list[str]:
    """`source: cause (n): subject, subject, +k more`, most frequent causes first, at most `limit` lines."""
    groups: dict[tuple[str, str], list[str]] = {}
    for e in coverage.get("errors", []):
        groups.setdefault((str(e.get("source")), str(e.get("reason"))), []).append(
            str(e.get("subject") or e.get("location"))
        )
    for u in coverage.get("unchecked", []):
        subject = f"{u.get('cluster')}/{u.get('namespace')}/{u.get('service_account')}"
        groups.setdefault((str(u.get("cloud")), str(u.get("reason"))), []).append(subject)
    ordered = sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    lines = [_line(source, cause, subjects) for (source, cause), subjects in ordered[:limit]]
    if len(ordered) > limit:
        lines.append(f"... and {len(ordered) - limit} more cause(s) (see coverage in the JSON report)")
    return lines


def _line(source: str, cause: str, subjects: Sequence[str]) -> str:
    unique = list(dict.fromkeys(subjects))
    named = ", ".join(unique[:SHOWN]) + (f", +{len(unique) - SHOWN} more" if len(unique) > SHOWN else "")
    return safe_line(f"{source}: {cause} ({len(subjects)}): {named}")


def rule_lines(coverage: Mapping[str, Any]) -> list[str]:
    """Rules turned off or re-levelled by configuration, with where."""
    lines = []
    disabled = coverage.get("rules_disabled") or []
    if disabled:
        where = sorted({str(d.get("where")) for d in disabled})
        ids = ", ".join(str(d.get("rule")) for d in disabled)
        lines.append(safe_line(f"{len(disabled)} rule(s) turned off by {', '.join(where)}: {ids}"))
    for r in coverage.get("rules_relevelled") or []:
        lines.append(
            safe_line(f"{r.get('rule')} set to {r.get('severity')} (default {r.get('default')}) by {r.get('where')}")
        )
    return lines
