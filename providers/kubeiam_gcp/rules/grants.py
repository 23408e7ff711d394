"""GCP-001..005: what the roles granted to a workload's Google identity allow (see docs/gcp.md)."""

from __future__ import annotations

from collections.abc import Iterator

from kubeiam.vocabulary.findings import Category, Severity
from kubeiam.vocabulary.model import Grant, Inventory
from kubeiam.vocabulary.rules import Match, rule
from kubeiam_gcp.declarations import GCP
from kubeiam_gcp.judge.grants import BROAD_LEVELS, grant_scope
from kubeiam_gcp.judge.profile import RoleProfile, describe

from .helpers import GrantJudgement, grant_matches

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
    return grant_matches(inv, lambda _principal, _grant, profile: GrantJudgement() if profile.admin else None)


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
    return grant_matches(inv, _escalation)


def _escalation(principal: str, grant: Grant, profile: RoleProfile) -> GrantJudgement | None:
    if profile.admin:
        return None  # GCP-001 reports it: one ticket for the basic role
    where = grant_scope(principal, grant)
    found = profile.escalation_on(where)
    if not found:
        return None
    reach = {
        "broad": f"every resource and service account in {grant.scope}",
        "other-account": f"service account {(grant.scope or '').rsplit('/', 1)[-1]}",
    }.get(where, grant.scope)
    # Why critical: setting the project's (folder's, organisation's) own IAM policy without a
    # condition is Owner in one step, like Azure's roleAssignments/write at subscription scope.
    owner_in_one_step = where == "broad" and not grant.condition and any(p in _POLICY_OF_SCOPE for p in found)
    return GrantJudgement(
        f"{grant.role} on {grant.scope} ({', '.join(found[:3])}{', ...' if len(found) > 3 else ''})",
        Severity.CRITICAL if owner_in_one_step else None,
        {"reach": reach, "permissions": {p: describe(p) for p in found}},
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
    return grant_matches(inv, _data_access)


def _data_access(_principal: str, grant: Grant, profile: RoleProfile) -> GrantJudgement | None:
    if profile.admin or not profile.data or grant.scope_level not in BROAD_LEVELS or grant.condition:
        return None
    return GrantJudgement(
        f"{', '.join(profile.data)} via {grant.role} on {grant.scope}",
        # Severity rises with reach: every project of a folder or organisation, like Azure's
        # subscription-wide data roles (AZ-004 high).
        Severity.HIGH if grant.scope_level in ("folder", "organization") else None,
        {"permissions": {p: describe(p) for p in profile.data}},
    )


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
    return grant_matches(inv, _missing_condition)


def _missing_condition(principal: str, grant: Grant, profile: RoleProfile) -> GrantJudgement | None:
    if grant.condition or profile.admin:
        return None
    broad = grant.scope_level in BROAD_LEVELS
    escalates = bool(profile.escalation_on(grant_scope(principal, grant)))
    return GrantJudgement() if escalates or (broad and profile.data) else None


RULES = (admin_roles, privilege_escalation, data_access, broad_scope, missing_condition)
