"""GCP-010: GKE node pools that let pods read the node service account's token."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kubeiam.vocabulary.findings import Category, Severity
from kubeiam.vocabulary.model import Inventory
from kubeiam.vocabulary.rules import Match, rule
from kubeiam_gcp.declarations import GCP
from kubeiam_gcp.judge.grants import BROAD_LEVELS
from kubeiam_gcp.judge.profile import classify
from kubeiam_gcp.view import GcpView, NodePool, view_of

_SAMPLE = 20


@rule(
    "GCP-010",
    "Node pool exposes the node service account to pods",
    Category.IMDS_EXPOSURE,
    Severity.MEDIUM,
    rationale="Without Workload Identity or with a metadata mode other than GKE_METADATA, every pod "
    "on the node reads the node service account's token from 169.254.169.254; the default compute "
    "account with roles/editor makes that project-wide control.",
    remediation="Enable Workload Identity on the cluster and set the pool's workload metadata mode to "
    "GKE_METADATA (gcloud container node-pools update --workload-metadata=GKE_METADATA); give nodes "
    "a minimal service account (roles/container.defaultNodeServiceAccount).",
    cloud=GCP,
    references=("https://cloud.google.com/kubernetes-engine/docs/how-to/protecting-cluster-metadata",),
)
def node_metadata_exposed(inv: Inventory) -> Iterator[Match]:
    view = view_of(inv)
    # Why one finding per pool, not per node: the metadata mode is a pool setting (one fix, one
    # ticket), and GKE node names change with every upgrade or autoscaling, which would churn
    # fingerprints. `node` carries `node-pool/NAME`, as AWS-022 carries `nodegroup/NAME`.
    # The pools of the scope's nodes; their nodes and pods from the whole inventory, so that `check`
    # reports a pool exactly as `audit` does.
    pools = {(p.cluster, p.name): p for node in inv.nodes if (p := view.node_pool(node)) is not None}
    if not pools:
        return
    nodes_of: dict[tuple[str, str], list[str]] = {}
    for node in inv.whole.nodes:
        pool = view.node_pool(node)
        if pool is not None and (pool.cluster, pool.name) in pools:
            nodes_of.setdefault((pool.cluster, pool.name), []).append(node.name)
    on_node: dict[tuple[str, str | None], set[str]] = {}  # built once: whose pods run where
    for w in inv.whole.workloads:
        on_node.setdefault((w.cluster, w.node), set()).add(f"{w.namespace}/{w.service_account}")
    for key in sorted(pools):
        pool = pools[key]
        exposure = _judge_pool(view, pool)
        if exposure is None:
            continue
        severity, evidence = exposure
        nodes = sorted(nodes_of[key])
        # Why list them: a pod here gets the node's token even when its KSA is bound to a GSA.
        on_pool = sorted({sa for n in nodes for sa in on_node.get((pool.cluster, n), ())})
        yield Match(
            cluster=pool.cluster,
            node=f"node-pool/{pool.name}",
            cloud=GCP,
            principal=pool.service_account,
            item=f"node-pool/{pool.name}",
            source=pool.self_link or pool.source,
            severity=severity,
            detail=f"pool {pool.name} ({evidence['reason']}) runs as {pool.service_account}",
            # A sample keeps reports small for pools of hundreds of nodes.
            evidence={
                **evidence,
                "nodes": nodes[:_SAMPLE],
                "node_count": len(nodes),
                "service_accounts_on_node": on_pool,
            },
        )


def _judge_pool(view: GcpView, pool: NodePool) -> tuple[Severity | None, dict[str, Any]] | None:
    cluster = view.clusters[pool.cluster]
    if cluster.workload_pool is None:
        reason = "Workload Identity disabled"
    elif pool.metadata_mode != "GKE_METADATA":
        reason = f"metadata mode {pool.metadata_mode or 'unset'}"
    else:
        return None
    roles: list[str] = []
    severity: Severity | None = None
    for grant in view.grants.get(f"serviceAccount:{pool.service_account}", ()):
        perms = view.permissions.get(grant.role or "")
        if perms is None:
            continue
        profile = classify(grant.role or "", perms)
        if profile.admin:
            severity = Severity.CRITICAL
        elif profile.escalation and grant.scope_level in BROAD_LEVELS and severity is None:
            severity = Severity.HIGH
        roles.append(grant.source)
    evidence = {"reason": reason, "node_pool": pool.name, "service_account": pool.service_account, "roles": roles}
    evidence["file"] = pool.source
    return severity, evidence


RULES = (node_metadata_exposed,)
