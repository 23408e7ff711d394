"""`kubeiam fleet --format html`: one self-contained page over the fleet.

Inline CSS and SVG only, no script, and a Content-Security-Policy that forbids any fetch. Every value
from a run (names, principals, titles, URLs) is escaped: evidence strings are someone else's text.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from html import escape
from typing import Any

from kubeiam import __version__
from kubeiam.quarterly.fleet import Fleet
from kubeiam.quarterly.run_index import SEVERITIES
from kubeiam.render.fleet_markdown import account_label, rollup_label, severities, status_reasons

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
LIMIT = 100  # rows per roll-up table; the JSON has them all
COLOURS = {"critical": "#7f1d1d", "high": "#dc2626", "medium": "#f59e0b", "low": "#0891b2", "info": "#9ca3af"}
STATUS = {"clean": "#15803d", "findings": "#b45309", "incomplete": "#7c3aed", "stale": "#6b7280"}
CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#111827;background:#f9fafb}
header{background:#111827;color:#f9fafb;padding:14px 24px}main{padding:8px 24px 40px}
h2{margin-top:28px;border-bottom:1px solid #e5e7eb}table{border-collapse:collapse;width:100%;background:#fff}
th,td{border:1px solid #e5e7eb;padding:4px 8px;text-align:left;vertical-align:top}th{background:#f3f4f6}
td.n{text-align:right;font-variant-numeric:tabular-nums}.muted{color:#6b7280}.cards{display:flex;gap:10px;flex-wrap:wrap}
.card{background:#fff;border:1px solid #e5e7eb;border-radius:6px;padding:8px 14px;min-width:90px}
.card b{display:block;font-size:22px}.tag{color:#fff;border-radius:4px;padding:1px 6px;font-size:12px}
code{font-size:12px;word-break:break-all}details{margin:2px 0}
"""


def e(value: Any) -> str:
    return escape("" if value is None else str(value), quote=True)


def render_fleet_html(fleet: Fleet) -> str:
    s = fleet.summary
    cards = [("clusters", s["clusters"]), *((k, s[k]) for k in STATUS), ("open", s["open"])]
    cards += [(sev, s["by_severity"][sev]) for sev in SEVERITIES] + [("suppressed", s["suppressed"])]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>kubeiam fleet {e(fleet.generated_at)}</title><style>{CSS}</style></head><body>",
        f"<header><h1>kubeiam fleet report</h1><div>generated {e(fleet.generated_at)} by kubeiam {e(__version__)}"
        f" · stale after {e(f'{fleet.stale_after_days:g}')} days</div></header><main>",
        '<section id="summary"><h2>Summary</h2><div class="cards">',
        "".join(f'<div class="card" data-card="{e(k)}"><b>{e(v)}</b>{e(k)}</div>' for k, v in cards),
        "</div><p>A stale cluster (no run within the schedule) or an incomplete one (something could not be "
        "checked) is never counted as clean.</p></section>",
        _clusters(fleet),
        _problems(fleet),
        _rollup("accounts", "By account / project / subscription", "account", fleet.accounts),
        _rollup("owners", "By owner", "owner", fleet.owners),
        _rollup("namespaces", "By namespace", "namespace", fleet.namespaces),
        _shared(fleet),
        _worst(fleet),
        "</main></body></html>",
    ]
    return "\n".join(p for p in parts if p) + "\n"


