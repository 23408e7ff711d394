"""`gke/<location>/<name>/cluster.json` and `node-pools.json`: the project's GKE clusters."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from kubeiam.pipeline.evidence import Evidence

from .json_checks import CLUSTER, POOL, Unread, kind_of, load_list, load_object, pages_missing


@dataclass(frozen=True, slots=True)
class GkeClusterFile:
    """One checked cluster object and its node pools as found."""

    file: str
    """The cluster.json path."""
    location: str
    """The location folder it sits in."""
    name: str
    """The cluster's name (the object's, else its folder's)."""
    cluster: Mapping[str, Any]
    pools: Sequence[Mapping[str, Any]] | None
    """The pools that can be read (each with a string `name` and a `config` object); None when neither
    node-pools.json nor the cluster object lists them."""
    pools_file: str
    """Where the pools were read (node-pools.json, or cluster.json when they came from it)."""
    workload_pool: str | None = None
    workload_identity_known: bool = True
    """False when `workloadIdentityConfig` cannot be read: whether pods can take a Google identity is unknown."""
    unread: tuple[Unread, ...] = ()


def read_clusters(evidence: Evidence, base: str) -> tuple[GkeClusterFile, ...]:
    out = []
    for location in evidence.children(f"{base}/gke"):
        for folder in evidence.children(f"{base}/gke/{location}"):
            file = f"{base}/gke/{location}/{folder}/cluster.json"
            cluster = load_object(evidence, file, "gcloud container clusters describe NAME --format=json")
            pools_file = f"{base}/gke/{location}/{folder}/node-pools.json"
            found = load_list(
                evidence,
                pools_file,
                "nodePools",
                command="gcloud container node-pools list --cluster NAME --format=json",
                empty_object=True,  # nodes whose pool is not listed are reported unchecked
            )
            if cluster is None:
                continue
            read = _cluster(file, location, folder, cluster, found.items if found else None, pools_file)
            if found is not None and found.next_page:  # one page of a REST list: the others' pools unknown
                missing = pages_missing(pools_file, found.next_page)
                read = replace(read, unread=(*read.unread, replace(missing, kind=CLUSTER)))
            out.append(read)
    return tuple(out)


def _cluster(
    file: str, location: str, folder: str, cluster: Mapping[str, Any], listed: list[Any] | None, pools_file: str
) -> GkeClusterFile:
    unread: list[Unread] = []
    name = cluster.get("name") if isinstance(cluster.get("name"), str) and cluster.get("name") else folder
    pools: list[Any] | None = listed
    if pools is None and "nodePools" in cluster:
        if isinstance(cluster["nodePools"], list):
            pools, pools_file = cluster["nodePools"], file
        else:
            reason = f"expected a list, found {kind_of(cluster['nodePools'])}: the node pools are not known"
            unread.append(Unread(CLUSTER, file, "nodePools", reason))
    checked = None if pools is None else [p for i, p in enumerate(pools) if _pool_ok(p, i, pools_file, unread)]
    workload_pool, known = _workload_pool(cluster, file, unread)
    return GkeClusterFile(file, location, str(name), cluster, checked, pools_file, workload_pool, known, tuple(unread))


def _workload_pool(cluster: Mapping[str, Any], file: str, unread: list[Unread]) -> tuple[str | None, bool]:
    config = cluster.get("workloadIdentityConfig")
    if config is None:
        return None, True
    # Absent: Workload Identity is off (the API prints nothing for it). Present, it must name the pool.
    pool = config.get("workloadPool") if isinstance(config, dict) else config
    if isinstance(config, dict) and ("workloadPool" not in config or (isinstance(pool, str) and pool)):
        return pool or None, True
    reason = f"expected a workload pool name, found {kind_of(pool)}: whether pods can take a Google identity is unknown"
    where = "workloadIdentityConfig.workloadPool" if isinstance(config, dict) else "workloadIdentityConfig"
    unread.append(Unread(CLUSTER, file, where, reason))
    return None, False


def _pool_ok(pool: Any, i: int, file: str, unread: list[Unread]) -> bool:
    """Whether the pool can be judged: a name, a config object, a service account name (or none)."""
    name = pool.get("name") if isinstance(pool, dict) else None
    if not isinstance(name, str) or not name:
        reason = f"expected a node pool with a 'name', found {kind_of(pool if name is None else name)}"
        unread.append(Unread(POOL, file, f"nodePools[{i}].name", reason))
        return False
    config = pool.get("config")
    if config is not None and not isinstance(config, dict):
        reason = f"expected an object, found {kind_of(config)}: the pool's metadata mode and account are unknown"
        unread.append(Unread(POOL, file, f"nodePools[{i}].config", reason, pool=name))
        return False
    account = (config or {}).get("serviceAccount")
    if account is not None and not isinstance(account, str):
        reason = f"expected a service account email, found {kind_of(account)}: the pool's account is unknown"
        unread.append(Unread(POOL, file, f"nodePools[{i}].config.serviceAccount", reason, pool=name))
        return False
    return True
