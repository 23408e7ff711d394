"""`kubeiam fleet --format markdown`: the fleet in a page a wiki or an email can carry.

Every value comes from evidence someone else wrote (cluster, namespace and ServiceAccount names,
principals, titles): each is escaped so that it stays text in a table cell, never markup, a link or
raw HTML.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from kubeiam.quarterly.fleet import Fleet
from kubeiam.quarterly.run_index import SEVERITIES
from kubeiam.safety.text import safe_line

LIMIT = 25  # rows per roll-up table; the JSON has them all
_MARKUP = re.compile(r"([\\`*_{}\[\]()#+!|~>])")


def md(value: Any) -> str:
    """One table cell: control characters escaped, markdown punctuation backslashed, HTML entities for <&."""
    text = "" if value is None else safe_line(str(value))
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MARKUP.sub(r"\\\1", text)


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(md(c) for c in row) + " |" for row in rows]
    return out


def severities(by_severity: Mapping[str, int]) -> str:
    return ", ".join(f"{by_severity[s]} {s}" for s in SEVERITIES if by_severity.get(s)) or "none"


def status_reasons(c: Mapping[str, Any]) -> list[str]:
    """Why a cluster is not clean when something could not be checked."""
    why = [f"{c['unchecked']} unchecked"] if c["unchecked"] else []
    why += [f"{c['coverage_errors']} coverage error(s)"] if c["coverage_errors"] else []
    why += ["unreadable source"] if c["unreadable"] else []
    return why + ([f"{len(c['problems'])} problem(s)"] if c["problems"] else [])


def status_label(c: Mapping[str, Any]) -> str:
    why = status_reasons(c)
    return f"{c['status']} ({', '.join(why)})" if why else str(c["status"])


def rollup_label(key: str, value: Any) -> str:
    if value is not None:
        return str(value)
    return "(node findings)" if key == "namespace" else "(no owner label)"


def account_label(account: Mapping[str, Any] | None) -> str:
    return f"{account['cloud']} {account['kind']} {account['id']}" if account else "(unknown)"


def render_fleet_markdown(fleet: Fleet) -> str:
    s = fleet.summary
    out = [
        f"# kubeiam fleet — {fleet.generated_at}",
        "",
        f"**{s['open']} open finding(s)** ({severities(s['by_severity'])}), {s['suppressed']} suppressed, in "
        f"{s['clusters']} cluster(s) and {s['service_accounts']} ServiceAccount(s).",
        "",
        f"Clusters: {s['clean']} clean, {s['findings']} with findings, {s['incomplete']} incomplete (something could "
        f"not be checked), **{s['stale']} stale** (last run older than {fleet.stale_after_days:g} days: not "
        "counted as clean).",
        "",
        "## Clusters",
        "",
        *_table(
            [
                "cluster",
                "status",
                "last run",
                "age (days)",
                "open",
                "critical",
                "high",
                "trend (open per run)",
                "where",
            ],
            (
                [
                    c["cluster"],
                    status_label(c),
                    c["generated_at"],
                    c["age_days"],
                    c["open"],
                    c["by_severity"]["critical"],
                    c["by_severity"]["high"],
                    " → ".join(str(sum(t["by_severity"].values())) for t in c["trend"]),
                    c["report_folder"],
                ]
                for c in fleet.clusters
            ),
        ),
    ]
    problems = [(c["cluster"], p) for c in fleet.clusters for p in c["problems"]]
    problems += [(p["where"], p["reason"]) for p in fleet.problems]
    if problems:
        out += ["", "## Could not be read", "", *_table(["where", "what"], problems)]
    out += ["", "## By account / project / subscription", ""]
    out += _table(
        ["account", "open", "by severity", "clusters", "identities"],
        (
            [
                account_label(a if a["id"] else None),
                a["open"],
                severities(a["by_severity"]),
                len(a["clusters"]),
                a["principals"],
            ]
            for a in fleet.accounts[:LIMIT]
        ),
    )
    out += _more(fleet.accounts)
    for title, key, items in (("owner", "owner", fleet.owners), ("namespace", "namespace", fleet.namespaces)):
        out += ["", f"## By {title}", ""]
        out += _table(
            [title, "open", "by severity", "clusters"],
            (
                [
                    rollup_label(key, i[key]),
                    i["open"],
                    severities(i["by_severity"]),
                    len(i["clusters"]),
                ]
                for i in items[:LIMIT]
            ),
        )
        out += _more(items)
    if fleet.shared_identities:
        out += ["", "## Identities shared by several clusters", ""]
        out += _table(
            ["identity", "clusters", "ServiceAccounts", "findings"],
            (
                [
                    i["principal"],
                    ", ".join(i["clusters"]),
                    ", ".join(
                        f"{sa['cluster']}:{sa['namespace']}/{sa['service_account']}" for sa in i["service_accounts"]
                    ),
                    "; ".join(f"{r['severity']} {r['rule_id']} {r['title']}" for r in i["findings"]),
                ]
                for i in fleet.shared_identities[:LIMIT]
            ),
        )
        out += _more(fleet.shared_identities)
    if fleet.worst:
        out += ["", f"## Worst open findings (the {len(fleet.worst)} worst; all are in the JSON report)", ""]
        out += _table(
            ["severity", "rule", "cluster", "subject", "title"],
            ([f["severity"], f["rule_id"], f["cluster"], _subject(f), f["title"]] for f in fleet.worst),
        )
    return "\n".join(out) + "\n"


def _subject(f: Mapping[str, Any]) -> str:
    if f.get("service_account") is not None:
        return f"{f.get('namespace')}/{f.get('service_account')}"
    return f"node/{f.get('node')}" if f.get("node") else ""


def _more(items: Sequence[Any]) -> list[str]:
    return ["", f"… and {len(items) - LIMIT} more in the JSON report."] if len(items) > LIMIT else []
