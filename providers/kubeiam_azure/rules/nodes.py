"""Rules on AKS nodes: what a pod reaching the instance metadata service (IMDS) gets."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from kubeiam.vocabulary.findings import Category, Severity
from kubeiam.vocabulary.model import Inventory, Node, Workload
from kubeiam.vocabulary.rules import Match, rule
from kubeiam_azure.declarations import AZURE
from kubeiam_azure.judge.entra import TENANT, privileges
from kubeiam_azure.judge.profile import scope_label
from kubeiam_azure.judge.reach import ADMIN, LEVELS
from kubeiam_azure.rules.helpers import EVIDENCE_SAMPLE, hits, reach_graph, verdicts, view_of
from kubeiam_azure.view import AksCluster, AzureView, NodeIdentity


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
    "Pods can take the AKS node identities (kubelet, add-ons) from IMDS",
    Category.IMDS_EXPOSURE,
    Severity.MEDIUM,
    rationale=(
        "Any pod that reaches 169.254.169.254 can ask IMDS for a token of every managed identity assigned "
        "to its node's scale set, whatever its ServiceAccount: the kubelet identity, and the add-on "
        "identities AKS puts there (monitoring, Azure Policy, Key Vault secrets provider, application "
        "gateway ingress) by their client id. Whatever those identities are granted beyond pulling images, "
        "and whatever other identities they can become, every workload on the node has."
    ),
    remediation=(
        "Keep the kubelet identity to AcrPull and the add-on identities to what their add-on needs; move "
        "other roles to workload identities. Block IMDS egress with a network policy, or set "
        "podLinkLocalAccess to None on the node pools."
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
        aks, on_nodes = view.aks.get(node.cluster), view.node_identities.get(node.cluster)
        if aks is None or not on_nodes:
            continue
        if imds_reachable(inv, aks, node, pods.get((node.cluster, node.name), [])):
            exposed.setdefault((node.cluster, _pool(node) or node.name), []).append(node)
    for (cluster, pool), nodes in sorted(exposed.items()):
        for on_node in view.node_identities[cluster]:
            yield from _node_identity_match(inv, view, cluster, pool, nodes, pods, on_node)


def _node_identity_match(
    inv: Inventory,
    view: AzureView,
    cluster: str,
    pool: str,
    nodes: Sequence[Node],
    pods: dict[tuple[str, str | None], list[Workload]],
    on_node: NodeIdentity,
) -> Iterator[Match]:
    """One finding per pool and identity: the kubelet's keeps its fingerprint (item: its principal)."""
    aks, ident = view.aks[cluster], on_node.identity
    judged = [v for v in verdicts(inv, ident) if v.profile and not v.profile.read_only]
    entra = privileges(view, view.object_ids.get(ident.principal))
    if not judged and not entra:
        return
    held = hits(inv.whole, ident)
    graph = reach_graph(inv) if held else None
    reached = graph.best(ident.principal, held) if graph is not None else None
    # Severity follows what the identity can do and whom it can become (FINDINGS: rises with reach).
    if any(v.admin for v in judged) or any(p.level == TENANT for p in entra) or (reached and reached.level == ADMIN):
        severity = Severity.CRITICAL
    elif held or entra:
        severity = Severity.HIGH
    else:
        severity = None
    names = sorted(n.name for n in nodes)
    what = [f"{v.role_name} on {scope_label(v.assignment.scope)}" for v in judged] + [p.name for p in entra]
    evidence = {
        "identity": ident.principal,
        "identity_role": on_node.role,
        "role_assignments": [{"id": v.assignment.id, "role": v.role_name, "scope": v.assignment.scope} for v in judged],
        "pod_link_local_access": aks.pod_link_local_access or "IMDS (default)",
        "nodes": names[:EVIDENCE_SAMPLE],
        "node_count": len(names),
        "service_accounts_on_nodes": sorted(
            {f"{w.namespace}/{w.service_account}" for n in names for w in pods.get((cluster, n), ())}
        )[:EVIDENCE_SAMPLE],
        "file": aks.source,
    }
    if on_node.role == "kubelet":
        evidence["kubelet_identity"] = ident.principal
    if entra:
        evidence["entra_privileges"] = [{"kind": p.kind, "id": p.id, "name": p.name} for p in entra]
    if reached is not None:
        evidence["reaches"] = {"identity": reached.target, "level": LEVELS[reached.level], "path": list(reached.path)}
    yield Match(
        cluster=cluster,
        node=f"agentpool/{pool}",
        item=ident.principal,
        cloud=AZURE,
        principal=ident.principal,
        source=aks.id,
        detail=("" if on_node.role == "kubelet" else f"{on_node.role} identity: ") + ", ".join(what),
        severity=severity,
        evidence=evidence,
    )


RULES = (kubelet_identity_exposed,)
