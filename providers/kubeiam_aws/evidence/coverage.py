"""Coverage entries for AWS evidence that is partial: what was resolved without all that decides it."""

from __future__ import annotations

from collections.abc import Mapping

from kubeiam.vocabulary.model import CoverageError, IdentityLink, Inventory, LinkStatus
from kubeiam_aws.evidence.eks import EksFiles
from kubeiam_aws.view import EksCluster


def partial_trust_evidence(
    inventory: Inventory, links: list[IdentityLink], oidc: Mapping[str, frozenset[str]]
) -> list[CoverageError]:
    """IRSA links resolved without all the evidence that decides them: say so rather than pass them."""
    out = []
    clusters = {c.name: c for c in inventory.clusters}
    no_issuer: dict[str, int] = {}
    no_providers: dict[str, int] = {}
    for link in links:
        if link.mechanism != "irsa" or link.status is not LinkStatus.RESOLVED:
            continue
        cluster = clusters.get(link.cluster)
        if cluster is None or cluster.issuer is None:
            no_issuer[link.cluster] = no_issuer.get(link.cluster, 0) + 1
        account = link.principal.split(":")[4]
        if account not in oidc:
            no_providers[account] = no_providers.get(account, 0) + 1
    for name, count in sorted(no_issuer.items()):
        out.append(
            CoverageError(
                "aws",
                f"kubernetes/{name}/openid-configuration.json",
                f"cluster issuer unknown: the IRSA trust of {count} ServiceAccount(s) was not verified "
                "(a broken binding would go unreported)",
                subject=f"cluster {name}",
            )
        )
    for account, count in sorted(no_providers.items()):
        out.append(
            CoverageError(
                "aws",
                f"aws/{account}/oidc-providers.json",
                f"file absent: whether account {account} has the IAM OIDC provider its roles' trust names was not "
                f"checked for {count} ServiceAccount(s)",
            )
        )
    return out


def unmatched_eks(eks: list[EksCluster], files: list[EksFiles]) -> list[CoverageError]:
    return [
        CoverageError(
            "aws",
            cluster.source,
            f"EKS cluster {cluster.name} matches no Kubernetes evidence cluster (by issuer or name): its "
            f"{len(f.associations)} Pod Identity association(s) are not checked",
            subject=f"cluster {cluster.name}",
        )
        for cluster, f in zip(eks, files, strict=True)
        if cluster.k8s_cluster is None and f.associations
    ]
