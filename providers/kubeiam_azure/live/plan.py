"""What a live Azure collection needs, worked out from the Kubernetes inventory alone (no SDK, no I/O).

Why a separate step: `collect` must fetch only what the ServiceAccounts in scope reference, and
`check` only what one ServiceAccount needs. Deciding that from the inventory first keeps the
network code a plain executor of this plan, and makes the decision testable without a server.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kubeiam.vocabulary.model import Inventory, ServiceAccount
from kubeiam_azure.declarations import AZURE, AZURE_CLIENT_ID
from kubeiam_azure.evidence.cluster_id import NODE_RESOURCE_GROUP_LABEL, node_location

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
# AKS issuers: https://<region>.oic.prod-aks.azure.com/<tenant>/<guid>/ (a cluster read without nodes)
_AKS_ISSUER = re.compile(r"\.oic\.prod-aks\.azure\.com/", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ClusterHint:
    """How to recognise one Kubernetes cluster among the AKS clusters of a subscription."""

    name: str
    """The cluster's name in the inventory (its evidence folder)."""
    node_resource_groups: frozenset[str]
    """Lower-cased node resource groups (MC_...) read from node providerIDs and labels."""
    issuer: str | None
    """The service-account token issuer, without a trailing slash."""
    subscriptions: frozenset[str] = frozenset()
    """Lower-cased subscriptions the nodes run in: an AKS cluster lives in its nodes' subscription."""


@dataclass(frozen=True, slots=True)
class Plan:
    subscriptions: tuple[str, ...]
    """Subscriptions to read, in order: the option's, else those the nodes run in."""
    client_ids: frozenset[str]
    """Lower-cased `azure.workload.identity/client-id` values of the ServiceAccounts in scope."""
    clusters: tuple[ClusterHint, ...]
    """Clusters in scope that run on Azure (or may: an issuer and no nodes), to match AKS clusters."""
    explicit_subscriptions: bool
    """True when the subscriptions came from --azure-subscription."""

    @property
    def cluster_subscriptions(self) -> tuple[str, ...]:
        """Where to list AKS clusters: the nodes' subscriptions, or every one when a cluster has no nodes."""
        if any(not h.subscriptions for h in self.clusters):
            return self.subscriptions
        wanted = {s for h in self.clusters for s in h.subscriptions}
        return tuple(s for s in self.subscriptions if s in wanted)

    @property
    def empty(self) -> bool:
        """Nothing in scope touches Azure: collect makes no call and needs no credential."""
        return not self.client_ids and not self.clusters


def in_scope(sa: ServiceAccount, namespace: str | None, service_account: tuple[str, str] | None) -> bool:
    if service_account is not None:
        return (sa.namespace, sa.name) == tuple(service_account)
    return namespace is None or sa.namespace == namespace


def make_plan(
    inventory: Inventory,
    *,
    subscriptions: list[str] | tuple[str, ...] | None,
    namespace: str | None = None,
    service_account: tuple[str, str] | None = None,
) -> Plan:
    accounts = [sa for sa in inventory.service_accounts if in_scope(sa, namespace, service_account)]
    client_ids = frozenset(
        sa.annotations[AZURE_CLIENT_ID].strip().lower()
        for sa in accounts
        if _GUID.match(sa.annotations.get(AZURE_CLIENT_ID, "").strip())
    )
    # `check` needs only the cluster(s) holding the ServiceAccount (their kubelet identity is what
    # its pods reach through IMDS); an audit needs every Azure cluster.
    wanted = {sa.cluster for sa in accounts} if service_account is not None else None
    clusters = tuple(_hints(inventory, wanted))
    if subscriptions:
        subs = tuple(dict.fromkeys(s.strip().lower() for s in subscriptions if s and s.strip()))
        return Plan(subs, client_ids, clusters, explicit_subscriptions=True)
    inferred = []
    for node in inventory.nodes:
        where = node_location(node)
        if where and (wanted is None or node.cluster in wanted):
            inferred.append(where[0])
    return Plan(tuple(dict.fromkeys(inferred)), client_ids, clusters, explicit_subscriptions=False)


def _hints(inventory: Inventory, wanted: set[str] | None) -> list[ClusterHint]:
    groups: dict[str, set[str]] = {}
    subs: dict[str, set[str]] = {}
    for node in inventory.nodes:
        where = node_location(node)
        if where:
            groups.setdefault(node.cluster, set()).add(where[1])
            subs.setdefault(node.cluster, set()).add(where[0])
        label = node.labels.get(NODE_RESOURCE_GROUP_LABEL)
        if label and (where or node.cluster in groups):
            groups.setdefault(node.cluster, set()).add(label.lower())
    hints = []
    for cluster in inventory.clusters:
        if wanted is not None and cluster.name not in wanted:
            continue
        rgs = groups.get(cluster.name, set())
        if rgs or cluster.cloud == AZURE or _AKS_ISSUER.search(cluster.issuer or ""):
            issuer = cluster.issuer.rstrip("/") if cluster.issuer else None
            hints.append(ClusterHint(cluster.name, frozenset(rgs), issuer, frozenset(subs.get(cluster.name, ()))))
    return hints


def matches(hint: ClusterHint, managed_cluster: dict) -> bool:
    """Whether an AKS cluster (REST JSON) is the Kubernetes cluster `hint` describes.

    Why node resource group first: AKS names it on every node (providerID and label), so it matches
    even when the OIDC issuer is off; the issuer is the fallback for clusters read without nodes.
    """
    props = managed_cluster.get("properties") or {}
    node_rg = (props.get("nodeResourceGroup") or "").lower()
    if node_rg and node_rg in hint.node_resource_groups:
        return True
    issuer = ((props.get("oidcIssuerProfile") or {}).get("issuerURL") or "").rstrip("/")
    return bool(hint.issuer and issuer and issuer == hint.issuer)


def parse_resource_id(resource_id: str) -> tuple[str, str, str]:
    """(subscription, resource group, name) of an ARM resource id."""
    parts = resource_id.strip("/").split("/")
    lower = [p.lower() for p in parts]
    try:
        sub = parts[lower.index("subscriptions") + 1]
        rg = parts[lower.index("resourcegroups") + 1]
    except (ValueError, IndexError):
        raise ValueError(f"not an ARM resource id: {resource_id}") from None
    return sub, rg, parts[-1]
