"""Which AKS object is which Kubernetes cluster, and each AKS cluster's stable id (in every fingerprint).

Matching: by token issuer first (unambiguous), then by the node resource group the nodes name, then by
name. The stable id is the AKS file's resource id; without that file (absent, or unmatched) it is
rebuilt from the nodes' providerIDs (`cluster_id.py`), so fingerprints stay the same either way.
"""

from __future__ import annotations

from dataclasses import replace

from kubeiam.vocabulary.model import Cluster, Inventory, Node
from kubeiam_azure.declarations import AZURE
from kubeiam_azure.evidence.cluster_id import cluster_id_from_nodes, node_resource_groups
from kubeiam_azure.view import AksCluster


def _norm(issuer: str | None) -> str | None:
    return issuer.rstrip("/") if issuer else None


def match_clusters(inventory: Inventory, aks: list[AksCluster]) -> tuple[tuple[Cluster, ...], dict[str, AksCluster]]:
    """The inventory's clusters with their AKS stable id and issuer filled in, and the AKS object of each
    matched cluster by name."""
    nodes: dict[str, list[Node]] = {}
    for n in inventory.nodes:
        nodes.setdefault(n.cluster, []).append(n)
    matched: dict[str, AksCluster] = {}
    free = list(aks)
    for c in inventory.clusters:
        if c.stable_id or c.cloud not in (None, AZURE):
            continue  # another cloud's cluster (EKS, GKE) or one already matched
        hit = next((a for a in free if a.issuer and _norm(a.issuer) == _norm(c.issuer)), None)
        # Two known issuers that differ are two clusters, whatever their names or node groups say.
        free_of_conflict = [a for a in free if not (a.issuer and c.issuer)]
        if hit is None:
            groups = node_resource_groups(nodes.get(c.name, ()))
            hit = next((a for a in free_of_conflict if a.node_resource_group in groups), None)
        if hit is None:
            named = [a for a in free_of_conflict if a.name == c.name]
            hit = named[0] if len(named) == 1 else None
        if hit is not None:
            matched[c.name] = hit
            free.remove(hit)
    out = []
    for c in inventory.clusters:
        a = matched.get(c.name)
        if a is not None:
            out.append(replace(c, stable_id=a.id, cloud=c.cloud or AZURE, issuer=c.issuer or a.issuer))
        elif c.cloud == AZURE and not c.stable_id:
            out.append(replace(c, stable_id=cluster_id_from_nodes(c.name, nodes.get(c.name, ()))))
        else:
            out.append(c)
    return tuple(out), matched
