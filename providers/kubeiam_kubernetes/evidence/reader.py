"""`read(evidence, inventory)`: every `kubernetes/<cluster>/` folder into the model and the Kubernetes view."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubeiam.pipeline.evidence import Evidence
from kubeiam.vocabulary.model import Cluster, EgressBlock, Inventory, Namespace, Node, ServiceAccount, Workload
from kubeiam_kubernetes.evidence.coverage import implicit_service_accounts
from kubeiam_kubernetes.evidence.network_policies import egress_blocks
from kubeiam_kubernetes.evidence.openid import load_issuer
from kubeiam_kubernetes.evidence.resources import ClusterResources, load_items
from kubeiam_kubernetes.view import NAME, KubernetesView, ServiceAccountKey

# Kinds the model holds (Secrets: only their key names, inside the workloads' credentials).
_IN_THE_MODEL = {"Namespace", "ServiceAccount", "Pod", "Node", "Secret"}


def read(evidence: Evidence, inventory: Inventory) -> Inventory:
    clusters: list[Cluster] = []
    namespaces: list[Namespace] = []
    sas: list[ServiceAccount] = []
    workloads: list[Workload] = []
    nodes: list[Node] = []
    blocks: list[EgressBlock] = []
    extras: list[Mapping[str, Any]] = []
    misplaced: dict[ServiceAccountKey, dict[str, dict[str, str]]] = {}
    for name in evidence.children("kubernetes"):
        base = f"kubernetes/{name}"
        items = load_items(evidence, f"{base}/resources.json")
        issuer = load_issuer(evidence, f"{base}/openid-configuration.json")
        if items is None and issuer is None:
            continue
        parsed = ClusterResources.of(name, items or [], inventory.declarations)
        clusters.append(Cluster(name=name, cloud=parsed.cloud(), issuer=issuer, source=f"{base}/resources.json"))
        namespaces += parsed.namespaces()
        sas += parsed.service_accounts()
        misplaced.update(parsed.misplaced_annotations())
        workloads += parsed.workloads()
        nodes += parsed.nodes()
        blocks += egress_blocks(name, parsed.by_kind)
        extras += [
            {"cluster": name, **obj}
            for kind, objs in parsed.by_kind.items()
            if kind not in _IN_THE_MODEL
            for obj in objs
        ]
    sas += implicit_service_accounts(sas, workloads)
    views = dict(inventory.views)
    views[NAME] = KubernetesView(tuple(extras), misplaced)
    return inventory.with_(
        clusters=inventory.clusters + tuple(clusters),
        namespaces=inventory.namespaces + tuple(namespaces),
        service_accounts=inventory.service_accounts + tuple(sorted(sas, key=lambda s: s.key)),
        workloads=inventory.workloads + tuple(workloads),
        nodes=inventory.nodes + tuple(nodes),
        egress_blocks=inventory.egress_blocks + tuple(blocks),
        views=views,
    )