def _table(section: str, title: str, header: Sequence[str], rows: Iterable[Sequence[str]], note: str = "") -> str:
    """`rows` are cells already escaped (they may hold markup made here)."""
    head = "".join(f"<th>{e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(rows_cell for rows_cell in row) + "</tr>" for row in rows)
    return f'<section id="{e(section)}"><h2>{e(title)}</h2>{note}<table><tr>{head}</tr>{body}</table></section>'


def td(value: Any, numeric: bool = False) -> str:
    return f'<td class="n">{e(value)}</td>' if numeric else f"<td>{e(value)}</td>"


def _clusters(fleet: Fleet) -> str:
    rows = []
    for c in fleet.clusters:
        why = status_reasons(c)
        note = f'<br><span class="muted">{e(", ".join(why))}</span>' if why else ""
        tag = f'<td><span class="tag" style="background:{STATUS[c["status"]]}">{e(c["status"])}</span>{note}</td>'
        rows.append(
            [
                f"<td><b>{e(c['cluster'])}</b><br><code>{e(c['cluster_id'])}</code></td>",
                tag,
                td(c["generated_at"]),
                td(c["age_days"], True),
                td(c["service_accounts"], True),
                td(c["open"], True),
                *(td(c["by_severity"][s], True) for s in SEVERITIES[:3]),
                f"<td>{sparkline(c['trend'])}</td>",
                f"<td><code>{e(c['report_folder'])}/{e(c['run'])}</code></td>",
            ]
        )
    header = ["cluster", "status", "last run", "age (days)", "ServiceAccounts", "open", *SEVERITIES[:3]]
    return _table("clusters", "Clusters", [*header, "trend", "run"], rows)


def sparkline(points: Sequence[Mapping[str, Any]]) -> str:
    """Open findings per run, one stacked column each, oldest first."""
    if not points:
        return ""
    col, h = 10, 36
    peak = max(sum(p["by_severity"].values()) for p in points) or 1
    out = [f'<svg width="{len(points) * (col + 2)}" height="{h}" role="img" aria-label="trend">']
    for i, p in enumerate(points):
        y = h
        for sev in reversed(SEVERITIES):
            n = int(p["by_severity"].get(sev, 0))
            if n:
                bar = max(1, round((h - 2) * n / peak))
                y -= bar
                out.append(
                    f'<rect x="{i * (col + 2)}" y="{y}" width="{col}" height="{bar}" fill="{COLOURS[sev]}">'
                    f"<title>{e(p['generated_at'])}: {n} {sev}</title></rect>"
                )
    return "".join(out) + "</svg>"


def _problems(fleet: Fleet) -> str:
    rows = [[td(c["cluster"]), td(p)] for c in fleet.clusters for p in c["problems"]]
    rows += [[td(p["where"]), td(p["reason"])] for p in fleet.problems]
    return _table("problems", "Could not be read", ["where", "what"], rows) if rows else ""


def _rollup(section: str, title: str, key: str, items: Sequence[Mapping[str, Any]]) -> str:
    rows = []
    for item in items[:LIMIT]:
        label = account_label(item if item.get("id") else None) if key == "account" else rollup_label(key, item[key])
        extra = [td(item["principals"], True)] if key == "account" else []
        rows.append(
            [
                td(label),
                td(item["open"], True),
                td(severities(item["by_severity"])),
                td(len(item["clusters"]), True),
                *extra,
            ]
        )
    header = [key, "open", "by severity", "clusters", *(["identities"] if key == "account" else [])]
    return _table(section, title, header, rows, _more(items))


def _shared(fleet: Fleet) -> str:
    if not fleet.shared_identities:
        return ""
    rows = []
    for i in fleet.shared_identities[:LIMIT]:
        sas = "".join(
            f"<li>{e(sa['cluster'])}: {e(sa['namespace'])}/{e(sa['service_account'])}</li>"
            for sa in i["service_accounts"]
        )
        findings = "".join(
            f'<li><span class="tag" style="background:{COLOURS[r["severity"]]}">{e(r["severity"])}</span> '
            f"{e(r['rule_id'])} {e(r['title'])} <span class=muted>{e(r['count'])} finding(s)</span></li>"
            for r in i["findings"]
        )
        rows.append(
            [
                f"<td><code>{e(i['principal'])}</code><br>"
                f"<span class=muted>{e(account_label(i['account']))}</span></td>",
                td(", ".join(i["clusters"])),
                f"<td><details><summary>{len(i['service_accounts'])} ServiceAccount(s)</summary><ul>{sas}</ul>"
                "</details></td>",
                f"<td><ul>{findings}</ul></td>",
            ]
        )
    return _table(
        "shared",
        "Identities shared by several clusters",
        ["identity", "clusters", "ServiceAccounts", "findings"],
        rows,
        _more(fleet.shared_identities),
    )


def _worst(fleet: Fleet) -> str:
    if not fleet.worst:
        return ""
    rows = []
    for f in fleet.worst:
        subject = f"{f['namespace']}/{f['service_account']}" if f.get("service_account") else f"node/{f.get('node')}"
        sev = f'<td><span class="tag" style="background:{COLOURS[f["severity"]]}">{e(f["severity"])}</span></td>'
        rows.append([sev, td(f["rule_id"]), td(f["cluster"]), td(subject), td(f["title"]), td(f["owner"])])
    note = f'<p class="muted">The {len(fleet.worst)} worst open findings; the JSON report lists every finding.</p>'
    return _table(
        "worst", "Worst open findings", ["severity", "rule", "cluster", "subject", "title", "owner"], rows, note
    )


def _more(items: Sequence[Any]) -> str:
    return (
        f'<p class="muted">The first {LIMIT} of {len(items)}; the JSON report has them all.</p>'
        if len(items) > LIMIT
        else ""
    )
