"""The fleet report's counters: per roll-up line, per cluster, per identity; and the summary.

Kept small on purpose: there is one identity record per cloud identity of the fleet (hundreds of
thousands), so the record holds its clusters as a bit set and its ServiceAccounts as a tuple until
there are many, and equal finding texts share one tuple.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

from kubeiam.quarterly.run_index import SEVERITIES

SEV = {s: i for i, s in enumerate(SEVERITIES)}  # 0 is the worst


class AccountPattern(Protocol):
    """Where a principal or cluster id names its cloud account (what providers declare: see docs/fleet.md)."""

    cloud: str
    kind: str
    """`account`, `project`, `subscription`."""
    pattern: re.Pattern[str]
    """Group 1 is the account's id."""


class Counts:
    """Findings of one roll-up line: open by severity, suppressed, and the clusters they are in."""

    __slots__ = ("clusters", "open", "suppressed")

    def __init__(self) -> None:
        self.open = [0] * len(SEVERITIES)
        self.suppressed = 0
        self.clusters: set[int] = set()

    def add(self, sev: int, is_open: bool, cluster: int) -> None:
        if is_open:
            self.open[sev] += 1
        else:
            self.suppressed += 1
        self.clusters.add(cluster)

    def to_json(self, names: Sequence[str]) -> dict[str, Any]:
        return {
            "open": sum(self.open),
            "by_severity": dict(zip(SEVERITIES, self.open, strict=True)),
            "suppressed": self.suppressed,
            "clusters": sorted({names[i] for i in self.clusters}),
        }


class ClusterCounts(Counts):
    __slots__ = ("account", "categories", "clouds", "index", "malformed", "new", "total")

    def __init__(self, index: int, account: dict[str, str] | None) -> None:
        super().__init__()
        self.index = index
        self.account = account
        self.total = self.new = self.malformed = 0
        self.categories: dict[str, int] = {}
        self.clouds: dict[str, int] = {}


K = TypeVar("K")


def bump(table: dict[K, Counts], key: K) -> Counts:
    counts = table.get(key)
    if counts is None:
        counts = table[key] = Counts()
    return counts


class Identity:
    """A cloud identity: the clusters and ServiceAccounts that reach it, its findings once.

    Kept small, since there is one per identity of the fleet (hundreds of thousands): the clusters as a
    bit set, the ServiceAccounts as a tuple until there are many."""

    __slots__ = ("account", "cloud", "clusters", "rules", "service_accounts")

    def __init__(self, cloud: str | None, account: dict[str, str] | None) -> None:
        self.cloud = cloud
        self.account = account
        self.clusters = 0
        self.service_accounts: tuple[tuple[int, str | None, str], ...] | set[tuple[int, str | None, str]] = ()
        self.rules: dict[tuple[str, str, str, str], int] = {}

    def add_service_account(self, sa: tuple[int, str | None, str]) -> None:
        sas = self.service_accounts
        if isinstance(sas, set):
            sas.add(sa)
        elif sa not in sas:
            self.service_accounts = (*sas, sa) if len(sas) < 8 else {*sas, sa}

    def cluster_indexes(self) -> list[int]:
        return [i for i in range(self.clusters.bit_length()) if self.clusters >> i & 1]


class AccountOf:
    """The (cloud, kind, id) a principal or cluster id names, by the declared patterns; remembered."""

    def __init__(self, patterns: Iterable[AccountPattern]) -> None:
        self.patterns = tuple(patterns)
        self._seen: dict[str, dict[str, str] | None] = {}

    def __call__(self, text: str | None) -> dict[str, str] | None:
        if not text:
            return None
        if text not in self._seen:
            found = None
            for p in self.patterns:
                m = p.pattern.search(text)
                if m:
                    found = {"cloud": p.cloud, "kind": p.kind, "id": m.group(1)}
                    break
            # One dict per account, shared by every row that names it.
            self._seen[text] = self._seen.setdefault(f"\0{found}", found) if found else None
        return self._seen[text]


def rule_lines(rules: Mapping[tuple[str, str, str, str], int]) -> list[dict[str, Any]]:
    return [{"rule_id": r, "severity": s, "category": c, "title": t, "count": n} for (r, s, c, t), n in rules.items()]


def text(value: Any) -> str | None:
    return sys.intern(value) if isinstance(value, str) else None


def worst_first(by_severity: Mapping[str, int]) -> tuple[int, ...]:
    """Sort key: most critical first, then most high, ..."""
    return tuple(-by_severity.get(s, 0) for s in SEVERITIES)


def lines(table: Mapping[str | None, Counts], name: str, names: Sequence[str]) -> list[dict[str, Any]]:
    out = [{name: k, **v.to_json(names)} for k, v in table.items()]
    return sorted(out, key=lambda d: (worst_first(d["by_severity"]), str(d[name])))


def summary_of(clusters: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    by_status = {s: sum(c["status"] == s for c in clusters) for s in ("clean", "findings", "incomplete", "stale")}
    by_severity = {s: sum(c["by_severity"][s] for c in clusters) for s in SEVERITIES}
    by_category: dict[str, int] = {}
    by_cloud: dict[str, int] = {}
    for c in clusters:
        for k, n in c["by_category"].items():
            by_category[k] = by_category.get(k, 0) + n
        for k, n in c["by_cloud"].items():
            by_cloud[k] = by_cloud.get(k, 0) + n
    return {
        "clusters": len(clusters),
        **by_status,
        "service_accounts": sum(c["service_accounts"] for c in clusters),
        "total": sum(c["total"] for c in clusters),
        "open": sum(c["open"] for c in clusters),
        "suppressed": sum(c["suppressed"] for c in clusters),
        "new": sum(c["new"] for c in clusters),
        "by_severity": by_severity,
        "by_category": dict(sorted(by_category.items())),
        "by_cloud": dict(sorted(by_cloud.items())),
    }
