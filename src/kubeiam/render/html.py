"""`--format html` (and the report folder's report.html): one self-contained page for auditors.

Everything is inline (CSS, script, SVG charts) and a Content-Security-Policy forbids any fetch, so
the page opens the same on an air-gapped laptop as anywhere else.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from kubeiam import __version__
from kubeiam.pipeline.report import Report
from kubeiam.render.by_control import ordered_tags
from kubeiam.render.by_service_account import group_findings, highest
from kubeiam.render.coverage_text import rule_lines
from kubeiam.render.html_assets import CSS, JS
from kubeiam.render.html_charts import SEVERITY_COLOUR, bar_chart, trend_chart
from kubeiam.render.html_sections import by_control_section, right_sized_block, usage_section, usage_trend
from kubeiam.render.markdown import entry_label, headline
from kubeiam.render.takeover_section import html_section
from kubeiam.safety.text import html_text, json_block
from kubeiam.vocabulary.findings import Finding, Severity

CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"

# Evidence keys that name what grants the access: shown as "policies and bindings" in the drill-down.
GRANT_KEYS = (
    "role",
    "roles",
    "policy",
    "policies",
    "permissions_boundary",
    "binding",
    "role_assignment",
    "role_assignments",
    "scope",
    "identity",
    "node_role",
    "kubelet_identity",
    "annotation",
    "workload",
    "source",
)


def subject_id(key: tuple) -> str:
    """A stable HTML id per subject, usable as `report.html#sa-...`."""
    cluster, ns, sa, node = key
    text = f"{cluster}/{ns}/{sa}" if sa is not None else f"{cluster}/node/{node}"
    slug = "".join(c if c.isalnum() else "-" for c in text)[:60]
    return f"sa-{slug}-{hashlib.sha256(text.encode()).hexdigest()[:6]}"


def render_html(report: Report, colour: bool = False, *, trend: Sequence[Mapping[str, Any]] | None = None) -> str:
    s = report.summary()
    stamp = report.generated_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    base = report.extra.get("baseline") or {}
    cards = [("open", s["open"])] + [(sev.value, s["by_severity"][sev.value]) for sev in Severity]
    cards.append(("suppressed", s["suppressed"]))
    if base:
        cards += [("new", base.get("new", 0)), ("resolved", base.get("resolved", 0))]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>kubeiam {html_text(report.mode)} {stamp}</title><style>{CSS}</style></head>",
        "<body>",
        f'<header><h1>kubeiam {html_text(report.mode)} report</h1><div class="muted">generated {stamp} by kubeiam '
        f"{html_text(__version__)}</div></header><main>",
        f'<section id="summary"><h2>Summary</h2><p>{html_text(headline(report).replace("**", ""))}</p>',
        '<div class="cards">'
        + "".join(f'<div class="card" data-card="{k}"><b>{v}</b>{html_text(k)}</div>' for k, v in cards)
        + "</div></section>",
        '<section id="charts"><h2>Charts</h2><div class="charts">',
        _charts(report),
        trend_chart(points := _trend(report, trend)),
        usage_trend(points),
        "</div></section>",
        usage_section(report),
        by_control_section(report, subject_id),
        _drilldown(report),
        _resolved(report),
        _expired(report),
        _coverage(report),
        f"</main><script>{JS}</script></body></html>",
    ]
    return "\n".join(p for p in parts if p) + "\n"


def _trend(report: Report, trend: Sequence[Mapping[str, Any]] | None) -> list[Mapping[str, Any]]:
    s, base = report.summary(), report.extra.get("baseline") or {}
    current = {
        "generated_at": report.generated_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "by_severity": s["by_severity"],
        "new": base.get("new"),
        "resolved": base.get("resolved"),
    }
    if "usage" in s:
        current["usage"] = s["usage"]
    return [*(trend or ()), current]


def _charts(report: Report) -> str:
    s = report.summary()
    open_ = report.open_findings
    sev = [(v.value, s["by_severity"][v.value]) for v in Severity]
    namespaces = Counter(f"{f.cluster}/{f.namespace}" if f.namespace else f"{f.cluster}/(nodes)" for f in open_)
    return "".join(
        (
            bar_chart("chart-severity", "Open findings by severity", sev, facet="severity", colours=SEVERITY_COLOUR),
            bar_chart(
                "chart-category", "By category", Counter(str(f.category) for f in open_).most_common(), facet="category"
            ),
            bar_chart("chart-namespace", "By namespace (top 15)", namespaces.most_common(), facet="namespace"),
            bar_chart("chart-cloud", "By cloud", sorted(s["by_cloud"].items(), key=lambda kv: -kv[1]), facet="cloud"),
        )
    )


def _drilldown(report: Report) -> str:
    groups = group_findings(report.findings)
    unchecked: dict[tuple, list] = {}
    for u in report.coverage.get("unchecked", []):
        unchecked.setdefault((u["cluster"], u["namespace"], u["service_account"], None), []).append(u)
    errors: dict[str, list] = {}
    for e in report.coverage.get("errors", []):
        if e.get("subject"):
            errors.setdefault(e["subject"], []).append(e)
    # A ServiceAccount that could not be checked gets a section even with no finding: never "clean" by omission.
    keys = [k for k, _ in groups] + sorted(k for k in unchecked if k not in dict(groups))
    by_key = dict(groups)
    out = [
        f'<section id="drilldown"><h2>Drill-down: ServiceAccounts and nodes with findings or gaps ({len(keys)})</h2>',
        '<div class="filters"><input id="q" type="search" placeholder="filter: name, rule, principal…" size="32">',
        '<label>at least <select id="min-severity"><option value="">any</option>'
        + "".join(f'<option value="{v.value}">{v.value}</option>' for v in Severity)
        + "</select></label>",
        f'<span>showing <b id="shown">{len(keys)}</b> of {len(keys)}</span> <span id="facet" class="tag"></span>',
        '<button id="clear" type="button" hidden>clear chart filter</button>',
        '<button id="expand" type="button">expand / collapse all</button></div>',
    ]
    opened = worst_first(keys, by_key)
    for key in keys:
        out.append(_subject(key, by_key.get(key, []), unchecked.get(key, []), errors, key in opened))
    out.append("</section>")
    return "\n".join(out)


OPEN_AT_START = 3
"""How many of the worst subjects the report opens with: what a reader should see first, already expanded."""


def worst_first(keys: Sequence[tuple], by_key: Mapping[tuple, Sequence[Finding]]) -> set[tuple]:
    """The subjects to show expanded: up to OPEN_AT_START of those whose worst open finding is the report's
    worst (the drill-down is already sorted worst first)."""
    ranks = {k: max((f.severity.rank for f in by_key.get(k, ()) if f.status == "open"), default=-1) for k in keys}
    top = max(ranks.values(), default=-1)
    return set([k for k in keys if ranks[k] == top and top >= 0][:OPEN_AT_START])


def _subject(
    key: tuple, items: Sequence[Finding], unchecked: Sequence[Mapping], errors: Mapping, opened: bool = False
) -> str:
    cluster, ns, sa, node = key
    label = f"{cluster}/{ns}/{sa}" if sa is not None else f"{cluster}/node/{node}"
    top = highest(items).value if items else "info"
    badge = top if items else "not checked"  # never a severity for what could not be looked at
    owner = next((f.extra.get("owner") for f in items if f.extra.get("owner")), None)
    open_ = [f for f in items if f.status == "open"]
    principals = sorted(
        {f.principal for f in items if f.principal} | {str(u["principal"]) for u in unchecked if u.get("principal")}
    )
    search = " ".join([label, owner or "", *principals, *(f"{f.rule_id} {f.title}" for f in items)]).lower()
    attrs = {
        "id": subject_id(key),
        "class": "subject",
        "data-rank": str(max((f.severity.rank for f in open_), default=-1)),
        "data-severity": " ".join(sorted({f.severity.value for f in open_})),
        "data-category": " ".join(sorted({str(f.category) for f in open_})),
        "data-namespace": f"{cluster}/{ns}" if ns else f"{cluster}/(nodes)",
        "data-cloud": " ".join(sorted({f.cloud for f in open_})),
        # A rule's findings on one cluster share their controls: each distinct tuple looked at once.
        "data-control": " ".join(
            ordered_tags(c for cs in {id(f.compliance): f.compliance for f in open_}.values() for c in cs)
        ),
        "data-search": search,
    }
    counts = [f"{len(open_)} open"] if open_ else []
    counts += [f"{len(items) - len(open_)} suppressed"] if len(items) > len(open_) else []
    counts += [f"{len(unchecked)} not checked"] if unchecked else []
    counts += [f"owner {owner}"] if owner else []
    head = (
        f'<span class="sev sev-{top}">{badge}</span> <b>{html_text(label)}</b> '
        f'<span class="muted">{html_text(", ".join(counts))}</span>'
    )
    identity = [
        ("cluster", cluster),
        ("cluster id", next((f.cluster_id for f in items if f.cluster_id), None) or cluster),
        ("namespace", ns),
        ("ServiceAccount" if sa is not None else "node", sa if sa is not None else node),
        ("owner", owner or "unknown (no owner label on the namespace)"),
        ("cloud identities", ", ".join(principals) or "none found"),
    ]
    body = ['<div class="body"><h3>Identity</h3><table class="identity">']
    body += [f"<tr><th>{html_text(k)}</th><td>{html_text(str(v))}</td></tr>" for k, v in identity if v is not None]
    body.append("</table>")
    grants = _grants(items)
    body.append("<h3>Policies and bindings</h3>")
    body.append(
        '<ul class="grants">'
        + "".join(f"<li><code>{html_text(k)}</code>: {html_text(v)}</li>" for k, v in grants)
        + "</ul>"
        if grants
        else '<p class="muted">none named by the findings</p>'
    )
    body.append(html_section(items))  # who, besides the workload, can act as it
    gaps = [f"{u['cloud']} {u.get('principal')}: {u['reason']}" for u in unchecked]
    gaps += [f"{e['source']} {e['location']}: {e['reason']}" for e in errors.get(label, [])]
    if gaps:
        body.append(
            '<h3>Not checked</h3><ul class="gaps">' + "".join(f"<li>{html_text(g)}</li>" for g in gaps) + "</ul>"
        )
    body.append(f"<h3>Findings ({len(items)})</h3>")
    body += [_finding(f) for f in items]
    body.append("</div>")
    attr_text = " ".join(f'{k}="{html_text(v)}"' for k, v in attrs.items()) + (" open" if opened else "")
    return f"<details {attr_text}><summary>{head}</summary>{''.join(body)}</details>"


def _grants(items: Sequence[Finding]) -> list[tuple[str, str]]:
    """Each policy, binding or identity the findings name, once (the first key naming it labels it).

    `source` is the fingerprint's source: it repeats a policy already listed, or joins several with `+`.
    """
    seen: dict[str, str] = {}
    for f in items:
        for key in GRANT_KEYS:
            value = f.evidence.get(key)
            for v in value if isinstance(value, list) else [value]:
                if isinstance(v, dict):  # e.g. a GCP binding: show it compactly, as found
                    text = json.dumps(v, sort_keys=True, ensure_ascii=False)
                    seen.setdefault(text if len(text) <= 240 else text[:239] + "…", key)
                elif isinstance(v, str | int) and str(v):
                    for part in str(v).split("+") if key == "source" else [str(v)]:
                        seen.setdefault(part, key)
    return [(key, text) for text, key in seen.items()]


def _finding(f: Finding) -> str:
    tags = []
    if f.extra.get("baseline") == "new":
        tags.append('<span class="tag tag-new">new</span>')
    if f.status == "suppressed":
        tags.append('<span class="tag tag-suppressed">suppressed</span>')
    rows = [
        ("rule", f"{f.rule_id} ({f.category})"),
        ("principal", f.principal),
        ("first seen", f.extra.get("first_seen")),
        ("fingerprint", f.fingerprint),
    ]
    sup = f.extra.get("suppression")
    if sup:
        rows.append(
            ("suppressed", f"{sup.get('reason')} (owner {sup.get('owner')}, expires {sup.get('expires') or 'never'})")
        )
    table = "".join(f"<tr><th>{k}</th><td>{html_text(str(v))}</td></tr>" for k, v in rows if v)
    evidence = json.dumps(dict(f.evidence), indent=2, ensure_ascii=False, sort_keys=True)
    return (
        f'<div class="finding {f.severity.value}" data-fingerprint="{html_text(f.fingerprint)}">'
        f'<div><span class="sev sev-{f.severity.value}">{f.severity.value}</span> {html_text(f.title)} '
        f"{' '.join(tags)}</div>"
        f'<table>{table}</table><div><b>Evidence</b><pre class="evidence">{html_text(json_block(evidence))}</pre></div>'
        f"{_right_sized(f)}"
        f'<div class="remediation"><b>Remediation</b><p>{html_text(f.remediation)}</p></div></div>'
    )


_blocks: dict[int, tuple[object, str]] = {}


def _right_sized(f: Finding) -> str:
    """The right-sized block once per evidence mapping: an identity's findings share it, one per ServiceAccount."""
    hit = _blocks.get(id(f.evidence))
    if hit is None or hit[0] is not f.evidence:
        if len(_blocks) > 10_000:
            _blocks.clear()
        hit = _blocks[id(f.evidence)] = (f.evidence, right_sized_block(f))
    return hit[1]


