"""What a ticket says: title, severity, owner, evidence summary, remediation, fingerprint, labels.

Tracker-neutral (`Content`); `markup` turns it into GitHub markdown or Jira wiki markup. The digest
covers only what a finding *is* (never `first_seen`, `baseline` or the run's time), so an unchanged
finding gives the same digest on every run and its ticket is left alone.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import astuple
from typing import Any

from kubeiam_tickets.model import (
    KEY_LABEL_PREFIX,
    MANAGED_LABEL_PREFIXES,
    NOT_RECHECKED_LABEL,
    SEVERITY_RANK,
    TOOL_LABEL,
    Content,
    Section,
)

TITLE_MAX = 250  # Jira's summary takes 255 characters, GitHub's title 256
EVIDENCE_VALUE_MAX = 400
EVIDENCE_MAX = 3000
_LABEL_UNSAFE = re.compile(r"\s+")
GROUP_PREFIX = "sa:v1:"


def key_label(key: str) -> str:
    return f"{KEY_LABEL_PREFIX}{key}"


def key_of_labels(labels: Iterable[str]) -> str | None:
    """The ticket key a `kubeiam:<key>` label names (the tool and flag labels are not keys)."""
    for label in labels:
        if label.startswith(KEY_LABEL_PREFIX) and label != NOT_RECHECKED_LABEL:
            return label[len(KEY_LABEL_PREFIX) :]
    return None


def merge_labels(existing: Iterable[str], managed: Iterable[str], *, not_rechecked: bool = False) -> list[str]:
    """A person's labels stay; kubeiam's own are replaced by `managed` (plus the not-re-checked flag)."""
    kept = [x for x in existing if not x.startswith(MANAGED_LABEL_PREFIXES)]
    return [*kept, *managed, *([NOT_RECHECKED_LABEL] if not_rechecked else [])]


def group_key(f: Mapping[str, Any]) -> str:
    """One key per ServiceAccount (or node) and cluster: the same subject gives the same key every run.

    The cluster *name* is hashed because `resolved` and `not_rechecked` entries carry no cluster_id.
    """
    subject = f"node\0{f.get('node')}" if f.get("node") else f"sa\0{f.get('namespace')}\0{f.get('service_account')}"
    return GROUP_PREFIX + hashlib.sha256(f"{f.get('cluster')}\0{subject}".encode()).hexdigest()[:32]


def subject_of(f: Mapping[str, Any]) -> str:
    if f.get("node"):
        return f"node {f['node']} in {f.get('cluster')}"
    return f"{f.get('namespace')}/{f.get('service_account')} in {f.get('cluster')}"


def one_line(text: Any, limit: int = TITLE_MAX) -> str:
    """A title: one line of printable text, cut to what trackers accept."""
    flat = " ".join("".join(ch if ch.isprintable() else " " for ch in str(text)).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _label_value(value: Any) -> str:
    return _LABEL_UNSAFE.sub("-", str(value).strip())[:40]


def managed_labels(key: str, severity: str, owners: Sequence[Any]) -> tuple[str, ...]:
    owner_labels = sorted({f"owner:{_label_value(o)}" for o in owners if o})
    return (TOOL_LABEL, key_label(key), f"severity:{severity}", *owner_labels)


def evidence_summary(evidence: Any) -> str:
    """The evidence as `name: value` lines, each value cut to a readable length: what proves it, where from."""
    if not isinstance(evidence, Mapping):
        return _cut(_compact(evidence), EVIDENCE_MAX)
    lines = []
    for name, value in evidence.items():
        if value is None or value == [] or value == {}:
            continue
        text = value if isinstance(value, str) else _compact(value)
        lines.append(f"{name}: {_cut(text, EVIDENCE_VALUE_MAX)}")
    return _cut("\n".join(lines), EVIDENCE_MAX)


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "), default=str)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _section(f: Mapping[str, Any]) -> Section:
    suppression = f.get("suppression") or {}
    return Section(
        fingerprint=f["fingerprint"],
        severity=f["severity"],
        rule_id=str(f.get("rule_id") or ""),
        category=str(f.get("category") or ""),
        title=one_line(f.get("title", "")),
        evidence=evidence_summary(f.get("evidence")),
        remediation=str(f.get("remediation") or ""),
        status=str(f.get("status") or "open"),
        suppression=suppression_text(suppression) if f.get("status") == "suppressed" else "",
    )


def suppression_text(s: Any) -> str:
    if not isinstance(s, Mapping):
        return "suppressed"
    expires = s.get("expires") or "no expiry"
    return f"accepted by {s.get('owner') or 'unknown'} until {expires}: {s.get('reason') or 'no reason given'}"


def _facts(f: Mapping[str, Any], principals: Sequence[str]) -> list[tuple[str, str]]:
    facts = [("Cluster", str(f.get("cluster")))]
    if f.get("cluster_id") and f.get("cluster_id") != f.get("cluster"):
        facts.append(("Cluster id", str(f["cluster_id"])))
    if f.get("node"):
        facts.append(("Node", str(f["node"])))
    else:
        facts.append(("ServiceAccount", f"{f.get('namespace')}/{f.get('service_account')}"))
    facts.append(("Cloud", str(f.get("cloud"))))
    facts.extend(("Principal", p) for p in principals)
    facts.append(("Owner", str(f.get("owner") or "unknown (no owner label on the namespace)")))
    return facts


def finding_content(f: Mapping[str, Any]) -> Content:
    """One ticket for one finding."""
    section = _section(f)
    facts = [
        ("Severity", section.severity),
        ("Rule", f"{section.rule_id} ({section.category})"),
        *_facts(f, [str(f["principal"])] if f.get("principal") else []),
        ("Fingerprint", section.fingerprint),
    ]
    labels = managed_labels(section.fingerprint, section.severity, [f.get("owner")])
    return _content(section.fingerprint, section.title, section.severity, labels, facts, (section,), f)


def group_content(key: str, members: Sequence[Mapping[str, Any]]) -> Content:
    """One ticket for one ServiceAccount (or node): its open findings worst first, then its accepted risks."""
    ordered = sorted(
        members, key=lambda f: (f.get("status") == "suppressed", -SEVERITY_RANK[f["severity"]], f["fingerprint"])
    )
    open_ = [f for f in ordered if f.get("status", "open") == "open"]
    head = open_[0] if open_ else ordered[0]
    severity = head["severity"]
    principals = sorted({str(f["principal"]) for f in ordered if f.get("principal")})
    count = f"{len(open_)} finding{'s' if len(open_) != 1 else ''}"
    title = one_line(f"kubeiam: {subject_of(head)}: {count}, worst {severity}")
    facts = [("Severity", f"{severity} (worst open finding)"), *_facts(head, principals)]
    facts.append(("Key", key))
    labels = managed_labels(key, severity, [f.get("owner") for f in ordered])
    return _content(key, title, severity, labels, facts, tuple(_section(f) for f in ordered))


def _content(
    key: str,
    title: str,
    severity: str,
    labels: Sequence[str],
    facts: Sequence[tuple[str, str]],
    sections: tuple[Section, ...],
    source: Mapping[str, Any] | None = None,
) -> Content:
    payload = json.dumps([key, title, severity, list(labels), list(facts), [list(astuple(s)) for s in sections]])
    digest = hashlib.sha256(payload.encode()).hexdigest()[:16]
    return Content(key, title, severity, tuple(labels), tuple(facts), sections, digest, source)
