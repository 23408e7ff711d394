"""The normalised inventory every rule reads: Kubernetes objects and the cloud identities behind them.

Everything here is frozen. Providers build these from evidence files; rules only ever see these
types (and the typed views a provider publishes for its own rules), never SDK objects or raw JSON.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

from kubeiam.vocabulary.declarations import Declarations
from kubeiam.vocabulary.policy import Statement

Cloud = str
"""A cloud's name as findings carry it (`aws`, ...): each provider declares its own (declarations.py);
the core names none."""

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Cluster:
    name: str
    """The cluster's folder name in the evidence directory; how findings name it."""
    cloud: Cloud | None = None
    """The cloud the nodes run on (from `spec.providerID`), None when unknown (kind, bare metal)."""
    issuer: str | None = None
    """The ServiceAccount token issuer (from openid-configuration or the cloud's cluster object)."""
    stable_id: str | None = None
    """EKS ARN, GKE resource name or AKS resource id once a cloud provider matched the cluster."""
    source: str = ""
    """The evidence file the cluster was read from."""
    kubeconfig_name: str | None = None
    """The kubeconfig's name for the cluster, as recorded by a live collection (EKS: its ARN; GKE:
    `gke_PROJECT_LOCATION_NAME`): a cloud reader may take the stable id from it when its own cluster
    file is absent, so fingerprints do not depend on an optional file."""

    @property
    def identity(self) -> str:
        """What fingerprints hash: the stable cloud id if known, else the evidence name."""
        return self.stable_id or self.name


@dataclass(frozen=True, slots=True)
class Namespace:
    cluster: str
    """Cluster name."""
    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    """Namespace labels (ownership labels such as `team` come from here)."""


@dataclass(frozen=True, slots=True)
class ServiceAccount:
    cluster: str
    """Cluster name."""
    namespace: str
    name: str
    annotations: Mapping[str, str] = field(default_factory=dict)
    """All annotations as found; cloud providers interpret the workload-identity ones."""
    labels: Mapping[str, str] = field(default_factory=dict)
    automount_token: bool | None = None
    """`automountServiceAccountToken` as set on the ServiceAccount (None: not set, defaults true)."""
    implicit: bool = False
    """True when only pods name it (the ServiceAccount object itself was not in the evidence)."""

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.cluster, self.namespace, self.name)


@dataclass(frozen=True, slots=True)
class EnvCredential:
    """A pod environment variable that carries (or points at) a cloud credential.

    The value itself is never kept: only where it comes from.
    """

    container: str
    """Container name."""
    variable: str
    """The environment variable's name, e.g. AWS_SECRET_ACCESS_KEY."""
    source: str
    """`literal`, `secretKeyRef`, `configMapKeyRef`, `envFrom-secret` or `mounted-file`."""
    reference: str | None = None
    """`secret/NAME:KEY`, `configmap/NAME:KEY` or the mounted file path; never a value."""


@dataclass(frozen=True, slots=True)
class Workload:
    """A pod, named by its top controller (Deployment, StatefulSet, DaemonSet, CronJob, Job)."""

    cluster: str
    namespace: str
    pod: str
    """Pod name."""
    service_account: str
    node: str | None
    """The node the pod is scheduled on."""
    owner_kind: str
    """Kind of the top owner, `Pod` for a bare pod."""
    owner_name: str
    host_network: bool = False
    labels: Mapping[str, str] = field(default_factory=dict)
    credentials: tuple[EnvCredential, ...] = ()
    """Static cloud credentials found in env, envFrom or mounted key files."""


@dataclass(frozen=True, slots=True)
class Node:
    cluster: str
    name: str
    provider_id: str | None = None
    """`spec.providerID`, e.g. aws:///eu-west-1a/i-0abc, gce://proj/zone/name, azure:///subscriptions/..."""
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class EgressBlock:
    """A network policy that stops pods from reaching the instance metadata service."""

    cluster: str
    namespace: str | None
    """None for a cluster-wide policy (CiliumClusterwideNetworkPolicy)."""
    kind: str
    name: str
    selects_all_pods: bool
    """True when the policy applies to every pod of its namespace (or of the cluster)."""


