"""Helpers the AWS rules share: the view, each ServiceAccount's AWS links, role analyses, severity by reach."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple

from kubeiam.vocabulary.findings import Severity
from kubeiam.vocabulary.model import IdentityLink, Inventory, LinkStatus, ServiceAccount
from kubeiam.vocabulary.rules import Match
from kubeiam_aws.declarations import AWS
from kubeiam_aws.judge.profile import RoleAnalysis, analyse_role
from kubeiam_aws.view import AwsView, Role, empty_view


def aws_view(inv: Inventory) -> AwsView:
    view = inv.views.get("aws")
    return view if isinstance(view, AwsView) else empty_view()


def aws_links(inv: Inventory, *statuses: LinkStatus) -> Iterator[tuple[ServiceAccount, IdentityLink]]:
    """(ServiceAccount, link) for every AWS link of the narrowed ServiceAccounts."""
    for sa, link, _role in _all_links(inv):
        if not statuses or link.status in statuses:
            yield sa, link


def _all_links(inv: Inventory) -> list[tuple[ServiceAccount, IdentityLink, Role | None]]:
    # Built once per (narrowed) inventory, not once per rule: fourteen rules walk the same links.
    return inv.memo("aws_links", _link_roles)


def _link_roles(inv: Inventory) -> list[tuple[ServiceAccount, IdentityLink, Role | None]]:
    view = aws_view(inv)
    # A Pod Identity association with a session policy or session tags that decide a grant gives the role as
    # its sessions get it (view.sessions); every other link gives the role as IAM holds it.
    sessions = view.sessions
    links = [
        (sa, link, (sessions and sessions.get((*sa.key, link.principal))) or view.role(link.principal))
        for sa, link in inv.links_in(AWS)
    ]
    # Judge every role these ServiceAccounts take in one go, each once (memoised in the view).
    for role in {id(r): r for _, _, r in links if r is not None}.values():
        analyse_role(view, role)
    return links


def analysis(inv: Inventory, role: Role) -> RoleAnalysis:
    return analyse_role(aws_view(inv), role)


def by_reach(inv: Inventory, role: Role | None, default: Severity) -> Severity:
    """Severity rises with what the identity reaches: admin-equivalent makes any exposure critical."""
    if role is None:
        return default
    return Severity.CRITICAL if analysis(inv, role).power == "admin" else default


def per_role(inv: Inventory, key: str, role: Role, build: Callable[[Role], Any]) -> Any:
    """`build(role)`, once per role and rule: what a rule says about a role is the same for every
    ServiceAccount that takes it, so evidence and titles are built once (the engine shares evidence)."""
    memo = aws_view(inv).memo
    k = (key, role.key)
    if k not in memo:
        memo[k] = build(role)
    return memo[k]


def role_matches(
    inv: Inventory, key: str, build: Callable[[Role], Sequence[Mapping[str, Any]]], *statuses: LinkStatus
) -> Iterator[Match]:
    """Per spec `build` gives for a role, one Match standing for every ServiceAccount of a cluster that
    takes the role (the engine makes a finding for each; specs memoised per role)."""
    for group in role_groups(inv, *statuses):
        for spec in per_role(inv, key, group.role, build):
            yield Match.for_sas(group.cluster, group.service_accounts, cloud=AWS, principal=group.role.arn, **spec)


class RoleGroup(NamedTuple):
    cluster: str
    mechanism: str
    role: Role
    service_accounts: tuple[ServiceAccount, ...]


def role_groups(inv: Inventory, *statuses: LinkStatus) -> list[RoleGroup]:
    """The ServiceAccounts that take each role, by cluster and mechanism (IRSA, Pod Identity), with a
    link of one of `statuses`; built once per inventory. Rules judge a role once per group, not once
    per ServiceAccount: most roles have nothing to report, and a role has several ServiceAccounts."""
    cache: dict[tuple[LinkStatus, ...], list[RoleGroup]] = inv.memo("aws_role_groups", lambda _: {})
    if statuses not in cache:
        groups: dict[tuple[str, str, str], tuple[Role, list[ServiceAccount]]] = {}
        for sa, link, role in _all_links(inv):
            if role is not None and (not statuses or link.status in statuses):
                groups.setdefault((sa.cluster, link.mechanism, role.key), (role, []))[1].append(sa)
        cache[statuses] = [RoleGroup(c, mech, role, tuple(sas)) for (c, mech, _), (role, sas) in groups.items()]
    return cache[statuses]


def role_evidence(inv: Inventory, role: Role, **extra: Any) -> dict[str, Any]:
    result = analysis(inv, role)
    out: dict[str, Any] = {"role": role.arn, "file": role.source, **extra}
    if role.session is not None:
        out["pod_identity_association"] = role.session.subject
        if role.session.policy is not None:
            out["session_policy"] = role.session.policy.source
    if role.boundary_arn:
        out["permissions_boundary"] = role.boundary_arn
    if result.blocked_by_boundary:
        out["blocked_by_boundary"] = list(result.blocked_by_boundary)
    if result.blocked_by_guardrail:
        out["blocked_by_guardrail"] = list(result.blocked_by_guardrail)
    if result.guardrails:
        out["guardrails"] = list(result.guardrails)
    if result.incomplete:
        out["not_evaluated"] = list(result.incomplete)
    return out


def capped(items: tuple[str, ...] | list[str], limit: int = 25) -> list[str]:
    items = list(items)
    return items if len(items) <= limit else [*items[:limit], f"... and {len(items) - limit} more"]
