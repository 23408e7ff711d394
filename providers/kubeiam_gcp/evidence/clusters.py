"""The inventory's Kubernetes clusters matched to the GKE cluster objects read (by issuer, else by name)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from kubeiam.vocabulary.model import Cluster
from kubeiam_gcp.declarations import GCP
from kubeiam_gcp.judge.trust import cluster_key
from kubeiam_gcp.view import GkeCluster, NodePool

from .gke import GkeClusterFile
from .index import ClusterKey, EvidenceIndex


def match_cluster(index: EvidenceIndex, cluster: Cluster) -> tuple[Cluster, GkeCluster | None]:
    """The cluster with its stable id, issuer and cloud filled in, and the GKE cluster it is (None
    when none read matches)."""
    found = _find_gke(index, cluster)
    issuer_key = cluster_key(cluster.issuer or "") if "container.googleapis.com" in (cluster.issuer or "") else None
    if found is None:
        if issuer_key is None:
            return cluster, None
        p, loc, n = issuer_key
        stable = f"//container.googleapis.com/projects/{p}/locations/{loc}/clusters/{n}"
        return replace(cluster, stable_id=stable), None
    (project, location, name), gke = found
    obj = gke.cluster
    stable = f"//container.googleapis.com/projects/{project}/locations/{location}/clusters/{name}"
    wi = (obj.get("workloadIdentityConfig") or {}).get("workloadPool") or None
    autopilot = bool((obj.get("autopilot") or {}).get("enabled"))
    if autopilot and not wi:
        wi = f"{project}.svc.id.goog"  # Autopilot always runs Workload Identity
    matched = GkeCluster(
        k8s_name=cluster.name,
        project=project,
        location=location,
        name=name,
        stable_id=stable,
        workload_pool=wi,
        autopilot=autopilot,
        node_pools=tuple(_pool(index, cluster.name, project, p, gke.pools_file, autopilot) for p in gke.pools or ()),
        source=gke.file,
    )
    issuer = (
        cluster.issuer or f"https://container.googleapis.com/v1/projects/{project}/locations/{location}/clusters/{name}"
    )
    return replace(cluster, stable_id=stable, issuer=issuer, cloud=cluster.cloud or GCP), matched


def _find_gke(index: EvidenceIndex, cluster: Cluster) -> tuple[ClusterKey, GkeClusterFile] | None:
    issuer_key = cluster_key(cluster.issuer or "")
    if issuer_key:
        p, loc, n = issuer_key
        for key, value in index.gke.items():
            if key[1:] == (loc, n) and p in (key[0], index.numbers.get(key[0])):
                return key, value
    by_name = [(k, v) for k, v in index.gke.items() if cluster.name in (k[2], f"gke_{k[0]}_{k[1]}_{k[2]}")]
    return by_name[0] if len(by_name) == 1 else None


def _pool(
    index: EvidenceIndex, cluster: str, project: str, pool: Mapping[str, Any], file: str, autopilot: bool
) -> NodePool:
    config = pool.get("config") or {}
    sa = config.get("serviceAccount") or "default"
    if sa == "default":
        number = index.numbers.get(project)
        sa = f"{number}-compute@developer.gserviceaccount.com" if number else f"default@{project}"
    mode = (config.get("workloadMetadataConfig") or {}).get("mode") or (config.get("workloadMetadataConfig") or {}).get(
        "nodeMetadata"
    )
    if mode == "GKE_METADATA_SERVER":  # the v1beta1 spelling
        mode = "GKE_METADATA"
    if autopilot:
        mode = "GKE_METADATA"
    return NodePool(cluster, pool["name"], sa, mode, file, str(pool.get("selfLink", "")))
