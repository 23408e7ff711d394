"""`run.json`: the small index a published run carries beside its `findings.json`, written last.

Its presence is what publishes the run (object storage has no rename: a reader lists only runs that
have it, so it never sees half a run). It also holds what the baseline, the trend and the fleet report
need without reading a findings.json of 100 MB again: the run's scope and summary, per cluster its
open findings by severity, new / resolved counts and coverage gaps, and the size and SHA-256 of every
file of the run (so a file changed after publication is detected, not trusted).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

import ijson
import orjson

from kubeiam.errors import InputError
from kubeiam.vocabulary.findings import Severity

MARKER = "run.json"
FINDINGS = "findings.json"
MARKER_VERSION = 1
SEVERITIES = tuple(s.value for s in Severity)

# Top-level keys of a JSON report kept whole in the index pass; the lists are only counted.
_HEAD = frozenset({"schema_version", "generated_at", "mode", "scope", "summary", "baseline", "coverage"})
_COUNTED = frozenset({"findings", "resolved", "not_rechecked"})
_ITEM_FIELDS = frozenset({"cluster", "cluster_id", "severity", "status", "baseline"})
_SCALARS = frozenset({"string", "number", "boolean", "null"})


class UnreadableRun(InputError):
    """A run's findings.json or run.json that cannot be read as one: the message names the file."""


@dataclass(frozen=True)
class ClusterIndex:
    """One cluster's part of a run."""

    name: str
    id: str | None
    cloud: str | None
    service_accounts: int
    total: int
    open: int
    suppressed: int
    by_severity: Mapping[str, int]
    """Open findings by severity."""
    new: int
    """Findings the run's baseline did not have (0 without a baseline)."""
    resolved: int
    not_rechecked: int
    unchecked: int
    """Identities that could not be checked (coverage.unchecked)."""
    errors: int
    """Coverage errors naming this cluster, or naming no cluster of the run (they may hide its findings)."""
    unreadable: bool
    """Something this cluster rests on could not be read at all: it never passes as clean."""

    @property
    def key(self) -> str:
        """The cluster across runs and sources: its stable id (EKS ARN, GKE name, AKS id), else its name."""
        return self.id or self.name

    @property
    def complete(self) -> bool:
        return not (self.unchecked or self.errors or self.unreadable)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "id": self.id,
            "cloud": self.cloud,
            "service_accounts": self.service_accounts,
            "total": self.total,
            "open": self.open,
            "suppressed": self.suppressed,
            "by_severity": dict(self.by_severity),
            "new": self.new,
            "resolved": self.resolved,
            "not_rechecked": self.not_rechecked,
            "unchecked": self.unchecked,
            "errors": self.errors,
            "unreadable": self.unreadable,
        }


@dataclass(frozen=True)
class RunIndex:
    """What `run.json` says about a run (see the module docstring)."""

    run: str
    generated_at: str
    scope: Mapping[str, Any] | None
    mode: str | None
    summary: Mapping[str, Any]
    baseline: Mapping[str, Any] | None
    clusters: tuple[ClusterIndex, ...]
    files: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Relative path -> {"size", "sha256"}; empty for a legacy local run (no run.json)."""

    def to_json(self) -> bytes:
        doc = {
            "kubeiam_run": MARKER_VERSION,
            "run": self.run,
            "generated_at": self.generated_at,
            "scope": self.scope,
            "mode": self.mode,
            "summary": self.summary,
            "baseline": self.baseline,
            "clusters": [c.to_json() for c in self.clusters],
            "files": self.files,
        }
        return orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n"

    @staticmethod
    def from_json(data: bytes, where: str) -> RunIndex:
        try:
            doc = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise UnreadableRun(f"{where}: not JSON ({exc})") from None
        if not isinstance(doc, dict) or doc.get("kubeiam_run") != MARKER_VERSION:
            raise UnreadableRun(f"{where}: not a kubeiam run index (kubeiam_run {MARKER_VERSION})")
        try:
            return RunIndex(
                run=_text(doc["run"]),
                generated_at=_text(doc["generated_at"]),
                scope=_mapping_or_none(doc.get("scope")),
                mode=doc.get("mode") if isinstance(doc.get("mode"), str) else None,
                summary=_mapping(doc.get("summary", {})),
                baseline=_mapping_or_none(doc.get("baseline")),
                clusters=tuple(_cluster(c) for c in doc["clusters"]),
                files={_text(k): _mapping(v) for k, v in _mapping(doc.get("files", {})).items()},
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise UnreadableRun(f"{where}: run index is damaged ({type(exc).__name__}: {exc})") from None

    def trend_point(self) -> dict[str, Any]:
        """The run as report_dir.trend gives it: open findings by severity and its baseline's new/resolved."""
        base = self.baseline or {}
        return {
            "generated_at": self.generated_at,
            "by_severity": dict(self.summary.get("by_severity", {})),
            "new": base.get("new"),
            "resolved": base.get("resolved"),
            "run": self.run,
            **({"usage": dict(self.summary["usage"])} if isinstance(self.summary.get("usage"), dict) else {}),
        }


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected text, got {type(value).__name__}")
    return value


