"""\"Who can act as it\": the takeover findings (K8S-006) of a ServiceAccount as a section of their own.

`check NS/NAME` shows it under the findings table (`table_lines`), the HTML drill-down per ServiceAccount
lists the subjects and the cloud paths (`html_section`); the JSON report carries the same in the findings'
evidence. Built from the findings alone, so every format says what the JSON says. Every string that came
from evidence goes through the safety functions (a subject or binding name is anyone's text).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.text import Text

from kubeiam.safety.text import html_text, safe_line
from kubeiam.vocabulary.findings import Finding, Severity

TAKEOVER_RULE = "K8S-006"
TITLE = "Who can act as it"
_STYLE = {
    Severity.CRITICAL: "bold white on red",
    Severity.HIGH: "bold red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.INFO: "dim",
}


@dataclass(frozen=True)
class Actor:
    """One subject that can act as the ServiceAccount, from one K8S-006 finding."""

    service_account: str
    subject: str
    severity: Severity
    techniques: tuple[str, ...]
    binding: str
    """The binding to narrow first."""
    bindings: tuple[str, ...]
    paths: tuple[str, ...]
    """`cloud principal -> technique -> ServiceAccount -> cloud identity -> power`, when a cloud principal stands
    behind the subject."""
    power: str
    suppressed: bool


def actors(findings: Sequence[Finding]) -> list[Actor]:
    """The takeover findings among `findings`, worst first, then by ServiceAccount and subject."""
    out = []
    for f in findings:
        if f.rule_id != TAKEOVER_RULE:
            continue
        ev = f.evidence
        out.append(
            Actor(
                service_account=f.subject,
                subject=str(ev.get("subject") or f.title),
                severity=f.severity,
                techniques=tuple(str(t) for t in ev.get("techniques") or ()),
                binding=str(ev.get("binding") or ""),
                bindings=tuple(str(b) for b in ev.get("bindings") or ()),
                paths=tuple(str(p) for p in ev.get("path") or ()),
                power=str(ev.get("power") or "unknown"),
                suppressed=f.status == "suppressed",
            )
        )
    return sorted(out, key=lambda a: (-a.severity.rank, a.service_account, a.subject))


def table_lines(findings: Sequence[Finding]) -> list[Text]:
    """The section for the table format: a heading, then per subject one line and its paths (none: no lines)."""
    found = actors(findings)
    if not found:
        return []
    several = len({a.service_account for a in found}) > 1
    lines = [Text(f"{TITLE} ({len(found)} subject(s) besides the workload)", style="bold")]
    for a in found:
        line = Text("  ")
        line.append(a.severity.value, style=_STYLE[a.severity])
        line.append(f"  {safe_line(a.subject)}")
        if several:
            line.append(f"  on {safe_line(a.service_account)}", style="dim")
        line.append(f"  {safe_line(', '.join(a.techniques))}")
        line.append(f"  via {safe_line(a.binding)}", style="dim")
        if len(a.bindings) > 1:
            line.append(f" (+{len(a.bindings) - 1} more)", style="dim")
        if a.suppressed:
            line.append("  [suppressed]", style="italic")
        lines.append(line)
        lines += [Text(f"      {safe_line(p)}", style="dim") for p in a.paths]
    return lines


def html_section(findings: Sequence[Finding]) -> str:
    """The section for one ServiceAccount's HTML drill-down; empty when nobody else can act as it."""
    found = actors(findings)
    if not found:
        return ""
    items = []
    for a in found:
        paths = "".join(f"<li><code>{html_text(p)}</code></li>" for p in a.paths)
        items.append(
            f'<li><span class="sev sev-{a.severity.value}">{a.severity.value}</span> '
            f"<b>{html_text(a.subject)}</b>: {html_text(', '.join(a.techniques))} "
            f'<span class="muted">via {html_text(", ".join(a.bindings) or a.binding)}; '
            f"identity power {html_text(a.power)}</span>"
            + (f'<ul class="paths">{paths}</ul>' if paths else "")
            + "</li>"
        )
    return f'<h3>{TITLE}</h3><ul class="takeover">{"".join(items)}</ul>'