def _resolved(report: Report) -> str:
    items = report.extra.get("resolved") or []
    if "baseline" not in report.extra:
        return ""
    rows = "".join(
        f"<tr><td>{html_text(str(r.get('severity')))}</td><td>{html_text(str(r['rule_id']))}</td>"
        f"<td>{html_text('/'.join(str(r.get(k)) for k in ('cluster', 'namespace', 'service_account')))}</td>"
        f"<td>{html_text(str(r.get('title', '')))}</td></tr>"
        for r in items
    )
    return (
        f'<section id="resolved"><h2>Resolved since the baseline ({len(items)})</h2>'
        + (f"<table>{rows}</table>" if rows else '<p class="muted">none</p>')
        + "</section>"
    )


def _expired(report: Report) -> str:
    items = report.extra.get("expired_suppressions") or []
    if not items:
        return ""
    rows = "".join(
        f"<tr><td>{html_text(entry_label(e))}</td><td>{html_text(e['reason'])}</td><td>{html_text(e['owner'])}</td>"
        f"<td>{html_text(str(e['expires']))}</td><td>{len(e.get('matches', []))}</td></tr>"
        for e in items
    )
    return f'<section id="expired"><h2>Expired suppressions ({len(items)})</h2><table>{rows}</table></section>'


def _coverage(report: Report) -> str:
    cov = report.coverage
    rows = "".join(
        f'<tr><td class="words">{html_text(c["name"])}</td><td class="words">{html_text(str(c.get("cloud")))}</td>'
        f"<td>{html_text(str(c.get('id')))}</td>"
        f'<td class="words">{c.get("service_accounts", "")}</td></tr>'
        for c in cov.get("clusters", [])
    )
    errors = "".join(
        f"<li>{html_text(e['source'])}: {html_text(e['location'])}: {html_text(e['reason'])}</li>"
        for e in cov.get("errors", [])
    )
    unreadable = "".join(
        f"<li>{html_text(u['source'])} {html_text(u.get('subject') or '')}: {html_text(u['reason'])}</li>"
        for u in cov.get("unreadable") or []
    )
    rules = "".join(f"<li>{html_text(line)}</li>" for line in rule_lines(cov))
    return (
        '<section id="coverage"><h2>Coverage</h2>'
        + (f'<h3>Not read at all</h3><ul class="gaps">{unreadable}</ul>' if unreadable else "")
        + "<table><tr><th>cluster</th><th>cloud</th>"
        f"<th>id</th><th>ServiceAccounts</th></tr>{rows}</table>"
        + (f'<h3>Errors</h3><ul class="gaps">{errors}</ul>' if errors else "")
        + (f'<h3>Rules changed by configuration</h3><ul class="gaps">{rules}</ul>' if rules else "")
        + "</section>"
    )
