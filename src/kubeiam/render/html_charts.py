"""Inline SVG charts for the HTML report: drawn here, so they show with scripts off and need no library."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kubeiam.safety.text import html_text
from kubeiam.vocabulary.findings import Severity

SEVERITY_COLOUR = {
    "critical": "#7f1d1d",
    "high": "#dc2626",
    "medium": "#f59e0b",
    "low": "#0891b2",
    "info": "#9ca3af",
}
_PALETTE = ("#4f46e5", "#0d9488", "#db2777", "#65a30d", "#ea580c", "#0284c7", "#7c3aed", "#475569")


def bar_chart(
    chart_id: str,
    title: str,
    items: Sequence[tuple[str, int]],
    *,
    facet: str | None = None,
    colours: Mapping[str, str] | None = None,
    limit: int = 15,
) -> str:
    """Horizontal bars, one per (label, value); a bar with `facet` filters the drill-down when clicked."""
    shown = [(label, value) for label, value in items if value > 0][:limit]
    label_w, bar_w, row_h, top = 190, 260, 24, 8
    height = top + max(len(shown), 1) * row_h + 8
    width = label_w + bar_w + 50
    out = [
        f'<figure class="chart-box"><figcaption>{html_text(title)}</figcaption>'
        f'<svg class="chart" id="{html_text(chart_id)}" role="img" aria-label="{html_text(title)}" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">'
    ]
    if not shown:
        out.append(f'<text class="empty" x="10" y="{top + 16}">no open findings</text>')
    peak = max((v for _, v in shown), default=1)
    for i, (label, value) in enumerate(shown):
        y = top + i * row_h
        w = max(2, round(bar_w * value / peak))
        colour = (colours or {}).get(label, _PALETTE[i % len(_PALETTE)])
        short = label if len(label) <= 28 else label[:27] + "…"
        attrs = f' data-facet-key="{html_text(facet)}" data-facet-value="{html_text(label)}"' if facet else ""
        out.append(
            f'<g class="row"{attrs}><title>{html_text(label)}: {value}</title>'
            f'<text x="{label_w - 6}" y="{y + 16}" text-anchor="end">{html_text(short)}</text>'
            f'<rect class="bar" x="{label_w}" y="{y + 3}" width="{w}" height="{row_h - 8}" rx="3" fill="{colour}"/>'
            f'<text class="value" x="{label_w + w + 5}" y="{y + 16}">{value}</text></g>'
        )
    out.append("</svg></figure>")
    return "".join(out)


def trend_chart(points: Sequence[Mapping[str, Any]]) -> str:
    """Open findings per run, stacked by severity, oldest first (the current run last)."""
    if not points:
        return ""
    # A column is as wide as its date label (10 characters at 12px), so labels never run into each other.
    col_w, gap, chart_h, top, bottom = 46, 34, 160, 14, 52
    width = max(300, 40 + len(points) * (col_w + gap))
    height = top + chart_h + bottom
    peak = max((sum(p.get("by_severity", {}).values()) for p in points), default=0) or 1
    out = [
        '<figure class="chart-box wide"><figcaption>Open findings per run (trend)'
        '<span class="muted"> · under each run: +new -resolved</span></figcaption>'
        f'<svg class="chart" id="chart-trend" data-runs="{len(points)}" role="img" aria-label="trend over runs" '
        f'viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">'
        f'<line x1="30" y1="{top + chart_h}" x2="{width - 5}" y2="{top + chart_h}" stroke="#9ca3af"/>'
    ]
    for i, p in enumerate(points):
        x = 36 + i * (col_w + gap)
        y = top + chart_h
        total = 0
        for sev in reversed(list(Severity)):
            n = int(p.get("by_severity", {}).get(sev.value, 0))
            if not n:
                continue
            h = max(1, round(chart_h * n / peak))
            y -= h
            total += n
            out.append(
                f'<rect class="bar trend-bar" x="{x}" y="{y}" width="{col_w}" height="{h}" '
                f'fill="{SEVERITY_COLOUR[sev.value]}"><title>{html_text(str(p.get("generated_at")))}: '
                f"{n} {sev.value}</title></rect>"
            )
        label = _run_label(points, i)
        out.append(f'<text class="value" x="{x + col_w / 2}" y="{y - 3}" text-anchor="middle">{total}</text>')
        out.append(f'<text x="{x + col_w / 2}" y="{top + chart_h + 16}" text-anchor="middle">{html_text(label)}</text>')
        delta = []
        if p.get("new") is not None:
            delta.append(f"+{p['new']}")
        if p.get("resolved") is not None:
            delta.append(f"-{p['resolved']}")
        if delta:
            out.append(
                f'<text class="delta" x="{x + col_w / 2}" y="{top + chart_h + 32}" text-anchor="middle">'
                f"{html_text(' '.join(delta))}</text>"
            )
    out.append("</svg></figure>")
    return "".join(out)


def _run_label(points: Sequence[Mapping[str, Any]], i: int) -> str:
    """The run's date; its time too when another run has the same date (two audits on one day), to the
    second when another has the same minute, and the run's number when even the seconds are the same."""
    stamps = [str(p.get("generated_at", "")) for p in points]
    stamp = stamps[i]
    for cut, label in ((10, stamp[:10]), (16, f"{stamp[5:10]} {stamp[11:16]}"), (19, f"{stamp[5:10]} {stamp[11:19]}")):
        if sum(s[:cut] == stamp[:cut] for s in stamps) == 1 or len(stamp) < cut:
            return label
    return f"{stamp[5:10]} {stamp[11:19]} #{stamps[: i + 1].count(stamp)}"
