"""`--format table`: findings grouped by ServiceAccount (or node), coloured by severity."""

from __future__ import annotations

from io import StringIO
from itertools import groupby

from rich.console import Console
from rich.table import Table
from rich.text import Text

from kubeiam.findings import Finding, Severity
from kubeiam.report import Report

STYLE = {
    Severity.CRITICAL: "bold white on red",
    Severity.HIGH: "bold red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.INFO: "dim",
}


def _subject(f: Finding) -> str:
    return f.subject


def render_table(report: Report, colour: bool = False) -> str:
    buf = StringIO()
    console = Console(file=buf, force_terminal=colour, no_color=not colour, width=140, highlight=False)
    findings = sorted(report.findings, key=lambda f: (f.subject, -f.severity.rank, f.rule_id))
    for subject, group in groupby(findings, key=_subject):
        items = list(group)
        principal = next((f.principal for f in items if f.principal), None)
        heading = Text(subject, style="bold")
        if principal:
            heading.append(f"  →  {principal}", style="dim")
        console.print(heading)
        table = Table(show_header=True, header_style="bold", box=None, pad_edge=False, expand=False)
        table.add_column("severity", no_wrap=True)
        table.add_column("rule", no_wrap=True)
        table.add_column("category", no_wrap=True)
        table.add_column("finding")
        for f in items:
            sev = Text(f.severity.value, style=STYLE[f.severity])
            title = f.title if f.status == "open" else f"{f.title} [suppressed]"
            if f.extra.get("baseline") == "new":
                title = f"{title} [new]"
            table.add_row(sev, f.rule_id, f.category.value, Text(title))  # Text: "[new]" is not markup
        console.print(table)
        console.print()
    console.print(summary_line(report))
    cov = report.coverage
    problems = len(cov.get("errors", [])) + len(cov.get("unchecked", []))
    if problems:
        console.print(
            Text(
                f"coverage: {problems} item(s) could not be checked; see the JSON report's coverage section",
                style="yellow",
            )
        )
    return buf.getvalue()


def summary_line(report: Report) -> Text:
    s = report.summary()
    cov = report.coverage
    text = Text()
    text.append(f"{s['open']} open finding(s)")
    parts = [(sev, s["by_severity"][sev.value]) for sev in Severity if s["by_severity"][sev.value]]
    if parts:
        text.append(" (")
        for i, (sev, n) in enumerate(parts):
            if i:
                text.append(", ")
            text.append(f"{n} {sev.value}", style=STYLE[sev])
        text.append(")")
    if s["suppressed"]:
        text.append(f", {s['suppressed']} suppressed")
    sas = cov.get("service_accounts", {})
    text.append(f" across {sas.get('seen', 0)} ServiceAccount(s) in {len(cov.get('clusters', []))} cluster(s)")
    base = report.extra.get("baseline")
    if base:
        text.append(f"; since baseline: {base['new']} new, {base['resolved']} resolved")
    expired = report.extra.get("expired_suppressions") or []
    if expired:
        text.append(f"; {len(expired)} expired suppression(s)", style="yellow")
    return text
