"""What the GCP rule families share: Matches for a link or a group of ServiceAccounts, and the grant
rules' one loop (each identity's grants judged once, one Match per identity, link reason and binding).

One Match stands for the ServiceAccounts of an identity and link reason
(`kubeiam.vocabulary.identity_groups`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

from kubeiam.vocabulary.findings import Severity
from kubeiam.vocabulary.identity_groups import identity_groups
from kubeiam.vocabulary.model import Grant, IdentityLink, Inventory, LinkStatus, ServiceAccount
from kubeiam.vocabulary.rules import Match
from kubeiam_gcp.declarations import GCP
from kubeiam_gcp.judge.conditions import NONE
from kubeiam_gcp.judge.grants import judged_grants, note_of
from kubeiam_gcp.judge.guardrails import deny_note
from kubeiam_gcp.judge.profile import RoleProfile
from kubeiam_gcp.view import view_of

# Why unchecked links too (when the GSA is known): the trust could not be read, so nothing shows the
# access is not there; its roles are reported as for a resolved link (as Azure does).
GRANTED = (LinkStatus.RESOLVED, LinkStatus.UNCHECKED)
ANY_IDENTITY = (LinkStatus.RESOLVED, LinkStatus.UNTRUSTED, LinkStatus.UNCHECKED)


def link_match(link: IdentityLink, item: str, **kw: Any) -> Match:
    return Match(
        cluster=link.cluster,
        namespace=link.namespace,
        service_account=link.service_account,
        cloud=GCP,
        principal=link.principal,
        item=item,
        **kw,
    )


def group_match(link: IdentityLink, sas: tuple[ServiceAccount, ...], item: str, **kw: Any) -> Match:
    return Match.for_sas(link.cluster, sas, cloud=GCP, principal=link.principal, item=item, **kw)


class GrantJudgement(NamedTuple):
    """What a grant rule says about one binding it flags: the finding's detail, a raised severity,
    extra evidence (each None / empty for the rule's defaults)."""

    detail: str | None = None
    severity: Severity | None = None
    extra: Mapping[str, Any] = MappingProxyType({})


GrantJudge = Callable[[str, Grant, RoleProfile], GrantJudgement | None]
"""(principal, grant, profile) -> a judgement when the grant breaks the rule, else None."""


def grant_matches(inv: Inventory, judge: GrantJudge) -> Iterator[Match]:
    """One Match per (ServiceAccounts of one identity and link reason, binding) that `judge` flags:
    item the role, source `ROLE@SCOPE [if CONDITION]` (never an index). Judged once per identity."""
    for group in identity_groups(inv, GCP, GRANTED):
        flagged = _flagged(inv, group.link, judge)
        for link, sas in group.by_reason if flagged else ():
            for grant, binding, detail, judgement in flagged:
                yield group_match(
                    link,
                    sas,
                    grant.role or "",
                    source=grant.source,
                    severity=judgement.severity,
                    detail=detail,
                    evidence={"binding": binding, "mechanism": link.mechanism, "link": link.reason, **judgement.extra},
                )


def _flagged(
    inv: Inventory, link: IdentityLink, judge: GrantJudge
) -> list[tuple[Grant, dict[str, Any], str, GrantJudgement]]:
    """(grant, its binding as evidence, finding detail, judgement) for each grant of the identity `judge` flags."""
    found = []
    for grant, profile in judged_grants(inv, link.identity):
        judgement = judge(link.principal, grant, profile)
        if judgement is not None:
            detail = judgement.detail or f"{grant.role} on {grant.scope}"
            found.append((grant, dict(grant.document or {}), detail, judgement))
    return found


_EFFECTS = {
    "always": "always true: it scopes nothing",
    "temporary": "a time limit, in force now: it reaches every resource until then",
    "later": "not in force yet (it starts later)",
    "scoped": "narrows the resources (or cannot be decided from the evidence)",
}


def judgement_notes(inv: Inventory, principal: str, grant: Grant) -> dict[str, Any]:
    """Evidence on how a grant was judged besides its role: its IAM condition, the deny policies."""
    note = note_of(inv, principal, grant)
    out: dict[str, Any] = {}
    if note.condition != NONE:
        out["condition"] = {"expression": grant.condition, "judged": _EFFECTS.get(note.condition, note.condition)}
    if note.cut.permissions:
        out["denied"] = {"policies": list(note.cut.policies), "permissions": sorted(note.cut.permissions)[:20]}
    unread = deny_note(view_of(inv), grant)
    if unread:
        out["deny_policies"] = unread
    return out
