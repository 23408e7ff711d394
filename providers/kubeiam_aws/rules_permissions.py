"""AWS permission rules, judged on the effective union of a role's policies (see analysis.py)."""

from __future__ import annotations

from collections.abc import Iterator

from kubeiam.findings import Category, Severity
from kubeiam.model import Inventory, LinkStatus
from kubeiam.rules.base import Match, rule
from kubeiam_aws.catalog import PERMISSIONS_MANAGEMENT
from kubeiam_aws.common import analysis, capped, linked_roles, role_evidence


def _resolved(inv: Inventory):
    # Only roles the ServiceAccount can actually take: a broken binding is AWS-004's finding.
    return linked_roles(inv, LinkStatus.RESOLVED)


@rule(
    "AWS-010",
    "Role has full administrator access",
    Category.ADMIN_ACCESS,
    Severity.CRITICAL,
    rationale="`Allow *` on `*` (AdministratorAccess or its equal) lets the workload do anything in the account, "
    "including creating new identities that outlive it.",
    remediation="Replace the policy with one listing the actions and resources the workload uses "
    "(IAM Access Analyzer can generate one from CloudTrail).",
    cloud="aws",
    references=("https://docs.aws.amazon.com/IAM/latest/UserGuide/access-analyzer-policy-generation.html",),
)
def admin_access(inv: Inventory) -> Iterator[Match]:
    for sa, _link, role in _resolved(inv):
        result = analysis(inv, role)
        if result.admin:
            yield Match.for_sa(
                sa,
                item="*:*",
                cloud="aws",
                principal=role.arn,
                source=result.admin[0],
                detail=result.admin[0].rsplit("/", 1)[-1],
                evidence=role_evidence(inv, role, policies=list(result.admin)),
            )


@rule(
    "AWS-011",
    "Role can rewrite IAM (admin-equivalent)",
    Category.ADMIN_ACCESS,
    Severity.CRITICAL,
    rationale="Every IAM permissions-management action on `*` (`iam:*`, IAMFullAccess) lets the workload attach "
    "AdministratorAccess to itself: it is administrator in all but name.",
    remediation="Remove IAM write access; if the workload manages roles, scope it to a path and a permissions "
    "boundary it cannot change.",
    cloud="aws",
)
def iam_admin(inv: Inventory) -> Iterator[Match]:
    for sa, _link, role in _resolved(inv):
        result = analysis(inv, role)
        if result.iam_admin and not result.admin:
            yield Match.for_sa(
                sa,
                item="iam:*",
                cloud="aws",
                principal=role.arn,
                source=result.iam_admin[0],
                detail=", ".join(s.rsplit("/", 1)[-1] for s in result.iam_admin),
                evidence=role_evidence(inv, role, policies=list(result.iam_admin)),
            )


@rule(
    "AWS-012",
    "Role is granted wildcard actions",
    Category.WILDCARD_ACTION,
    Severity.MEDIUM,
    rationale="`service:*` grants every present and future action of the service; `NotAction` in an Allow grants "
    "everything not listed, across all services.",
    remediation="List the actions the workload calls.",
    cloud="aws",
)
def wildcard_actions(inv: Inventory) -> Iterator[Match]:
    for sa, _link, role in _resolved(inv):
        for w in analysis(inv, role).wildcards:
            yield Match.for_sa(
                sa,
                item=w.pattern,
                cloud="aws",
                principal=role.arn,
                source=w.source,
                detail=w.pattern,
                severity=Severity.HIGH if w.pattern.startswith("NotAction") and w.statement.all_resources else None,
                evidence=role_evidence(inv, role, policy=w.source, statement=dict(w.statement.raw)),
            )


