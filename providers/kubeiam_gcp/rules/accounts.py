"""GCP-008 and GCP-009: the Google service account a workload takes, itself a risk: user-managed keys,
or the Compute Engine default account every VM shares (see docs/gcp.md)."""

from __future__ import annotations

from collections.abc import Iterator

from kubeiam.vocabulary.findings import Category, Severity
from kubeiam.vocabulary.identity_groups import identity_groups
from kubeiam.vocabulary.model import Inventory
from kubeiam.vocabulary.rules import Match, rule
from kubeiam_gcp.declarations import GCP
from kubeiam_gcp.judge.grants import holds_admin
from kubeiam_gcp.view import view_of

from .helpers import ANY_IDENTITY, group_match


@rule(
    "GCP-008",
    "Google service account has user-managed keys",
    Category.STATIC_CREDENTIAL,
    Severity.HIGH,
    rationale="A user-managed key is a long-lived credential for the same identity the workload "
    "gets through Workload Identity; it works from anywhere until deleted.",
    remediation="Delete the keys (gcloud iam service-accounts keys delete) and enforce "
    "constraints/iam.disableServiceAccountKeyCreation.",
    cloud=GCP,
    references=("https://cloud.google.com/iam/docs/best-practices-for-managing-service-account-keys",),
)
def user_managed_keys(inv: Inventory) -> Iterator[Match]:
    view = view_of(inv)
    for group in identity_groups(inv, GCP, ANY_IDENTITY):
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
    cloud=GCP,
)
def default_compute_account(inv: Inventory) -> Iterator[Match]:
    for group in identity_groups(inv, GCP, ANY_IDENTITY):
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


RULES = (user_managed_keys, default_compute_account)
