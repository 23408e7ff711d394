"""Helpers the AWS rules share: the view, each ServiceAccount's AWS links, role analyses, severity by reach."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kubeiam.findings import Severity
from kubeiam.model import Cloud, IdentityLink, Inventory, LinkStatus, ServiceAccount
from kubeiam_aws.analysis import RoleAnalysis, analyse_role
from kubeiam_aws.view import AwsView, Role, empty_view


def aws_view(inv: Inventory) -> AwsView:
    view = inv.views.get("aws")
    return view if isinstance(view, AwsView) else empty_view()


def aws_links(inv: Inventory, *statuses: LinkStatus) -> Iterator[tuple[ServiceAccount, IdentityLink]]:
    """(ServiceAccount, link) for every AWS link of the narrowed ServiceAccounts."""
    for sa in inv.service_accounts:
        for link in inv.links_of(sa):
            if link.cloud is Cloud.AWS and (not statuses or link.status in statuses):
                yield sa, link


def linked_roles(inv: Inventory, *statuses: LinkStatus) -> Iterator[tuple[ServiceAccount, IdentityLink, Role]]:
    view = aws_view(inv)
    for sa, link in aws_links(inv, *statuses):
        role = view.role(link.principal)
        if role is not None:
            yield sa, link, role


def analysis(inv: Inventory, role: Role) -> RoleAnalysis:
    return analyse_role(aws_view(inv), role)


def by_reach(inv: Inventory, role: Role | None, default: Severity) -> Severity:
    """Severity rises with what the identity reaches: admin-equivalent makes any exposure critical."""
    if role is None:
        return default
    return Severity.CRITICAL if analysis(inv, role).power == "admin" else default


def role_evidence(inv: Inventory, role: Role, **extra: Any) -> dict[str, Any]:
    result = analysis(inv, role)
    out: dict[str, Any] = {"role": role.arn, "file": role.source, **extra}
    if role.boundary_arn:
        out["permissions_boundary"] = role.boundary_arn
    if result.blocked_by_boundary:
        out["blocked_by_boundary"] = list(result.blocked_by_boundary)
    if result.incomplete:
        out["not_evaluated"] = list(result.incomplete)
    return out


def capped(items: tuple[str, ...] | list[str], limit: int = 25) -> list[str]:
    items = list(items)
    return items if len(items) <= limit else [*items[:limit], f"... and {len(items) - limit} more"]
