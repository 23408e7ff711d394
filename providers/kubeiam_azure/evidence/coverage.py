"""What the Azure evidence leaves unchecked, named as `CoverageError`s (file and subject), never as clean.

Absent is not empty: a resolved identity whose role assignments were not collected, an AKS cluster with
no `az aks show` file, a kubelet identity without an object id each say what was not checked.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from kubeiam.vocabulary.model import Cluster, CoverageError, IdentityLink, Inventory, LinkStatus, ServiceAccount
from kubeiam_azure.declarations import AZURE
from kubeiam_azure.view import AksCluster, ManagedIdentity


def aks_gaps(
    inventory: Inventory, clusters: tuple[Cluster, ...], aks_of: Mapping[str, AksCluster]
) -> list[CoverageError]:
    """AKS clusters (nodes with an azure:// providerID) that no `az aks show` file matched: their
    kubelet identity and IMDS exposure are not checked; say so rather than report nothing."""
    with_nodes = {n.cluster for n in inventory.nodes}
    return [
        CoverageError(
            "azure",
            f"azure/<subscription-id>/aks/<resource-group>/{c.name}.json",
            "no AKS cluster object matches this cluster: the kubelet identity and IMDS exposure were not checked",
            subject=c.name,
        )
        for c in clusters
        if c.cloud == AZURE and c.name not in aks_of and c.name in with_nodes
    ]


def grant_gaps(
    sa: ServiceAccount,
    link: IdentityLink,
    identities: Mapping[str, ManagedIdentity],
    assignment_subscriptions: Collection[str],
) -> list[CoverageError]:
    """A resolved identity whose subscription's role assignments are absent is not clean: say so."""
    mi = identities.get(link.principal)
    if link.status is not LinkStatus.RESOLVED or mi is None or mi.subscription in assignment_subscriptions:
        return []
    return [
        CoverageError(
            "azure",
            f"azure/{mi.subscription}/role-assignments.json",
            f"not in the evidence: role assignments of {mi.name} were not checked",
            subject=f"{sa.cluster}/{sa.namespace}/{sa.name}",
        )
    ]


def kubelet_without_object_id(cluster: str, aks: AksCluster) -> CoverageError:
    reason = f"the kubelet identity of {aks.name} has no objectId: its role assignments were not checked"
    return CoverageError("azure", aks.source, reason, subject=cluster)


def kubelet_assignments_gap(
    cluster: str, aks: AksCluster, assignment_subscriptions: Collection[str]
) -> list[CoverageError]:
    """The kubelet identity's role assignments live in the AKS cluster's subscription: absent, unchecked."""
    if aks.subscription in assignment_subscriptions:
        return []
    return [
        CoverageError(
            "azure",
            f"azure/{aks.subscription}/role-assignments.json",
            f"not in the evidence: role assignments of the kubelet identity of {aks.name} were not checked",
            subject=cluster,
        )
    ]
