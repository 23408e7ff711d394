"""`inventory.views["azure"]`: the Azure objects read from the evidence, typed (never raw JSON).

The parsers in `evidence/` build these values; `judge/` and the rules read them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from kubeiam.vocabulary.model import CloudIdentity


@dataclass(frozen=True, slots=True)
class Permission:
    """One entry of a role definition's `permissions`: allowed = actions minus notActions."""

    actions: tuple[str, ...] = ()
    not_actions: tuple[str, ...] = ()
    data_actions: tuple[str, ...] = ()
    not_data_actions: tuple[str, ...] = ()
    condition: str | None = None
    """A role-level ABAC condition (e.g. constrained role-assignment delegation), as written."""


@dataclass(frozen=True, slots=True)
class RoleDefinition:
    id: str
    """The role definition's GUID, lower-cased (the same for a built-in role in every tenant)."""
    name: str
    """`roleName`, e.g. `Owner`."""
    custom: bool
    permissions: tuple[Permission, ...] = ()
    source: str = ""


@dataclass(frozen=True, slots=True)
class RoleAssignment:
    id: str
    """Assignment resource id, lower-cased."""
    principal_id: str
    """Object id of the principal, lower-cased."""
    role_id: str
    """GUID of the role definition, lower-cased."""
    scope: str
    role_name: str | None = None
    """`roleDefinitionName` when the az CLI printed it."""
    condition: str | None = None
    source: str = ""


@dataclass(frozen=True, slots=True)
class ManagedIdentity:
    id: str
    """Resource id, lower-cased."""
    name: str
    client_id: str
    principal_id: str
    tenant_id: str | None
    subscription: str
    source: str = ""


@dataclass(frozen=True, slots=True)
class FederatedCredential:
    id: str
    name: str
    issuer: str
    subject: str | None
    audiences: tuple[str, ...]
    claims_expression: str | None = None
    """Flexible federated credentials: `claimsMatchingExpression.value` instead of a subject."""
    source: str = ""


@dataclass(frozen=True, slots=True)
class KnownIdentity:
    """An identity the AKS object names (kubelet, add-ons): client id, object id, resource id."""

    role: str
    client_id: str | None
    object_id: str | None
    resource_id: str | None


@dataclass(frozen=True, slots=True)
class AgentPool:
    name: str
    pod_link_local_access: str | None = None
    """`IMDS` (default) or `None`: whether non-hostNetwork pods can reach IMDS (preview API)."""


@dataclass(frozen=True, slots=True)
class AksCluster:
    id: str
    """Resource id, lower-cased (the cluster's `stable_id`)."""
    name: str
    subscription: str
    oidc_issuer_enabled: bool | None
    """None: the flag could not be read (a coverage error names it); never taken as enabled."""
    issuer: str | None
    workload_identity_enabled: bool | None
    kubelet: KnownIdentity | None
    addon_identities: tuple[KnownIdentity, ...] = ()
    agent_pools: tuple[AgentPool, ...] = ()
    pod_link_local_access: str | None = None
    """`networkProfile.podLinkLocalAccess` (cluster-wide default for the pools; None: not set, IMDS)."""
    network_policy: str | None = None
    """`networkProfile.networkPolicy`; `none` when unset (no engine: NetworkPolicies are not enforced)."""
    node_resource_group: str | None = None
    """`nodeResourceGroup`, lower-cased (MC_...): what the nodes' providerIDs name."""
    source: str = ""


@dataclass(frozen=True)
class AzureView:
    roles: Mapping[str, RoleDefinition] = field(default_factory=dict)
    """Role definitions from the evidence (custom, or a full listing), by GUID; they win over the catalogue
    (`judge.catalogue.role_definition`)."""
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
