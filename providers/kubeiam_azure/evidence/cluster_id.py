"""An AKS cluster's resource id from its nodes alone, so fingerprints never depend on the optional
`az aks show` file.

Every AKS node carries `spec.providerID` `azure:///subscriptions/<S>/resourceGroups/<node RG>/...`,
and AKS names the node resource group `MC_<resource group>_<cluster>_<region>` unless told otherwise
(it refuses to create a cluster whose generated name would be too long: it never truncates). From
that, `/subscriptions/<S>/resourceGroups/<RG>/providers/Microsoft.ContainerService/managedClusters/<NAME>`
follows, lower-cased as the AKS file's id is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from kubeiam.vocabulary.model import Node

_PROVIDER_ID = re.compile(r"^azure:///subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/", re.IGNORECASE)
NODE_RESOURCE_GROUP_LABEL = "kubernetes.azure.com/cluster"


def node_location(node: Node) -> tuple[str, str] | None:
    """(subscription, node resource group) of an AKS node, lower-cased."""
    m = _PROVIDER_ID.match(node.provider_id or "")
    return (m["sub"].lower(), m["rg"].lower()) if m else None


def node_resource_groups(nodes: Iterable[Node]) -> frozenset[str]:
    """The node resource groups the nodes name (providerID and the AKS label), lower-cased."""
    found = set()
    for node in nodes:
        where = node_location(node)
        if where:
            found.add(where[1])
            label = node.labels.get(NODE_RESOURCE_GROUP_LABEL)
            if label:
                found.add(label.lower())
    return frozenset(found)


def split_node_resource_group(group: str, cluster_name: str) -> tuple[str, str] | None:
    """(resource group, cluster name) of `MC_<rg>_<name>_<region>`, lower-cased; None when the group
    does not have that form, or could be split more than one way.

    Resource group and cluster names may contain `_`; the region never does. The Kubernetes cluster's
    own name (usually the AKS name) settles where the resource group ends."""
    group = group.lower()
    if not group.startswith("mc_") or group.count("_") < 3:
        return None
    middle = group[3 : group.rindex("_")]  # "<rg>_<name>"
    name = cluster_name.lower()
    if middle.endswith(f"_{name}") and len(middle) > len(name) + 1:
        return middle[: -len(name) - 1], name
    if middle.count("_") == 1:
        rg, aks = middle.split("_")
        return rg, aks
    return None


def cluster_id_from_nodes(cluster_name: str, nodes: Iterable[Node]) -> str | None:
    """The AKS resource id (lower-cased) the nodes of `cluster_name` agree on, or None."""
    ids = set()
    for node in nodes:
        where = node_location(node)
        if where is None:
            continue  # a virtual node (ACI) names no node resource group
        split = split_node_resource_group(where[1], cluster_name)
        if split is None:
            return None
        ids.add(
            f"/subscriptions/{where[0]}/resourcegroups/{split[0]}"
            f"/providers/microsoft.containerservice/managedclusters/{split[1]}"
        )
    return ids.pop() if len(ids) == 1 else None