@rule(
    "AWS-013",
    "Role can write or change permissions on every resource",
    Category.WILDCARD_RESOURCE,
    Severity.MEDIUM,
    rationale='Write and permissions-management actions on `Resource: "*"` reach every resource of the service '
    "in the account, where the service supports naming the few the workload needs.",
    remediation="Scope `Resource` to the ARNs (or an ARN prefix) the workload manages.",
    cloud="aws",
)
def broad_writes(inv: Inventory) -> Iterator[Match]:
    for sa, _link, role in _resolved(inv):
        for b in analysis(inv, role).broad_writes:
            yield Match.for_sa(
                sa,
                item=b.level,
                cloud="aws",
                principal=role.arn,
                source=b.source,
                detail=f"{b.level}: {', '.join(capped(b.actions, 3))}",
                severity=Severity.HIGH if b.level == PERMISSIONS_MANAGEMENT else None,
                evidence=role_evidence(inv, role, policy=b.source, level=b.level, actions=capped(b.actions)),
            )


@rule(
    "AWS-014",
    "Role can escalate its privileges",
    Category.PRIVILEGE_ESCALATION,
    Severity.HIGH,
    rationale="The role's policies together allow a known escalation path (PassRole with compute creation, "
    "policy rewrites, trust rewrites, AssumeRole on `*`, code or shell on resources running other roles). "
    "Paths stopped by an explicit Deny, the permissions boundary or a never-true condition are not reported.",
    remediation="Remove one permission of the path, scope its Resource to what the workload owns, or add "
    "`iam:PassedToService` and a permissions boundary.",
    cloud="aws",
    references=(
        "https://pathfinding.cloud",
        "https://rhinosecuritylabs.com/aws/aws-privilege-escalation-methods-mitigation/",
    ),
)
def privilege_escalation(inv: Inventory) -> Iterator[Match]:
    for sa, _link, role in _resolved(inv):
        for e in analysis(inv, role).escalations:
            yield Match.for_sa(
                sa,
                item=e.path_id,
                cloud="aws",
                principal=role.arn,
                source="+".join(sorted(e.sources)),
                detail=e.name,
                evidence=role_evidence(
                    inv,
                    role,
                    path=e.path_id,
                    category=e.category,
                    actions=list(e.actions),
                    policies=list(e.sources),
                    reference=e.reference,
                ),
            )


@rule(
    "AWS-015",
    "Role can read sensitive data everywhere",
    Category.DATA_ACCESS,
    Severity.MEDIUM,
    rationale="`secretsmanager:GetSecretValue`, `kms:Decrypt`, `s3:GetObject` or `ssm:GetParameter*` on every "
    "resource, without a condition, reads every secret, key-protected blob or object of the account.",
    remediation="Scope Resource to the secrets, keys, buckets or parameter paths the workload reads "
    "(e.g. arn:aws:secretsmanager:REGION:ACCOUNT:secret:APP/*).",
    cloud="aws",
)
def sensitive_reads(inv: Inventory) -> Iterator[Match]:
    for sa, _link, role in _resolved(inv):
        for g in analysis(inv, role).sensitive_reads:
            yield Match.for_sa(
                sa,
                item=g.action,
                cloud="aws",
                principal=role.arn,
                source="+".join(sorted(g.sources)),
                detail=g.action,
                evidence=role_evidence(
                    inv, role, action=g.action, policies=list(g.sources), resources=list(g.resources)
                ),
            )


@rule(
    "AWS-016",
    "iam:PassRole without iam:PassedToService",
    Category.MISSING_CONDITION,
    Severity.LOW,
    rationale="Without `iam:PassedToService` the passed role can be handed to any service that runs code "
    "(Lambda, EC2, ECS, Glue...), which is how PassRole becomes escalation.",
    remediation='Add "Condition": {"StringEquals": {"iam:PassedToService": "SERVICE.amazonaws.com"}} '
    "and name the roles.",
    cloud="aws",
)
def passrole_without_service(inv: Inventory) -> Iterator[Match]:
    for sa, _link, role in _resolved(inv):
        for g in analysis(inv, role).unconditioned_passrole:
            yield Match.for_sa(
                sa,
                item="iam:PassRole",
                cloud="aws",
                principal=role.arn,
                source=g.sources[0],
                detail=", ".join(g.resources),
                evidence=role_evidence(inv, role, policy=g.sources[0], resources=list(g.resources)),
            )


PERMISSION_RULES = (
    admin_access,
    iam_admin,
    wildcard_actions,
    broad_writes,
    privilege_escalation,
    sensitive_reads,
    passrole_without_service,
)
