"""The inventory's Kubernetes clusters matched to the GKE cluster objects read (by issuer, else by name).

The stable id fingerprints hash never depends on cluster.json: the issuer
(`https://container.googleapis.com/v1/projects/P/locations/L/clusters/N`) and the kubeconfig's name
(`gke_P_L_N`) give the same `//container.googleapis.com/projects/P/locations/L/clusters/N`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from kubeiam.vocabulary.model import Cluster
from kubeiam_gcp.declarations import GCP
from kubeiam_gcp.judge.trust import cluster_key, kubeconfig_key
from kubeiam_gcp.view import GkeCluster, NodePool

from .gke import GkeClusterFile
from .index import ClusterKey, EvidenceIndex


def gke_key(cluster: Cluster) -> ClusterKey | None:
    """(project, location, name) of a GKE cluster from its issuer or its kubeconfig name, None if neither says."""
    if "container.googleapis.com" in (cluster.issuer or ""):
        found = cluster_key(cluster.issuer or "")
        if found:
            return found
    return kubeconfig_key(cluster.kubeconfig_name) or kubeconfig_key(cluster.name)


def stable_id(project: str, location: str, name: str) -> str:
    return f"//container.googleapis.com/projects/{project}/locations/{location}/clusters/{name}"


def match_cluster(index: EvidenceIndex, cluster: Cluster) -> tuple[Cluster, GkeCluster | None]:
    """The cluster with its stable id, issuer and cloud filled in, and the GKE cluster it is (None
    when none read matches)."""
    found = _find_gke(index, cluster)
    if found is None:
        key = gke_key(cluster)
        if key is None:
            return cluster, None
        project, location, name = key
        if project.isdigit():  # an issuer may name the project by number: one id either way
            project = next((p for p, n in index.numbers.items() if n == project), project)
        return replace(cluster, stable_id=stable_id(project, location, name)), None
    (project, location, name), gke = found
    obj = gke.cluster
    autopilot = bool((obj.get("autopilot") or {}).get("enabled")) if isinstance(obj.get("autopilot"), dict) else False
    wi = gke.workload_pool
    if (autopilot and not wi) or not gke.workload_identity_known:
        # Autopilot always runs Workload Identity; a config that cannot be read is judged as if it were
        # on (the wider reading), and the coverage names it.
        wi = f"{project}.svc.id.goog"
    matched = GkeCluster(
        k8s_name=cluster.name,
        project=project,
        location=location,
        name=name,
        stable_id=stable_id(project, location, name),
        workload_pool=wi,
        autopilot=autopilot,
        node_pools=tuple(
            p
            for raw in gke.pools or ()
            if (p := _pool(index, cluster.name, (project, location, name), raw, gke.pools_file, autopilot))
        ),
        source=gke.file,
        network_policy=network_policy(obj, autopilot),
    )
    issuer = (
        cluster.issuer or f"https://container.googleapis.com/v1/projects/{project}/locations/{location}/clusters/{name}"
    )
    return replace(cluster, stable_id=matched.stable_id, issuer=issuer, cloud=cluster.cloud or GCP), matched


def _find_gke(index: EvidenceIndex, cluster: Cluster) -> tuple[ClusterKey, GkeClusterFile] | None:
    key = gke_key(cluster)
    if key:
        p, loc, n = key
        for found, value in index.gke.items():
            if found[1:] == (loc, n) and p in (found[0], index.numbers.get(found[0])):
                return found, value
    by_name = [(k, v) for k, v in index.gke.items() if cluster.name in (k[2], f"gke_{k[0]}_{k[1]}_{k[2]}")]
    return by_name[0] if len(by_name) == 1 else None


def default_account(index: EvidenceIndex, project: str) -> str | None:
    """The Compute Engine default account of a project (`NUMBER-compute@...`); None when no file gives the number."""
    number = index.numbers.get(project)
    return f"{number}-compute@developer.gserviceaccount.com" if number else None


def _pool(
    index: EvidenceIndex, cluster: str, key: ClusterKey, pool: Mapping[str, Any], file: str, autopilot: bool
) -> NodePool | None:
    """The pool as judged; None when its account is the default one and no file gives the project number
    (the coverage names it: a made-up principal would change the finding's fingerprint once known)."""
    config = pool.get("config") or {}
    sa = config.get("serviceAccount") or "default"
    if sa == "default":
        sa = default_account(index, key[0])
        if sa is None:
            return None
    mode = _mode(config.get("workloadMetadataConfig"))
    if autopilot:
        mode = "GKE_METADATA"
    # The pool's resource URL as the cluster names it (what GCP-010 fingerprints hash), built rather than
    # read from `selfLink`: an optional field, and `zones/` or `locations/` as the API happens to print.
    url = "https://container.googleapis.com/v1/projects/{}/locations/{}/clusters/{}/nodePools/".format(*key)
    scopes = config.get("oauthScopes")
    known = tuple(str(x) for x in scopes) if isinstance(scopes, list) else None
    return NodePool(cluster, pool["name"], sa, mode, file, url + pool["name"], known)


def network_policy(cluster: Mapping[str, Any], autopilot: bool) -> str | None:
    """What enforces NetworkPolicy on the cluster, None when nothing does (or the object does not say):
    Dataplane V2 (`networkConfig.datapathProvider: ADVANCED_DATAPATH`, Autopilot's), or Calico
    (`networkPolicy.enabled`). A policy object on a cluster where nothing enforces it blocks nothing."""
    config = cluster.get("networkConfig")
    if autopilot or (isinstance(config, dict) and config.get("datapathProvider") == "ADVANCED_DATAPATH"):
        return "Dataplane V2"
    policy = cluster.get("networkPolicy")
    if isinstance(policy, dict) and policy.get("enabled") is True:
        return f"{str(policy.get('provider') or 'Calico').title()} (networkPolicy.enabled)"
    return None


def _mode(config: Any) -> str | None:
    """`workloadMetadataConfig.mode` as judged: only GKE_METADATA hides the node's credentials; anything
    else, unset or unreadable, exposes them."""
    if config is None:
        return None
    if not isinstance(config, dict):
        return f"unreadable ({type(config).__name__})"
    mode = config.get("mode") or config.get("nodeMetadata")
    if mode is None:
        return None
    if not isinstance(mode, str):
        return f"unreadable ({type(mode).__name__})"
    return "GKE_METADATA" if mode == "GKE_METADATA_SERVER" else mode  # the v1beta1 spelling
