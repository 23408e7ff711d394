"""`kubeiam fleet SOURCE...`: one report over the latest run of every cluster, in bounded memory.

The plan (fleet_plan.py) picks each cluster's run from the small run indexes. Then each chosen run's
findings.json is streamed one finding at a time (ijson): every finding goes straight to the row sink (the
JSON writer) and into counters (per cluster, account / project / subscription, namespace, owner,
identity); only the counters and the worst findings the pages list are kept. Memory grows with the
number of identities and ServiceAccounts with findings, not with the number of findings.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import ijson

from kubeiam import __version__
from kubeiam.errors import InputError
from kubeiam.quarterly.fleet_plan import Plan, Planned, plan
from kubeiam.quarterly.fleet_rollup import (
    SEV,
    AccountOf,
    AccountPattern,
    ClusterCounts,
    Counts,
    Identity,
    bump,
    lines,
    rule_lines,
    summary_of,
    text,
    worst_first,
)
from kubeiam.quarterly.run_index import FINDINGS, SEVERITIES, one_line
from kubeiam.quarterly.stores import ReportStore

SCHEMA_VERSION = "kubeiam-fleet/1"
DEFAULT_STALE_AFTER = timedelta(days=100)  # a quarterly schedule, plus ten days' grace (as fleet_cli's)
# What a fleet row keeps of a finding: the subject, the verdict and where to look; the evidence stays in
# the cluster's own run (a fleet of 2 million findings would otherwise be gigabytes).
ROW_FIELDS = (
    "fingerprint", "rule_id", "category", "severity", "status", "title", "cluster", "cluster_id", "namespace",
    "service_account", "node", "cloud", "principal", "owner", "baseline", "first_seen", "suppression",
)  # fmt: skip
RowSink = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class FleetSettings:
    now: datetime
    stale_after: timedelta = DEFAULT_STALE_AFTER
    accounts: Sequence[AccountPattern] = ()
    top: int = 500
    """How many of the worst open findings the HTML and markdown pages list (the JSON lists all)."""


@dataclass(frozen=True)
class Fleet:
    """The fleet report but its finding rows (which were streamed out): JSON-ready parts."""

    generated_at: str
    stale_after_days: float
    summary: dict[str, Any]
    clusters: list[dict[str, Any]]
    accounts: list[dict[str, Any]]
    namespaces: list[dict[str, Any]]
    owners: list[dict[str, Any]]
    shared_identities: list[dict[str, Any]]
    sources: list[dict[str, Any]]
    problems: list[dict[str, str]]
    worst: list[dict[str, Any]] = field(default_factory=list)
    """The worst open findings, worst first (at most `FleetSettings.top`)."""

    def head(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "tool": {"name": "kubeiam", "version": __version__},
            "generated_at": self.generated_at,
            "stale_after_days": self.stale_after_days,
        }

    @staticmethod
    def head_for(settings: FleetSettings) -> dict[str, Any]:
        """The head before anything is read (the JSON writer starts with it)."""
        return Fleet(_stamp(settings), _days(settings), {}, [], [], [], [], [], [], []).head()

    def tail(self) -> dict[str, Any]:
        """Everything after `findings` in the JSON document."""
        return {
            "summary": self.summary,
            "clusters": self.clusters,
            "accounts": self.accounts,
            "namespaces": self.namespaces,
            "owners": self.owners,
            "shared_identities": self.shared_identities,
            "sources": self.sources,
            "problems": self.problems,
        }


def build_fleet(sources: Sequence[ReportStore], settings: FleetSettings, sink: RowSink | None = None) -> Fleet:
    """Read every source, stream each finding to `sink`, and return the rest of the report."""
    fleet_plan = plan(sources, settings.now, settings.stale_after)
    agg = _Aggregate(fleet_plan, settings)
    by_run: dict[tuple[str, str], list[Planned]] = {}
    for p in fleet_plan.clusters:
        by_run.setdefault((p.latest.folder.url, p.latest.run), []).append(p)
    for group in by_run.values():
        agg.read_run(group, sink or _discard)
    return agg.result()


def _discard(row: dict[str, Any]) -> None:
    return None


class _Aggregate:
    def __init__(self, fleet_plan: Plan, settings: FleetSettings) -> None:
        self.plan = fleet_plan
        self.settings = settings
        self.account_of = AccountOf(settings.accounts)
        self.names = [p.latest.cluster.name for p in fleet_plan.clusters]
        self.clusters = [
            ClusterCounts(i, self.account_of(p.latest.cluster.id)) for i, p in enumerate(fleet_plan.clusters)
        ]
        self.position = {id(p): i for i, p in enumerate(fleet_plan.clusters)}
        self.problems: dict[int, list[str]] = {}
        self.accounts: dict[tuple[str, str, str] | None, Counts] = {}
        self.namespaces: dict[str | None, Counts] = {}
        self.owners: dict[str | None, Counts] = {}
        self.identities: dict[str, Identity] = {}
        self.rule_keys: dict[tuple[str, str, str, str], tuple[str, str, str, str]] = {}
        self.worst: list[tuple[int, int, dict[str, Any]]] = []
        self.seq = 0

    def read_run(self, group: list[Planned], sink: RowSink) -> None:
        """Stream one run's findings.json: the findings of the clusters this run speaks for."""
        first = group[0].latest
        wanted = {p.latest.cluster.name: self.clusters[self.position[id(p)]] for p in group}
        try:
            with first.folder.open_file(first.run, FINDINGS) as fh:
                for finding in ijson.items(fh, "findings.item", use_float=True):
                    acc = wanted.get(finding.get("cluster") or "") if isinstance(finding, dict) else None
                    if acc is not None:
                        self._add(acc, finding, sink)
        except (InputError, ijson.JSONError, OSError) as exc:
            where = f"{first.folder.url}/{first.run}/{FINDINGS}"
            text = one_line(exc) if isinstance(exc, InputError) else f"{where}: unreadable: {one_line(exc)}"
            for p in group:
                self._problem(p, text)
        for p in group:
            acc, want = self.clusters[self.position[id(p)]], p.latest.cluster
            if (acc.total, sum(acc.open), acc.suppressed) != (want.total, want.open, want.suppressed):
                self._problem(
                    p,
                    f"{first.folder.url}/{first.run}: findings.json has {acc.total} finding(s) of this cluster, "
                    f"run.json says {want.total}",
                )

    def _problem(self, p: Planned, text: str) -> None:
        self.problems.setdefault(self.position[id(p)], []).append(text)

    def _add(self, acc: ClusterCounts, f: dict[str, Any], sink: RowSink) -> None:
        sev = SEV.get(f.get("severity") or "")
        if sev is None:
            acc.malformed += 1
            return
        is_open = f.get("status") != "suppressed"
        cluster = acc.index
        acc.total += 1
        acc.add(sev, is_open, cluster)
        if f.get("baseline") == "new":
            acc.new += 1
        category = f.get("category")
        if is_open and isinstance(category, str):
            acc.categories[category] = acc.categories.get(category, 0) + 1
        account = acc.account
        principal = f.get("principal")
        namespace, sa = text(f.get("namespace")), text(f.get("service_account"))
        if isinstance(principal, str) and principal:
            ident = self.identities.get(principal)
            if ident is None:
                cloud = f.get("cloud") if isinstance(f.get("cloud"), str) else None
                ident = self.identities[principal] = Identity(cloud, self.account_of(principal) or acc.account)
            account = ident.account
            ident.clusters |= 1 << cluster
            if sa is not None:
                ident.add_service_account((cluster, namespace, sa))
            # One tuple (and one string) per distinct finding text across the fleet, not per finding.
            key = (text(f.get("rule_id")) or "", SEVERITIES[sev], text(f.get("category")) or "", str(f.get("title")))
            key = self.rule_keys.setdefault(key, key)
            ident.rules[key] = ident.rules.get(key, 0) + 1
        account_key = (account["cloud"], account["kind"], account["id"]) if account else None
        bump(self.accounts, account_key).add(sev, is_open, cluster)
        bump(self.namespaces, namespace).add(sev, is_open, cluster)
        bump(self.owners, text(f.get("owner"))).add(sev, is_open, cluster)
        cloud = f.get("cloud")
        if is_open and isinstance(cloud, str):
            acc.clouds[cloud] = acc.clouds.get(cloud, 0) + 1
        row = {k: f.get(k) for k in ROW_FIELDS}
        row["account"] = account
        sink(row)
        if is_open:
            self.seq += 1
            item = (-sev, -self.seq, row)
            if len(self.worst) < self.settings.top:
                heapq.heappush(self.worst, item)
            elif self.settings.top:
                heapq.heappushpop(self.worst, item)

    def result(self) -> Fleet:
        clusters = [self._cluster(i, p) for i, p in enumerate(self.plan.clusters)]
        summary = summary_of(clusters)
        shared = [self._identity(p, ident) for p, ident in self.identities.items() if ident.clusters.bit_count() > 1]
        shared.sort(key=lambda d: (worst_first(d["by_severity"]), -len(d["clusters"]), d["principal"]))
        summary["identities"] = len(self.identities)
        summary["shared_identities"] = len(shared)
        worst = [row for _, _, row in sorted(self.worst, key=lambda t: (-t[0], -t[1]))]
        return Fleet(
            generated_at=_stamp(self.settings),
            stale_after_days=_days(self.settings),
            summary=summary,
            clusters=clusters,
            accounts=self._accounts(),
            namespaces=lines(self.namespaces, "namespace", self.names),
            owners=lines(self.owners, "owner", self.names),
            shared_identities=shared,
            sources=list(self.plan.sources),
            problems=list(self.plan.problems),
            worst=worst,
        )

    def _cluster(self, i: int, p: Planned) -> dict[str, Any]:
        acc, c, latest = self.clusters[i], p.latest.cluster, p.latest
        problems = [*p.problems, *self.problems.get(i, ())]
        if acc.malformed:
            problems.append(f"{acc.malformed} finding(s) without a valid severity were skipped")
        complete = c.complete and not problems
        status = "stale" if p.stale else "incomplete" if not complete else "findings" if sum(acc.open) else "clean"
        return {
            "cluster": c.name,
            "cluster_id": c.id,
            "cloud": c.cloud,
            "account": acc.account,
            "status": status,
            "stale": p.stale,
            "complete": complete,
            "age_days": p.age_days,
            "generated_at": latest.index.generated_at,
            "run": latest.run,
            "report_folder": latest.folder.url,
            "source": latest.source,
            "service_accounts": c.service_accounts,
            "total": acc.total,
            "open": sum(acc.open),
            "suppressed": acc.suppressed,
            "by_severity": dict(zip(SEVERITIES, acc.open, strict=True)),
            "by_category": dict(sorted(acc.categories.items())),
            "by_cloud": dict(sorted(acc.clouds.items())),
            "new": acc.new,
            "resolved": c.resolved,
            "not_rechecked": c.not_rechecked,
            "unchecked": c.unchecked,
            "coverage_errors": c.errors,
            "unreadable": c.unreadable,
            "problems": problems,
            "also_in": list(p.also_in),
            "trend": [
                {
                    "run": s.run,
                    "generated_at": s.index.generated_at,
                    "by_severity": dict(s.cluster.by_severity),
                    "new": s.cluster.new,
                    "resolved": s.cluster.resolved,
                    "report_folder": s.folder.url,
                }
                for s in p.history
            ],
        }

    def _identity(self, principal: str, ident: Identity) -> dict[str, Any]:
        rules = sorted(rule_lines(ident.rules), key=lambda r: (SEV[r["severity"]], r["rule_id"], r["title"]))
        open_ = [0] * len(SEVERITIES)
        for r in rules:
            open_[SEV[r["severity"]]] += r["count"]
        return {
            "principal": principal,
            "cloud": ident.cloud,
            "account": ident.account,
            "clusters": sorted({self.names[i] for i in ident.cluster_indexes()}),
            "service_accounts": [
                {
                    "cluster": self.names[c],
                    "cluster_id": self.plan.clusters[c].latest.cluster.id,
                    "namespace": ns,
                    "service_account": sa,
                }
                for c, ns, sa in sorted(
                    ident.service_accounts, key=lambda t: (self.names[t[0]], t[1] or "", t[2] or "")
                )
            ],
            "by_severity": dict(zip(SEVERITIES, open_, strict=True)),
            "findings": rules,
        }

    def _accounts(self) -> list[dict[str, Any]]:
        principals: dict[tuple[str, str, str] | None, int] = {}
        for ident in self.identities.values():
            k = (ident.account["cloud"], ident.account["kind"], ident.account["id"]) if ident.account else None
            principals[k] = principals.get(k, 0) + 1
        out = []
        for k, counts in self.accounts.items():
            head = {"cloud": k[0], "kind": k[1], "id": k[2]} if k else {"cloud": None, "kind": None, "id": None}
            out.append({**head, "principals": principals.get(k, 0), **counts.to_json(self.names)})
        return sorted(out, key=lambda d: (worst_first(d["by_severity"]), str(d["cloud"]), str(d["id"])))


def _stamp(settings: FleetSettings) -> str:
    return settings.now.strftime("%Y-%m-%dT%H:%M:%SZ")


def _days(settings: FleetSettings) -> float:
    return round(settings.stale_after.total_seconds() / 86400, 2)
