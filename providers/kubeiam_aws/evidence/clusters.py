"""Which Kubernetes evidence cluster is which EKS cluster, and its stable id (the EKS ARN) for fingerprints.

The ARN comes from the first source that gives it: `describe-cluster` (cluster.json), the kubeconfig's
name for the cluster (an EKS ARN when `aws eks update-kubeconfig` wrote it), the cluster's EKS folder
(`aws/ACCOUNT/REGION/eks/NAME/`), or the issuer (its region) with the account whose IAM OIDC provider
names that issuer. So a finding keeps its fingerprint whether or not the optional cluster.json is there.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import replace

from kubeiam.vocabulary.model import Cluster, Inventory
from kubeiam_aws.declarations import AWS
from kubeiam_aws.evidence.eks import EksFiles
from kubeiam_aws.judge.trust import issuer_host, web_identity_grants
from kubeiam_aws.view import EksCluster, Role

EKS_ARN = re.compile(r"^arn:(aws|aws-cn|aws-us-gov|aws-iso|aws-iso-b):eks:([a-z0-9-]+):(\d{12}):cluster/([\w.-]+)$")
_EKS_ISSUER = re.compile(r"^oidc\.eks\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/id/[0-9a-z]+$")


def partition(region: str) -> str:
    return "aws-cn" if region.startswith("cn-") else "aws-us-gov" if region.startswith("us-gov-") else "aws"


def built_arn(region: str, account: str, name: str) -> str:
    return f"arn:{partition(region)}:eks:{region}:{account}:cluster/{name}"


def match_clusters(
    inventory: Inventory,
    files: list[EksFiles],
    providers: Mapping[str, Iterable[str]],
    roles: Iterable[Role],
    node_accounts: Mapping[str, set[str]],
) -> tuple[list[Cluster], list[EksCluster]]:
    """Pair each EKS cluster with a Kubernetes evidence cluster (by issuer first, else by name) and give
    every EKS-looking Kubernetes cluster its stable id. `providers`: account -> OIDC provider hosts;
    `node_accounts`: cluster -> accounts whose ec2-instances.json holds its nodes."""
    clusters = list(inventory.clusters)
    eks = []
    matched: set[str] = set()
    for f in files:
        host = issuer_host(f.issuer)
        match = next((c for c in clusters if host and issuer_host(c.issuer) == host), None)
        if match is None:
            # By name only when an issuer cannot decide (one side does not know it).
            match = next((c for c in clusters if c.name == f.name and (c.issuer is None or host is None)), None)
        arn = f.arn or (_kubeconfig_arn(match) if match else None) or built_arn(f.region, f.account, f.name)
        if match is not None:
            matched.add(match.name)
            updated = replace(
                match, stable_id=match.stable_id or arn, issuer=match.issuer or f.issuer, cloud=match.cloud or AWS
            )
            clusters[clusters.index(match)] = updated
        source = f"{f.base}/cluster.json"
        eks.append(EksCluster(f.name, arn, f.account, f.region, f.issuer, match.name if match else None, source))
    owners = _provider_accounts(providers, roles)
    for i, c in enumerate(clusters):
        if c.name not in matched and c.stable_id is None:
            found = _kubeconfig_arn(c) or _from_issuer(c, owners, node_accounts)
            if found is not None:
                clusters[i] = replace(c, stable_id=found)
    return clusters, eks


def _kubeconfig_arn(cluster: Cluster) -> str | None:
    name = cluster.kubeconfig_name
    return name if name and EKS_ARN.match(name) else None


def _from_issuer(cluster: Cluster, owners: Mapping[str, set[str]], nodes: Mapping[str, set[str]]) -> str | None:
    """`arn:...:eks:REGION:ACCOUNT:cluster/NAME` from an EKS issuer and its account: the one whose instances run
    the cluster's nodes, else the one account with an IAM OIDC provider for the issuer (a provider may be
    made in several accounts for cross-account roles: then the account is not known)."""
    host = issuer_host(cluster.issuer)
    m = _EKS_ISSUER.match(host or "")
    if m is None:
        return None
    accounts = nodes.get(cluster.name) or owners.get(host or "", set())
    return built_arn(m.group(1), next(iter(accounts)), cluster.name) if len(accounts) == 1 else None


def _provider_accounts(providers: Mapping[str, Iterable[str]], roles: Iterable[Role]) -> dict[str, set[str]]:
    """Issuer host -> accounts with an IAM OIDC provider for it (oidc-providers.json, else roles' trust)."""
    listed: dict[str, set[str]] = {}
    for account, hosts in providers.items():
        for host in hosts:
            listed.setdefault(host, set()).add(account)
    trusted: dict[str, set[str]] = {}
    for role in roles:
        for grant in web_identity_grants(role.trust):
            trusted.setdefault(grant.host, set()).add(grant.account)
    return {host: listed.get(host) or trusted[host] for host in listed.keys() | trusted.keys() if host}
