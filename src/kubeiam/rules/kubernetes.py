"""Rules that need no cloud: what the Kubernetes objects alone show."""

from __future__ import annotations

from collections.abc import Iterator

from kubeiam.annotations import BY_KEY, near_miss
from kubeiam.credentials import STATIC_CREDENTIAL_VARIABLES
from kubeiam.findings import Category, Severity
from kubeiam.model import Cloud, Inventory
from kubeiam.rules.base import Match, rule


@rule(
    "K8S-001",
    "Static cloud credentials in pod environment",
    Category.STATIC_CREDENTIAL,
    Severity.HIGH,
    rationale=(
        "Cloud SDKs read AWS_ACCESS_KEY_ID / AZURE_CLIENT_SECRET / GOOGLE_APPLICATION_CREDENTIALS "
        "before workload identity. A long-lived key in a pod never rotates, leaks with any env dump "
        "and outlives the workload."
    ),
    remediation=(
        "Remove the variables and the Secret holding the key, revoke the key, and bind the "
        "ServiceAccount to a cloud identity (IRSA or EKS Pod Identity, GKE Workload Identity, "
        "Azure Workload Identity)."
    ),
    references=(
        "https://docs.aws.amazon.com/eks/latest/userguide/iam-roles-for-service-accounts.html",
        "https://cloud.google.com/iam/docs/best-practices-for-managing-service-account-keys",
    ),
)
def static_credentials_in_env(inv: Inventory) -> Iterator[Match]:
    for sa in inv.service_accounts:
        for w in inv.workloads_of(sa):
            by_cloud: dict[str, list] = {}
            for cred in w.credentials:
                cloud = STATIC_CREDENTIAL_VARIABLES.get(cred.variable)
                by_cloud.setdefault(cloud.value if cloud else "unknown", []).append(cred)
            for cloud, creds in sorted(by_cloud.items()):
                # One finding per workload and cloud: a key id and its secret are one problem.
                yield Match.for_sa(
                    sa,
                    item=f"{w.owner_kind}/{w.owner_name}:{cloud}",
                    cloud=cloud,
                    detail=f"{', '.join(sorted({c.variable for c in creds}))} in {w.owner_kind} {w.owner_name}",
                    source=f"{w.owner_kind}/{w.owner_name}",
                    evidence={
                        "workload": f"{w.owner_kind}/{w.owner_name}",
                        "pod": w.pod,
                        "variables": [
                            {
                                "container": c.container,
                                "name": c.variable,
                                "source": c.source,
                                "reference": c.reference,
                            }
                            for c in sorted(creds, key=lambda c: (c.container, c.variable))
                        ],
                        "note": "values are never read into kubeiam's output",
                    },
                )


@rule(
    "K8S-002",
    "Misspelled workload-identity annotation binds nothing",
    Category.BINDING_BROKEN,
    Severity.MEDIUM,
    rationale=(
        "A near-miss key (`eks.amazonaws.com/role_arn`, `iam.gke.io/gcp-service-acount`) is "
        "ignored by the webhook or metadata server; the pod silently falls back to the node's "
        "credentials."
    ),
    remediation="Rename the annotation to the exact documented key.",
)
def near_miss_annotation(inv: Inventory) -> Iterator[Match]:
    for sa in inv.service_accounts:
        for key, value in sorted(sa.annotations.items()):
            meant = near_miss(key)
            if meant is None or meant.key in sa.annotations:
                continue
            yield Match.for_sa(
                sa,
                item=key,
                cloud=meant.cloud.value,
                detail=f"'{key}' should be '{meant.key}'",
                evidence={"annotation": key, "value": value, "expected_key": meant.key},
                remediation=f"Rename annotation '{key}' to '{meant.key}'.",
            )
    # Identity annotations under a misspelled metadata field (`metadata.annotation:`): the
    # Kubernetes reader keeps those maps in its view, since the model only has real annotations.
    misplaced = getattr(inv.views.get("kubernetes"), "misplaced_annotations", None) or {}
    for sa in inv.service_accounts:
        for field, stray in sorted(misplaced.get(sa.key, {}).items()):
            for key, value in sorted(stray.items()):
                meant = BY_KEY.get(key) or near_miss(key)
                if meant is None or meant.key in sa.annotations:
                    continue
                yield Match.for_sa(
                    sa,
                    item=f"metadata.{field}/{key}",
                    cloud=meant.cloud.value,
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
            ann = BY_KEY.get(key)
            # Why no strip: the webhook passes the value on as written; a stray space or newline breaks it.
            if ann is None or ann.value_pattern.fullmatch(value):
                continue
            yield Match.for_sa(
                sa,
                item=key,
                cloud=ann.cloud.value,
                detail=f"{key} is not {ann.expected.split(' (')[0]}",
                evidence={"annotation": key, "value": value, "expected": ann.expected},
                remediation=f"Set '{key}' to {ann.expected}.",
            )


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
                cloud=(cluster.cloud.value if cluster and cluster.cloud else "kubernetes"),
                detail=f"{kind} {name}",
                evidence={"workload": f"{kind}/{name}", "hostNetwork": True},
            )


# Why not Azure: Azure Workload Identity is a webhook anyone can install on any cluster with an
# OIDC issuer (EKS, GKE, on-prem), so its annotation on a non-AKS cluster is legitimate.
_BOUND_TO_PLATFORM = {Cloud.AWS, Cloud.GCP}


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
            ann = BY_KEY.get(key)
            if ann and ann.cloud in _BOUND_TO_PLATFORM and ann.cloud != cluster.cloud:
                yield Match.for_sa(
                    sa,
                    item=key,
                    cloud=ann.cloud.value,
                    detail=f"{key} on a {cluster.cloud.value} cluster",
                    evidence={"annotation": key, "value": sa.annotations[key], "cluster_cloud": cluster.cloud.value},
                )


KUBERNETES_RULES = (
    static_credentials_in_env,
    near_miss_annotation,
    malformed_annotation,
    host_network,
    wrong_cloud_annotation,
)
