"""K8S-004: pods on the node's network, where IMDS hop limits and pod egress policies do not apply."""

from __future__ import annotations

from collections.abc import Iterator

from kubeiam.vocabulary.findings import Category, Severity
from kubeiam.vocabulary.model import Inventory
from kubeiam.vocabulary.rules import Match, rule
from kubeiam_kubernetes.declarations import KUBERNETES


@rule(
    "K8S-004",
    "Pods run with hostNetwork",
    Category.IMDS_EXPOSURE,
    Severity.MEDIUM,
    rationale=(
        "A hostNetwork pod shares the node's network namespace: IMDS hop limits and pod egress "
        "policies do not apply, so it can take the node's cloud credentials."
    ),
    remediation="Drop hostNetwork unless the workload needs it (CNI, node agents); if it does, "
    "give its node role nothing beyond what the node needs.",
)
def host_network(inv: Inventory) -> Iterator[Match]:
    for sa in inv.service_accounts:
        owners = sorted({(w.owner_kind, w.owner_name, w.node or "") for w in inv.workloads_of(sa) if w.host_network})
        for kind, name, _node in owners:
            cluster = inv.cluster(sa.cluster)
            yield Match.for_sa(
                sa,
                item=f"{kind}/{name}",
                cloud=(cluster.cloud if cluster and cluster.cloud else KUBERNETES),
                detail=f"{kind} {name}",
                evidence={"workload": f"{kind}/{name}", "hostNetwork": True},
            )


RULES = (host_network,)
