"""GCP-001..005: what the roles granted to a workload's Google identity allow (see docs/gcp.md)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kubeiam.vocabulary.findings import Category, Severity
from kubeiam.vocabulary.identity_groups import identity_groups
from kubeiam.vocabulary.model import Grant, Inventory
from kubeiam.vocabulary.rules import Match, rule
from kubeiam_gcp.declarations import GCP
from kubeiam_gcp.judge.conditions import conditioned, narrows
from kubeiam_gcp.judge.grants import BROAD_LEVELS, grant_scope, note_of
from kubeiam_gcp.judge.profile import ACT_AS, RoleProfile, describe
from kubeiam_gcp.judge.reach import hop_of, reached_through, runners, split_methods

from .helpers import GRANTED, GrantJudge, GrantJudgement, grant_matches, group_match, judgement_notes

_POLICY_OF_SCOPE = frozenset(
    {
        "resourcemanager.projects.setIamPolicy",
        "resourcemanager.folders.setIamPolicy",
        "resourcemanager.organizations.setIamPolicy",
    }
)
_REF_PRIVESC = "https://rhinosecuritylabs.com/gcp/privilege-escalation-google-cloud-platform-part-1/"


@rule(
    "GCP-001",
    "Workload identity holds roles/owner or roles/editor",
    Category.ADMIN_ACCESS,
    Severity.CRITICAL,
    rationale="Owner and Editor carry most permissions of every service (Editor ~12,000): the pod can "
    "read, change and delete nearly everything in the scope, and act as other service accounts.",
    remediation="Replace the basic role with the predefined roles the workload needs (IAM Recommender "
    "lists them), granted on the resources it uses.",
    cloud=GCP,
    references=("https://cloud.google.com/iam/docs/understanding-roles#basic",),
)
def admin_roles(inv: Inventory) -> Iterator[Match]:
    def judge(principal: str, grant: Grant, profile: RoleProfile) -> GrantJudgement | None:
        return GrantJudgement(None, None, judgement_notes(inv, principal, grant)) if profile.admin else None

    return grant_matches(inv, judge)


@rule(
    "GCP-002",
    "Workload identity can escalate its privileges",
    Category.PRIVILEGE_ESCALATION,
    Severity.HIGH,
    rationale="setIamPolicy grants any role on the resource; key creation, token minting, signing and "
    "actAs on other service accounts become those accounts (at project level: every account of the "
    "project); Cloud Build, Deployment Manager and org-policy changes run as or unlock more.",
    remediation="Remove the role, or grant it on the one resource that needs it (a single service "
    "account, bucket or secret) with an IAM condition.",
    cloud=GCP,
    references=(_REF_PRIVESC, "https://cloud.google.com/iam/docs/service-account-permissions"),
)
def privilege_escalation(inv: Inventory) -> Iterator[Match]:
    yield from grant_matches(inv, _escalation(inv))
    yield from _split_methods(inv)


def escalations(inv: Inventory, principal: str, grant: Grant, profile: RoleProfile) -> dict[str, str]:
    """What the grant lets the identity escalate with, where it is granted: permission or method -> how.
    actAs counts with a deploy path the identity holds at project level or above (from any grant)."""
    where = grant_scope(principal, grant)
    found = {p: describe(p) for p in profile.escalation_on(where)}
    if profile.act_as and where in ("broad", "other-account"):
        in_role = {e[len("method:") :] for e in found if e.startswith("method:")}
        for method, sources in runners(inv, principal):
            if method not in in_role:
                found[f"{ACT_AS} + method:{method}"] = (
                    f"act as the account: {describe('method:' + method)}, by {', '.join(sources)}"
                )
    return found


def _escalation(inv: Inventory) -> GrantJudge:
    def judge(principal: str, grant: Grant, profile: RoleProfile) -> GrantJudgement | None:
        if profile.admin:
            return None  # GCP-001 reports it: one ticket for the basic role
        found = escalations(inv, principal, grant, profile)
        if not found:
            return None
        where = grant_scope(principal, grant)
        reach = {
            "broad": f"every resource and service account in {grant.scope}",
            "other-account": f"service account {(grant.scope or '').rsplit('/', 1)[-1]}",
        }.get(where, grant.scope)
        note = note_of(inv, principal, grant)
        # Why critical: setting the project's (folder's, organisation's) own IAM policy without a condition
        # that narrows it is Owner in one step, like Azure's roleAssignments/write at subscription scope;
        # so is becoming, through other accounts, one that holds Owner or Editor.
        critical = where == "broad" and not narrows(note.condition) and any(p in _POLICY_OF_SCOPE for p in found)
        extra: dict[str, Any] = {"reach": reach, "permissions": found}
        hop = hop_of(inv, principal, grant, profile)
        if hop is not None:
            reached, accounts = reached_through(inv, hop)
            strongest = [r for r in reached if r.identity != principal][:5]
            if strongest:
                extra["reaches"] = [r.document(hop.via, hop.grant) for r in strongest]
                extra["accounts_reached"] = len(accounts - {principal})
                critical = critical or strongest[0].power == "admin"
        names = list(found)
        return GrantJudgement(
            f"{grant.role} on {grant.scope} ({', '.join(names[:3])}{', ...' if len(names) > 3 else ''})",
            Severity.CRITICAL if critical else None,
            {**extra, **judgement_notes(inv, principal, grant)},
        )

    return judge


def _split_methods(inv: Inventory) -> Iterator[Match]:
    """Methods whose permissions come from several grants: one finding per method and set of grants."""
    for group in identity_groups(inv, GCP, GRANTED):
        principal = group.link.principal
        found = split_methods(inv, principal) if group.link.identity is not None else ()
        for method, sources in found:
            for link, sas in group.by_reason:
                yield group_match(
                    link,
                    sas,
                    f"method:{method}",
                    source=" + ".join(sources),
                    detail=f"{describe('method:' + method)}: its permissions come from {len(sources)} grants",
                    evidence={"grants": list(sources), "mechanism": link.mechanism, "link": link.reason},
                )


@rule(
    "GCP-003",
    "Workload identity can read data across the project",
    Category.DATA_ACCESS,
    Severity.MEDIUM,
    rationale="secretmanager.versions.access, storage.objects.get or KMS decrypt granted at project, "
    "folder or organisation level reach every secret, object or key below it, not the few the "
    "workload uses.",
    remediation="Grant the role on the secret, bucket or key the workload reads, or add an IAM "
    "condition on resource.name.",
    cloud=GCP,
    references=("https://cloud.google.com/secret-manager/docs/access-control",),
)
def data_access(inv: Inventory) -> Iterator[Match]:
    def judge(principal: str, grant: Grant, profile: RoleProfile) -> GrantJudgement | None:
        if profile.admin or not profile.data or grant.scope_level not in BROAD_LEVELS:
            return None
        if narrows(note_of(inv, principal, grant).condition):
            return None  # a resource condition narrows it (a time limit does not: it reads everything now)
        return GrantJudgement(
            f"{', '.join(profile.data)} via {grant.role} on {grant.scope}",
            # Severity rises with reach: every project of a folder or organisation, like Azure's
            # subscription-wide data roles (AZ-004 high).
            Severity.HIGH if grant.scope_level in ("folder", "organization") else None,
            {"permissions": {p: describe(p) for p in profile.data}, **judgement_notes(inv, principal, grant)},
        )

    return grant_matches(inv, judge)


@rule(
    "GCP-004",
    "Workload identity is granted a role at folder or organisation level",
    Category.BROAD_SCOPE,
    Severity.MEDIUM,
    rationale="A folder or organisation binding applies to every project below it, now and later. "
    "Read-only roles (only get/list/search permissions) are left out: reading across an organisation "
    "is what inventory and audit roles are for.",
    remediation="Grant the role on the project or resource the workload uses.",
    cloud=GCP,
)
def broad_scope(inv: Inventory) -> Iterator[Match]:
    return grant_matches(inv, _broad_scope)


def _broad_scope(_principal: str, grant: Grant, profile: RoleProfile) -> GrantJudgement | None:
    # Why not read-only roles: an auditor or inventory role must read the whole organisation.
    return GrantJudgement() if grant.scope_level in ("folder", "organization") and not profile.read_only else None


@rule(
    "GCP-005",
    "Sensitive role granted without an IAM condition",
    Category.MISSING_CONDITION,
    Severity.LOW,
    rationale="A role that escalates, or reads data project-wide, is least privilege only when a "
    "condition narrows it (resource.name, a time limit).",
    remediation="Add an IAM condition to the binding, e.g. "
    "resource.name.startsWith('projects/P/secrets/app-'), or move it to the resource.",
    cloud=GCP,
    references=("https://cloud.google.com/iam/docs/conditions-overview",),
)
def missing_condition(inv: Inventory) -> Iterator[Match]:
    def judge(principal: str, grant: Grant, profile: RoleProfile) -> GrantJudgement | None:
        note = note_of(inv, principal, grant)
        if conditioned(note.condition) or profile.admin:
            return None  # a condition that is always true scopes nothing: as if there were none
        broad = grant.scope_level in BROAD_LEVELS
        escalates = bool(escalations(inv, principal, grant, profile))
        if not (escalates or (broad and profile.data)):
            return None
        return GrantJudgement(None, None, judgement_notes(inv, principal, grant))

    return grant_matches(inv, judge)


RULES = (admin_roles, privilege_escalation, data_access, broad_scope, missing_condition)
