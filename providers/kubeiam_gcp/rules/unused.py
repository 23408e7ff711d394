"""GCP-011: access a workload's Google identity holds but has not used (docs/gcp.md, "Unused access").

Judged once per identity from the usage files (IAM recommender insights and recommendations, Policy
Analyzer last authentication), one Match for all its ServiceAccounts. Reported only where the right-sized
grant drops something: a binding (or the whole identity) not used in the window, or permissions of a
tracked binding neither used nor predicted to be needed. What the data cannot see is in `usage.limits`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kubeiam.vocabulary.findings import Category, Severity
from kubeiam.vocabulary.identity_groups import identity_groups
from kubeiam.vocabulary.model import CloudIdentity, Inventory
from kubeiam.vocabulary.rules import Match, rule
from kubeiam_gcp.declarations import GCP
from kubeiam_gcp.judge.catalogue import load_catalogue
from kubeiam_gcp.judge.right_size import RightSized, right_size
from kubeiam_gcp.judge.usage import BindingUse, IdentityUse, first_names, identity_use, project_of_account, rfc3339
from kubeiam_gcp.view import GcpView, view_of

from .helpers import GRANTED, group_match

ITEM = "unused-access"
"""One finding per identity and ServiceAccount: the fingerprint does not change as usage does."""
_SEVERITY = {"admin": Severity.HIGH, "escalation": Severity.HIGH, "data": Severity.MEDIUM, "write": Severity.MEDIUM}
_SAMPLE = 5

Judged = tuple[IdentityUse, RightSized] | None


@rule(
    "GCP-011",
    "Workload identity holds access it has not used",
    Category.UNUSED_ACCESS,
    Severity.LOW,
    rationale="A role binding (or a whole Google service account) the workload has not used in the window "
    "only adds what a stolen token can do. The IAM recommender records which permissions of each binding "
    "were used; Policy Analyzer records when an account last authenticated.",
    remediation="Apply the right-sized grant in the finding's evidence (`right_sized`): create its custom "
    "roles, add its bindings, then remove the bindings it replaces; or remove an identity not used at all.",
    cloud=GCP,
    references=(
        "https://cloud.google.com/policy-intelligence/docs/role-recommendations-overview",
        "https://cloud.google.com/iam/docs/service-account-recent-usage",
    ),
)
def unused_access(inv: Inventory) -> Iterator[Match]:
    for group in identity_groups(inv, GCP, GRANTED):
        link = group.link
        judged = _judged(inv, link.identity)
        if judged is None:
            continue
        use, sized = judged
        granted, used = use.counts()
        yield group_match(
            link,
            group.service_accounts,
            ITEM,
            source="usage",
            severity=_SEVERITY.get(sized.level),
            detail=_detail(use, granted, used),
            evidence=_evidence(use, sized, link.mechanism, granted, used),
        )


def _judged(inv: Inventory, identity: CloudIdentity | None) -> Judged:
    """Once per identity (keyed by the object the reader shares), whichever ServiceAccount asks first."""
    if identity is None or not identity.grants:
        return None
    memo: dict[int, tuple[CloudIdentity, Judged]] = inv.memo("gcp_unused", lambda _: {})
    hit = memo.get(id(identity))
    if hit is not None and hit[0] is identity:
        return hit[1]
    judged = _judge(inv, view_of(inv), identity)
    memo[id(identity)] = (identity, judged)
    return judged


def _judge(inv: Inventory, view: GcpView, identity: CloudIdentity) -> Judged:
    gsa = view.service_accounts.get(identity.principal)
    project = gsa.project if gsa else project_of_account(identity.principal)
    keys = tuple(k.name for k in (gsa.keys or ()) if k.key_type == "USER_MANAGED") if gsa else ()
    use = identity_use(
        identity,
        view.permissions,
        view.usage,
        window_days=inv.usage_window_days,
        as_of=inv.as_of,
        project=None if "://" in identity.principal else project,
        key_names=keys,
    )
    catalogue = load_catalogue()
    sized = right_size(identity.principal, use, lambda r: view.permissions.get(r) or catalogue.permissions_of(r))
    return (use, sized) if sized is not None else None


def _detail(use: IdentityUse, granted: int, used: int) -> str:
    if use.authentication == "never" and use.idle:
        return f"never used: no authentication recorded ({granted} permissions granted)"
    if use.idle:
        when = (rfc3339(use.last_used) or "unknown")[:10]
        return f"not used for {use.idle_days} days (last authentication {when}; {granted} permissions granted)"
    return f"uses {used} of {granted} permissions of its tracked role bindings"


def _evidence(use: IdentityUse, sized: RightSized, mechanism: str, granted: int, used: int) -> dict[str, Any]:
    out: dict[str, Any] = {
        "usage": {
            "granted": granted,
            "used": used,
            "unit": "permissions",
            "window_days": use.window_days,
            "last_used": rfc3339(use.last_used),
            "source": "; ".join(use.sources) or "none",
            "limits": list(use.limits),
        },
        "right_sized": {"format": sized.format, "document": sized.document, "drops": list(sized.drops)},
        # An identity not used at all loses every binding: what each one's use was says nothing more.
        "bindings": [_binding(b) for b in use.bindings] if not use.idle else [],
        "mechanism": mechanism,
    }
    if use.authentication != "unknown":
        out["authentication"] = use.authentication  # never, idle or recent (the title says for how long)
    if use.keys:
        out["keys"] = {k: rfc3339(t) for k, t in sorted(use.keys.items())}
    return out


def _binding(b: BindingUse) -> dict[str, Any]:
    out: dict[str, Any] = {"role": b.grant.role, "scope": b.grant.scope, "granted": len(b.permissions)}
    if b.grant.condition:
        out["condition"] = b.grant.condition
    if b.exercised is None:
        out["untracked"] = b.untracked
    else:
        out["used"] = len(b.exercised)
        out["unused"] = first_names(b.permissions - b.kept, _SAMPLE)
    if b.insight is not None:
        out["insight"] = b.insight.name
    if b.recommendation is not None:
        out["recommendation"] = f"{b.recommendation.subtype} {b.recommendation.name}"
    return out


RULES = (unused_access,)
