"""Baseline: what is new, unchanged or resolved since a previous report, matched by fingerprint.

`first_seen` is carried forward from the previous report (or its `generated_at` when that report
had no baseline of its own), so a ticket's age survives any number of runs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from kubeiam.errors import InputError
from kubeiam.safety.text import safe_line
from kubeiam.vocabulary.findings import Finding, Severity

RESOLVED_KEYS = (
    "fingerprint",
    "rule_id",
    "category",
    "severity",
    "title",
    "cluster",
    "namespace",
    "service_account",
    "node",
    "cloud",
    "principal",
    "owner",
    "first_seen",
)


_REQUIRED_RESOLVED = frozenset(RESOLVED_KEYS[:8])
"""Always present in a resolved entry (null when the previous report lacked them); the rest when known."""


def scope_of(
    namespace: str | None, service_account: str | None, cluster: str | None = None
) -> dict[str, str | None] | None:
    """What a narrowed run records as `scope` (and what picks its default baseline); None for a full audit.
    `cluster` is there only when the run was narrowed to one (`check CLUSTER/NS/NAME`, `--cluster-name`)."""
    if namespace is None and cluster is None:
        return None
    scope = {"cluster": cluster} if cluster is not None else {}
    return {**scope, "namespace": namespace, "service_account": service_account}


def rfc3339(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Previous:
    """A previous JSON report, reduced to what the comparison needs."""

    path: str
    generated_at: str
    findings: Mapping[str, Mapping[str, Any]]
    """fingerprint -> the finding as it was in that report."""
    clusters: frozenset[str]
    """Clusters that report covered."""


def read_report(path: Path, what: str = "report") -> Any:
    """A JSON file's content, or one InputError line naming it."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"{path}: cannot read {what}: {exc.strerror or exc}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: {what} is not valid JSON ({exc})") from None


def load_previous(path: Path) -> Previous:
    return previous_from_dict(read_report(path, "baseline"), str(path))


def previous_from_dict(doc: Any, where: str) -> Previous:
    """Validate what the comparison reads, so a damaged or foreign file is one clear error, never a traceback."""
    if not isinstance(doc, dict) or not isinstance(doc.get("findings"), list):
        raise InputError(f"{where}: not a kubeiam JSON report (no 'findings' list)")
    generated = doc.get("generated_at")
    if not _is_rfc3339(generated):
        # It becomes `first_seen` of every unchanged finding: the contract says RFC 3339.
        raise InputError(f"{where}: not a kubeiam JSON report ('generated_at' is not an RFC 3339 time)")
    findings: dict[str, Mapping[str, Any]] = {}
    for i, f in enumerate(doc["findings"]):
        if not isinstance(f, dict) or not isinstance(f.get("fingerprint"), str):
            raise InputError(f"{where}: findings[{i}] has no fingerprint")
        if f.get("severity") not in Severity._value2member_map_:
            raise InputError(f"{where}: finding {f['fingerprint']} has no valid severity")
        if "first_seen" in f and not _is_rfc3339(f["first_seen"]):
            raise InputError(f"{where}: finding {f['fingerprint']} has a 'first_seen' that is not an RFC 3339 time")
        findings[f["fingerprint"]] = f
    coverage = doc.get("coverage", {})
    if not isinstance(coverage, dict) or not all(
        isinstance(coverage.get(k, []), list) for k in ("clusters", "unchecked", "errors")
    ):
        raise InputError(f"{where}: 'coverage' is not a kubeiam coverage object")
    clusters = {c.get("name") for c in coverage.get("clusters", []) if isinstance(c, dict)}
    clusters |= {f.get("cluster") for f in findings.values()}
    return Previous(where, str(generated), findings, frozenset(c for c in clusters if isinstance(c, str)))


def _is_rfc3339(value: Any) -> bool:
    if not isinstance(value, str) or "T" not in value.upper():
        return False
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class Comparison:
    findings: tuple[Finding, ...]
    """Current findings with `baseline` and `first_seen` set."""
    resolved: tuple[dict[str, Any], ...]
    not_rechecked: tuple[dict[str, Any], ...]
    """Previous findings on clusters this run did not cover: not fixed, just not looked at."""
    summary: dict[str, Any]


