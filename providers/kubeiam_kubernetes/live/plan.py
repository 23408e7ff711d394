"""What a live Kubernetes collection requests for a scope, decided before any call (no SDK, no I/O).

Why a separate step: `audit --namespace` must list only that namespace and `check` only what one
ServiceAccount needs; deciding that first keeps the collector a plain executor of the plan, and
`requested_resources` (what docs/kubernetes.md's ClusterRole must grant) follows from the same kinds.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Kind:
    """One kind to list, in the order `kubectl get ns,sa,pods,...` would print them."""

    kind: str
    api_version: str
    plural: str
    namespaced: bool
    crd: bool = False
    """A custom resource: 404 means the CRD is not installed, which is fine."""

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    @property
    def version(self) -> str:
        return self.api_version.rpartition("/")[2]

    def path(self, namespace: str | None) -> str:
        base = "/api/v1" if self.api_version == "v1" else f"/apis/{self.api_version}"
        if namespace and self.namespaced:
            return f"{base}/namespaces/{namespace}/{self.plural}"
        return f"{base}/{self.plural}"


NAMESPACES = Kind("Namespace", "v1", "namespaces", False)
SERVICE_ACCOUNTS = Kind("ServiceAccount", "v1", "serviceaccounts", True)
PODS = Kind("Pod", "v1", "pods", True)
NODES = Kind("Node", "v1", "nodes", False)
NETWORK_POLICIES = Kind("NetworkPolicy", "networking.k8s.io/v1", "networkpolicies", True)
# ReplicaSets and Jobs only for their ownerReferences (metadata): they name a pod's Deployment and
# CronJob, so findings name a workload that survives rollouts and schedules (stable fingerprints).
REPLICA_SETS = Kind("ReplicaSet", "apps/v1", "replicasets", True)
JOBS = Kind("Job", "batch/v1", "jobs", True)
CILIUM_POLICIES = Kind("CiliumNetworkPolicy", "cilium.io/v2", "ciliumnetworkpolicies", True, crd=True)
CILIUM_CLUSTER_POLICIES = Kind(
    "CiliumClusterwideNetworkPolicy", "cilium.io/v2", "ciliumclusterwidenetworkpolicies", False, crd=True
)
# Karpenter v1 first; v1beta1 only when v1 is not served (older Karpenter): the same objects.
# Cloud knowledge in the Kubernetes provider (the AWS reader reads them from the Kubernetes view).
EC2_NODE_CLASSES = (
    Kind("EC2NodeClass", "karpenter.k8s.aws/v1", "ec2nodeclasses", False, crd=True),
    Kind("EC2NodeClass", "karpenter.k8s.aws/v1beta1", "ec2nodeclasses", False, crd=True),
)
# Who can become a ServiceAccount (K8S-006): the cluster's RBAC, written to rbac.json.
ROLES = Kind("Role", "rbac.authorization.k8s.io/v1", "roles", True)
ROLE_BINDINGS = Kind("RoleBinding", "rbac.authorization.k8s.io/v1", "rolebindings", True)
CLUSTER_ROLES = Kind("ClusterRole", "rbac.authorization.k8s.io/v1", "clusterroles", False)
CLUSTER_ROLE_BINDINGS = Kind("ClusterRoleBinding", "rbac.authorization.k8s.io/v1", "clusterrolebindings", False)
RBAC_KINDS = (ROLES, ROLE_BINDINGS, CLUSTER_ROLES, CLUSTER_ROLE_BINDINGS)
# EKS maps IAM principals into the cluster through this one ConfigMap (the AWS reader reads it from the
# Kubernetes view): one `get`, allowed by a resourceNames-scoped rule; 404 elsewhere, which is fine.
CONFIG_MAPS = Kind("ConfigMap", "v1", "configmaps", True)
AWS_AUTH = ("kube-system", "aws-auth")
ALL_KINDS: tuple[Kind, ...] = (
    NAMESPACES,
    SERVICE_ACCOUNTS,
    PODS,
    NODES,
    NETWORK_POLICIES,
    REPLICA_SETS,
    JOBS,
    CILIUM_POLICIES,
    CILIUM_CLUSTER_POLICIES,
    *EC2_NODE_CLASSES,
    *RBAC_KINDS,
    CONFIG_MAPS,
)
"""Everything live collection may request (docs/kubernetes.md's ClusterRole grants exactly these)."""


def requested_resources(kinds: Iterable[Kind] = ALL_KINDS) -> list[tuple[str, str]]:
    """(API group, plural) of everything collection may request: what the RBAC must grant."""
    return sorted({(k.group, k.plural) for k in kinds})


@dataclass(frozen=True, slots=True)
class ListKind:
    """List every object of `kind`, in `namespace` when the kind is namespaced and one is given."""

    kind: Kind
    namespace: str | None = None
    field_selector: str | None = None


@dataclass(frozen=True, slots=True)
class GetServiceAccount:
    """`check`: the one ServiceAccount, by name."""

    namespace: str
    name: str


@dataclass(frozen=True, slots=True)
class GetConfigMap:
    """One ConfigMap by name (`kube-system/aws-auth`); absent (404) is simply not there."""

    namespace: str
    name: str


@dataclass(frozen=True, slots=True)
class FirstServed:
    """The objects of the first of `kinds` the server serves (a custom resource's versions, newest first)."""

    kinds: tuple[Kind, ...]


Step = ListKind | GetServiceAccount | FirstServed | GetConfigMap


@dataclass(frozen=True, slots=True)
class Plan:
    namespace: str | None
    """The scope's namespace (`--namespace`, or the checked ServiceAccount's); None: every namespace."""
    steps: tuple[Step, ...]
    """Independent requests, in the order their items go into `resources.json`; the first lists the
    namespaces (only the scope's)."""
    nodes_of_pods: bool
    """`check`: after the steps, get the nodes the listed pods run on (or one node, for the platform)."""
    rbac: tuple[ListKind, ...] = ()
    """The RBAC lists, whose items go to `rbac.json`: Roles and RoleBindings of the scope's namespace (all
    of them for a whole audit), every ClusterRole and ClusterRoleBinding. Why the namespace is enough: a
    ServiceAccount can be become only through bindings in its namespace or cluster-wide ones."""


def plan_for(namespace: str | None, service_account: tuple[str, str] | None) -> Plan:
    """The requests for `audit` (every namespace, or `namespace`) or `check` (one ServiceAccount)."""
    if service_account:
        namespace = service_account[0]
    steps: list[Step] = [ListKind(NAMESPACES, None, _name_is(namespace))]
    if service_account:
        ns, name = service_account
        steps += [GetServiceAccount(ns, name), ListKind(PODS, ns, f"spec.serviceAccountName={name}")]
    else:
        steps += [ListKind(SERVICE_ACCOUNTS, namespace), ListKind(PODS, namespace), ListKind(NODES)]
    steps += [
        ListKind(NETWORK_POLICIES, namespace),
        ListKind(REPLICA_SETS, namespace),
        ListKind(JOBS, namespace),
        ListKind(CILIUM_POLICIES, namespace),
        ListKind(CILIUM_CLUSTER_POLICIES),
        FirstServed(EC2_NODE_CLASSES),
    ]
    steps.append(GetConfigMap(*AWS_AUTH))
    rbac = (
        ListKind(ROLES, namespace),
        ListKind(ROLE_BINDINGS, namespace),
        ListKind(CLUSTER_ROLES),
        ListKind(CLUSTER_ROLE_BINDINGS),
    )
    return Plan(namespace, tuple(steps), nodes_of_pods=service_account is not None, rbac=rbac)


def _name_is(namespace: str | None) -> str | None:
    return f"metadata.name={namespace}" if namespace else None
