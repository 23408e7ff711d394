"""`inventory.views["azure"]`: the Azure objects read from the evidence, typed (never raw JSON).

The parsers in `evidence/` build these values; `judge/` and the rules read them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

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
    principal_type: str | None = None
    """`principalType` as printed (`ServicePrincipal`, `Group`, `User`), None when absent."""
    created_on: str | None = None
    """`createdOn` as written (RFC 3339): an assignment younger than the usage window is not judged unused."""

    @property
    def to_group(self) -> bool:
        return (self.principal_type or "").lower() == "group"


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
    local_accounts_disabled: bool | None = None
    """`disableLocalAccounts`: True when listClusterAdminCredential returns no admin kubeconfig; None unknown."""


@dataclass(frozen=True, slots=True)
class Membership:
    """One directory object a principal is a member of (Microsoft Graph `transitiveMemberOf`)."""

    id: str
    """Object id, lower-cased."""
    kind: str
    """`group`, `directoryRole`, or the `@odata.type` as found (administrative units...)."""
    name: str | None = None
    role_template_id: str | None = None
    """A directory role's `roleTemplateId` (the same in every tenant), lower-cased."""
    source: str = ""


@dataclass(frozen=True, slots=True)
class AppRole:
    """One app role a principal holds (Microsoft Graph `appRoleAssignments`)."""

    id: str
    app_role_id: str
    """`appRoleId`, lower-cased: a Microsoft Graph permission's id is the same in every tenant."""
    resource_id: str
    """The service principal of the API (tenant-specific object id)."""
    resource_name: str | None
    source: str = ""


@dataclass(frozen=True, slots=True)
class NodeIdentity:
    """An identity on an AKS cluster's node scale sets: what any pod reaching IMDS can ask a token for."""

    role: str
    """`kubelet` or `addon:<name>`."""
    identity: CloudIdentity


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
    node_identities: Mapping[str, tuple[NodeIdentity, ...]] = field(default_factory=dict)
    """By Kubernetes cluster name: the kubelet and add-on identities whose object id is known."""
    principals: Mapping[str, CloudIdentity] = field(default_factory=dict)
    """Every identity the evidence names (user-assigned identities, node identities) by principal: what
    reach through other identities walks."""
    object_ids: Mapping[str, str] = field(default_factory=dict)
    """Principal -> its object id (what role assignments and Microsoft Graph name)."""
    memberships: Mapping[str, tuple[Membership, ...]] = field(default_factory=dict)
    """By object id: groups and directory roles (`group-memberships.json`); absent: not collected."""
    app_roles: Mapping[str, tuple[AppRole, ...]] = field(default_factory=dict)
    """By object id: app roles held (`app-roles.json`); absent: not collected."""
    assignment_subscriptions: frozenset[str] = frozenset()
    """Subscriptions (lower-cased) whose `role-assignments.json` was read: an identity of another one has
    assignments nobody read, whatever its empty grants say."""
    usage: UsageView | None = None
    """What the Activity Log and the sign-in log say each principal used; None: no usage data in the evidence."""


@dataclass(frozen=True, slots=True)
class UsedOperation:
    """One control-plane operation a principal performed (Activity Log), at one scope, newest time kept."""

    action: str
    """`authorization.action` (else `operationName.value`), as written."""
    scope: str | None
    """`authorization.scope` (else `resourceId`), lower-cased; None when the event names neither."""
    last: datetime | None
    """Newest `eventTimestamp`; None when no event of it had a readable time (then counted as recent)."""


@dataclass(frozen=True, slots=True)
class SignIns:
    """What the managed-identity sign-in log says of one principal (Microsoft Graph)."""

    last: datetime | None
    """Newest successful sign-in; None: none in what was read."""
    resources: tuple[str, ...]
    """The APIs it got tokens for (`resourceDisplayName`), sorted."""
    complete: bool
    """False when only the first page was read (the newest sign-ins)."""


@dataclass(frozen=True)
class UsageView:
    """Usage evidence by (subscription, principal object id), lower-cased: only what was asked about."""

    operations: Mapping[tuple[str, str], tuple[UsedOperation, ...]] = field(default_factory=dict)
    """By (subscription, principal): what that subscription's Activity Log holds of the principal (maybe nothing)."""
    whole: frozenset[str] = frozenset()
    """Subscriptions whose file lists every caller: a principal absent there did nothing in it."""
    read: frozenset[str] = frozenset()
    """Subscriptions whose `activity-log.json` was read."""
    unreadable: Mapping[tuple[str, str], str] = field(default_factory=dict)
    """(subscription, principal) -> why its log cannot be trusted whole; principal `*`: every principal there."""
    sign_ins: Mapping[str, SignIns] = field(default_factory=dict)
    sign_ins_whole: bool = False
    """A tenant-wide sign-in listing was read: a managed identity absent from it did not sign in."""
    sign_ins_read: bool = False
    end: datetime | None = None
    """The newest time in the usage data: the window ends there (the evidence does not say when it was
    collected, and the audit's own clock would make old evidence look unused)."""
