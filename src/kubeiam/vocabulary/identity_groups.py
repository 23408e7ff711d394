"""A cloud's links grouped by identity: one Match stands for every ServiceAccount that takes it.

What a rule says about an identity (a Google service account or `principal://` member, an Azure
managed identity) is the same for each ServiceAccount that takes it, except where a finding quotes
the link's own reason (which trust binding or federated credential admitted it). Rules walk these
groups, not the links, and judge each identity once; the engine makes one finding per ServiceAccount.
"""

from __future__ import annotations

from dataclasses import dataclass

from kubeiam.vocabulary.model import Cloud, IdentityLink, Inventory, LinkStatus, ServiceAccount


@dataclass(frozen=True, slots=True)
class IdentityGroup:
    """One cloud's links to one identity in one cluster (same mechanism, principal and identity object)."""

    by_reason: tuple[tuple[IdentityLink, tuple[ServiceAccount, ...]], ...]
    """The ServiceAccounts by the link's reason (rules that quote it): (first link, ServiceAccounts)."""

    @property
    def link(self) -> IdentityLink:
        """The first link: what findings about the identity say (principal, mechanism, identity)."""
        return self.by_reason[0][0]

    @property
    def service_accounts(self) -> tuple[ServiceAccount, ...]:
        if len(self.by_reason) == 1:
            return self.by_reason[0][1]
        return tuple(sa for _, sas in self.by_reason for sa in sas)


_Parts = dict[tuple[LinkStatus, str], tuple[IdentityLink, tuple[ServiceAccount, ...]]]
"""One identity's links in one cluster by (status, reason): (first link, its ServiceAccounts)."""
_Open = tuple[IdentityLink, list[ServiceAccount]]
"""A part while the links are walked."""


def identity_groups(inv: Inventory, cloud: Cloud, statuses: tuple[LinkStatus, ...]) -> list[IdentityGroup]:
    """`cloud`'s links of `statuses` by identity; built once per inventory, cloud and `statuses`."""
    cache: dict[tuple[LinkStatus, ...], list[IdentityGroup]] = inv.memo(f"{cloud}_groups", lambda _: {})
    if statuses not in cache:
        by_identity = inv.memo(f"{cloud}_links_by_identity", lambda i: _links_by_identity(i, cloud))
        cache[statuses] = [group for parts in by_identity if (group := _group(parts, statuses))]
    return cache[statuses]


def _links_by_identity(inv: Inventory, cloud: Cloud) -> list[_Parts]:
    """Every link of `cloud`, in one pass: by identity (cluster, mechanism, principal, identity object:
    readers share one per principal), then by status and reason. Rules ask for different statuses; the
    links are walked once for all of them."""
    grouped: dict[tuple[str, str, str, int], dict[tuple[LinkStatus, str], _Open]] = {}
    for sa, link in inv.links_in(cloud):
        parts = grouped.setdefault((link.cluster, link.mechanism, link.principal, id(link.identity)), {})
        parts.setdefault((link.status, link.reason), (link, []))[1].append(sa)
    return [{k: (link, tuple(sas)) for k, (link, sas) in parts.items()} for parts in grouped.values()]


def _group(parts: _Parts, statuses: tuple[LinkStatus, ...]) -> IdentityGroup | None:
    by_reason: dict[str, tuple[IdentityLink, tuple[ServiceAccount, ...]]] = {}
    for (status, reason), (link, sas) in parts.items():
        if status in statuses:
            # The same reason under two statuses cannot come from the reader; merged all the same.
            first = by_reason.get(reason)
            by_reason[reason] = (first[0], first[1] + sas) if first else (link, sas)
    return IdentityGroup(tuple(by_reason.values())) if by_reason else None
