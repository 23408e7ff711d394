"""What a rule is: one small function plus its metadata, in one place."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kubeiam.vocabulary.compliance import Control
from kubeiam.vocabulary.findings import Category, Severity
from kubeiam.vocabulary.model import Inventory, ServiceAccount


@dataclass(frozen=True, slots=True)
class Match:
    """What a rule found. The engine turns it into a Finding with a fingerprint and status."""

    cluster: str
    item: str
    """The matched thing, part of the fingerprint: an action, a statement id, an env var..."""
    namespace: str | None = None
    service_account: str | None = None
    node: str | None = None
    cloud: str = "kubernetes"
    principal: str | None = None
    source: str | None = None
    """Policy, binding or file the match came from; part of the fingerprint."""
    detail: str | None = None
    """Appended to the rule title to make the finding's one-line title."""
    evidence: Mapping[str, Any] = field(default_factory=dict)
    severity: Severity | None = None
    """Raise the rule's default for this match (e.g. unscoped trust on an admin role)."""
    remediation: str | None = None
    """A remediation specific to this match; the rule's generic text otherwise."""
    subjects: tuple[tuple[str, str], ...] = ()
    """(namespace, name) of each ServiceAccount of `cluster` this match applies to, word for word, in
    place of `namespace` and `service_account`: the engine makes one finding per subject. Why: a role's
    findings repeat for every ServiceAccount that takes the role; one Match stands for all of them."""

    @classmethod
    def for_sa(cls, sa: ServiceAccount, item: str, **kw: Any) -> Match:
        return cls(cluster=sa.cluster, namespace=sa.namespace, service_account=sa.name, item=item, **kw)

    @classmethod
    def for_sas(cls, cluster: str, sas: tuple[ServiceAccount, ...], item: str, **kw: Any) -> Match:
        """One match for several ServiceAccounts of one cluster (see `subjects`)."""
        return cls(cluster=cluster, subjects=tuple((sa.namespace, sa.name) for sa in sas), item=item, **kw)


Check = Callable[[Inventory], Iterable[Match]]


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    """Stable id, e.g. `K8S-001`; part of every fingerprint, so never renamed."""
    title: str
    category: Category
    severity: Severity
    """Default severity; never below the category's floor."""
    rationale: str
    remediation: str
    check: Check = field(repr=False, compare=False)
    cloud: str = "kubernetes"
    references: tuple[str, ...] = ()
    compliance: tuple[Control, ...] = ()
    """The controls it evidences (its provider's `data/compliance.json`), attached when rules are loaded."""

    def __post_init__(self) -> None:
        if self.severity.rank < self.category.floor.rank:
            raise ValueError(f"{self.id}: {self.severity} is below the {self.category} floor")

    def metadata(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "category": str(self.category),
            "severity": str(self.severity),
            "cloud": self.cloud,
            "rationale": self.rationale,
            "remediation": self.remediation,
            "references": list(self.references),
            "compliance": [
                {**c.to_dict(), "applies_to": c.cloud or "any", "source": c.source} for c in self.compliance
            ],
        }


def rule(
    id: str,
    title: str,
    category: Category,
    severity: Severity,
    *,
    rationale: str,
    remediation: str,
    cloud: str = "kubernetes",
    references: tuple[str, ...] = (),
) -> Callable[[Check], Rule]:
    """Decorator: `@rule(...)` over a check function gives the Rule (metadata next to the code)."""

    def wrap(check: Check) -> Rule:
        return Rule(id, title, category, severity, rationale, remediation, check, cloud, references)

    return wrap