@dataclass(frozen=True, slots=True)
class Grant:
    """One permission-bearing thing attached to an identity: a policy, a role binding, an assignment.

    Clouds differ in shape but agree on this: a source, an optional role and scope, statements
    (AWS documents as written; GCP and Azure roles as one allow statement of their permissions),
    and conditions kept on the statements.
    """

    source: str
    """Policy ARN or name, `roles/...@scope`, role assignment id: what a person looks up."""
    kind: str
    """`managed-policy`, `inline-policy`, `permissions-boundary`, `role-binding`, `role-assignment`."""
    statements: tuple[Statement, ...] = ()
    role: str | None = None
    """The GCP role or Azure role definition name; None for AWS policies."""
    scope: str | None = None
    """Where a binding or assignment applies (project, folder, subscription, resource...)."""
    scope_level: str | None = None
    """`organization`, `folder`, `project`, `management-group`, `subscription`, `resource-group`,
    `resource`; None for AWS."""
    condition: str | None = None
    """A binding- or assignment-level condition (GCP IAM condition, Azure ABAC), as written."""
    document: Mapping[str, Any] | None = None
    """The policy or binding as found, for evidence in findings."""


@dataclass(frozen=True, slots=True)
class CloudIdentity:
    """A cloud principal a workload or node can act as, with everything it is granted."""

    cloud: Cloud
    principal: str
    """Role ARN, Google service account email or `principal://` member, Azure identity id."""
    kind: str
    """`iam-role`, `google-service-account`, `gke-principal`, `managed-identity`, ..."""
    name: str = ""
    grants: tuple[Grant, ...] = ()
    source: str = ""
    """Evidence file (or API call) it was read from."""
    gaps: tuple[Gap, ...] = ()
    """Parts of its evidence the reader could not understand (a policy in a grammar it does not know, an
    enum value it has not seen). The identity is audited on the rest and listed as unchecked, never clean."""


@dataclass(frozen=True, slots=True)
class Gap:
    """One item of the evidence that could not be understood, named well enough to find it."""

    location: str
    """The file (or API call)."""
    item: str
    """Where in it: `RoleDetailList[3].RolePolicyList[0].PolicyDocument.Statement[2].Condition`."""
    reason: str

    def describe(self) -> str:
        return f"{self.location}: {self.item}: {self.reason}"


class LinkStatus(StrEnum):
    RESOLVED = "resolved"
    """The identity exists and trusts this ServiceAccount."""
    MISSING = "missing"
    """The annotation names an identity that does not exist in the evidence we have."""
    UNTRUSTED = "untrusted"
    """The identity exists but its trust does not admit this ServiceAccount."""
    UNCHECKED = "unchecked"
    """We could not read what decides it (no evidence, AccessDenied): never reported as clean."""


@dataclass(frozen=True, slots=True)
class IdentityLink:
    """How one ServiceAccount reaches one cloud identity."""

    cluster: str
    namespace: str
    service_account: str
    cloud: Cloud
    mechanism: str
    """`irsa`, `eks-pod-identity`, `gke-workload-identity`, `gke-direct`, `azure-workload-identity`."""
    principal: str
    status: LinkStatus
    identity: CloudIdentity | None = None
    reason: str = ""
    """Why the status is what it is, for evidence and coverage."""


