"""Which run speaks for each cluster of a fleet: the first half of `kubeiam fleet`, from run indexes only.

A source (a local folder or a bucket URL) holds report folders: itself, or folders below it (one per
cluster, as one CronJob per cluster writes them). Every published run of every folder is listed from its
small run.json; a cluster's latest run that covers it whole (a full audit, or one narrowed to that
cluster: never a `--namespace` or `check` run) is the one the fleet reads, its earlier runs give the
trend. Nothing here reads a findings.json.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from kubeiam.errors import InputError
from kubeiam.quarterly.run_index import ClusterIndex, RunIndex
from kubeiam.quarterly.stores import ReportStore, run_order

MAX_DEPTH = 4  # source/account/region/cluster/run is as deep as anyone nests report folders


@dataclass(frozen=True)
class Seen:
    """One run of one cluster."""

    source: str
    folder: ReportStore
    run: str
    index: RunIndex
    cluster: ClusterIndex

    @property
    def order(self) -> tuple[str, tuple[str, int], str]:
        return (self.index.generated_at, run_order(self.run), self.folder.url)


@dataclass(frozen=True)
class Planned:
    """A cluster of the fleet: the run that speaks for it, its earlier runs, what is wrong with them."""

    latest: Seen
    history: tuple[Seen, ...]
    """Every run of the cluster, oldest first (the latest last)."""
    problems: tuple[str, ...]
    also_in: tuple[str, ...]
    """Other report folders that also hold runs of this cluster (an older copy, a laptop audit)."""
    stale: bool
    age_days: float | None


@dataclass(frozen=True)
class Plan:
    clusters: tuple[Planned, ...]
    problems: tuple[dict[str, str], ...]
    """Sources, folders and runs that could not be read: {"where", "reason"}."""
    sources: tuple[dict[str, Any], ...]
    """Per source: its URL, the report folders and runs found."""


def covered(index: RunIndex) -> tuple[ClusterIndex, ...]:
    """The clusters a run saw whole: all of a full audit, the one of a run narrowed to a cluster, none of a
    `--namespace` or `check` run (a part of a cluster is no state of the cluster)."""
    scope = index.scope
    if scope is None:
        return index.clusters
    if scope.get("namespace") is None and scope.get("service_account") is None and scope.get("cluster"):
        return tuple(c for c in index.clusters if c.name == scope["cluster"])
    return ()


def report_folders(store: ReportStore, depth: int = MAX_DEPTH) -> Iterator[ReportStore]:
    """The store itself when it holds runs, and every folder below it that does (depth-first, sorted)."""
    if store.runs():
        yield store
    if depth > 0:
        for name in store.folders():
            yield from report_folders(store.child(name), depth - 1)


def plan(sources: Sequence[ReportStore], now: datetime, stale_after: timedelta) -> Plan:
    problems: list[dict[str, str]] = []
    listed: list[dict[str, Any]] = []
    seen: dict[str, list[Seen]] = {}
    damaged: dict[str, str] = {}  # folder URL -> its newest run that could not be read
    visited: set[str] = set()  # a folder named twice (as a source and inside another) is read once
    for source in sources:
        folders, runs = 0, 0
        try:
            for folder in report_folders(source):
                if folder.url in visited:
                    continue
                visited.add(folder.url)
                folders += 1
                for run in folder.runs():
                    runs += 1
                    try:
                        index = folder.index(run)
                    except InputError as exc:
                        problems.append({"where": f"{folder.url}/{run}", "reason": str(exc)})
                        damaged[folder.url] = max(damaged.get(folder.url, run), run, key=run_order)
                        continue
                    for cluster in covered(index):
                        seen.setdefault(cluster.key, []).append(Seen(source.url, folder, run, index, cluster))
        except InputError as exc:
            problems.append({"where": source.url, "reason": str(exc)})
        if not runs:
            problems.append({"where": source.url, "reason": "no published run (run.json) found"})
        listed.append({"source": source.url, "report_folders": folders, "runs": runs})
    clusters = [_planned(history, damaged, now, stale_after) for history in seen.values()]
    clusters.sort(key=lambda p: (p.latest.cluster.name, p.latest.cluster.key))
    return Plan(tuple(clusters), tuple(problems), tuple(listed))


def _planned(history: list[Seen], damaged: Mapping[str, str], now: datetime, stale_after: timedelta) -> Planned:
    history.sort(key=lambda s: s.order)
    latest = history[-1]
    problems = []
    newer_damaged = damaged.get(latest.folder.url)
    if newer_damaged is not None and run_order(newer_damaged) > run_order(latest.run):
        problems.append(f"a newer run could not be read: {latest.folder.url}/{newer_damaged}")
    when = parse_time(latest.index.generated_at)
    if when is None:
        problems.append(f"{latest.folder.url}/{latest.run}: generated_at is not an RFC 3339 time")
    age = (now - when) if when is not None else None
    also = sorted({s.folder.url for s in history} - {latest.folder.url})
    return Planned(
        latest=latest,
        history=tuple(history),
        problems=tuple(problems),
        also_in=tuple(also),
        stale=age is None or age > stale_after,
        age_days=round(age.total_seconds() / 86400, 1) if age is not None else None,
    )


def parse_time(text: str) -> datetime | None:
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)
