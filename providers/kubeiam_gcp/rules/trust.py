"""GCP-006 and GCP-007: the trust that lets Kubernetes ServiceAccounts take a Google identity, too
wide or broken (see docs/gcp.md)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kubeiam.vocabulary.findings import Category, Severity
from kubeiam.vocabulary.identity_groups import identity_groups
from kubeiam.vocabulary.model import IdentityLink, Inventory, LinkStatus
from kubeiam.vocabulary.rules import Match, rule
from kubeiam_gcp.declarations import GCP
from kubeiam_gcp.judge.grants import holds_admin
from kubeiam_gcp.judge.trust import parse_member
from kubeiam_gcp.view import GcpView, view_of

from .helpers import group_match, link_match

_REF_WI = "https://cloud.google.com/kubernetes-engine/docs/how-to/workload-identity"


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
    cloud=GCP,
    references=(_REF_WI,),
)
def trust_unscoped(inv: Inventory) -> Iterator[Match]:
    view = view_of(inv)
    for group in identity_groups(inv, GCP, (LinkStatus.RESOLVED,)):
        for spec in _unscoped_trust(inv, view, group.link):
            yield group_match(group.link, group.service_accounts, **spec)


def _unscoped_trust(inv: Inventory, view: GcpView, link: IdentityLink) -> list[dict[str, Any]]:
    """The GCP-006 matches of one identity (as Match keywords): the same for each of its ServiceAccounts."""
    severity = Severity.CRITICAL if holds_admin(inv, link.identity) else None
    if link.mechanism == "gke-direct":
        m = parse_member(link.principal)
        if m is None or not m.is_set:
            return []
        grants = link.identity.grants if link.identity else ()  # a direct link always has its identity
        return [
            {
                "item": link.principal,
                "source": link.principal,
                "severity": severity,
                "detail": f"roles granted to the {m.scope}-wide member {link.principal}",
                "evidence": {"member": link.principal, "grants": [g.source for g in grants]},
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
    cloud=GCP,
    references=(_REF_WI,),
)
def binding_broken(inv: Inventory) -> Iterator[Match]:
    view = view_of(inv)
    for _sa, link in inv.links_in(GCP):
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


RULES = (trust_unscoped, binding_broken)
