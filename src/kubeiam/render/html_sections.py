"""Sections of the HTML report beyond findings: by control, granted access in use, the right-sized grant of
a finding (before / after). Every string from evidence goes through `html_text`."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from kubeiam.pipeline.report import Report
from kubeiam.render.by_control import by_control, subject_label
from kubeiam.render.right_sizing import before_items, limits_of, right_sized_of, usage_text
from kubeiam.render.usage_view import identities, percent, usage_rows
from kubeiam.safety.text import html_text, json_block
from kubeiam.vocabulary.findings import Finding

SHOWN_SUBJECTS = 20
"""Subjects linked per control; the rest are one click away (the count filters the drill-down)."""


def by_control_section(report: Report, subject_id: Callable[[tuple], str]) -> str:
    rows = by_control(report.findings)
    if not rows:
        return ""
    out = [
        f'<section id="by-control"><h2>By control ({len(rows)})</h2>',
        '<p class="muted">The CIS Benchmark sections and MITRE ATT&amp;CK techniques the findings evidence, where '
        "they were found. Click a count to filter the drill-down.</p>",
        "<table><tr><th>control</th><th>benchmark</th><th>open</th><th>subjects</th></tr>",
    ]
    for r in rows:
        shown = r.subjects[:SHOWN_SUBJECTS]
        links = ", ".join(f'<a href="#{html_text(subject_id(k))}">{html_text(subject_label(k))}</a>' for k in shown)
        if len(r.subjects) > len(shown):
            links += f' <span class="muted">and {len(r.subjects) - len(shown)} more</span>'
        count = (
            f'<button type="button" class="facet" data-facet-key="control" data-facet-value="{html_text(r.tag)}">'
            f"{r.open}</button>"
            if r.open
            else "0"
        )
        if r.suppressed:
            count += f' <span class="muted">+{r.suppressed} suppressed</span>'
        out.append(
            f'<tr data-control="{html_text(r.tag)}"><td><b>{html_text(r.id)}</b> {html_text(r.title)}</td>'
            f"<td>{html_text(r.framework)} {html_text(r.version)}</td><td>{count}</td>"
            f"<td>{links or '<span class=muted>none open</span>'}</td></tr>"
        )
    out.append("</table></section>")
    return "".join(out)


def usage_section(report: Report) -> str:
    usage = report.usage
    if not usage:
        return ""
    out = [
        '<section id="usage"><h2>Granted access in use</h2>',
        '<p class="muted">What the identities with unused access use of what they are granted, from each '
        "cloud's usage data (an identity counts once per namespace and owner); most unused first.</p>",
    ]
    total = ", ".join(
        f"{s['used']} of {s['granted']} {html_text(unit)} ({percent(s['used'], s['granted'])}, "
        f"{identities(s['identities'])})"
        for unit, s in usage["total"].items()
    )
    out.append(f"<p>In all: {total}.</p>")
    for part, heads in (("by_namespace", ("namespace", "owner")), ("by_owner", ("owner",))):
        out.append(f"<h3>By {heads[0]}</h3><table><tr>")
        out.append("".join(f"<th>{h}</th>" for h in (*heads, "unit", "used", "granted", "in use")) + "</tr>")
        for cells, unit, s in usage_rows(usage, part):
            share = 100 * s["used"] / s["granted"] if s["granted"] else 0
            out.append(
                "<tr>"
                + "".join(f'<td class="words">{html_text(c)}</td>' for c in cells)
                + f'<td class="words">{html_text(unit)}</td><td>{s["used"]}</td><td>{s["granted"]}</td>'
                f'<td><span class="meter" title="{share:.0f}% used"><span style="width:{share:.0f}%"></span>'
                f"</span> {percent(s['used'], s['granted'])}</td></tr>"
            )
        out.append("</table>")
    out.append("</section>")
    return "".join(out)


def right_sized_block(f: Finding) -> str:
    """The finding's right-sized grant: before (what its evidence says the identity has), after, drops."""
    grant = right_sized_of(f)
    if grant is None:
        return ""
    before = before_items(f)
    used = usage_text(f)
    limits = limits_of(f)
    before_html = (
        "<ul>" + "".join(f"<li><code>{html_text(k)}</code>: {html_text(v)}</li>" for k, v in before) + "</ul>"
        if before
        else '<p class="muted">the finding names no grant</p>'
    )
    drops = "".join(f"<li>{html_text(d)}</li>" for d in grant.drops)
    return (
        f'<div class="right-sized"><b>Right-sized grant</b> <span class="tag">{html_text(grant.format)}</span>'
        + (f"<p>{html_text(used)}</p>" if used else "")
        + (f'<p class="muted">not seen by the usage data: {html_text("; ".join(limits))}</p>' if limits else "")
        + (f"<div><b>Drops</b><ul>{drops}</ul></div>" if drops else "")
        + '<div class="before-after"><div><h4>Before</h4>'
        + before_html
        + f'</div><div><h4>After</h4><pre class="document">{html_text(json_block(grant.text))}</pre></div></div></div>'
    )


def usage_trend(points: Sequence[Mapping[str, Any]]) -> str:
    """Granted access in use per run, per unit: the number a platform team watches."""
    units = sorted({u for p in points for u in (p.get("usage") or {})})
    if not units:
        return ""
    head = "".join(f"<th>{html_text(u)}</th>" for u in units)
    rows = []
    for p in points:
        cells = []
        for u in units:
            s = (p.get("usage") or {}).get(u)
            if isinstance(s, Mapping) and isinstance(s.get("used"), int) and isinstance(s.get("granted"), int):
                unused = s["granted"] - s["used"]
                cells.append(
                    f"<td>{s['used']} / {s['granted']} ({percent(s['used'], s['granted'])}); {unused} unused</td>"
                )
            else:
                cells.append('<td class="muted">-</td>')
        rows.append(f"<tr><td>{html_text(str(p.get('generated_at')))}</td>{''.join(cells)}</tr>")
    return (
        '<figure class="chart-box wide" id="usage-trend"><figcaption>Granted access in use per run '
        '<span class="muted">(used / granted)</span></figcaption>'
        f"<table><tr><th>run</th>{head}</tr>{''.join(rows)}</table></figure>"
    )
