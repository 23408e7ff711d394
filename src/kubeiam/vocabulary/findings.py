"""Findings: the contract tickets, CI and people rely on (docs/report.md)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

FINGERPRINT_VERSION = "v1"


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        """Higher is worse; used for sorting and `--fail-on`."""
        return _RANK[self]

    def at_least(self, other: Severity) -> Severity:
        return self if self.rank >= other.rank else other


_RANK = {
    Severity.CRITICAL: 4,
    Severity.HIGH: 3,
    Severity.MEDIUM: 2,
    Severity.LOW: 1,
    Severity.INFO: 0,
}


class Category(StrEnum):
    ADMIN_ACCESS = "admin-access"
    PRIVILEGE_ESCALATION = "privilege-escalation"
    WILDCARD_ACTION = "wildcard-action"
    WILDCARD_RESOURCE = "wildcard-resource"
    MISSING_CONDITION = "missing-condition"
    DATA_ACCESS = "data-access"
    TRUST_UNSCOPED = "trust-unscoped"
    BINDING_BROKEN = "binding-broken"
    STATIC_CREDENTIAL = "static-credential"
    IMDS_EXPOSURE = "imds-exposure"
    BROAD_SCOPE = "broad-scope"
    UNUSED_ACCESS = "unused-access"
    IDENTITY_TAKEOVER = "identity-takeover"

    @property
    def floor(self) -> Severity:
        """The lowest severity FINDINGS.md accepts for the category."""
        return _FLOOR[self]


_FLOOR = {
    Category.ADMIN_ACCESS: Severity.CRITICAL,
    Category.PRIVILEGE_ESCALATION: Severity.HIGH,
    Category.WILDCARD_ACTION: Severity.MEDIUM,
    Category.WILDCARD_RESOURCE: Severity.MEDIUM,
    Category.MISSING_CONDITION: Severity.LOW,
    Category.DATA_ACCESS: Severity.MEDIUM,
    Category.TRUST_UNSCOPED: Severity.HIGH,
    Category.BINDING_BROKEN: Severity.MEDIUM,
    Category.STATIC_CREDENTIAL: Severity.HIGH,
    Category.IMDS_EXPOSURE: Severity.MEDIUM,
    Category.BROAD_SCOPE: Severity.MEDIUM,
    Category.UNUSED_ACCESS: Severity.LOW,
    Category.IDENTITY_TAKEOVER: Severity.MEDIUM,
}


def fingerprint(*identity: str | None) -> str:
    """Hash of identity fields only: never wording, severity, order or time."""
    return fingerprint_of(identity_text(*identity))


def identity_text(*identity: str | None) -> str:
    """The identity fields as the one string `fingerprint` hashes (callers may join parts ahead of time)."""
    return FIELD_SEPARATOR.join(["" if part is None else part for part in identity])


def fingerprint_of(text: str) -> str:
    return f"{FINGERPRINT_VERSION}:{hashlib.sha256(text.encode()).hexdigest()[:32]}"


FIELD_SEPARATOR = "\x1f"


@dataclass(frozen=True, slots=True)
class Finding:
    fingerprint: str
    """Stable id: identical for the same problem on the same subject on every run."""
    rule_id: str
    category: Category
    severity: Severity
    title: str
    """One line a ticket can use as its summary."""
    cluster: str
    namespace: str | None
    service_account: str | None
    node: str | None
    cloud: str
    principal: str | None
    evidence: Mapping[str, Any]
    """What proves it: the policy or binding, the statement as found, the file or API call."""
    remediation: str
    status: str = "open"
    """`open` or `suppressed`."""
    cluster_id: str | None = None
    """The stable cluster identity the fingerprint uses (EKS ARN, GKE name, AKS id)."""
    compliance: tuple[Mapping[str, str], ...] = ()
    """The controls the finding evidences where it was found (CIS sections of its platform, ATT&CK)."""
    extra: Mapping[str, Any] = field(default_factory=dict)
    """Fields added by later stages (suppression, baseline, owner); merged into the JSON."""

    @property
    def subject(self) -> str:
        if self.service_account is not None:
            return f"{self.cluster}/{self.namespace}/{self.service_account}"
        if self.node is not None:
            return f"{self.cluster}/node/{self.node}"
        return self.cluster

    def sort_key(self) -> tuple:
        return (-self.severity.rank, self.subject, self.rule_id, self.fingerprint)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "fingerprint": self.fingerprint,
            "rule_id": self.rule_id,
            "category": self.category.value,
            "severity": self.severity.value,
            "title": self.title,
            "cluster": self.cluster,
            "cluster_id": self.cluster_id or self.cluster,
            "namespace": self.namespace,
            "service_account": self.service_account,
            "node": self.node,
            "cloud": self.cloud,
            "principal": self.principal,
            "evidence": self.evidence if isinstance(self.evidence, dict) else dict(self.evidence),
            "remediation": self.remediation,
            "compliance": [dict(c) for c in self.compliance],
            "status": self.status,
        }
        out.update(self.extra)
        return out
