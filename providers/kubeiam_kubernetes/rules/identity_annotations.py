"""K8S-002, 003, 005: workload-identity annotations that bind nothing (the keys each cloud provider declares)."""

from __future__ import annotations

from collections.abc import Iterator

from kubeiam.vocabulary.findings import Category, Severity
from kubeiam.vocabulary.model import Inventory
from kubeiam.vocabulary.rules import Match, rule
from kubeiam_kubernetes.view import kubernetes_view


@rule(
    "K8S-002",
    "Misspelled workload-identity annotation binds nothing",
    Category.BINDING_BROKEN,
    Severity.MEDIUM,
    rationale=(
        "A near-miss key (`.../role_arn`, `.../gcp-service-acount`) is ignored by the webhook or "
        "metadata server; the pod silently falls back to the node's credentials."
    ),
    remediation="Rename the annotation to the exact documented key.",
)
def near_miss_annotation(inv: Inventory) -> Iterator[Match]:
    for sa in inv.service_accounts:
        for key, value in sorted(sa.annotations.items()):
            meant = inv.declarations.near_miss(key)
            if meant is None or meant.key in sa.annotations:
                continue
            yield Match.for_sa(
                sa,
                item=key,
                cloud=meant.cloud,
                detail=f"'{key}' should be '{meant.key}'",
                evidence={"annotation": key, "value": value, "expected_key": meant.key},
                remediation=f"Rename annotation '{key}' to '{meant.key}'.",
            )
    # Identity annotations under a misspelled metadata field (`metadata.annotation:`): the
    # Kubernetes reader keeps those maps in its view, since the model only has real annotations.
    misplaced = kubernetes_view(inv).misplaced_annotations
    for sa in inv.service_accounts:
        for field, stray in sorted(misplaced.get(sa.key, {}).items()):
            for key, value in sorted(stray.items()):
                meant = inv.declarations.by_key.get(key) or inv.declarations.near_miss(key)
                if meant is None or meant.key in sa.annotations:
                    continue
                yield Match.for_sa(
                    sa,
                    item=f"metadata.{field}/{key}",
                    cloud=meant.cloud,
                    detail=f"'{key}' is under metadata.{field}, not metadata.annotations",
                    evidence={
                        "field": f"metadata.{field}",
                        "annotation": key,
                        "value": value,
                        "expected_key": meant.key,
                    },
                    remediation=f"Move '{key}' under metadata.annotations (spelled '{meant.key}').",
                )


@rule(
    "K8S-003",
    "Workload-identity annotation value is malformed",
    Category.BINDING_BROKEN,
    Severity.MEDIUM,
    rationale=(
        "A role ARN that is not an ARN, a Google service account that is not an email or a "
        "client id that is not a GUID resolves to nothing: the workload gets no cloud identity "
        "(or the node's)."
    ),
    remediation="Set the annotation to the identity's exact id.",
)
def malformed_annotation(inv: Inventory) -> Iterator[Match]:
    for sa in inv.service_accounts:
        for key, value in sorted(sa.annotations.items()):
            ann = inv.declarations.by_key.get(key)
            # Why no strip: the webhook passes the value on as written; a stray space or newline breaks it.
            if ann is None or ann.value_pattern.fullmatch(value):
                continue
            yield Match.for_sa(
                sa,
                item=key,
                cloud=ann.cloud,
                detail=f"{key} is not {ann.expected.split(' (')[0]}",
                evidence={"annotation": key, "value": value, "expected": ann.expected},
                remediation=f"Set '{key}' to {ann.expected}.",
            )


@rule(
    "K8S-005",
    "Workload-identity annotation for a cloud the cluster does not run on",
    Category.BINDING_BROKEN,
    Severity.MEDIUM,
    rationale=(
        "IRSA needs the EKS pod identity webhook and GKE Workload Identity needs the GKE metadata "
        "server; on another platform the annotation binds nothing."
    ),
    remediation="Use the workload identity of the cluster's own cloud, or federate explicitly.",
)
def wrong_cloud_annotation(inv: Inventory) -> Iterator[Match]:
    for sa in inv.service_accounts:
        cluster = inv.cluster(sa.cluster)
        if cluster is None or cluster.cloud is None:
            continue
        for key in sorted(sa.annotations):
            ann = inv.declarations.by_key.get(key)
            if ann and ann.platform_bound and ann.cloud != cluster.cloud:
                yield Match.for_sa(
                    sa,
                    item=key,
                    cloud=ann.cloud,
                    detail=f"{key} on a {cluster.cloud} cluster",
                    evidence={"annotation": key, "value": sa.annotations[key], "cluster_cloud": cluster.cloud},
                )


RULES = (near_miss_annotation, malformed_annotation, wrong_cloud_annotation)
