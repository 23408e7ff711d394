"""Coverage entries for AWS evidence that is partial: what was resolved without all that decides it, and
files absent while the cluster's other files are there. Each names the subject whose findings it may
hide (a cluster name, `cluster/ns/sa`) and the rules concerned, so a baseline marks exactly those findings
`not_rechecked`, never `resolved`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from kubeiam.vocabulary.model import CoverageError, IdentityLink, Inventory, LinkStatus
from kubeiam_aws.evidence.eks import ASSOCIATIONS, NODEGROUP_RULES, NODEGROUPS, POD_IDENTITY_RULES, EksFiles
from kubeiam_aws.evidence.oidc import OidcProviders
from kubeiam_aws.view import EksCluster

_TRUST_RULES = ("AWS-004", "AWS-005")
"""What the cluster's issuer decides: a binding broken by the trust, a second cluster's provider."""


def partial_trust_evidence(
    inventory: Inventory, links: list[IdentityLink], oidc: Mapping[str, OidcProviders]
) -> list[CoverageError]:
    """IRSA links resolved without all the evidence that decides them: say so rather than pass them."""
    out = []
    clusters = {c.name: c for c in inventory.clusters}
    no_issuer: dict[str, int] = {}
    no_providers: dict[tuple[str, str], int] = {}
    for link in links:
        if link.mechanism != "irsa" or link.status is not LinkStatus.RESOLVED:
            continue
        cluster = clusters.get(link.cluster)
        if cluster is None or cluster.issuer is None:
            no_issuer[link.cluster] = no_issuer.get(link.cluster, 0) + 1
        account = link.principal.split(":")[4]
        providers = oidc.get(account)
        if providers is None or providers.unread:
            key = (account, link.cluster)
            no_providers[key] = no_providers.get(key, 0) + 1
    for name, count in sorted(no_issuer.items()):
        out.append(
            CoverageError(
                "aws",
                f"kubernetes/{name}/openid-configuration.json",
                f"cluster issuer unknown: the IRSA trust of {count} ServiceAccount(s) was not verified "
                "(a broken binding would go unreported)",
                subject=name,
                rules=_TRUST_RULES,
            )
        )
    for (account, cluster_name), count in sorted(no_providers.items()):
        what = "not read in full" if account in oidc else "file absent"
        out.append(
            CoverageError(
                "aws",
                f"aws/{account}/oidc-providers.json",
                f"{what}: whether account {account} has the IAM OIDC provider its roles' trust names was not "
                f"checked for {count} ServiceAccount(s)",
                subject=cluster_name,
                rules=("AWS-004",),
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
            subject=cluster.name,
        )
        for cluster, f in zip(eks, files, strict=True)
        if cluster.k8s_cluster is None and f.associations
    ]


_ABSENT = {
    NODEGROUPS: ("the launch templates of its managed node groups are not checked", NODEGROUP_RULES),
    ASSOCIATIONS: ("its EKS Pod Identity associations are not checked", POD_IDENTITY_RULES),
}


def eks_gaps(eks: list[EksCluster], files: list[EksFiles]) -> list[CoverageError]:
    """Items of an EKS cluster's files that could not be read, and its files that are absent."""
    out = []
    for cluster, f in zip(eks, files, strict=True):
        subject = cluster.k8s_cluster or cluster.name
        for p in f.problems:
            sa = p.service_account
            out.append(replace(p.error, subject=f"{subject}/{sa[0]}/{sa[1]}" if sa else subject))
        if cluster.k8s_cluster is None:
            continue  # nothing of the Kubernetes evidence depends on it (unmatched_eks says so when it matters)
        for name in f.absent:
            what, rules = _ABSENT[name]
            out.append(CoverageError("aws", f"{f.base}/{name}", f"file absent: {what}", subject=subject, rules=rules))
    return out
