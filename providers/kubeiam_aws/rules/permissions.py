"""AWS permission rules, judged on the effective union of a role's policies (see judge/profile.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from kubeiam.vocabulary.findings import Category, Severity
from kubeiam.vocabulary.model import Inventory, LinkStatus
from kubeiam.vocabulary.rules import Match, Rule, rule
from kubeiam_aws.declarations import AWS
from kubeiam_aws.judge.catalogue import PERMISSIONS_MANAGEMENT
from kubeiam_aws.rules.helpers import analysis, capped, role_evidence, role_matches
from kubeiam_aws.view import Role


def _specs(inv: Inventory, key: str, build: Callable[[Role], list[dict[str, Any]]]) -> Iterator[Match]:
    # Only roles the ServiceAccount can actually take: a broken binding is AWS-004's finding.
    return role_matches(inv, key, build, LinkStatus.RESOLVED)


def _admin_spec(inv: Inventory, role: Role, item: str, sources: tuple[str, ...], detail: str) -> list[dict[str, Any]]:
    return [
        {
            "item": item,
            "source": sources[0],
            "detail": detail,
            "evidence": role_evidence(inv, role, policies=list(sources)),
        }
    ]


@rule(
    "AWS-010",
    "Role has full administrator access",
    Category.ADMIN_ACCESS,
    Severity.CRITICAL,
    rationale="`Allow *` on `*` (AdministratorAccess or its equal) lets the workload do anything in the account, "
    "including creating new identities that outlive it.",
    remediation="Replace the policy with one listing the actions and resources the workload uses "
    "(IAM Access Analyzer can generate one from CloudTrail).",
    cloud=AWS,
    references=("https://docs.aws.amazon.com/IAM/latest/UserGuide/access-analyzer-policy-generation.html",),
)
def admin_access(inv: Inventory) -> Iterator[Match]:
    def build(role: Role) -> list[dict[str, Any]]:
        sources = analysis(inv, role).admin
        return _admin_spec(inv, role, "*:*", sources, sources[0].rsplit("/", 1)[-1]) if sources else []

    return _specs(inv, "AWS-010", build)


@rule(
    "AWS-011",
    "Role can rewrite IAM (admin-equivalent)",
    Category.ADMIN_ACCESS,
    Severity.CRITICAL,
    rationale="Every IAM permissions-management action on `*` (`iam:*`, IAMFullAccess) lets the workload attach "
    "AdministratorAccess to itself: it is administrator in all but name.",
    remediation="Remove IAM write access; if the workload manages roles, scope it to a path and a permissions "
    "boundary it cannot change.",
    cloud=AWS,
)
def iam_admin(inv: Inventory) -> Iterator[Match]:
    def build(role: Role) -> list[dict[str, Any]]:
        result = analysis(inv, role)
        if not result.iam_admin or result.admin:
            return []
        detail = ", ".join(s.rsplit("/", 1)[-1] for s in result.iam_admin)
        return _admin_spec(inv, role, "iam:*", result.iam_admin, detail)

    return _specs(inv, "AWS-011", build)


@rule(
    "AWS-012",
    "Role is granted wildcard actions",
    Category.WILDCARD_ACTION,
    Severity.MEDIUM,
    rationale="`service:*` grants every present and future action of the service; `NotAction` in an Allow grants "
    "everything not listed, across all services.",
    remediation="List the actions the workload calls.",
    cloud=AWS,
)
def wildcard_actions(inv: Inventory) -> Iterator[Match]:
    def build(role: Role) -> list[dict[str, Any]]:
        return [
            {
                "item": w.pattern,
                "source": w.source,
                "detail": w.pattern,
                "severity": Severity.HIGH if w.pattern.startswith("NotAction") and w.statement.all_resources else None,
                "evidence": role_evidence(inv, role, policy=w.source, statement=dict(w.statement.raw)),
            }
            for w in analysis(inv, role).wildcards
        ]

    return _specs(inv, "AWS-012", build)


@rule(
    "AWS-013",
    "Role can write or change permissions on every resource",
    Category.WILDCARD_RESOURCE,
    Severity.MEDIUM,
    rationale='Write and permissions-management actions on `Resource: "*"` reach every resource of the service '
    "in the account, where the service supports naming the few the workload needs.",
    remediation="Scope `Resource` to the ARNs (or an ARN prefix) the workload manages.",
    cloud=AWS,
)
def broad_writes(inv: Inventory) -> Iterator[Match]:
    # One finding per policy: its fix is one (scope its Resource), whichever access levels it spans;
    # the most sensitive level sets the severity, so a new permissions-management action raises the
    # same ticket instead of opening another.
    def build(role: Role) -> list[dict[str, Any]]:
        out = []
        for b in analysis(inv, role).broad_writes:
            levels = [level for level, _ in b.levels]
            out.append(
                {
                    "item": "resource:*",
                    "source": b.source,
                    "detail": f"{' and '.join(levels)}: {', '.join(capped(b.actions, 3))}",
                    "severity": Severity.HIGH if PERMISSIONS_MANAGEMENT in levels else None,
                    "evidence": role_evidence(
                        inv,
                        role,
                        policy=b.source,
                        actions=capped(b.actions),
                        levels={level: len(actions) for level, actions in b.levels},
                    ),
                }
            )
        return out

    return _specs(inv, "AWS-013", build)


@rule(
    "AWS-014",
    "Role can escalate its privileges",
    Category.PRIVILEGE_ESCALATION,
    Severity.HIGH,
    rationale="The role's policies together allow a known escalation path (PassRole with compute creation, "
    "policy rewrites, trust rewrites, AssumeRole on `*`, code or shell on resources running other roles), or "
    "let it become a named role (AssumeRole, PassRole) that is admin, rewrites IAM, escalates or reaches such a "
    "role in turn (`reaches`: the path hop by hop). Paths stopped by an explicit Deny, the permissions boundary, "
    "an SCP, RCP or session policy, or a never-true condition are not reported.",
    remediation="Remove one permission of the path, scope its Resource to what the workload owns, or add "
    "`iam:PassedToService` and a permissions boundary.",
    cloud=AWS,
    references=(
        "https://pathfinding.cloud",
        "https://rhinosecuritylabs.com/aws/aws-privilege-escalation-methods-mitigation/",
    ),
)
def privilege_escalation(inv: Inventory) -> Iterator[Match]:
    # One finding per role: a single NotAction statement opens dozens of paths, and closing the
    # role's escalation is one ticket. The title names the worst path and the count; every path
    # is in the evidence. The fingerprint does not depend on which paths or policies (stable when
    # statements, files or the catalogue change).
    def build(role: Role) -> list[dict[str, Any]]:
        found = analysis(inv, role).escalations
        if not found:
            return []
        first = found[0]
        more = f" (and {len(found) - 1} more path{'s' if len(found) > 2 else ''})" if len(found) > 1 else ""
        into = f" into {first.reaches.identity.rsplit(':', 1)[-1]}" if first.reaches else ""
        reaches = {"reaches": first.reaches.evidence()} if first.reaches else {}
        return [
            {
                "item": "escalation",
                "source": role.arn,
                "detail": f"{first.name}{into}{more}",
                "evidence": role_evidence(
                    inv,
                    role,
                    path=first.path_id,
                    actions=list(first.actions),
                    path_count=len(found),
                    policies=sorted({s for e in found for s in e.sources}),
                    **reaches,
                    paths=[
                        {
                            "path": e.path_id,
                            "name": e.name,
                            "category": e.category,
                            "actions": list(e.actions),
                            "policies": list(e.sources),
                            "reference": e.reference,
                            **({"reaches": e.reaches.evidence()} if e.reaches else {}),
                        }
                        for e in found
                    ],
                ),
            }
        ]

    return _specs(inv, "AWS-014", build)


@rule(
    "AWS-015",
    "Role can read sensitive data everywhere",
    Category.DATA_ACCESS,
    Severity.MEDIUM,
    rationale="`secretsmanager:GetSecretValue`, `kms:Decrypt`, `s3:GetObject` or `ssm:GetParameter*` on every "
    "resource, without a condition, reads every secret, key-protected blob or object of the account.",
    remediation="Scope Resource to the secrets, keys, buckets or parameter paths the workload reads "
    "(e.g. arn:aws:secretsmanager:REGION:ACCOUNT:secret:APP/*).",
    cloud=AWS,
)
def sensitive_reads(inv: Inventory) -> Iterator[Match]:
    # One finding per service: every secret, every key, every object or every parameter is one
    # data set with one fix (scope that service's Resource); ssm:GetParameter, GetParameters and
    # GetParametersByPath are one exposure, not three.
    def build(role: Role) -> list[dict[str, Any]]:
        by_service: dict[str, list] = {}
        for g in analysis(inv, role).sensitive_reads:
            by_service.setdefault(g.action.split(":", 1)[0], []).append(g)
        out = []
        for service, grants in sorted(by_service.items()):
            actions = [g.action for g in grants]
            out.append(
                {
                    "item": f"{service}:read",
                    "source": role.arn,
                    "detail": ", ".join(actions),
                    "evidence": role_evidence(
                        inv,
                        role,
                        actions=actions,
                        policies=sorted({s for g in grants for s in g.sources}),
                        resources=list(dict.fromkeys(r for g in grants for r in g.resources)),
                    ),
                }
            )
        return out

    return _specs(inv, "AWS-015", build)


@rule(
    "AWS-016",
    "iam:PassRole without iam:PassedToService",
    Category.MISSING_CONDITION,
    Severity.LOW,
    rationale="Without `iam:PassedToService` the passed role can be handed to any service that runs code "
    "(Lambda, EC2, ECS, Glue...), which is how PassRole becomes escalation.",
    remediation='Add "Condition": {"StringEquals": {"iam:PassedToService": "SERVICE.amazonaws.com"}} '
    "and name the roles.",
    cloud=AWS,
)
def passrole_without_service(inv: Inventory) -> Iterator[Match]:
    def build(role: Role) -> list[dict[str, Any]]:
        return [
            {
                "item": "iam:PassRole",
                "source": g.sources[0],
                "detail": ", ".join(g.resources),
                "evidence": role_evidence(inv, role, policy=g.sources[0], resources=list(g.resources)),
            }
            for g in analysis(inv, role).unconditioned_passrole
        ]

    return _specs(inv, "AWS-016", build)


RULES: tuple[Rule, ...] = (
    admin_access,
    iam_admin,
    wildcard_actions,
    broad_writes,
    privilege_escalation,
    sensitive_reads,
    passrole_without_service,
)
