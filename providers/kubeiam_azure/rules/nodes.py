"""Rules on AKS nodes: what a pod reaching the instance metadata service (IMDS) gets."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from kubeiam.vocabulary.findings import Category, Severity
from kubeiam.vocabulary.model import Inventory, Node, Workload
from kubeiam.vocabulary.rules import Match, rule
from kubeiam_azure.declarations import AZURE
from kubeiam_azure.judge.profile import scope_label
from kubeiam_azure.rules.helpers import EVIDENCE_SAMPLE, verdicts, view_of
from kubeiam_azure.view import AksCluster, AzureView


def _pool(node: Node) -> str | None:
    pool = node.labels.get("kubernetes.azure.com/agentpool") or node.labels.get("agentpool")
    if pool:
        return pool
    parts = node.name.split("-")  # aks-<pool>-<id>-vmss000000
    return parts[1] if len(parts) > 3 and parts[0] == "aks" else None


def imds_reachable(inv: Inventory, aks: AksCluster, node: Node, pods: Sequence[Workload]) -> bool:
    """Whether `pods` on `node` can reach IMDS, as far as the API and the network policies tell."""
    pool = next((p for p in aks.agent_pools if p.name == _pool(node)), None)
    access = (pool.pod_link_local_access if pool else None) or aks.pod_link_local_access or "IMDS"
    if any(w.host_network for w in pods):
        return True  # hostNetwork pods are the node: no setting or policy stops them
    if access.lower() == "none":
        return False
    if (aks.network_policy or "").lower() == "none":
        return True  # no policy engine: NetworkPolicy objects exist but nothing enforces them
    # No pods in the evidence is not "no exposure": the next pod scheduled there can reach it.
    return not pods or any(inv.imds_block(w.cluster, w.namespace) is None for w in pods)


@rule(
    "AZ-011",
    "Pods can take the AKS kubelet identity from IMDS",
    Category.IMDS_EXPOSURE,
    Severity.MEDIUM,
    rationale=(
        "Any pod that reaches 169.254.169.254 can ask IMDS for a token of the node's kubelet managed "
        "identity, whatever its ServiceAccount. Whatever that identity is granted beyond pulling "
        "images, every workload on the node has."
    ),
    remediation=(
        "Keep the kubelet identity to AcrPull; move other roles to workload identities. Block IMDS "
        "egress with a network policy, or set podLinkLocalAccess to None on the node pools."
    ),
    cloud=AZURE,
    references=("https://learn.microsoft.com/azure/aks/use-managed-identity",),
)
def kubelet_identity_exposed(inv: Inventory) -> Iterator[Match]:
    view = view_of(inv)
    if view is None:
        return
    # Pods and pool members from the whole inventory: `check` reports a pool exactly as `audit` does.
    pods: dict[tuple[str, str | None], list[Workload]] = {}
    for w in inv.whole.workloads:  # indexed once: a per-node scan would be nodes x pods
        pods.setdefault((w.cluster, w.node), []).append(w)
    # Why one finding per agent pool, not per node: the kubelet identity and podLinkLocalAccess are
    # cluster and pool settings (one fix), and VMSS node names change with every upgrade or scale
    # event, which would churn fingerprints. `node` carries `agentpool/NAME`.
    in_scope = {(node.cluster, _pool(node) or node.name) for node in inv.nodes}
    exposed: dict[tuple[str, str], list[Node]] = {}
    for node in inv.whole.nodes:
        if (node.cluster, _pool(node) or node.name) not in in_scope:
            continue
        aks, kubelet = view.aks.get(node.cluster), view.kubelet.get(node.cluster)
        if aks is None or kubelet is None:
            continue
        if imds_reachable(inv, aks, node, pods.get((node.cluster, node.name), [])):
            exposed.setdefault((node.cluster, _pool(node) or node.name), []).append(node)
    for (cluster, pool), nodes in sorted(exposed.items()):
        yield from _kubelet_match(inv, view, cluster, pool, nodes, pods)


def _kubelet_match(
    inv: Inventory,
    view: AzureView,
    cluster: str,
    pool: str,
    nodes: Sequence[Node],
    pods: dict[tuple[str, str | None], list[Workload]],
) -> Iterator[Match]:
    aks, kubelet = view.aks[cluster], view.kubelet[cluster]
    judged = [v for v in verdicts(inv, kubelet) if v.profile and not v.profile.read_only]
    if not judged:
        return
    # Severity follows what the identity can do (FINDINGS: rises with reach).
    if any(v.admin for v in judged):
        severity = Severity.CRITICAL
    elif any(v.escalation for v in judged):
        severity = Severity.HIGH
    else:
        severity = None
    names = sorted(n.name for n in nodes)
    yield Match(
        cluster=cluster,
        node=f"agentpool/{pool}",
        item=kubelet.principal,
        cloud=AZURE,
        principal=kubelet.principal,
        source=aks.id,
        detail=", ".join(f"{v.role_name} on {scope_label(v.assignment.scope)}" for v in judged),
        severity=severity,
        evidence={
            "kubelet_identity": kubelet.principal,
            "role_assignments": [
                {"id": v.assignment.id, "role": v.role_name, "scope": v.assignment.scope} for v in judged
            ],
            "pod_link_local_access": aks.pod_link_local_access or "IMDS (default)",
            "nodes": names[:EVIDENCE_SAMPLE],
            "node_count": len(names),
            "service_accounts_on_nodes": sorted(
                {f"{w.namespace}/{w.service_account}" for n in names for w in pods.get((cluster, n), ())}
            )[:EVIDENCE_SAMPLE],
            "file": aks.source,
        },
    )


RULES = (kubelet_identity_exposed,)
