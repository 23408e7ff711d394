"""The subscriptions under management groups (`--azure-management-group`): a central audit.

One paged `GET /providers/Microsoft.Management/managementGroups/{id}/descendants` per group given
(azure-mgmt-managementgroups, `management_groups.get_descendants`) returns every management group and
subscription below it, all levels, each with its parent: no walk, one call (and its pages) per group.
Each subscription found is then read exactly as if given with `--azure-subscription`. A group that
cannot be listed (403 without `Microsoft.Management/managementGroups/descendants/read`, 404) is coverage
naming it; the other groups and the subscriptions given by name are still read.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from typing import TYPE_CHECKING

from kubeiam_azure.live.clients import JSON, Calls, to_rest

if TYPE_CHECKING:
    from azure.mgmt.managementgroups import ManagementGroupsMgmtClient

GROUP_ID = "/providers/Microsoft.Management/managementGroups/{}"


def group_name(value: str) -> str:
    """`platform` or `/providers/Microsoft.Management/managementGroups/platform` -> `platform`."""
    return value.strip().rstrip("/").rpartition("/")[2]


def subscriptions_in(descendants: Iterable[JSON]) -> list[str]:
    """The subscription ids (lower-cased, in order, each once) among a group's descendants (REST JSON).

    Why by id rather than `type`: ARM's own example says `Microsoft.Management/managementGroups/subscriptions`,
    other answers and the SDK's documentation say `/subscriptions`; the id is `/subscriptions/<id>` in both.
    """
    found = []
    for d in descendants:
        parts = str(d.get("id") or "").strip("/").split("/")
        if len(parts) == 2 and parts[0].lower() == "subscriptions" and parts[1]:
            found.append(parts[1].lower())
    return list(dict.fromkeys(found))


def subscriptions_under(groups: Iterable[str], calls: Calls, client: ManagementGroupsMgmtClient) -> list[str]:
    """Every subscription below `groups` (all levels), each once; a group that fails is one coverage error."""
    jobs = [partial(_descendants, group_name(g), calls, client) for g in dict.fromkeys(groups)]
    found: list[str] = []
    for items in calls.parallel("azure: subscriptions under management groups", jobs):
        found += subscriptions_in(items or ())
    return list(dict.fromkeys(found))


def _descendants(group: str, calls: Calls, client: ManagementGroupsMgmtClient) -> list[JSON] | None:
    resource = GROUP_ID.format(group)
    return calls.call(
        lambda: [to_rest(d) for d in client.management_groups.get_descendants(group)],
        location=f"GET {resource}/descendants (the subscriptions under management group {group} are not read)",
        subject=resource,
    )
