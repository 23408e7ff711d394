"""K8S-001: long-lived cloud keys in pod environments (the variables each cloud provider declares)."""

from __future__ import annotations

from collections.abc import Iterator

from kubeiam.vocabulary.findings import Category, Severity
from kubeiam.vocabulary.model import Inventory
from kubeiam.vocabulary.rules import Match, rule


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
                cloud = inv.declarations.credential_clouds.get(cred.variable)
                by_cloud.setdefault(cloud if cloud else "unknown", []).append(cred)
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


RULES = (static_credentials_in_env,)
