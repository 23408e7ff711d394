"""`--namespace`, `check` and `--cluster-name`: keep one cluster, namespace or ServiceAccount and what its
findings rest on."""

from __future__ import annotations

from dataclasses import dataclass

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
        errors=tuple(e for e in inventory.errors if not _of_another_cluster(e.subject, cluster, inventory)),
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
    links = tuple(link for link in inventory.links if keep(link))
    known = {c.name for c in inventory.clusters}
    mine = {link.principal for link in links}
    others = {link.principal for link in inventory.links} - mine
    scope = _Scope(clusters, known, namespace, name, used_nodes, mine, others)
    return inventory.with_(
        unnarrowed=inventory.whole,
        clusters=tuple(c for c in inventory.clusters if c.name in clusters),
        namespaces=tuple(n for n in inventory.namespaces if n.name == namespace),
        service_accounts=service_accounts,
        workloads=workloads,
        nodes=tuple(n for n in inventory.nodes if (n.cluster, n.name) in used_nodes),
        links=links,
        errors=tuple(e for e in inventory.errors if scope.concerns(e.subject)),
        scope=namespace if name is None else f"{namespace}/{name}",
    )


@dataclass(frozen=True)
class _Scope:
    """What a narrowed run is about, to tell which coverage errors concern it."""

    clusters: set[str]
    known_clusters: set[str]
    namespace: str
    name: str | None
    nodes: set[tuple[str, str | None]]
    principals: set[str]
    other_principals: set[str]
    """Identities only ServiceAccounts outside the scope take: their gaps are not the scope's."""

    def concerns(self, subject: str | None) -> bool:
        """Kept: no subject (the whole source), one of its clusters, its namespace (`cluster/ns`), its
        ServiceAccount, a node its pods run on, or a principal it takes. Unknown subject shapes (an
        account, a project) are kept: they may concern it, and a gap is never dropped on a guess."""
        if subject is None or subject in self.clusters or subject in self.principals:
            return True
        if subject in self.other_principals:
            return False
        parts = subject.split("/")
        if parts[0] not in self.clusters:
            return parts[0] not in self.known_clusters  # another cluster's; else a shape we keep
        if len(parts) == 2:
            return parts[1] == self.namespace
        if len(parts) == 3 and parts[1] == "node":
            return (parts[0], parts[2]) in self.nodes
        if len(parts) == 3:
            return parts[1] == self.namespace and self.name in (None, parts[2])
        return True


def _of_another_cluster(subject: str | None, cluster: str, inventory: Inventory) -> bool:
    """A subject (`cluster`, `cluster/ns/sa`, `cluster/node/x`) of a cluster other than `cluster`; a
    principal, account or project is nobody's and stays (a role ARN with a path has slashes too)."""
    if subject is None:
        return False
    head = subject.split("/")[0]
    return head != cluster and inventory.cluster(head) is not None
