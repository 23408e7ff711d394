"""What an EKS Pod Identity association puts into the session of the role it gives: its session policy
(`association.policy`, intersected with the role's policies) and the session tags EKS sets
(`kubernetes-namespace`, `kubernetes-service-account`, `eks-cluster-name`, `eks-cluster-arn`), which decide
grants conditioned on `aws:PrincipalTag/...`. Where either changes what the role can do, the association's
ServiceAccount is judged on the role as its sessions get it (a `Role` with `session` set).

The policy applies to the credentials the pod gets: the target role's with a `targetRoleArn` (cross-account),
else the role's. A policy that is not understood cuts nothing (a gap on the link names it); the session tags
are judged only on the role EKS assumes itself (whether they reach a target role's session is not decided).
"""

from __future__ import annotations

from dataclasses import replace

from kubeiam.vocabulary.model import Gap, IdentityLink, LinkStatus
from kubeiam.vocabulary.policy import read_document
from kubeiam_aws.evidence.eks import ASSOCIATIONS, Association, EksFiles
from kubeiam_aws.evidence.links import RoleIndex
from kubeiam_aws.judge.guardrails import SESSION_POLICY, Guardrail, PodSession, principal_tag_keys
from kubeiam_aws.view import EksCluster, Role

SessionKey = tuple[str, str, str, str]
"""(cluster, namespace, ServiceAccount, role ARN) of a link."""


def pod_identity_sessions(
    eks: list[EksCluster], files: list[EksFiles], links: list[IdentityLink], roles: RoleIndex
) -> tuple[dict[SessionKey, Role], list[IdentityLink]]:
    """The roles as the associations' sessions get them, and the links (with a gap where a policy was not read)."""
    resolved = {
        (link.cluster, link.namespace, link.service_account, link.principal)
        for link in links
        if link.mechanism == "eks-pod-identity" and link.status is LinkStatus.RESOLVED
    }
    sessions: dict[SessionKey, Role] = {}
    gaps: dict[SessionKey, Gap] = {}
    for cluster, f in zip(eks, files, strict=True):
        if cluster.k8s_cluster is None:
            continue
        for a in f.associations:
            target = roles.find(a.target_role_arn or a.role_arn)
            key = (cluster.k8s_cluster, a.namespace, a.service_account, target.arn if target else "")
            if target is None or key not in resolved:
                continue
            subject = "/".join(key[:3])
            policy, gap = _policy(f"{f.base}/{ASSOCIATIONS}", a, subject)
            if gap is not None:
                gaps[key] = gap
            tags = _tags(cluster, a) if a.session_tags and not a.target_role_arn else None
            if tags is not None and not principal_tag_keys(s for g in target.grants for s in g.statements):
                tags = None  # no grant of the role tests them: the session changes nothing
            if policy is not None or tags is not None:
                sessions[key] = replace(target, session=PodSession(subject, tags, policy))
    return sessions, [_with_gap(link, gaps) for link in links] if gaps else links


def _tags(cluster: EksCluster, a: Association) -> dict[str, str]:
    return {
        "eks-cluster-arn": cluster.arn,
        "eks-cluster-name": cluster.name,
        "kubernetes-namespace": a.namespace,
        "kubernetes-service-account": a.service_account,
    }


def _policy(relative: str, a: Association, subject: str) -> tuple[Guardrail | None, Gap | None]:
    if a.policy is None or a.policy == "":
        return None, None
    doc = read_document(a.policy)
    if doc.problems:
        first = doc.problems[0]
        where = f"{a.item}.policy" + (f".{first.item}" if first.item else "")
        return None, Gap(relative, where, f"{first.reason}: the session policy is not applied (nothing cut)")
    name = f"session policy of the Pod Identity association {subject}"
    return Guardrail(SESSION_POLICY, name, doc.statements, f"{relative} {a.item}.policy"), None


def _with_gap(link: IdentityLink, gaps: dict[SessionKey, Gap]) -> IdentityLink:
    gap = gaps.get((link.cluster, link.namespace, link.service_account, link.principal))
    if gap is None or link.identity is None:
        return link
    return replace(link, identity=replace(link.identity, gaps=(*link.identity.gaps, gap)))
