"""Read the AWS evidence into the inventory: roles, IRSA and Pod Identity links, nodes' IMDS settings."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace

from kubeiam.annotations import AWS_ROLE_ARN
from kubeiam.evidence import Evidence
from kubeiam.model import (
    Cloud,
    CloudIdentity,
    Cluster,
    CoverageError,
    IdentityLink,
    Inventory,
    LinkStatus,
)
from kubeiam_aws.compute_reader import (
    EksFiles,
    Instance,
    LaunchTemplateVersion,
    read_eks,
    read_instances,
    read_launch_templates,
)
from kubeiam_aws.coverage import partial_trust_evidence, unmatched_eks
from kubeiam_aws.iam_reader import read_account_iam, read_oidc_providers
from kubeiam_aws.node_reader import node_templates, read_nodes
from kubeiam_aws.trust import (
    IrsaTrust,
    PodIdentitySession,
    issuer_host,
    pod_identity_refusal,
    trusts_role,
)
from kubeiam_aws.view import AwsView, EksCluster, Role

ROLE_ARN = re.compile(
    r"^arn:(aws|aws-cn|aws-us-gov|aws-iso|aws-iso-b):iam::(\d{12}):role/(?:[\w+=,.@/-]*/)?([\w+=,.@-]+)$"
)


class _Roles:
    """Role look-up by ARN. Role names are case-insensitive in IAM; the path is part of the ARN, so a role
    of the same name under another path is another role (STS refuses the annotation's ARN)."""

    def __init__(self, roles: list[Role]) -> None:
        self.by_arn = {r.arn: r for r in roles}
        self.folded = {_fold(r.arn): r for r in roles}

    def find(self, arn: str) -> Role | None:
        return self.by_arn.get(arn) or self.folded.get(_fold(arn))


def _fold(arn: str) -> str:
    head, _, name = arn.rpartition("/")
    return f"{head}/{name.lower()}"


def read_aws(evidence: Evidence, inventory: Inventory) -> Inventory:
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
    index = _Roles(roles)
    profiles = {p: r.arn for r in roles for p in r.instance_profiles}
    clusters, eks = _match_clusters(inventory, eks_files)
    by_cluster = {c.name: c for c in clusters}
    links = _irsa_links(inventory, by_cluster, index, accounts, oidc)
    links += _pod_identity_links(inventory, eks, eks_files, index, accounts)
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
                match, stable_id=match.stable_id or arn, issuer=match.issuer or issuer, cloud=match.cloud or Cloud.AWS
            )
            clusters[clusters.index(match)] = updated
        eks.append(
            EksCluster(
                f.name, arn, f.account, f.region, issuer, match.name if match else None, f"{f.base}/cluster.json"
            )
        )
    return clusters, eks


def _identity(role: Role) -> CloudIdentity:
    grants = role.grants + ((role.boundary,) if role.boundary else ())
    return CloudIdentity(Cloud.AWS, role.arn, "iam-role", role.name, grants, role.source)


def _irsa_links(
    inventory: Inventory,
    clusters: Mapping[str, Cluster],
    roles: _Roles,
    accounts: set[str],
    oidc: Mapping[str, frozenset[str]],
) -> list[IdentityLink]:
    links = []
    trusts: dict[tuple[str, str | None], IrsaTrust] = {}
    identities: dict[str, CloudIdentity] = {}  # one per role, shared by its ServiceAccounts' links
    for sa in inventory.service_accounts:
        value = (sa.annotations.get(AWS_ROLE_ARN) or "").strip()
        m = ROLE_ARN.match(value)
        if not m:
            continue  # absent or malformed: the core's K8S-003 reports a malformed value
        account = m.group(2)
        link = IdentityLink(sa.cluster, sa.namespace, sa.name, Cloud.AWS, "irsa", value, LinkStatus.UNCHECKED)
        role, done = _find_role(link, account, roles, accounts, inventory)
        if role is None:
            links.append(done)
            continue
        cluster = clusters.get(sa.cluster)
        key = (role.arn, cluster.issuer if cluster else None)
        trust = trusts.get(key)
        if trust is None:
            # Once per role and cluster: only the `sub` test below depends on the ServiceAccount.
            trust = trusts[key] = IrsaTrust.of(
                role.account, role.trust, cluster.issuer if cluster else None, oidc.get(account)
            )
        status, reason = trust.verdict(sa)
        identity = identities.get(role.arn) or identities.setdefault(role.arn, _identity(role))
        links.append(
            IdentityLink(sa.cluster, sa.namespace, sa.name, Cloud.AWS, "irsa", role.arn, status, identity, reason)
        )
    return links


