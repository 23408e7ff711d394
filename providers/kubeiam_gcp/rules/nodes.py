"""GCP-010 and GCP-012: GKE nodes whose service account's token pods can read from the metadata server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kubeiam.vocabulary.findings import Category, Severity
from kubeiam.vocabulary.model import Inventory
from kubeiam.vocabulary.rules import Match, rule
from kubeiam_gcp.declarations import GCP
from kubeiam_gcp.judge.node_reach import NodeReach, node_reach
from kubeiam_gcp.view import GcpView, NodePool, view_of

_SAMPLE = 20
_RAISED = {"admin": Severity.CRITICAL, "escalation": Severity.HIGH}
_METADATA_DOC = "https://cloud.google.com/kubernetes-engine/docs/how-to/protecting-cluster-metadata"


@rule(
    "GCP-010",
    "Node pool exposes the node service account to pods",
    Category.IMDS_EXPOSURE,
    Severity.MEDIUM,
    rationale="Without Workload Identity or with a metadata mode other than GKE_METADATA, every pod "
    "on the node reads the node service account's token from 169.254.169.254; the default compute "
    "account with roles/editor makes that project-wide control. The token reaches what the pool's OAuth "
    "scopes allow; a NetworkPolicy blocks it only where the cluster enforces policies (Dataplane V2 or "
    "network policy enabled).",
    remediation="Enable Workload Identity on the cluster and set the pool's workload metadata mode to "
    "GKE_METADATA (gcloud container node-pools update --workload-metadata=GKE_METADATA); give nodes "
    "a minimal service account (roles/container.defaultNodeServiceAccount).",
    cloud=GCP,
    references=(_METADATA_DOC,),
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
    on_node: dict[tuple[str, str | None], set[tuple[str, str, bool]]] = {}  # built once: whose pods run where
    for w in inv.whole.workloads:
        on_node.setdefault((w.cluster, w.node), set()).add((w.namespace, w.service_account, w.host_network))
    for key in sorted(pools):
        pool = pools[key]
        reason = _judge_pool(view, pool)
        if reason is None:
            continue
        reach = node_reach(inv, pool)
        nodes = sorted(nodes_of[key])
        pods = sorted({sa for n in nodes for sa in on_node.get((pool.cluster, n), ())})
        exposed, blocked, unenforced = _network(inv, view, pool, pods)
        severity = _RAISED.get(reach.level)
        if pods and not exposed:
            severity = None  # every pod there is kept from the metadata server by an enforced policy
        yield Match(
            cluster=pool.cluster,
            node=f"node-pool/{pool.name}",
            cloud=GCP,
            principal=pool.service_account,
            item=f"node-pool/{pool.name}",
            source=pool.self_link or pool.source,
            severity=severity,
            detail=f"pool {pool.name} ({reason}) runs as {pool.service_account}",
            # A sample keeps reports small for pools of hundreds of nodes.
            evidence={
                **_pool_evidence(pool, reason, reach),
                "nodes": nodes[:_SAMPLE],
                "node_count": len(nodes),
                # Why list them: a pod here gets the node's token even when its KSA is bound to a GSA.
                "service_accounts_on_node": sorted(set(exposed)),
                **({"mitigations": blocked} if blocked else {}),
                **({"network_policies_not_enforced": unenforced} if unenforced else {}),
            },
        )


def _judge_pool(view: GcpView, pool: NodePool) -> str | None:
    """Why the pool exposes its node's token to pods (None: it does not); once per pool."""
    return _exposed_because(view, pool)


def _exposed_because(view: GcpView, pool: NodePool) -> str | None:
    cluster = view.clusters[pool.cluster]
    if cluster.workload_pool is None:
        return "Workload Identity disabled"
    if pool.metadata_mode != "GKE_METADATA":
        return f"metadata mode {pool.metadata_mode or 'unset'}"
    return None


def _network(
    inv: Inventory, view: GcpView, pool: NodePool, pods: list[tuple[str, str, bool]]
) -> tuple[list[str], list[str], list[str]]:
    """(pods that reach the metadata server, the enforced policies that keep the others away, the
    policies that would but that nothing enforces). A hostNetwork pod is outside every NetworkPolicy."""
    enforced = view.clusters[pool.cluster].network_policy is not None
    exposed: list[str] = []
    blocked: set[str] = set()
    unenforced: set[str] = set()
    for ns, sa, host in pods:
        block = None if host else inv.whole.imds_block(pool.cluster, ns)
        if block is None:
            exposed.append(f"{ns}/{sa}")
            continue
        name = f"{block.kind} {block.namespace or '(cluster-wide)'}/{block.name}"
        if enforced:
            blocked.add(name)
        else:
            unenforced.add(name)
            exposed.append(f"{ns}/{sa}")
    return exposed, sorted(blocked), sorted(unenforced)


def _pool_evidence(pool: NodePool, reason: str, reach: NodeReach) -> dict[str, Any]:
    return {
        "reason": reason,
        "node_pool": pool.name,
        "service_account": pool.service_account,
        "roles": list(reach.roles),
        "oauth_scopes": reach.scopes,
        "node_account_reach": reach.level,
        "file": pool.source,
    }


@rule(
    "GCP-012",
    "hostNetwork pod can take the node service account",
    Category.IMDS_EXPOSURE,
    Severity.MEDIUM,
    rationale="The GKE metadata server stands in for the node's only on the pod network: a hostNetwork pod "
    "talks to the real metadata server and gets the node service account's token, on a GKE_METADATA pool "
    "too, whatever its own identity; NetworkPolicies do not apply to it.",
    remediation="Drop hostNetwork, or run such pods on a pool whose service account has only "
    "roles/container.defaultNodeServiceAccount (and narrow OAuth scopes).",
    cloud=GCP,
    references=(_METADATA_DOC, "https://cloud.google.com/kubernetes-engine/docs/concepts/workload-identity"),
)
def host_network_node_account(inv: Inventory) -> Iterator[Match]:
    view = view_of(inv)
    for sa in inv.service_accounts:
        for w in inv.workloads_of(sa):
            pool = _pool_of(inv, view, w.cluster, w.node) if w.host_network else None
            # Elsewhere GCP-010 reports the pool: every pod on it, hostNetwork or not, gets the token.
            if pool is None or _exposed_because(view, pool) is not None:
                continue
            reach = node_reach(inv, pool)
            if reach.level == "limited":
                continue
            yield Match.for_sa(
                sa,
                item=f"{w.owner_kind}/{w.owner_name}@node-pool/{pool.name}",
                cloud=GCP,
                principal=pool.service_account,
                source=pool.self_link or pool.source,
                detail=f"{w.owner_kind} {w.owner_name} on pool {pool.name} ({pool.service_account})",
                severity=Severity.HIGH if reach.level in _RAISED else None,
                evidence={
                    "workload": f"{w.owner_kind}/{w.owner_name}",
                    "node": w.node,
                    **_pool_evidence(pool, "hostNetwork bypasses the GKE metadata server", reach),
                    "node_account_grants": list(reach.strongest),
                },
            )


def _pool_of(inv: Inventory, view: GcpView, cluster: str, node: str | None) -> NodePool | None:
    nodes = inv.memo("gcp_nodes_by_name", lambda i: {(n.cluster, n.name): n for n in i.whole.nodes})
    found = nodes.get((cluster, node or ""))
    return view.node_pool(found) if found is not None else None


RULES = (node_metadata_exposed,)
HOST_NETWORK_RULES = (host_network_node_account,)
"""GCP-012, after GCP-011 in catalogue order (`rules/__init__.py`)."""
