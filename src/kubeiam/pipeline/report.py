"""The report: findings plus what was and was not checked (docs/report.md)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

from kubeiam import __version__
from kubeiam.pipeline.engine import AnalysisConfig
from kubeiam.vocabulary.findings import Category, Finding, Severity
from kubeiam.vocabulary.model import IdentityLink, Inventory, LinkStatus
from kubeiam.vocabulary.rules import Rule

SCHEMA_VERSION = "1.0"


@dataclass(frozen=True)
class Report:
    findings: tuple[Finding, ...]
    coverage: Mapping[str, Any]
    generated_at: datetime
    mode: str = "audit"
    extra: Mapping[str, Any] = field(default_factory=dict)
    """Top-level additions from later stages (baseline `resolved`, `expired_suppressions`...)."""
    catalogue: Mapping[str, Mapping[str, Any]] = field(default_factory=dict, compare=False)
    """Rule id -> the rule's metadata (what `kubeiam rules` prints), for formats that describe their
    rules (SARIF, OCSF): renderers read it here, never from the providers."""
    cloud_titles: Mapping[str, str] = field(default_factory=dict, compare=False)
    """Cloud name -> how people write it (`AWS`), as the providers declare."""

    @cached_property
    def open_findings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.status == "open")

    def fails(self, threshold: Severity) -> bool:
        return any(f.severity.rank >= threshold.rank for f in self.open_findings)

    @property
    def incomplete(self) -> bool:
        return bool(self.coverage.get("errors")) or bool(self.coverage.get("unchecked"))

    @cached_property
    def usage(self) -> dict[str, Any] | None:
        """Granted access in use, per namespace and owner (docs/quarterly.md); None without usage data."""
        return usage_rollup(self.findings)

    def summary(self) -> dict[str, Any]:
        open_ = self.open_findings
        severities = Counter(f.severity for f in open_)
        out = {
            "total": len(self.findings),
            "open": len(open_),
            "suppressed": len(self.findings) - len(open_),
            "by_severity": {s.value: severities[s] for s in Severity},
            "by_category": dict(sorted(Counter(f.category.value for f in open_).items())),
            "by_cloud": dict(sorted(Counter(f.cloud for f in open_).items())),
        }
        if self.usage:
            out["usage"] = self.usage["total"]  # in the summary, so a run's index (and the trend) carries it
        return out

    def to_dict(self) -> dict[str, Any]:
        return self.document([f.to_dict() for f in self.findings])

    def document(self, findings: Any) -> dict[str, Any]:
        """The report's JSON document with `findings` as given (a renderer may pass them pre-encoded)."""
        out = {
            "schema_version": SCHEMA_VERSION,
            "tool": {"name": "kubeiam", "version": __version__},
            "generated_at": self.generated_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "mode": self.mode,
            "findings": findings,
            "coverage": dict(self.coverage),
            "summary": self.summary(),
        }
        if self.usage:
            out["usage"] = self.usage
        out.update(self.extra)
        return out


Sums = dict[str, list[int]]
"""Unit -> [used, granted, identities]."""


def usage_rollup(findings: Sequence[Finding]) -> dict[str, Any] | None:
    """Sum `usage.used` / `usage.granted` of the unused-access findings, per unit (services, actions...),
    over the whole report, per namespace and per owner. An identity counts once in each (its findings
    repeat for every ServiceAccount that takes it), open or suppressed alike: the grant is there either way."""
    total: Sums = {}
    by_ns: dict[tuple[str, str], Sums] = {}
    by_owner: dict[str | None, Sums] = {}
    owners: dict[tuple[str, str], str | None] = {}
    seen: set[tuple] = set()
    for f in findings:
        u = f.evidence.get("usage") if f.category is Category.UNUSED_ACCESS else None
        if not isinstance(u, Mapping) or not isinstance(u.get("unit"), str):
            continue
        used, granted = u.get("used"), u.get("granted")
        if not (type(used) is int and type(granted) is int and 0 <= used <= granted):
            continue
        who = (f.cloud, f.principal or f.subject, u["unit"])
        ns, owner = (f.cluster, f.namespace or ""), f.extra.get("owner")
        owners[ns] = owners.get(ns) or owner
        for where, sums in (
            (("total",), total),
            (("namespace", ns), by_ns.setdefault(ns, {})),
            (("owner", owner), by_owner.setdefault(owner, {})),
        ):
            if (where, who) not in seen:
                seen.add((where, who))
                row = sums.setdefault(u["unit"], [0, 0, 0])
                row[0], row[1], row[2] = row[0] + used, row[1] + granted, row[2] + 1
    if not total:
        return None
    return {
        "total": _units(total),
        "by_namespace": [
            {"cluster": c, "namespace": n, "owner": owners[(c, n)], "units": _units(v)}
            for (c, n), v in sorted(by_ns.items())
            if v
        ],
        "by_owner": [
            {"owner": o, "units": _units(v)}
            for o, v in sorted(by_owner.items(), key=lambda kv: (kv[0] is None, kv[0] or ""))
            if v
        ],
    }


