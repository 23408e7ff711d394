"""What the GCP grant rules share: each identity's grants judged once, and the Matches they make.

A role granted to a Google identity says the same about every ServiceAccount that takes the identity,
so grants are judged once per identity (keyed by the identity object the reader shares) and one Match
stands for the ServiceAccounts of an identity and link reason (`kubeiam.rules.groups`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

from kubeiam.findings import Severity
from kubeiam.model import Cloud, CloudIdentity, Grant, IdentityLink, Inventory, LinkStatus, ServiceAccount
from kubeiam.rules.base import Match
from kubeiam.rules.groups import cached, identity_groups
from kubeiam_gcp.classify import RoleProfile, classify
from kubeiam_gcp.view import GcpView

BROAD_LEVELS = ("project", "folder", "organization")


def view_of(inv: Inventory) -> GcpView:
    return inv.views.get("gcp") or GcpView()


def link_match(link: IdentityLink, item: str, **kw: Any) -> Match:
    return Match(
        cluster=link.cluster,
        namespace=link.namespace,
        service_account=link.service_account,
        cloud="gcp",
        principal=link.principal,
        item=item,
        **kw,
    )


def group_match(link: IdentityLink, sas: tuple[ServiceAccount, ...], item: str, **kw: Any) -> Match:
    return Match.for_sas(link.cluster, sas, cloud="gcp", principal=link.principal, item=item, **kw)


def _profile(view: GcpView, grant: Grant) -> RoleProfile | None:
    perms = view.permissions.get(grant.role or "")
    return classify(grant.role or "", perms) if perms is not None else None


def grant_scope(principal: str, grant: Grant) -> str:
    """Where a grant applies, as `RoleProfile.escalation_on` understands it."""
    if grant.scope_level in BROAD_LEVELS:
        return "broad"
    scope = grant.scope or ""
    if "/serviceAccounts/" in scope:
        return "own-account" if scope.rsplit("/", 1)[-1] == principal else "other-account"
    return "resource"


def _judged(inv: Inventory, identity: CloudIdentity | None) -> tuple[tuple[Grant, RoleProfile], ...]:
    """(grant, profile) for each grant of `identity` whose role's permissions are known; once per
    identity (keyed by the object, which the inventory keeps alive), whichever rule asks first."""
    memo: dict[int, tuple[tuple[Grant, RoleProfile], ...]] = cached(inv, "gcp_judged", lambda _: {})
    judged = memo.get(id(identity))
    if judged is None:
        view = view_of(inv)
        grants = identity.grants if identity else ()
        judged = memo[id(identity)] = tuple((g, p) for g in grants if (p := _profile(view, g)) is not None)
    return judged


def holds_admin(inv: Inventory, identity: CloudIdentity | None) -> bool:
    return any(p.admin for _, p in _judged(inv, identity))


class Verdict(NamedTuple):
    """What a grant rule says about one binding: the finding's detail, raised severity, extra evidence."""

    detail: str | None = None
    severity: Severity | None = None
    extra: Mapping[str, Any] = MappingProxyType({})


Judge = Callable[[str, Grant, RoleProfile], Verdict | None]
"""(principal, grant, profile) -> a verdict when the grant breaks the rule, else None."""

# Why unchecked links too (when the GSA is known): the trust could not be read, so nothing shows the
# access is not there; its roles are reported as for a resolved link (as Azure does).
GRANTED = (LinkStatus.RESOLVED, LinkStatus.UNCHECKED)
ANY_IDENTITY = (LinkStatus.RESOLVED, LinkStatus.UNTRUSTED, LinkStatus.UNCHECKED)


def grant_matches(inv: Inventory, judge: Judge) -> Iterator[Match]:
    """One Match per (ServiceAccounts of one identity and link reason, binding) that `judge` flags:
    item the role, source `ROLE@SCOPE [if CONDITION]` (never an index). Judged once per identity."""
    for group in identity_groups(inv, Cloud.GCP, GRANTED):
        flagged = _flagged(inv, group.link, judge)
        for link, sas in group.by_reason if flagged else ():
            for grant, binding, detail, verdict in flagged:
                yield group_match(
                    link,
                    sas,
                    grant.role or "",
                    source=grant.source,
                    severity=verdict.severity,
                    detail=detail,
                    evidence={"binding": binding, "mechanism": link.mechanism, "link": link.reason, **verdict.extra},
                )


def _flagged(inv: Inventory, link: IdentityLink, judge: Judge) -> list[tuple[Grant, dict[str, Any], str, Verdict]]:
    """(grant, its binding as evidence, finding detail, verdict) for each grant of the identity `judge` flags."""
    found = []
    for grant, profile in _judged(inv, link.identity):
        verdict = judge(link.principal, grant, profile)
        if verdict is not None:
            detail = verdict.detail or f"{grant.role} on {grant.scope}"
            found.append((grant, dict(grant.document or {}), detail, verdict))
    return found
