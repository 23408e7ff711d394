"""The AWS identity links of the ServiceAccounts: IRSA (annotation + trust) and EKS Pod Identity
(association + trust), each resolved, untrusted, missing or unchecked, with the reason."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from kubeiam.vocabulary.model import CloudIdentity, Cluster, IdentityLink, Inventory, LinkStatus
from kubeiam_aws.declarations import AWS, AWS_ROLE_ARN
from kubeiam_aws.evidence.eks import EksFiles
from kubeiam_aws.judge.trust import IrsaTrust, PodIdentitySession, pod_identity_refusal, trusts_role
from kubeiam_aws.view import EksCluster, Role

ROLE_ARN = re.compile(
    r"^arn:(aws|aws-cn|aws-us-gov|aws-iso|aws-iso-b):iam::(\d{12}):role/(?:[\w+=,.@/-]*/)?([\w+=,.@-]+)$"
)


@dataclass(frozen=True)
class RoleIndex:
    """Role look-up by ARN. Role names are case-insensitive in IAM; the path is part of the ARN, so a role
    of the same name under another path is another role (STS refuses the annotation's ARN)."""

    by_arn: Mapping[str, Role]
    folded: Mapping[str, Role]
    incomplete: Mapping[str, str] = field(default_factory=dict)
    """Account -> why a role absent from its iam.json may still exist (one page; an unreadable item)."""

    @classmethod
    def of(cls, roles: list[Role], incomplete: Mapping[str, str] | None = None) -> RoleIndex:
        return cls({r.arn: r for r in roles}, {_fold(r.arn): r for r in roles}, dict(incomplete or {}))

    def find(self, arn: str) -> Role | None:
        return self.by_arn.get(arn) or self.folded.get(_fold(arn))


def _fold(arn: str) -> str:
    head, _, name = arn.rpartition("/")
    return f"{head}/{name.lower()}"


def _identity(role: Role) -> CloudIdentity:
    grants = role.grants + ((role.boundary,) if role.boundary else ())
    return CloudIdentity(AWS, role.arn, "iam-role", role.name, grants, role.source, role.gaps)


def _unsure(role: Role, status: LinkStatus, reason: str) -> tuple[LinkStatus, str]:
    """An "untrusted" verdict drawn from a trust policy read in part is not one: the unread statement may
    admit the ServiceAccount. It stays unchecked, with why."""
    if status is LinkStatus.UNTRUSTED and not role.trust_understood:
        gap = next((g for g in role.gaps if ".AssumeRolePolicyDocument" in g.item), None)
        where = f" ({gap.item}: {gap.reason})" if gap else ""
        return LinkStatus.UNCHECKED, f"trust policy not understood in full{where}: {reason}"
    return status, reason


def irsa_links(
    inventory: Inventory,
    clusters: Mapping[str, Cluster],
    roles: RoleIndex,
    accounts: set[str],
    oidc: Mapping[str, frozenset[str]],
    client_ids: Mapping[str, Mapping[str, frozenset[str]]] | None = None,
) -> list[IdentityLink]:
    """`client_ids`: account -> OIDC provider host -> its ClientIDList (the audiences STS accepts)."""
    links = []
    trusts: dict[tuple[str, str | None], IrsaTrust] = {}
    identities: dict[str, CloudIdentity] = {}  # one per role, shared by its ServiceAccounts' links
    for sa in inventory.service_accounts:
        value = (sa.annotations.get(AWS_ROLE_ARN) or "").strip()
        m = ROLE_ARN.match(value)
        if not m:
            continue  # absent or malformed: K8S-003 reports a malformed value
        account = m.group(2)
        link = IdentityLink(sa.cluster, sa.namespace, sa.name, AWS, "irsa", value, LinkStatus.UNCHECKED)
        role = _find_role(link, account, roles, accounts, inventory)
        if isinstance(role, IdentityLink):
            links.append(role)
            continue
        cluster = clusters.get(sa.cluster)
        key = (role.arn, cluster.issuer if cluster else None)
        trust = trusts.get(key)
        if trust is None:
            # Once per role and cluster: only the `sub` test below depends on the ServiceAccount.
            trust = trusts[key] = IrsaTrust.of(
                role.account,
                role.trust,
                cluster.issuer if cluster else None,
                oidc.get(account),
                (client_ids or {}).get(account),
            )
        status, reason = trust.verdict(sa)
        if not trust.provider_missing:
            status, reason = _unsure(role, status, reason)
        identity = identities.get(role.arn) or identities.setdefault(role.arn, _identity(role))
        links.append(IdentityLink(sa.cluster, sa.namespace, sa.name, AWS, "irsa", role.arn, status, identity, reason))
    return links


def _find_role(
    link: IdentityLink, account: str, roles: RoleIndex, accounts: set[str], inventory: Inventory
) -> Role | IdentityLink:
    """The role a link names, or the finished link when there is no role to judge."""
    if account not in accounts:
        return replace(link, reason=f"no aws/{account}/iam.json in the evidence: role not checked")
    role = roles.find(link.principal)
    if role is None:
        if account in roles.incomplete:
            return replace(link, reason=f"role not in the evidence, which is incomplete ({roles.incomplete[account]})")
        return _absent(link, link.principal, account, inventory)
    return role


def _absent(link: IdentityLink, arn: str, account: str, inventory: Inventory) -> IdentityLink:
    """A role not in iam.json: missing, unless the collection that wrote it could not read it."""
    # Why: a denied GetRole leaves the role out of iam.json; calling it "missing" would report a
    # broken binding that may not be broken. The live collector records such calls as errors.
    for e in inventory.errors:
        if e.source == "aws" and arn in e.location:
            return replace(link, reason=f"role not collected ({e.location}: {e.reason})")
    return replace(link, status=LinkStatus.MISSING, reason=f"role {arn} does not exist in account {account}")


def pod_identity_links(
    inventory: Inventory, eks: list[EksCluster], files: list[EksFiles], roles: RoleIndex, accounts: set[str]
) -> list[IdentityLink]:
    known = {sa.key for sa in inventory.service_accounts}
    links = []
    for cluster, f in zip(eks, files, strict=True):
        if cluster.k8s_cluster is None:
            continue
        for a in f.associations:
            key = (cluster.k8s_cluster, a.namespace, a.service_account)
            if key not in known:
                continue
            m = ROLE_ARN.match(a.role_arn)
            account = m.group(2) if m else cluster.account
            link = IdentityLink(*key, AWS, "eks-pod-identity", a.role_arn, LinkStatus.UNCHECKED)
            role = _find_role(link, account, roles, accounts, inventory)
            if isinstance(role, IdentityLink):
                links.append(role)
                continue
            session = PodIdentitySession(
                account=cluster.account,
                cluster_arn=cluster.arn,
                cluster_name=cluster.name,
                namespace=key[1],
                service_account=key[2],
                session_tags=a.session_tags,
            )
            refusal = pod_identity_refusal(role.trust, session)
            status, reason = (
                (LinkStatus.RESOLVED, "Pod Identity association")
                if refusal is None
                else _unsure(role, LinkStatus.UNTRUSTED, refusal)
            )
            links.append(replace(link, principal=role.arn, status=status, identity=_identity(role), reason=reason))
            if status is LinkStatus.RESOLVED and a.target_role_arn:
                links.append(_target_link(link, role, a.target_role_arn, roles, accounts, inventory))
    return links


def associated_subjects(eks: list[EksCluster], files: list[EksFiles], roles: RoleIndex) -> dict[str, frozenset[str]]:
    """Role ARN -> `cluster/ns/sa` of every Pod Identity association naming it whose trust admits it, the
    ServiceAccount in the Kubernetes evidence or not.

    Why not only the links: a scoped collection (`check`, `--namespace`) holds only its own ServiceAccounts,
    while a role shared with one outside the scope (AWS-006) is shared all the same; and an association
    names its ServiceAccount as an IRSA trust does (whoever creates it gets the role).
    """
    out: dict[str, set[str]] = {}
    for cluster, f in zip(eks, files, strict=True):
        if cluster.k8s_cluster is None:
            continue
        for a in f.associations:
            role = roles.find(a.role_arn)
            if role is None:
                continue
            session = PodIdentitySession(
                account=cluster.account,
                cluster_arn=cluster.arn,
                cluster_name=cluster.name,
                namespace=a.namespace,
                service_account=a.service_account,
                session_tags=a.session_tags,
            )
            if pod_identity_refusal(role.trust, session) is None:
                out.setdefault(role.arn, set()).add(f"{cluster.k8s_cluster}/{a.namespace}/{a.service_account}")
    return {arn: frozenset(s) for arn, s in out.items()}


def _target_link(
    link: IdentityLink, source: Role, target_arn: str, roles: RoleIndex, accounts: set[str], inventory: Inventory
) -> IdentityLink:
    """A cross-account association: EKS assumes `roleArn`, then `targetRoleArn`, whose credentials the pod gets.
    Judging only `roleArn` would miss everything the pod can really do."""
    m = ROLE_ARN.match(target_arn)
    link = replace(link, principal=target_arn)
    role = _find_role(link, m.group(2) if m else source.account, roles, accounts, inventory)
    if isinstance(role, IdentityLink):
        return role
    if not trusts_role(role.trust, source.arn):
        status, reason = _unsure(
            role, LinkStatus.UNTRUSTED, f"target role's trust does not allow {source.arn} sts:AssumeRole"
        )
        return replace(link, principal=role.arn, status=status, identity=_identity(role), reason=reason)
    return replace(
        link,
        principal=role.arn,
        status=LinkStatus.RESOLVED,
        identity=_identity(role),
        reason=f"Pod Identity target role, assumed through {source.arn}",
    )