def _int(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"expected a count, got {type(value).__name__}")
    return value


def _mapping(value: Any) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise TypeError(f"expected an object, got {type(value).__name__}")
    return value


def _mapping_or_none(value: Any) -> Mapping[str, Any] | None:
    return None if value is None else _mapping(value)


def _cluster(doc: Any) -> ClusterIndex:
    d = _mapping(doc)
    return ClusterIndex(
        name=_text(d["name"]),
        id=d["id"] if isinstance(d.get("id"), str) else None,
        cloud=d["cloud"] if isinstance(d.get("cloud"), str) else None,
        service_accounts=_int(d.get("service_accounts", 0)),
        total=_int(d["total"]),
        open=_int(d["open"]),
        suppressed=_int(d["suppressed"]),
        by_severity={s: _int(_mapping(d["by_severity"]).get(s, 0)) for s in SEVERITIES},
        new=_int(d.get("new", 0)),
        resolved=_int(d.get("resolved", 0)),
        not_rechecked=_int(d.get("not_rechecked", 0)),
        unchecked=_int(d.get("unchecked", 0)),
        errors=_int(d.get("errors", 0)),
        unreadable=bool(d.get("unreadable", False)),
    )


# -- building the index from a findings.json, in one streaming pass ---------------------------------


class _Tally:
    __slots__ = ("by_severity", "id", "new", "not_rechecked", "resolved", "suppressed", "total")

    def __init__(self) -> None:
        self.id: str | None = None
        self.total = self.suppressed = self.new = self.resolved = self.not_rechecked = 0
        self.by_severity = dict.fromkeys(SEVERITIES, 0)


def index_report(fh: IO[bytes], run: str, where: str) -> RunIndex:
    """Index a JSON report without holding its findings: one pass of events, the lists only counted.

    Raises UnreadableRun (naming `where`) for anything that is not a kubeiam JSON report."""
    head: dict[str, Any] = {}
    tallies: dict[str, _Tally] = {}
    key: str | None = None
    builder: Any = None
    item_prefix: str | None = None
    item: dict[str, Any] = {}
    try:
        events = ijson.parse(fh, use_float=True)
        first = next(events, None)
        if first is None or first[:2] != ("", "start_map"):
            raise UnreadableRun(f"{where}: not a kubeiam JSON report (not an object)")
        for prefix, event, value in events:
            if prefix == "":
                if builder is not None:
                    head[key or ""] = builder.value
                    builder = None
                if event == "map_key":
                    key = value
                    builder = ijson.ObjectBuilder() if value in _HEAD else None
                    item_prefix = f"{value}.item" if value in _COUNTED else None
                continue
            if builder is not None:
                builder.event(event, value)
            elif item_prefix is not None:
                if prefix == item_prefix:
                    if event == "end_map":
                        _tally(tallies, key or "", item)
                        item = {}
                elif event in _SCALARS and prefix[len(item_prefix) + 1 :] in _ITEM_FIELDS:
                    item[prefix[len(item_prefix) + 1 :]] = value
    except ijson.JSONError as exc:
        raise UnreadableRun(f"{where}: not valid JSON ({one_line(exc)})") from None
    except OSError as exc:
        raise UnreadableRun(f"{where}: cannot read: {exc.strerror or exc}") from None
    return _index(run, head, tallies, where)