def compare(
    findings: Sequence[Finding],
    previous: Previous,
    now: datetime,
    coverage: Mapping[str, Any],
    *,
    namespace: str | None = None,
    service_account: str | None = None,
    rule_clouds: Mapping[str, str] | None = None,
    cluster: str | None = None,
) -> Comparison:
    """Mark `findings` against `previous`. With `namespace` (and `service_account`) the run was narrowed:
    previous findings outside that scope are neither resolved nor listed."""
    current = {f.fingerprint for f in findings}
    out = []
    for f in findings:
        before = previous.findings.get(f.fingerprint)
        if before is None:
            extra = {"baseline": "new", "first_seen": rfc3339(now)}
        else:
            extra = {"baseline": "unchanged", "first_seen": before.get("first_seen") or previous.generated_at}
        out.append(replace(f, extra={**f.extra, **extra}))
    rechecked = Rechecked(coverage, rule_clouds)
    resolved: list[dict[str, Any]] = []
    unseen: list[dict[str, Any]] = []
    for fp, before in sorted(previous.findings.items(), key=lambda kv: _sort_key(kv[1])):
        if fp in current or not _in_scope(before, namespace, service_account, cluster):
            continue
        entry = {k: before.get(k) for k in RESOLVED_KEYS if k in before or k in _REQUIRED_RESOLVED}
        entry.setdefault("first_seen", previous.generated_at)
        (resolved if rechecked(before) else unseen).append(entry)
    new = sum(f.extra["baseline"] == "new" for f in out)
    summary = {
        "source": previous.path,
        "generated_at": previous.generated_at,
        "new": new,
        "unchanged": len(out) - new,
        "resolved": len(resolved),
        "not_rechecked": len(unseen),
    }
    return Comparison(tuple(out), tuple(resolved), tuple(unseen), summary)


class Rechecked:
    """Whether this run looked again at what a previous finding was about.

    Why: a cluster, a cloud file or an identity that could not be read this time would otherwise make
    its findings look fixed. Not re-checked: the finding's cluster is absent from this run, its subject
    has an unchecked identity link in its cloud, or a coverage error hides it: one that names its subject,
    its principal or (for its cloud's rules; all rules when the error is the cluster's Kubernetes
    evidence) its cluster, or names no subject and is about its cloud. An error that lists `rules`
    hides only those rules' findings.
    """

    def __init__(self, coverage: Mapping[str, Any], rule_clouds: Mapping[str, str] | None = None) -> None:
        self.rule_clouds = rule_clouds or {}
        self.clusters = {c.get("name") for c in coverage.get("clusters", []) if isinstance(c, dict)}
        self.unchecked = {
            (u.get("cluster"), u.get("namespace"), u.get("service_account"), u.get("cloud"))
            for u in coverage.get("unchecked", [])
            if isinstance(u, dict)
        }
        # subject (None: all) -> [(source, rules it is limited to)]
        self.errors: dict[str | None, list[tuple[str, frozenset[str]]]] = {}
        for e in coverage.get("errors", []):
            if isinstance(e, dict):
                listed = e.get("rules")
                rules = frozenset(map(str, listed)) if isinstance(listed, list) else frozenset()
                self.errors.setdefault(e.get("subject") or None, []).append((str(e.get("source")), rules))

    def __call__(self, f: Mapping[str, Any]) -> bool:
        rule = str(f.get("rule_id", ""))
        # The evidence a finding rests on is its rule's source (K8S-001 about AWS keys reads pods only); an
        # identity-takeover finding rests on its identity's cloud evidence too (the power it judges).
        sources = [self.rule_clouds.get(rule, f.get("cloud"))]
        takeover = f.get("category") == "identity-takeover"
        if takeover and f.get("cloud") not in sources:
            sources.append(f.get("cloud"))
        return all(self._rechecked(f, rule, cloud, takeover) for cloud in sources)

    def _rechecked(self, f: Mapping[str, Any], rule: str, cloud: Any, takeover: bool = False) -> bool:
        cluster, ns, sa = (f.get(k) for k in ("cluster", "namespace", "service_account"))
        if cluster not in self.clusters or (cluster, ns, sa, cloud) in self.unchecked:
            return False
        subject = f"{cluster}/{ns}/{sa}" if sa is not None else f"{cluster}/node/{f.get('node')}"
        evidence = f.get("evidence")
        # A ServiceAccount's finding about the node its pod runs on (AWS-023) rests on that node's evidence too.
        node = evidence.get("node") if isinstance(evidence, Mapping) and sa is not None else None

        def hides(key: str | None, same_source_only: bool, any_rule: bool = False) -> bool:
            return any(
                (any_rule or not rules or rule in rules) and (not same_source_only or source in (cloud, "kubernetes"))
                for source, rules in self.errors.get(key, ())
            )

        return not (
            hides(subject, False)
            # A takeover's severity is its identity's power: any gap in that identity's evidence leaves it open.
            or (f.get("principal") is not None and hides(str(f.get("principal")), False, takeover))
            or (isinstance(node, str) and hides(f"{cluster}/node/{node}", False))
            or hides(str(cluster), True)
            or any(source == cloud and (not rules or rule in rules) for source, rules in self.errors.get(None, ()))
        )


