"""`--namespace`, `check` and `--cluster-name`: keep one cluster, namespace or ServiceAccount and what its
findings rest on."""

from __future__ import annotations

from kubeiam.vocabulary.model import Inventory


def to_cluster(inventory: Inventory, cluster: str) -> Inventory:
    """Keep only one cluster (`check CLUSTER/NAMESPACE/NAME`, `--cluster-name` offline): the same
    namespace and ServiceAccount names in another cluster are other subjects."""

    def keep(obj: object) -> bool:
        return getattr(obj, "cluster", cluster) == cluster

    return inventory.with_(
        unnarrowed=inventory.whole,
        clusters=tuple(c for c in inventory.clusters if c.name == cluster),
        namespaces=tuple(filter(keep, inventory.namespaces)),
        service_accounts=tuple(filter(keep, inventory.service_accounts)),
        workloads=tuple(filter(keep, inventory.workloads)),
        nodes=tuple(filter(keep, inventory.nodes)),
        egress_blocks=tuple(filter(keep, inventory.egress_blocks)),
        links=tuple(filter(keep, inventory.links)),
        errors=tuple(
            e
            for e in inventory.errors
            if e.subject is None or e.subject.split("/")[0] == cluster or e.subject.count("/") != 2
        ),
    )


def narrow(inventory: Inventory, namespace: str | None, name: str | None = None) -> Inventory:
    """Keep only one namespace (or one ServiceAccount) and the nodes its pods run on."""
    if namespace is None:
        return inventory

    def keep(obj: object) -> bool:
        ns = getattr(obj, "namespace", None)
        sa = getattr(obj, "service_account", getattr(obj, "name", None))
        return ns == namespace and (name is None or sa == name)

    workloads = tuple(w for w in inventory.workloads if keep(w))
    service_accounts = tuple(s for s in inventory.service_accounts if keep(s))
    used_nodes = {(w.cluster, w.node) for w in workloads}
    # Cluster-level rules (launch templates, node pools) iterate clusters: keep only the ones the
    # narrowed ServiceAccounts live in, so `check` says nothing about unrelated clusters.
    clusters = {s.cluster for s in service_accounts} | {w.cluster for w in workloads}
    return inventory.with_(
        unnarrowed=inventory.whole,
        clusters=tuple(c for c in inventory.clusters if c.name in clusters),
        namespaces=tuple(n for n in inventory.namespaces if n.name == namespace),
        service_accounts=service_accounts,
        workloads=workloads,
        nodes=tuple(n for n in inventory.nodes if (n.cluster, n.name) in used_nodes),
        links=tuple(link for link in inventory.links if keep(link)),
        errors=tuple(e for e in inventory.errors if e.subject is None or _subject_in(e.subject, namespace, name)),
        scope=namespace if name is None else f"{namespace}/{name}",
    )


def _subject_in(subject: str, namespace: str, name: str | None) -> bool:
    parts = subject.split("/")
    if len(parts) != 3:  # a principal or cluster-level subject: keep, it may concern this SA
        return True
    return parts[1] == namespace and (name is None or parts[2] == name)
