"""`inventory.views["azure"]`: the typed look-ups Azure rules use (never raw JSON)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from kubeiam.model import CloudIdentity, Grant
from kubeiam_azure.catalogue import load
from kubeiam_azure.profile import Verdict, judge
from kubeiam_azure.shapes import AksCluster, FederatedCredential, ManagedIdentity, RoleAssignment, RoleDefinition


@dataclass(frozen=True)
class AzureView:
    subscriptions: tuple[str, ...] = ()
    """Subscription folders read (the scope client ids are resolved in)."""
    roles: Mapping[str, RoleDefinition] = field(default_factory=dict)
    """Role definitions from the evidence (custom, or a full listing), by GUID; they win over the catalogue."""
    assignments: Mapping[str, RoleAssignment] = field(default_factory=dict)
    """Every role assignment read, by lower-cased id (deduplicated across subscriptions)."""
    identities: Mapping[str, ManagedIdentity] = field(default_factory=dict)
    """User-assigned managed identities by lower-cased resource id."""
    federated: Mapping[str, tuple[FederatedCredential, ...]] = field(default_factory=dict)
    """Federated credentials by identity id; an identity absent here was not collected."""
    aks: Mapping[str, AksCluster] = field(default_factory=dict)
    """AKS clusters by the Kubernetes cluster name they were matched to."""
    kubelet: Mapping[str, CloudIdentity] = field(default_factory=dict)
    """The kubelet identity of each matched AKS cluster (what a pod reaching IMDS gets)."""
    _verdicts: dict[str, tuple[Verdict, ...]] = field(default_factory=dict, compare=False, repr=False)

    def role(self, role_id: str) -> RoleDefinition | None:
        return self.roles.get(role_id) or load().roles.get(role_id)

    def verdict(self, grant: Grant) -> Verdict | None:
        assignment = self.assignments.get(grant.source)
        if assignment is None:
            return None
        return judge(assignment, self.role(assignment.role_id))

    def verdicts(self, identity: CloudIdentity | None) -> tuple[Verdict, ...]:
        if identity is None:
            return ()
        # Memoised per identity: every grant rule asks for every ServiceAccount that shares it.
        cached = self._verdicts.get(identity.principal)
        if cached is None:
            found = (self.verdict(g) for g in identity.grants)
            cached = tuple(sorted((v for v in found if v), key=lambda v: v.assignment.id))
            self._verdicts[identity.principal] = cached
        return cached

    def trusted_subjects(self, identity_id: str) -> tuple[FederatedCredential, ...]:
        return self.federated.get(identity_id, ())