@dataclass(frozen=True, slots=True)
class CoverageError:
    """Something that could not be read or checked. Goes into the report, never into a log only."""

    source: str
    """`kubernetes`, `aws`, `gcp`, `azure`."""
    location: str
    """The file or API call."""
    reason: str
    """One line: why (an API error summarised, never its body pasted)."""
    subject: str | None = None
    """What it leaves unchecked: `cluster/ns/sa`, `cluster/node/NAME`, a cluster name, an account /
    project / subscription, or a principal. None only when it concerns everything of `source`."""
    rules: tuple[str, ...] = ()
    """The rules whose findings it may hide (a baseline marks exactly those `not_rechecked`); empty: every
    rule of `source`."""
    whole: bool = False
    """Nothing of `source` (or of the cluster `subject`) could be read: the run cannot pass as clean."""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"source": self.source, "location": self.location, "reason": self.reason}
        out["subject"] = self.subject
        if self.rules:
            out["rules"] = list(self.rules)
        if self.whole:
            out["whole"] = True
        return out


@dataclass(frozen=True, slots=True)
class ExternalRbac:
    """Kubernetes RBAC that a cloud grants from outside the cluster's own RBAC objects, as the objects the
    API server would hold (ClusterRole / ClusterRoleBinding / RoleBinding JSON): EKS access entries and
    `aws-auth`, GKE IAM grants carrying `container.*` permissions, AKS Azure RBAC data actions. A cloud
    reader derives them from its evidence; the Kubernetes provider's takeover rule evaluates them with the
    cluster's own RBAC. Why JSON: the one language both sides already speak."""

    cluster: str
    source: str
    """The evidence file they come from (their objects' annotations may point at the item)."""
    objects: tuple[Mapping[str, Any], ...] = ()
    principals: Mapping[str, str] = field(default_factory=dict)
    """Kubernetes subject (`user:NAME`, `group:NAME`) -> the cloud principal behind it (role ARN, member,
    object id): how a takeover path is told from the cloud side."""
    note: str = ""
    """What is approximated (an access policy modelled on the upstream role it resembles)."""


@dataclass(frozen=True, slots=True)
class IdentityPower:
    """What a cloud identity can do, in one word and a few examples (a provider's own judgement of it)."""

    level: str
    """`admin`, `escalation`, `data`, `write`, `read`, `none` or `unknown`."""
    summary: tuple[str, ...] = ()
    """A few strings a person reads: `AdministratorAccess`, `iam:PassRole + ec2:RunInstances`."""

    @property
    def rank(self) -> int:
        """Higher is more; what could not be judged ranks high (unknown is not safe)."""
        return POWER_RANK.get(self.level, POWER_RANK["unknown"])


POWER_RANK = {"admin": 5, "escalation": 4, "unknown": 3, "data": 2, "write": 2, "read": 1, "none": 0}