def _in_scope(
    f: Mapping[str, Any], namespace: str | None, service_account: str | None, cluster: str | None = None
) -> bool:
    if cluster is not None and f.get("cluster") != cluster:
        return False
    if namespace is None:
        return True
    return f.get("namespace") == namespace and service_account in (None, f.get("service_account"))


def _sort_key(f: Mapping[str, Any]) -> tuple:
    sev = f.get("severity")
    rank = Severity(str(sev)).rank if sev in Severity._value2member_map_ else -1
    return (-rank, str(f.get("cluster")), str(f.get("namespace")), str(f.get("service_account")), str(f.get("rule_id")))


def report_extra(comparison: Comparison) -> dict[str, Any]:
    """The top-level fields a baseline adds to a report."""
    extra: dict[str, Any] = {"baseline": comparison.summary, "resolved": list(comparison.resolved)}
    if comparison.not_rechecked:
        extra["not_rechecked"] = list(comparison.not_rechecked)
    return extra


# --- `kubeiam diff OLD.json NEW.json` -------------------------------------------------------------


@dataclass(frozen=True)
class Diff:
    new: tuple[Mapping[str, Any], ...]
    unchanged: tuple[Mapping[str, Any], ...]
    resolved: tuple[Mapping[str, Any], ...]
    not_rechecked: tuple[Mapping[str, Any], ...]

    def fails(self, threshold: Severity) -> bool:
        """A new open (not suppressed) finding at or above the threshold."""
        return any(
            f.get("status", "open") == "open" and Severity(str(f["severity"])).rank >= threshold.rank for f in self.new
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "new": list(self.new),
            "unchanged": list(self.unchanged),
            "resolved": list(self.resolved),
            "not_rechecked": list(self.not_rechecked),
        }


def diff_reports(
    old: Previous, new_doc: Mapping[str, Any], new_where: str, rule_clouds: Mapping[str, str] | None = None
) -> Diff:
    new = previous_from_dict(new_doc, new_where)
    fresh = [f for fp, f in new.findings.items() if fp not in old.findings]
    same = [
        {**f, "first_seen": old.findings[fp].get("first_seen") or old.generated_at}
        for fp, f in new.findings.items()
        if fp in old.findings
    ]
    gone = [f for fp, f in old.findings.items() if fp not in new.findings]
    rechecked = Rechecked(new_doc.get("coverage") or {"clusters": [{"name": c} for c in new.clusters]}, rule_clouds)
    return Diff(
        new=tuple(sorted(fresh, key=_sort_key)),
        unchanged=tuple(sorted(same, key=_sort_key)),
        resolved=tuple(sorted((f for f in gone if rechecked(f)), key=_sort_key)),
        not_rechecked=tuple(sorted((f for f in gone if not rechecked(f)), key=_sort_key)),
    )


_DIFF_SECTIONS = (("new", "new"), ("resolved", "resolved"), ("not re-checked", "not_rechecked"))


def render_diff_text(diff: Diff) -> str:
    lines = [
        f"{len(diff.new)} new, {len(diff.unchanged)} unchanged, {len(diff.resolved)} resolved"
        + (f", {len(diff.not_rechecked)} not re-checked (not read by the new run)" if diff.not_rechecked else "")
    ]
    width = max(len(label) for label, _ in _DIFF_SECTIONS)
    for label, attr in _DIFF_SECTIONS:
        for f in getattr(diff, attr):
            subject = "/".join(str(x) for x in (f.get("cluster"), f.get("namespace"), f.get("service_account")))
            if f.get("node"):
                subject = f"{f.get('cluster')}/node/{f['node']}"
            status = " [suppressed]" if f.get("status") == "suppressed" else ""
            lines.append(
                safe_line(
                    f"{label:<{width}}  {f.get('severity', '?'):<8} {f.get('rule_id')}  {subject}  {f.get('title')}"
                    f"{status}"
                )
            )
    return "\n".join(lines) + "\n"