def _find_role(
    link: IdentityLink, account: str, roles: _Roles, accounts: set[str], inventory: Inventory
) -> tuple[Role, None] | tuple[None, IdentityLink]:
    """The role a link names, or the finished link when there is no role to judge."""
    if account not in accounts:
        return None, replace(link, reason=f"no aws/{account}/iam.json in the evidence: role not checked")
    role = roles.find(link.principal)
    if role is None:
        return None, _absent(link, link.principal, account, inventory)
    return role, None


def _absent(link: IdentityLink, arn: str, account: str, inventory: Inventory) -> IdentityLink:
    """A role not in iam.json: missing, unless the collection that wrote it could not read it."""
    # Why: a denied GetRole leaves the role out of iam.json; calling it "missing" would report a
    # broken binding that may not be broken. The live collector records such calls as errors.
    for e in inventory.errors:
        if e.source == "aws" and arn in e.location:
            return replace(link, reason=f"role not collected ({e.location}: {e.reason})")
    return replace(link, status=LinkStatus.MISSING, reason=f"role {arn} does not exist in account {account}")


def _pod_identity_links(
    inventory: Inventory, eks: list[EksCluster], files: list[EksFiles], roles: _Roles, accounts: set[str]
) -> list[IdentityLink]:
    known = {sa.key for sa in inventory.service_accounts}
    links = []
    for cluster, f in zip(eks, files, strict=True):
        if cluster.k8s_cluster is None:
            continue
        for a in f.associations:
            key = (cluster.k8s_cluster, str(a["namespace"]), str(a["serviceAccount"]))
            if key not in known:
                continue
            arn = str(a["roleArn"])
            m = ROLE_ARN.match(arn)
            account = m.group(2) if m else cluster.account
            link = IdentityLink(*key, Cloud.AWS, "eks-pod-identity", arn, LinkStatus.UNCHECKED)
            role, done = _find_role(link, account, roles, accounts, inventory)
            if role is None:
                links.append(done)
                continue
            session = PodIdentitySession(
                account=cluster.account,
                cluster_arn=cluster.arn,
                cluster_name=cluster.name,
                namespace=key[1],
                service_account=key[2],
                session_tags=not a.get("disableSessionTags"),
            )
            refusal = pod_identity_refusal(role.trust, session)
            if refusal is not None:
                links.append(
                    replace(
                        link,
                        principal=role.arn,
                        status=LinkStatus.UNTRUSTED,
                        identity=_identity(role),
                        reason=refusal,
                    )
                )
            else:
                links.append(
                    replace(
                        link,
                        principal=role.arn,
                        status=LinkStatus.RESOLVED,
                        identity=_identity(role),
                        reason="Pod Identity association",
                    )
                )
                if a.get("targetRoleArn"):
                    links.append(_target_link(link, role, str(a["targetRoleArn"]), roles, accounts, inventory))
    return links


def _target_link(
    link: IdentityLink, source: Role, target_arn: str, roles: _Roles, accounts: set[str], inventory: Inventory
) -> IdentityLink:
    """A cross-account association: EKS assumes `roleArn`, then `targetRoleArn`, whose credentials the pod gets.
    Judging only `roleArn` would miss everything the pod can really do."""
    m = ROLE_ARN.match(target_arn)
    link = replace(link, principal=target_arn)
    role, done = _find_role(link, m.group(2) if m else source.account, roles, accounts, inventory)
    if role is None:
        return done
    if not trusts_role(role.trust, source.arn):
        return replace(
            link,
            principal=role.arn,
            status=LinkStatus.UNTRUSTED,
            identity=_identity(role),
            reason=f"target role's trust does not allow {source.arn} sts:AssumeRole",
        )
    return replace(
        link,
        principal=role.arn,
        status=LinkStatus.RESOLVED,
        identity=_identity(role),
        reason=f"Pod Identity target role, assumed through {source.arn}",
    )
