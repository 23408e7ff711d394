"""AWS trust rules: who besides the one ServiceAccount can take the role, and bindings that bind nothing."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from kubeiam.vocabulary.findings import Category, Severity
from kubeiam.vocabulary.model import Inventory, LinkStatus
from kubeiam.vocabulary.rules import Match, Rule, rule
from kubeiam_aws.declarations import AWS
from kubeiam_aws.judge.trust import (
    WebIdentityGrant,
    issuer_host,
    open_statements,
    pod_identity_scoped,
    pod_identity_statements,
    web_identity_grants,
)
from kubeiam_aws.rules.helpers import analysis, aws_links, aws_view, by_reach, per_role, role_groups, role_matches
from kubeiam_aws.view import Role

_IRSA_DOC = "https://docs.aws.amazon.com/eks/latest/userguide/associate-service-account-role.html"
_HAS_IDENTITY = (LinkStatus.RESOLVED, LinkStatus.UNTRUSTED)


def _cluster_host(inv: Inventory, cluster: str) -> str | None:
    # One look-up table per inventory: rules ask per ServiceAccount.
    hosts = inv.memo("aws_issuer_hosts", lambda i: {c.name: issuer_host(c.issuer) for c in i.clusters})
    return hosts.get(cluster)


def _own_grants(inv: Inventory, cluster: str, role: Role) -> list[WebIdentityGrant]:
    """The role's web-identity statements for this cluster's OIDC provider (all of them if the issuer is unknown)."""
    host = _cluster_host(inv, cluster)
    memo = aws_view(inv).memo
    key = ("own-grants", role.arn, host)
    found = memo.get(key)
    if found is None:
        found = memo[key] = [g for g in web_identity_grants(role.trust) if host is None or g.host == host]
    return found


_SECRET_KEYS = {"sts:externalid"}


def _shown(raw: Mapping[str, Any]) -> dict[str, Any]:
    """A trust statement for evidence, with shared-secret condition values (sts:ExternalId) masked."""
    out = dict(raw)
    cond = out.get("Condition")
    if isinstance(cond, Mapping):
        out["Condition"] = {
            op: {k: ("***" if k.lower() in _SECRET_KEYS else v) for k, v in clause.items()}
            if isinstance(clause, Mapping)
            else clause
            for op, clause in cond.items()
        }
    return out


def _scoped_sub(namespace: str, name: str, host: str) -> str:
    return (
        f'Pin the subject: "Condition": {{"StringEquals": {{"{host}:sub": '
        f'"system:serviceaccount:{namespace}:{name}", "{host}:aud": "sts.amazonaws.com"}}}}'
    )


def _problems(inv: Inventory, cluster: str, role: Role) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    """problem -> [(provider host, match fields)] of the role's statements for this cluster's provider.

    Memoised per role and cluster issuer: the same for every ServiceAccount that takes the role."""
    host = _cluster_host(inv, cluster)
    memo = aws_view(inv).memo
    key = ("trust-problems", role.arn, host)
    found = memo.get(key)
    if found is None:
        found = memo[key] = {}
        for g in _own_grants(inv, cluster, role):
            problem = g.problem()
            if problem is None:
                continue
            found.setdefault(problem, []).append(
                (
                    g.host,
                    {
                        "item": f"{g.host}:{problem}",
                        "source": f"{role.arn}:trust",
                        "severity": by_reach(inv, role, Severity.HIGH),
                        "evidence": {"role": role.arn, "file": role.source, "statement": _shown(g.statement.raw)},
                    },
                )
            )
    return found


def _trust_problem(inv: Inventory, problem: str) -> Iterator[Match]:
    for group in role_groups(inv, *_HAS_IDENTITY):
        if group.mechanism != "irsa":
            continue
        for host, fields in _problems(inv, group.cluster, group.role).get(problem, ()):
            for sa in group.service_accounts:
                remediation = _scoped_sub(sa.namespace, sa.name, host)
                yield Match.for_sa(sa, cloud=AWS, principal=group.role.arn, remediation=remediation, **fields)


@rule(
    "AWS-001",
    "IRSA trust has no condition: any ServiceAccount of the cluster can take the role",
    Category.TRUST_UNSCOPED,
    Severity.HIGH,
    rationale=(
        "Without a `sub` (and `aud`) condition, every token the cluster's issuer signs, for any "
        'ServiceAccount in any namespace, can assume the role. A `Principal: "*"` statement is '
        "worse still: any AWS principal anywhere."
    ),
    remediation="Add StringEquals conditions on `<issuer>:sub` (system:serviceaccount:NS:NAME) and `<issuer>:aud`.",
    cloud=AWS,
    references=(_IRSA_DOC,),
)
def trust_without_condition(inv: Inventory) -> Iterator[Match]:
    yield from _trust_problem(inv, "no-condition")

    def build(role: Role) -> list[dict[str, Any]]:
        return [
            {
                "item": "principal:*",
                "source": f"{role.arn}:trust",
                "detail": 'Principal "*" without a condition',
                "severity": Severity.CRITICAL,
                "evidence": {"role": role.arn, "file": role.source, "statement": _shown(s.raw)},
            }
            for s in open_statements(role.trust)
        ]

    yield from role_matches(inv, "AWS-001-open", build, *_HAS_IDENTITY)


@rule(
    "AWS-002",
    "IRSA trust checks the audience but not the subject",
    Category.TRUST_UNSCOPED,
    Severity.HIGH,
    rationale=(
        "`aud = sts.amazonaws.com` is the same for every projected token of the cluster: it proves "
        "the token is meant for STS, not which workload holds it. Without `sub`, every "
        "ServiceAccount can take the role."
    ),
    remediation="Add a StringEquals condition on `<issuer>:sub` naming the one ServiceAccount.",
    cloud=AWS,
    references=(_IRSA_DOC,),
)
def trust_aud_without_sub(inv: Inventory) -> Iterator[Match]:
    yield from _trust_problem(inv, "aud-without-sub")


@rule(
    "AWS-003",
    "IRSA trust subject is a wildcard",
    Category.TRUST_UNSCOPED,
    Severity.HIGH,
    rationale=(
        "A StringLike `sub` such as `system:serviceaccount:*:*` or `system:serviceaccount:ns:*` "
        "admits every ServiceAccount it matches, including ones anyone with create rights in "
        "that namespace can make."
    ),
    remediation="Replace StringLike with StringEquals and list the exact ServiceAccounts.",
    cloud=AWS,
    references=(_IRSA_DOC,),
)
def trust_wildcard_sub(inv: Inventory) -> Iterator[Match]:
    yield from _trust_problem(inv, "wildcard-sub")


@rule(
    "AWS-004",
    "Role binding is broken: the ServiceAccount falls back to other credentials",
    Category.BINDING_BROKEN,
    Severity.MEDIUM,
    rationale=(
        "When the annotated role does not exist, or its trust does not admit this ServiceAccount "
        "(another `sub`, another cluster's provider, no OIDC provider), STS refuses the token and "
        "the SDK's credential chain moves on, usually to the node's instance role via IMDS."
    ),
    remediation="Point the annotation at an existing role whose trust names this cluster's OIDC provider and "
    "`system:serviceaccount:NS:NAME`, or fix the Pod Identity association.",
    cloud=AWS,
    references=(_IRSA_DOC,),
)
def binding_broken(inv: Inventory) -> Iterator[Match]:
    view = aws_view(inv)
    for sa, link in aws_links(inv, LinkStatus.MISSING, LinkStatus.UNTRUSTED):
        node_roles = sorted(
            {n.role_arn for w in inv.workloads_of(sa) if (n := view.node(sa.cluster, w.node or "")) and n.role_arn}
        )
        evidence: dict[str, Any] = {"mechanism": link.mechanism, "status": str(link.status), "reason": link.reason}
        severity = None
        if node_roles:
            evidence["falls_back_to"] = node_roles
            # What the pod gets instead decides how bad it is: an escalating node role makes it high.
            reach = {analysis(inv, r).power for arn in node_roles if (r := view.role(arn))}
            severity = Severity.HIGH if reach & {"admin", "escalation"} else None
        yield Match.for_sa(
            sa,
            item=f"{link.mechanism}:{link.principal}",
            cloud=AWS,
            principal=link.principal,
            source=link.mechanism,
            detail=("role does not exist" if link.status is LinkStatus.MISSING else "trust does not admit it"),
            severity=severity,
            evidence=evidence,
        )


@rule(
    "AWS-005",
    "Role also trusts another cluster's OIDC provider",
    Category.TRUST_UNSCOPED,
    Severity.HIGH,
    rationale=(
        "A second provider in the trust lets workloads of another cluster (another team, another "
        "environment) take this role with a ServiceAccount of the same name."
    ),
    remediation="Give each cluster its own role, or remove the other provider's statement.",
    cloud=AWS,
)
def trust_other_cluster(inv: Inventory) -> Iterator[Match]:
    for cluster, mechanism, role, sas in role_groups(inv, LinkStatus.RESOLVED):
        host = _cluster_host(inv, cluster)
        if mechanism != "irsa" or host is None:
            continue
        for other in sorted({g.host for g in web_identity_grants(role.trust) if g.host != host}):
            yield Match.for_sas(
                cluster,
                sas,
                item=other,
                cloud=AWS,
                principal=role.arn,
                source=f"{role.arn}:trust",
                detail=other,
                severity=by_reach(inv, role, Severity.HIGH),
                evidence={"role": role.arn, "file": role.source, "this_cluster": host, "other_provider": other},
            )


@rule(
    "AWS-006",
    "Role is trusted by several ServiceAccounts",
    Category.TRUST_UNSCOPED,
    Severity.HIGH,
    rationale=(
        "A role shared by several workloads carries the union of what they all need, and a "
        "compromise of any of them is a compromise of all. One role per ServiceAccount keeps "
        "blast radius and least privilege per workload."
    ),
    remediation="Create one role per ServiceAccount with only what that workload needs.",
    cloud=AWS,
)
def shared_role(inv: Inventory) -> Iterator[Match]:
    view = aws_view(inv)

    def trusted(cluster: str, role: Role, irsa: bool) -> frozenset[str]:
        # Every ServiceAccount the role serves, once per role and cluster (not per ServiceAccount).
        key = ("trusted-subjects", role.arn, cluster, irsa)
        found = view.memo.get(key)
        if found is None:
            subjects = {
                f"{o.cluster}/{o.namespace}/{o.service_account}"
                for o in view.links_to(role.arn)
                if o.status is LinkStatus.RESOLVED
            }
            subjects.update(s for s in view.associated.get(role.arn, ()) if s.split("/", 1)[0] == cluster)
            if irsa:
                for g in _own_grants(inv, cluster, role):
                    subjects.update(
                        f"{cluster}/{v.removeprefix('system:serviceaccount:').replace(':', '/')}"
                        for v in g.named_subjects()
                    )
            found = view.memo[key] = frozenset(subjects)
        return found

    for cluster, mechanism, role, sas in role_groups(inv, LinkStatus.RESOLVED):
        subjects = trusted(cluster, role, mechanism == "irsa")
        if len(subjects) < 2:
            continue
        severity = by_reach(inv, role, Severity.HIGH)
        for sa in sas:
            others = subjects - {f"{cluster}/{sa.namespace}/{sa.name}"}
            if others:
                yield Match.for_sa(
                    sa,
                    item="shared",
                    cloud=AWS,
                    principal=role.arn,
                    source=f"{role.arn}:trust",
                    detail=f"{len(others) + 1} ServiceAccounts",
                    severity=severity,
                    evidence={"role": role.arn, "also_trusted": sorted(others)},
                )


@rule(
    "AWS-007",
    "Pod Identity trust is not scoped to a cluster or account",
    Category.TRUST_UNSCOPED,
    Severity.HIGH,
    rationale=(
        "A trust of `pods.eks.amazonaws.com` without `aws:SourceArn` naming clusters (or the EKS session "
        "tags naming namespaces or ServiceAccounts) lets anyone who can create a Pod Identity association, "
        "on any cluster of the account, attach this role to any ServiceAccount. `aws:SourceAccount` equal to "
        "the role's own account scopes nothing: an association's role is always in its cluster's account."
    ),
    remediation='Add "Condition": {"StringEquals": {"aws:SourceAccount": "ACCOUNT"}, "ArnEquals": '
    '{"aws:SourceArn": "CLUSTER-ARN"}} to the pods.eks.amazonaws.com statement.',
    cloud=AWS,
    references=("https://docs.aws.amazon.com/eks/latest/userguide/pod-id-role.html",),
)
def pod_identity_unscoped(inv: Inventory) -> Iterator[Match]:
    def build(role: Role) -> list[dict[str, Any]]:
        statements = pod_identity_statements(role.trust)
        if not statements or any(pod_identity_scoped(s, role.account) for s in statements):
            return []
        return [
            {
                "item": "pods.eks.amazonaws.com",
                "source": f"{role.arn}:trust",
                "severity": by_reach(inv, role, Severity.HIGH),
                "evidence": {"role": role.arn, "file": role.source, "statement": _shown(statements[0].raw)},
            }
        ]

    for cluster, mechanism, role, sas in role_groups(inv, LinkStatus.RESOLVED):
        if mechanism == "eks-pod-identity":
            for fields in per_role(inv, "AWS-007", role, build):
                yield Match.for_sas(cluster, sas, cloud=AWS, principal=role.arn, **fields)


RULES: tuple[Rule, ...] = (
    trust_without_condition,
    trust_aud_without_sub,
    trust_wildcard_sub,
    binding_broken,
    trust_other_cluster,
    shared_role,
    pod_identity_unscoped,
)