def _units(sums: Sums) -> dict[str, dict[str, int]]:
    return {unit: {"used": v[0], "granted": v[1], "identities": v[2]} for unit, v in sorted(sums.items())}


def build_report(
    inventory: Inventory,
    findings: Sequence[Finding],
    *,
    rules: Sequence[Rule],
    mode: str,
    generated_at: datetime,
    config: AnalysisConfig | None = None,
) -> Report:
    return Report(
        findings=tuple(findings),
        coverage=coverage(inventory, rules, config or AnalysisConfig()),
        generated_at=generated_at,
        mode=mode,
        catalogue={r.id: r.metadata() for r in rules},
        cloud_titles=dict(inventory.declarations.titles),
    )


def coverage(inventory: Inventory, rules: Sequence[Rule], config: AnalysisConfig) -> dict[str, Any]:
    linked = {(lk.cluster, lk.namespace, lk.service_account) for lk in inventory.links}
    identities: dict[str, dict[str, int]] = {}
    for link in inventory.links:
        per = identities.setdefault(link.cloud, {s.value: 0 for s in LinkStatus})
        per[link.status.value] += 1
    clusters = []
    for c in inventory.clusters:
        clusters.append(
            {
                "name": c.name,
                "id": c.identity,
                "cloud": c.cloud if c.cloud else None,
                "issuer": c.issuer,
                "service_accounts": sum(sa.cluster == c.name for sa in inventory.service_accounts),
                "workloads": sum(w.cluster == c.name for w in inventory.workloads),
                "nodes": sum(n.cluster == c.name for n in inventory.nodes),
            }
        )
    unchecked = [
        _unchecked(lk)
        for lk in sorted(inventory.links, key=lambda k: (k.cluster, k.namespace, k.service_account, k.principal))
        if lk.status is LinkStatus.UNCHECKED or (lk.identity is not None and lk.identity.gaps)
    ]
    errors = sorted(set(inventory.errors), key=lambda e: (e.source, e.location, e.reason, e.subject or ""))
    return {
        "clusters": clusters,
        "service_accounts": {
            "seen": len(inventory.service_accounts),
            "with_cloud_identity": sum(sa.key in linked for sa in inventory.service_accounts),
        },
        "workloads": len(inventory.workloads),
        "nodes": len(inventory.nodes),
        "identities": dict(sorted(identities.items())),
        "rules": sum(r.id not in config.disabled_rules for r in rules),
        "rules_disabled": [
            {"rule": r.id, "where": config.source or "configuration"} for r in rules if r.id in config.disabled_rules
        ],
        "rules_relevelled": [
            {"rule": r.id, "severity": str(sev), "default": str(r.severity), "where": config.source or "configuration"}
            for r in rules
            if (sev := config.severity_overrides.get(r.id)) is not None and sev != r.severity
        ],
        "sources": sorted(inventory.sources),
        "unchecked": unchecked,
        "errors": [e.to_dict() for e in errors],
        # Sources (or clusters) of which nothing could be read: a run with any never passes as clean.
        "unreadable": [{"source": e.source, "subject": e.subject, "reason": e.reason} for e in errors if e.whole],
    }


def _unchecked(link: IdentityLink) -> dict[str, Any]:
    """A link that could not be checked, or whose identity is checked on part of its evidence only."""
    entry: dict[str, Any] = {
        "cluster": link.cluster,
        "namespace": link.namespace,
        "service_account": link.service_account,
        "cloud": link.cloud,
        "principal": link.principal,
        "reason": link.reason,
    }
    gaps = link.identity.gaps if link.identity is not None else ()
    if gaps:
        if link.status is not LinkStatus.UNCHECKED:
            first = gaps[0]
            more = f" (and {len(gaps) - 1} more)" if len(gaps) > 1 else ""
            entry["reason"] = f"partly checked: {first.describe()}{more}"
        entry["items"] = [{"location": g.location, "item": g.item, "reason": g.reason} for g in gaps]
    return entry
