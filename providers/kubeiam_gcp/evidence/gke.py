"""`gke/<location>/<name>/cluster.json` and `node-pools.json`: the project's GKE clusters."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kubeiam.pipeline.evidence import Evidence

from .json_checks import fail, load_list, load_object, require_str


@dataclass(frozen=True, slots=True)
class GkeClusterFile:
    """One checked cluster object and its node pools as found."""

    file: str
    """The cluster.json path."""
    location: str
    """The location folder it sits in."""
    cluster: Mapping[str, Any]
    pools: Sequence[Mapping[str, Any]] | None
    """None when neither node-pools.json nor the cluster object lists them."""
    pools_file: str
    """Where the pools were read (node-pools.json, or cluster.json when they came from it)."""


def read_clusters(evidence: Evidence, base: str) -> tuple[GkeClusterFile, ...]:
    out = []
    for location in evidence.children(f"{base}/gke"):
        for name in evidence.children(f"{base}/gke/{location}"):
            file = f"{base}/gke/{location}/{name}/cluster.json"
            cluster = load_object(evidence, file)
            pools_file = f"{base}/gke/{location}/{name}/node-pools.json"
            pools = load_list(evidence, pools_file, "nodePools")
            if cluster is None:
                continue
            require_str(cluster, "name", file, "cluster")
            if pools is None and isinstance(cluster.get("nodePools"), list):
                pools, pools_file = cluster["nodePools"], file
            for i, p in enumerate(pools or []):
                require_str(p, "name", pools_file, f"nodePools[{i}]")
                if p.get("config") is not None and not isinstance(p["config"], dict):
                    raise fail(pools_file, f"field 'nodePools[{i}].config' must be an object")
            out.append(GkeClusterFile(file, location, cluster, pools, pools_file))
    return tuple(out)
