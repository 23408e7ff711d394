"""`--format markdown` (and the report folder's summary.md): for a ticket, a wiki page or an email."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from kubeiam.pipeline.report import Report
from kubeiam.render.by_control import by_control, subject_label
from kubeiam.render.by_service_account import group_findings, highest
from kubeiam.render.coverage_text import rule_lines
from kubeiam.render.usage_view import percent, usage_rows
from kubeiam.safety.text import markdown_text
from kubeiam.vocabulary.findings import Finding, Severity

# Every string from evidence or a baseline through markdown_text: one line, no raw HTML, no cell-ending pipe.
_esc = markdown_text


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(_esc(c) for c in row) + " |" for row in rows]
    return out


def headline(report: Report) -> str:
    s = report.summary()
    sev = ", ".join(f"{s['by_severity'][v.value]} {v.value}" for v in Severity if s["by_severity"][v.value])
    cov = report.coverage
    text = f"**{s['open']} open finding(s)**" + (f" ({sev})" if sev else "")
    if s["suppressed"]:
        text += f", {s['suppressed']} suppressed"
    text += (
        f" across {cov.get('service_accounts', {}).get('seen', 0)} ServiceAccount(s)"
        f" in {len(cov.get('clusters', []))} cluster(s)."
    )
    base = report.extra.get("baseline")
    if base:
        # The baseline file may be anyone's: its time is text like any other (each format escapes the line).
        text += (
            f" Since the baseline of {base['generated_at']}: {base['new']} new, {base['unchanged']} unchanged,"
            f" {base['resolved']} resolved."
        )
    return text


def entry_label(e: Mapping[str, Any]) -> str:
    """A suppression entry in one line: its fingerprint, or its rule and subject."""
    return e.get("fingerprint") or f"{e.get('rule')} {e.get('subject')}"


def _subject(f: Finding) -> str:
    return f.subject


def _header(report: Report) -> list[str]:
    stamp = report.generated_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    return [f"# kubeiam {_esc(report.mode)} — {stamp}", "", _esc(headline(report)), ""]


def _footer(report: Report) -> list[str]:
    out: list[str] = []
    resolved = report.extra.get("resolved") or []
    if resolved:
        out += ["## Resolved since the baseline", ""]
        out += _table(
            ("severity", "rule", "subject", "title", "fingerprint"),
            (
                (
                    r.get("severity"),
                    r["rule_id"],
                    "/".join(str(r.get(k)) for k in ("cluster", "namespace", "service_account")),
                    r.get("title"),
                    r["fingerprint"],
                )
                for r in resolved
            ),
        )
        out.append("")
    suppressed = [f for f in report.findings if f.status == "suppressed"]
    if suppressed:
        out += ["## Suppressed (accepted risks)", ""]
        out += _table(
            ("severity", "rule", "subject", "reason", "owner", "expires", "fingerprint"),
            (
                (
                    f.severity,
                    f.rule_id,
                    f.subject,
                    f.extra.get("suppression", {}).get("reason"),
                    f.extra.get("suppression", {}).get("owner"),
                    f.extra.get("suppression", {}).get("expires") or "never (annotation)",
                    f.fingerprint,
                )
                for f in suppressed
            ),
        )
        out.append("")
    expired = report.extra.get("expired_suppressions") or []
    if expired:
        out += ["## Expired suppressions (no longer muting)", ""]
        out += _table(
            ("entry", "reason", "owner", "expired", "still matches"),
            (
                (
                    entry_label(e),
                    e["reason"],
                    e["owner"],
                    e["expires"],
                    len(e.get("matches", [])),
                )
                for e in expired
            ),
        )
        out.append("")
    unused = report.extra.get("unused_suppressions") or []
    if unused:
        out += ["## Suppressions that matched nothing", ""]
        out += [f"- {_esc(entry_label(e))}: {_esc(e['reason'])} (owner {_esc(e['owner'])})" for e in unused]
        out.append("")
    cov = report.coverage
    gaps = [f"{e['source']}: {e['location']}: {e['reason']}" for e in cov.get("errors", [])]
    gaps += [
        f"{u['cluster']}/{u['namespace']}/{u['service_account']} -> {u.get('principal')}: {u['reason']}"
        for u in cov.get("unchecked", [])
    ]
    unreadable = [f"{u['source']} {u.get('subject') or ''}: {u['reason']}" for u in cov.get("unreadable") or []]
    if unreadable:
        out += ["## Not read at all", ""] + [f"- {_esc(g)}" for g in unreadable] + [""]
    if gaps:
        out += ["## Not checked (coverage)", ""] + [f"- {_esc(g)}" for g in gaps] + [""]
    rules = rule_lines(cov)
    if rules:
        out += ["## Rules changed by configuration", ""] + [f"- {_esc(line)}" for line in rules] + [""]
    return out


def render_markdown(report: Report, colour: bool = False) -> str:
    out = _header(report)
    open_ = [f for f in report.findings if f.status == "open"]
    new = [f for f in open_ if f.extra.get("baseline") == "new"]
    if "baseline" in report.extra:
        out += ["## New since the baseline", ""]
        out += _finding_table(new) if new else ["None."]
        out.append("")
    out += ["## Open findings", ""]
    out += _finding_table(open_) if open_ else ["None."]
    out.append("")
    out += usage_tables(report) + control_table(report) + _footer(report)
    return "\n".join(out).rstrip() + "\n"


SHOWN_SUBJECTS = 3


def control_table(report: Report) -> list[str]:
    """By control: each CIS section or ATT&CK technique the findings evidence, its open findings, who has them."""
    rows = by_control(report.findings)
    if not rows:
        return []

    def subjects(keys: Sequence[tuple]) -> str:
        shown = ", ".join(subject_label(k) for k in keys[:SHOWN_SUBJECTS])
        return shown + (f" (+{len(keys) - SHOWN_SUBJECTS} more)" if len(keys) > SHOWN_SUBJECTS else "")

    table = _table(
        ("control", "title", "open", "subjects"),
        ((r.tag, r.title, r.open, subjects(r.subjects) or "-") for r in rows),
    )
    return ["## By control", "", *table, ""]


def usage_tables(report: Report) -> list[str]:
    """Granted access in use, per namespace and per owner (unused-access findings' usage data)."""
    usage = report.usage
    if not usage:
        return []
    total = ", ".join(
        f"{s['used']} of {s['granted']} {unit} ({percent(s['used'], s['granted'])})"
        for unit, s in usage["total"].items()
    )
    out = ["## Granted access in use", "", _esc(f"Used of what is granted, most unused first. In all: {total}."), ""]
    for part, heads in (("by_namespace", ("namespace", "owner")), ("by_owner", ("owner",))):
        out += [f"### By {heads[0]}", ""]
        rows = [
            (*cells, unit, s["used"], s["granted"], percent(s["used"], s["granted"]))
            for cells, unit, s in usage_rows(usage, part)
        ]
        out += [*_table((*heads, "unit", "used", "granted", "in use"), rows), ""]
    return out


def _finding_table(findings: Sequence[Finding]) -> list[str]:
    return _table(
        ("severity", "rule", "subject", "owner", "title", "fingerprint"),
        ((f.severity, f.rule_id, _subject(f), f.extra.get("owner") or "", f.title, f.fingerprint) for f in findings),
    )


def render_markdown_grouped(report: Report, colour: bool = False) -> str:
    """One section per ServiceAccount: paste one section into one ticket."""
    out = _header(report)
    for (cluster, ns, sa, node), items in group_findings(report.findings):
        subject = f"{cluster}/{ns}/{sa}" if sa is not None else f"{cluster}/node/{node}"
        owner = next((f.extra.get("owner") for f in items if f.extra.get("owner")), None) or "unowned"
        out += [f"## {_esc(subject)} — {highest(items)} (owner: {_esc(owner)})", ""]
        for f in items:
            flag = " _(suppressed)_" if f.status == "suppressed" else ""
            out.append(f"- **{f.severity}** {f.rule_id}: {_esc(f.title)}{flag}")
            out.append(f"  - remediation: {_esc(f.remediation)}")
            out.append(f"  - fingerprint: `{f.fingerprint}`")
        out.append("")
    out += usage_tables(report) + control_table(report) + _footer(report)
    return "\n".join(out).rstrip() + "\n"
