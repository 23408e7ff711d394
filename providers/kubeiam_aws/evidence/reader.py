"""Read the AWS evidence into the inventory: roles, IRSA and Pod Identity links, nodes' IMDS settings."""

from __future__ import annotations

from dataclasses import replace

from kubeiam.pipeline.evidence import Evidence
from kubeiam.vocabulary.model import Cluster, CoverageError, Inventory
from kubeiam_aws.declarations import AWS
from kubeiam_aws.evidence.coverage import partial_trust_evidence, unmatched_eks
from kubeiam_aws.evidence.ec2 import Instance, LaunchTemplateVersion, read_instances, read_launch_templates
from kubeiam_aws.evidence.eks import EksFiles, read_eks
from kubeiam_aws.evidence.iam import read_account_iam
from kubeiam_aws.evidence.links import RoleIndex, irsa_links, pod_identity_links
from kubeiam_aws.evidence.nodes import node_templates, read_nodes
from kubeiam_aws.evidence.oidc import read_oidc_providers
from kubeiam_aws.judge.trust import issuer_host
from kubeiam_aws.view import AwsView, EksCluster, Role


def read(evidence: Evidence, inventory: Inventory) -> Inventory:
    roles: list[Role] = []
    errors: list[CoverageError] = []
    accounts: set[str] = set()
    oidc: dict[str, frozenset[str]] = {}
    instances: dict[str, Instance] = {}
    templates: list[LaunchTemplateVersion] = []
    eks_files: list[EksFiles] = []
    for account in evidence.children("aws"):
        iam = read_account_iam(evidence, account)
        if iam is not None:
            accounts.add(account)
            roles += iam[0]
            errors += iam[1]
        providers = read_oidc_providers(evidence, account)
        if providers is not None:
            oidc[account] = providers
        for region in evidence.children(f"aws/{account}"):
            instances.update((i.instance_id, i) for i in read_instances(evidence, account, region))
            templates += read_launch_templates(evidence, account, region)
            eks_files += read_eks(evidence, account, region)
    index = RoleIndex.of(roles)
    profiles = {p: r.arn for r in roles for p in r.instance_profiles}
    clusters, eks = _match_clusters(inventory, eks_files)
    by_cluster = {c.name: c for c in clusters}
    links = irsa_links(inventory, by_cluster, index, accounts, oidc)
    links += pod_identity_links(inventory, eks, eks_files, index, accounts)
    nodes, node_errors = read_nodes(inventory, instances, profiles, bool(evidence.children("aws")))
    errors += partial_trust_evidence(inventory, links, oidc)
    errors += unmatched_eks(eks, eks_files)
    view = AwsView(
        roles=index.by_arn,
        accounts=frozenset(accounts),
        oidc_providers=oidc,
        eks=tuple(eks),
        nodes=tuple(nodes),
        templates=tuple(node_templates(inventory, eks, eks_files, templates, index.by_arn, profiles, errors)),
        links=tuple(links),
        profiles=profiles,
    )
    views = dict(inventory.views)
    views["aws"] = view
    return inventory.with_(
        clusters=tuple(clusters),
        links=inventory.links + tuple(links),
        errors=inventory.errors + tuple(errors) + tuple(node_errors),
        views=views,
    )


def _match_clusters(inventory: Inventory, files: list[EksFiles]) -> tuple[list[Cluster], list[EksCluster]]:
    """Pair each EKS cluster with a Kubernetes evidence cluster: by issuer first, else by name."""
    clusters = list(inventory.clusters)
    eks = []
    for f in files:
        issuer = ((f.cluster.get("identity") or {}).get("oidc") or {}).get("issuer")
        host = issuer_host(issuer)
        match = next((c for c in clusters if host and issuer_host(c.issuer) == host), None)
        if match is None:
            # By name only when an issuer cannot decide (one side does not know it).
            match = next((c for c in clusters if c.name == f.name and (c.issuer is None or host is None)), None)
        arn = str(f.cluster.get("arn") or f"arn:aws:eks:{f.region}:{f.account}:cluster/{f.name}")
        if match is not None:
            updated = replace(
                match, stable_id=match.stable_id or arn, issuer=match.issuer or issuer, cloud=match.cloud or AWS
            )
            clusters[clusters.index(match)] = updated
        eks.append(
            EksCluster(
                f.name, arn, f.account, f.region, issuer, match.name if match else None, f"{f.base}/cluster.json"
            )
        )
    return clusters, eks
