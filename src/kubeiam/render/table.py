"""`--format table`: findings grouped by ServiceAccount (or node), worst first, coloured by severity."""

from __future__ import annotations

import shutil
from io import StringIO

from rich.console import Console
from rich.table import Table
from rich.text import Text

from kubeiam.pipeline.report import Report
from kubeiam.render.by_service_account import group_findings
from kubeiam.render.coverage_text import coverage_lines, rule_lines
from kubeiam.render.right_sizing import before_items, grant_files, limits_of, right_sized_of
from kubeiam.render.takeover_section import table_lines
from kubeiam.safety.text import safe_line
from kubeiam.vocabulary.findings import Finding, Severity

STYLE = {
    Severity.CRITICAL: "bold white on red",
    Severity.HIGH: "bold red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.INFO: "dim",
}
FILE_WIDTH = 120
"""Width when the table does not go to a terminal (a file, a pipe, a CI log)."""
NARROW = 100
"""Below this many columns the category column is left out: the titles need the room more."""


def render_table(report: Report, colour: bool = False, width: int | None = None) -> str:
    if width is None:
        # On a terminal, its width (COLUMNS first, as shells and `script` set it); else a fixed one.
        width = shutil.get_terminal_size((FILE_WIDTH, 24)).columns if colour else FILE_WIDTH
    buf = StringIO()
    console = Console(file=buf, force_terminal=colour, no_color=not colour, width=width, highlight=False)
    groups = group_findings(report.findings)  # worst subject first, as in every grouped format
    everything = [f for _, items in groups for f in items]
    # One width per column across all groups, so the rows of different subjects line up.
    rule_w = max((len(f.rule_id) for f in everything), default=4)
    category_w = max((len(str(f.category)) for f in everything), default=8) if width >= NARROW else 0
    for _, items in groups:
        console.print(_heading(items, width))
        table = Table(show_header=False, box=None, pad_edge=False, expand=False, padding=(0, 2, 0, 0))
        table.add_column(no_wrap=True, min_width=2)  # indent under the heading
        table.add_column(no_wrap=True, min_width=8)
        table.add_column(no_wrap=True, min_width=rule_w)
        if category_w:
            table.add_column(no_wrap=True, min_width=category_w)
        table.add_column(overflow="fold")
        for f in items:
            cells = [Text(""), Text(f.severity.value, style=STYLE[f.severity]), Text(f.rule_id)]
            if category_w:
                cells.append(Text(safe_line(str(f.category)), style="dim"))
            table.add_row(*cells, _title(f), style="dim" if f.status == "suppressed" else None)
        console.print(table)
        console.print()
    if report.mode == "check":  # one ServiceAccount: room for its grants whole (an audit has report.html)
        for text in right_sized_sections(report):
            # The document is never wrapped or cut (copied from the terminal, it must still be the JSON).
            console.print(text, soft_wrap=text.no_wrap is True)
    if report.mode == "check" and (takeover := table_lines(report.findings)):
        for row in takeover:  # who, besides the workload, can act as it
            console.print(row)
        console.print()
    console.print(summary_line(report))
    cov = report.coverage
    for u in cov.get("unreadable") or []:
        what = f"{u['source']} ({u['subject']})" if u.get("subject") else str(u["source"])
        console.print(Text(safe_line(f"not read at all: {what}: {u['reason']}"), style="bold red"))
    problems = len(cov.get("errors", [])) + len(cov.get("unchecked", []))
    if problems:
        console.print(Text(f"coverage: {problems} item(s) could not be checked, by cause:", style="yellow"))
        for line in coverage_lines(cov):
            console.print(Text(f"  {line}", style="yellow"))
    for line in rule_lines(cov):
        console.print(Text(line, style="yellow"))
    # Rich pads every line to the column width: trailing blanks only get in the way of copy and diff.
    return "".join(line.rstrip() + "\n" for line in buf.getvalue().splitlines())


def right_sized_sections(report: Report) -> list[Text]:
    """ "Right-sized grant" per identity: before (what its finding's evidence says it has), what the smaller
    grant drops, and after (the document, exactly as `right-sizing/` writes it, never wrapped: copy it whole)."""
    out = []
    by_fingerprint = {f.fingerprint: f for f in report.findings}
    for g in grant_files(report.findings):
        f = by_fingerprint[g.findings[0]]
        grant = right_sized_of(f)
        assert grant is not None  # grant_files keeps only findings that have one
        text = Text()
        text.append(safe_line(f"Right-sized grant: {g.principal}"), style="bold")
        text.append(safe_line(f"  ({grant.format}, {f.rule_id})"), style="dim")
        text.append("\n  before:")
        for key, value in before_items(f) or [("", "the finding names no grant")]:
            text.append("\n    " + safe_line(f"{key + ': ' if key else ''}{value}"))
        if g.usage:
            text.append("\n  usage: " + safe_line(g.usage))
        for limit in limits_of(f):
            text.append("\n    not seen: " + safe_line(limit), style="dim")
        if grant.drops:
            text.append("\n  drops:")
            for drop in grant.drops:
                text.append("\n    - " + safe_line(drop), style="yellow")
        text.append(f"\n  after ({g.path} in the report folder):")
        document = Text(no_wrap=True)
        document.append("\n".join(safe_line(line) for line in grant.text.splitlines()))
        out += [text, document, Text()]
    return out


def _heading(items: list[Finding], width: int) -> Text:
    """`subject  owner X  → principal`: who to ask, and which cloud identity is at stake.

    A principal too long for the line goes on its own indented line rather than breaking mid-word."""
    heading = Text(safe_line(items[0].subject), style="bold")
    owner = next((f.extra.get("owner") for f in items if f.extra.get("owner")), None)
    if owner:
        heading.append(f"  owner {safe_line(str(owner))}", style="dim")
    principals = sorted({safe_line(f.principal) for f in items if f.principal})
    if principals:
        more = f" (+{len(principals) - 1} more)" if len(principals) > 1 else ""
        arrow = f"→ {principals[0]}{more}"
        if heading.cell_len + 2 + len(arrow) <= width:
            heading.append(f"  {arrow}", style="dim")
        else:
            heading.append(f"\n    {_elide(arrow, width - 5)}", style="dim")
    return heading


def _elide(text: str, room: int) -> str:
    """Keep both ends of a long identifier (subscription and identity name of an Azure id); the JSON has it whole."""
    if len(text) <= room:
        return text
    head = (room - 1) // 2
    return f"{text[:head]}…{text[len(text) - (room - 1 - head) :]}"


def _title(f: Finding) -> Text:
    # Text, not markup: titles carry `[` and `]` from policies and annotations; no control character.
    title = Text(safe_line(f.title))
    if f.extra.get("baseline") == "new":
        title.append("  [new]", style="bold green")
    if f.status == "suppressed":
        until = (f.extra.get("suppression") or {}).get("expires")
        title.append(safe_line(f"  [suppressed{' until ' + str(until) if until else ''}]"), style="italic")
    return title


def summary_line(report: Report) -> Text:
    s = report.summary()
    cov = report.coverage
    text = Text()
    text.append(f"{s['open']} open finding(s)", style="bold")
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