@dataclass(frozen=True)
class Inventory:
    """Everything an audit knows. Built by providers, read by rules."""

    clusters: tuple[Cluster, ...] = ()
    namespaces: tuple[Namespace, ...] = ()
    service_accounts: tuple[ServiceAccount, ...] = ()
    workloads: tuple[Workload, ...] = ()
    nodes: tuple[Node, ...] = ()
    egress_blocks: tuple[EgressBlock, ...] = ()
    links: tuple[IdentityLink, ...] = ()
    errors: tuple[CoverageError, ...] = ()
    sources: tuple[str, ...] = ()
    """Evidence files read."""
    external_rbac: tuple[ExternalRbac, ...] = ()
    """Kubernetes RBAC granted from the clouds (EKS access entries, GKE and AKS IAM), per cluster."""
    declarations: Declarations = field(default_factory=Declarations)
    """What the providers declare (annotations, credential variables, node schemes), merged."""
    views: Mapping[str, Any] = field(default_factory=dict)
    """Per-provider typed views for that provider's own rules (e.g. AWS node IMDS settings)."""
    as_of: datetime | None = None
    """The audit's time, passed in by the pipeline (rules read no clock): what has expired by then,
    such as a key past its `validBeforeTime`, is no longer a credential."""
    usage_window_days: int = 90
    """Access not used for this many days counts as unused (`usage_window_days` in kubeiam.toml)."""
    settings: Mapping[str, Any] = field(default_factory=dict)
    """`kubeiam.toml` tables the providers declare (`Declarations.settings`), parsed by them."""
    scope: str | None = None
    """`NAMESPACE` or `NAMESPACE/NAME` once narrowed (`--namespace`, `check`): rules about what starts
    nodes (launch templates, node classes) then report only those behind the nodes the scope's pods
    run on, as the node rules do; a whole audit reports them all, nodes or not."""

    unnarrowed: Inventory | None = field(default=None, repr=False, compare=False)
    """The inventory before `--namespace`, `check` or `--cluster-name` narrowed it (None: not narrowed). What
    rules judge about something shared (a node's pods, a role's other ServiceAccounts) they judge on the
    whole, so one finding has one severity and one evidence whether an audit or a check finds it."""
    _memo: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)
    """Look-ups built on first use and kept with this inventory (`memo`); a narrowed inventory is a new
    object with its own. Not a field of `replace`: a changed inventory never inherits stale look-ups."""

    def memo(self, name: str, build: Callable[[Inventory], _T]) -> _T:
        """`build(self)` once per inventory. Rules and views keep their per-inventory look-ups here
        (prefix `name` with the cloud): a linear scan per question would make an audit quadratic."""
        try:
            return self._memo[name]  # type: ignore[no-any-return]
        except KeyError:
            value = self._memo[name] = build(self)
            return value

    @property
    def whole(self) -> Inventory:
        """Everything the audit read, whatever the scope (see `unnarrowed`)."""
        return self.unnarrowed or self

    def cluster(self, name: str) -> Cluster | None:
        return self.memo("clusters_by_name", lambda inv: {c.name: c for c in inv.clusters}).get(name)

    def workloads_of(self, sa: ServiceAccount) -> tuple[Workload, ...]:
        return self.memo("workloads_by_sa", lambda inv: _by_subject(inv.workloads)).get(sa.key, ())

    def links_of(self, sa: ServiceAccount) -> tuple[IdentityLink, ...]:
        return self.memo("links_by_sa", lambda inv: _by_subject(inv.links)).get(sa.key, ())

    def links_in(self, cloud: Cloud) -> tuple[tuple[ServiceAccount, IdentityLink], ...]:
        """(ServiceAccount, link) for every link to `cloud`, in ServiceAccount order.

        Built once per inventory: a cloud's rules walk only its own links, not every ServiceAccount
        of an estate that may mostly use another cloud."""
        return self.memo("links_by_cloud", _links_by_cloud).get(cloud, ())

    def imds_block(self, cluster: str, namespace: str) -> EgressBlock | None:
        """A policy that blocks IMDS egress for every pod of `namespace` (or the cluster)."""
        for b in self.egress_blocks:
            if b.cluster == cluster and b.selects_all_pods and b.namespace in (None, namespace):
                return b
        return None

    def namespace(self, cluster: str, name: str) -> Namespace | None:
        index = self.memo("namespaces_by_key", lambda inv: {(n.cluster, n.name): n for n in inv.namespaces})
        return index.get((cluster, name))

    def with_(self, **changes: Any) -> Inventory:
        return replace(self, **changes)


def _by_subject(items: tuple[Any, ...]) -> dict[tuple[str, str, str], tuple[Any, ...]]:
    grouped: dict[tuple[str, str, str], list[Any]] = {}
    for item in items:
        grouped.setdefault((item.cluster, item.namespace, item.service_account), []).append(item)
    return {k: tuple(v) for k, v in grouped.items()}


def _links_by_cloud(inv: Inventory) -> dict[Cloud, tuple[tuple[ServiceAccount, IdentityLink], ...]]:
    by_cloud: dict[Cloud, list[tuple[ServiceAccount, IdentityLink]]] = {}
    for sa in inv.service_accounts:
        for link in inv.links_of(sa):
            by_cloud.setdefault(link.cloud, []).append((sa, link))
    return {c: tuple(pairs) for c, pairs in by_cloud.items()}