def one_line(exc: BaseException) -> str:
    """An error's first line (a JSON parser's message draws the spot on a second one)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _tally(tallies: dict[str, _Tally], key: str, item: Mapping[str, Any]) -> None:
    name = item.get("cluster")
    if not isinstance(name, str):
        name = ""  # a finding with no cluster still counts (under "")
    t = tallies.get(name)
    if t is None:
        t = tallies[name] = _Tally()
    if key == "findings":
        t.total += 1
        if isinstance(item.get("cluster_id"), str):
            t.id = item["cluster_id"]
        if item.get("status") == "suppressed":
            t.suppressed += 1
        elif item.get("severity") in t.by_severity:
            t.by_severity[item["severity"]] += 1
        if item.get("baseline") == "new":
            t.new += 1
    elif key == "resolved":
        t.resolved += 1
    else:
        t.not_rechecked += 1


def _index(run: str, head: Mapping[str, Any], tallies: Mapping[str, _Tally], where: str) -> RunIndex:
    generated = head.get("generated_at")
    coverage = head.get("coverage")
    if not isinstance(generated, str) or not isinstance(coverage, dict):
        raise UnreadableRun(f"{where}: not a kubeiam JSON report (no generated_at or coverage)")
    listed = [c for c in coverage.get("clusters", []) if isinstance(c, dict) and isinstance(c.get("name"), str)]
    names = {c["name"] for c in listed}
    # Findings of a cluster the coverage does not list still count, under their own name.
    listed += [{"name": n} for n in sorted(set(tallies) - names)]
    names |= set(tallies)
    unchecked = _per_cluster(coverage.get("unchecked"), names, field="cluster")
    errors = _per_cluster(coverage.get("errors"), names, field="subject")
    unreadable = _per_cluster(coverage.get("unreadable"), names, field="subject")
    clusters = []
    for c in listed:
        name = c["name"]
        t = tallies.get(name) or _Tally()
        open_ = sum(t.by_severity.values())
        clusters.append(
            ClusterIndex(
                name=name,
                id=c.get("id") if isinstance(c.get("id"), str) else t.id,
                cloud=c.get("cloud") if isinstance(c.get("cloud"), str) else None,
                service_accounts=c["service_accounts"] if isinstance(c.get("service_accounts"), int) else 0,
                total=t.total,
                open=open_,
                suppressed=t.suppressed,
                by_severity=t.by_severity,
                new=t.new,
                resolved=t.resolved,
                not_rechecked=t.not_rechecked,
                unchecked=unchecked.get(name, 0),
                errors=errors.get(name, 0),
                unreadable=bool(unreadable.get(name)),
            )
        )
    summary = head.get("summary") if isinstance(head.get("summary"), dict) else {}
    scope, baseline = head.get("scope"), head.get("baseline")
    return RunIndex(
        run=run,
        generated_at=generated,
        scope=scope if isinstance(scope, dict) else None,
        mode=head.get("mode") if isinstance(head.get("mode"), str) else None,
        summary=summary or {},
        baseline=baseline if isinstance(baseline, dict) else None,
        clusters=tuple(clusters),
    )


def _per_cluster(entries: Any, names: set[str], *, field: str) -> dict[str, int]:
    """Coverage entries per cluster: an entry naming `cluster` or `cluster/...` is that cluster's; one
    naming no cluster of the run (a cloud account, a principal, or nothing) may hide findings of any of
    them, so it counts for each (a cluster is never clean on a guess)."""
    out: dict[str, int] = {}
    for entry in entries if isinstance(entries, list) else ():
        subject = entry.get(field) if isinstance(entry, dict) else None
        owner = subject.split("/", 1)[0] if isinstance(subject, str) else None
        for name in [owner] if owner in names else names:
            out[name] = out.get(name, 0) + 1
    return out


def file_digest(path: Path) -> dict[str, Any]:
    """{"size", "sha256"} of a file, read in chunks."""
    with path.open("rb") as fh:
        return stream_digest(fh)


def stream_digest(fh: IO[bytes]) -> dict[str, Any]:
    """{"size", "sha256"} of what is left to read in `fh`."""
    h, size = hashlib.sha256(), 0
    while chunk := fh.read(1 << 20):
        h.update(chunk)
        size += len(chunk)
    return {"size": size, "sha256": h.hexdigest()}


def with_files(index: RunIndex, files: Iterable[tuple[str, Mapping[str, Any]]]) -> RunIndex:
    return replace(index, files=dict(sorted(files)))
