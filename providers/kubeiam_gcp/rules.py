"""Google Cloud rules over the GKE identity links and the GCP view (see docs/gcp.md for the table)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kubeiam.findings import Category, Severity
from kubeiam.model import Cloud, Grant, IdentityLink, Inventory, LinkStatus
from kubeiam.rules.base import Match, rule
from kubeiam.rules.groups import identity_groups
from kubeiam_gcp.classify import RoleProfile, describe
from kubeiam_gcp.grants import (
    ANY_IDENTITY,
    BROAD_LEVELS,
    Verdict,
    grant_matches,
    grant_scope,
    group_match,
    holds_admin,
    link_match,
    view_of,
)
from kubeiam_gcp.members import parse_member
from kubeiam_gcp.rules_nodes import node_metadata_exposed
from kubeiam_gcp.view import GcpView

_REF_WI = "https://cloud.google.com/kubernetes-engine/docs/how-to/workload-identity"
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
    cloud="gcp",
    references=("https://cloud.google.com/iam/docs/understanding-roles#basic",),
)
def admin_roles(inv: Inventory) -> Iterator[Match]:
    return grant_matches(inv, lambda _principal, _grant, profile: Verdict() if profile.admin else None)


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
    cloud="gcp",
    references=(_REF_PRIVESC, "https://cloud.google.com/iam/docs/service-account-permissions"),
)
def privilege_escalation(inv: Inventory) -> Iterator[Match]:
    return grant_matches(inv, _escalation)


def _escalation(principal: str, grant: Grant, profile: RoleProfile) -> Verdict | None:
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
    return Verdict(
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
    cloud="gcp",
    references=("https://cloud.google.com/secret-manager/docs/access-control",),
)
def data_access(inv: Inventory) -> Iterator[Match]:
    return grant_matches(inv, _data_access)


def _data_access(_principal: str, grant: Grant, profile: RoleProfile) -> Verdict | None:
    if profile.admin or not profile.data or grant.scope_level not in BROAD_LEVELS or grant.condition:
        return None
    return Verdict(
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
    cloud="gcp",
)
def broad_scope(inv: Inventory) -> Iterator[Match]:
    return grant_matches(inv, _broad_scope)


def _broad_scope(_principal: str, grant: Grant, profile: RoleProfile) -> Verdict | None:
    # Why not read-only roles: an auditor or inventory role must read the whole organisation.
    return Verdict() if grant.scope_level in ("folder", "organization") and not profile.read_only else None


@rule(
    "GCP-005",
    "Sensitive role granted without an IAM condition",
    Category.MISSING_CONDITION,
    Severity.LOW,
    rationale="A role that escalates, or reads data project-wide, is least privilege only when a "
    "condition narrows it (resource.name, a time limit).",
    remediation="Add an IAM condition to the binding, e.g. "
    "resource.name.startsWith('projects/P/secrets/app-'), or move it to the resource.",
    cloud="gcp",
    references=("https://cloud.google.com/iam/docs/conditions-overview",),
)
def missing_condition(inv: Inventory) -> Iterator[Match]:
    return grant_matches(inv, _missing_condition)


def _missing_condition(principal: str, grant: Grant, profile: RoleProfile) -> Verdict | None:
    if grant.condition or profile.admin:
        return None
    broad = grant.scope_level in BROAD_LEVELS
    escalates = bool(profile.escalation_on(grant_scope(principal, grant)))
    return Verdict() if escalates or (broad and profile.data) else None


@rule(
    "GCP-006",
    "Workload identity is open to more than this ServiceAccount",
    Category.TRUST_UNSCOPED,
    Severity.HIGH,
    rationale="A principalSet member (a namespace, a cluster or the whole workload pool) lets every "
    "ServiceAccount it covers take the identity; a Google service account trusted by several "
    "ServiceAccounts mixes their permissions.",
    remediation="Bind roles/iam.workloadIdentityUser (or the role) to the one member "
    "serviceAccount:PROJECT.svc.id.goog[NAMESPACE/KSA] or principal://.../subject/ns/NAMESPACE/sa/KSA.",
    cloud="gcp",
    references=(_REF_WI,),
)
def trust_unscoped(inv: Inventory) -> Iterator[Match]:
    view = view_of(inv)
    for group in identity_groups(inv, Cloud.GCP, (LinkStatus.RESOLVED,)):
        for spec in _unscoped_trust(inv, view, group.link):
            yield group_match(group.link, group.service_accounts, **spec)


def _unscoped_trust(inv: Inventory, view: GcpView, link: IdentityLink) -> list[dict[str, Any]]:
    """The GCP-006 matches of one identity (as Match keywords): the same for each of its ServiceAccounts."""
    severity = Severity.CRITICAL if holds_admin(inv, link.identity) else None
    if link.mechanism == "gke-direct":
        m = parse_member(link.principal)
        if m is None or not m.is_set:
            return []
        return [
            {
                "item": link.principal,
                "source": link.principal,
                "severity": severity,
                "detail": f"roles granted to the {m.scope}-wide member {link.principal}",
                "evidence": {"member": link.principal, "grants": [g.source for g in link.identity.grants]},
            }
        ]
    trust = view.trusted_by.get(link.principal, ())
    sets = sorted({b.member for b in trust if (m := parse_member(b.member)) and m.is_set})
    found = [
        {
            "item": member,
            "source": f"{link.principal} trust",
            "severity": severity,
            "detail": f"{link.principal} trusts {member}",
            "evidence": {"trusted_member": member, "bindings": [b.document() for b in trust if b.member == member]},
        }
        for member in sets
    ]
    # One KSA may be named twice (legacy serviceAccount: and principal:// forms): count KSAs.
    single = sorted(
        {f"{m.pool}[{m.namespace}/{m.name}]" for b in trust if (m := parse_member(b.member)) and not m.is_set}
    )
    if len(single) > 1:
        found.append(
            {
                "item": "shared",
                "source": f"{link.principal} trust",
                "severity": severity,
                "detail": f"{link.principal} is trusted by {len(single)} ServiceAccounts",
                "evidence": {"trusted_members": single},
            }
        )
    return found


@rule(
    "GCP-007",
    "GKE Workload Identity binding is broken",
    Category.BINDING_BROKEN,
    Severity.MEDIUM,
    rationale="When the Google service account does not exist, is disabled, or does not grant "
    "roles/iam.workloadIdentityUser to this ServiceAccount, the pod gets no token for it and falls "
    "back to other credentials (the node's, on pools without GKE_METADATA).",
    remediation="gcloud iam service-accounts add-iam-policy-binding GSA --role roles/iam.workloadIdentityUser "
    "--member 'serviceAccount:PROJECT.svc.id.goog[NAMESPACE/KSA]', or fix the annotation.",
    cloud="gcp",
    references=(_REF_WI,),
)
def binding_broken(inv: Inventory) -> Iterator[Match]:
    view = view_of(inv)
    for _sa, link in inv.links_in(Cloud.GCP):
        if link.status not in (LinkStatus.UNTRUSTED, LinkStatus.MISSING):
            continue
        gke = view.clusters.get(link.cluster)
        pool = gke.workload_pool if gke and gke.workload_pool else "PROJECT.svc.id.goog"
        fix = None
        if link.status is LinkStatus.UNTRUSTED and "workloadIdentityUser" in link.reason:
            fix = (
                f"gcloud iam service-accounts add-iam-policy-binding {link.principal} "
                f"--role=roles/iam.workloadIdentityUser "
                f"--member='serviceAccount:{pool}[{link.namespace}/{link.service_account}]'"
            )
        yield link_match(
            link,
            link.status.value,
            source=link.principal,
            detail=link.reason,
            evidence={"annotation": link.principal, "status": link.status.value, "reason": link.reason},
            remediation=fix,
        )


@rule(
    "GCP-008",
    "Google service account has user-managed keys",
    Category.STATIC_CREDENTIAL,
    Severity.HIGH,
    rationale="A user-managed key is a long-lived credential for the same identity the workload "
    "gets through Workload Identity; it works from anywhere until deleted.",
    remediation="Delete the keys (gcloud iam service-accounts keys delete) and enforce "
    "constraints/iam.disableServiceAccountKeyCreation.",
    cloud="gcp",
    references=("https://cloud.google.com/iam/docs/best-practices-for-managing-service-account-keys",),
)
def user_managed_keys(inv: Inventory) -> Iterator[Match]:
    view = view_of(inv)
    for group in identity_groups(inv, Cloud.GCP, ANY_IDENTITY):
        principal = group.link.principal
        gsa = view.service_accounts.get(principal)
        keys = [k for k in gsa.keys or () if k.key_type == "USER_MANAGED" and k.usable_at(inv.as_of)] if gsa else []
        if keys:
            yield group_match(
                group.link,
                group.service_accounts,
                "user-managed-keys",
                source=principal,
                detail=f"{len(keys)} key(s) on {principal}",
                evidence={
                    "keys": [{"id": k.key_id, "created": k.valid_after, "expires": k.valid_before} for k in keys]
                },
            )


@rule(
    "GCP-009",
    "Workload uses the Compute Engine default service account",
    Category.TRUST_UNSCOPED,
    Severity.HIGH,
    rationale="Every VM and node pool that names no service account runs as the default compute "
    "account, so the pod shares an identity (often holding roles/editor) with all of them.",
    remediation="Create a dedicated Google service account for the workload with only the roles it needs.",
    cloud="gcp",
)
def default_compute_account(inv: Inventory) -> Iterator[Match]:
    for group in identity_groups(inv, Cloud.GCP, ANY_IDENTITY):
        link = group.link
        if link.mechanism == "gke-workload-identity" and link.principal.endswith(
            "-compute@developer.gserviceaccount.com"
        ):
            severity = Severity.CRITICAL if holds_admin(inv, link.identity) else None
            yield group_match(
                link,
                group.service_accounts,
                link.principal,
                source=link.principal,
                severity=severity,
                detail=link.principal,
            )


GCP_RULES = (
    admin_roles,
    privilege_escalation,
    data_access,
    broad_scope,
    missing_condition,
    trust_unscoped,
    binding_broken,
    user_managed_keys,
    default_compute_account,
    node_metadata_exposed,
)
