"""Coverage for the items of the GCP files that could not be read and that no identity's `Gap` carries:
items whose members cannot be read (per project), missing pages, grants to principals no link reached,
cluster and node pool fields. Each entry names the file, the item and its subject."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from kubeiam.vocabulary.model import CoverageError, IdentityLink, Inventory
from kubeiam_gcp.declarations import GCP
from kubeiam_gcp.judge.trust import parse_member
from kubeiam_gcp.view import GkeCluster

from .clusters import default_account, gke_key
from .grants import MemberGrants
from .index import EvidenceIndex
from .json_checks import PAGES, POOL, Unread

Reach = Mapping[str, tuple[str, ...]]
"""Project id -> the Kubernetes clusters whose GCP findings its files decide."""

GRANT_RULES = ("GCP-001", "GCP-002", "GCP-003", "GCP-004", "GCP-005", "GCP-006", "GCP-011")
"""What a role binding decides: the role rules, the unscoped trust of direct grants, and unused access (a
grant not read is no grant to call unused, nor one gone)."""
KEY_RULES = ("GCP-008",)
NODE_RULES = ("GCP-010",)
ACCOUNT_RULES = ("GCP-007",)
"""An account list read in part: an account not found is unchecked, not missing (GCP-007)."""

POOL_LABEL = "cloud.google.com/gke-nodepool"


def unread_gaps(
    index: EvidenceIndex,
    grants: MemberGrants,
    matched: Mapping[str, GkeCluster],
    inventory: Inventory,
    links: Sequence[IdentityLink],
    reach: Reach,
) -> list[CoverageError]:
    return (
        _project_items(index, reach)
        + _unlinked_members(index, grants, matched, inventory, links)
        + _cluster_items(index, matched, inventory)
    )


def _project_items(index: EvidenceIndex, reach: Reach) -> list[CoverageError]:
    """Items whose members cannot be read, and missing pages: everything the project grants is uncertain."""
    out: list[CoverageError] = []
    unread = index.unread
    for project, clusters in sorted(reach.items()):
        groups: list[tuple[list[Unread], tuple[str, ...]]] = [(unread.by_project.get(project, []), GRANT_RULES)]
        groups.append(([u for u in unread.account_lists.get(project, ()) if u.kind == PAGES], ACCOUNT_RULES))
        groups.append(([u for u in unread.role_lists.get(project, ()) if u.kind == PAGES], GRANT_RULES))
        for items, rules in groups:
            for file, found in _by_file(items).items():
                reason = _summary(found)
                out += [CoverageError(GCP, file, reason, subject=c, rules=rules) for c in clusters]
    return out


def _unlinked_members(
    index: EvidenceIndex,
    grants: MemberGrants,
    matched: Mapping[str, GkeCluster],
    inventory: Inventory,
    links: Sequence[IdentityLink],
) -> list[CoverageError]:
    """Unreadable bindings (and unknown roles) of principals no link carries as an identity: a KSA's
    principal (its link may be missing for it), a node pool's account (GCP-010's severity)."""
    linked = {lk.principal for lk in links if lk.identity is not None}
    linked |= {f"serviceAccount:{p}" for p in linked}
    pools = {c.workload_pool for c in matched.values() if c.workload_pool}
    pools |= {f"{k[0]}.svc.id.goog" for c in inventory.clusters if (k := gke_key(c))}
    out: list[CoverageError] = []
    for member, found in sorted(index.unread.by_member.items()):
        m = parse_member(member)
        if member in linked or m is None or m.pool not in pools:
            continue
        out.append(CoverageError(GCP, found[0].file, _summary(found), subject=member, rules=GRANT_RULES))
    node_accounts = sorted({p.service_account for c in matched.values() for p in c.node_pools})
    for email in node_accounts:
        # Linked or not: GCP-010's finding about the pool names the account, not a ServiceAccount.
        member = f"serviceAccount:{email}"
        gaps = (*index.unread.gaps_of_member(member), *grants.gaps_of(member))
        if gaps:
            more = f" (and {len(gaps) - 1} more)" if len(gaps) > 1 else ""
            reason = f"{gaps[0].item}: {gaps[0].reason}{more}: the node pool account's roles are partly unknown"
            out.append(CoverageError(GCP, gaps[0].location, reason, subject=email, rules=NODE_RULES))
    return out


def _cluster_items(
    index: EvidenceIndex, matched: Mapping[str, GkeCluster], inventory: Inventory
) -> list[CoverageError]:
    """cluster.json fields and node pools that could not be read, and pools running as a default account
    whose project number no file gives; a pool only when nodes of the evidence run in it."""
    labels: dict[str, set[str | None]] = {}
    for n in inventory.nodes:
        labels.setdefault(n.cluster, set()).add(n.labels.get(POOL_LABEL))
    out: list[CoverageError] = []
    for name, gke in sorted(matched.items()):
        found = index.gke.get((gke.project, gke.location, gke.name))
        if found is None:
            continue
        used = labels.get(name, set())
        for u in found.unread:
            if u.kind == POOL:
                if u.pool is not None and u.pool not in used:
                    continue
                subject = f"{name}/node/node-pool/{u.pool}" if u.pool else name
                out.append(CoverageError(GCP, u.file, f"{u.item}: {u.reason}", subject=subject, rules=NODE_RULES))
            else:
                rules = NODE_RULES if u.item in ("nodePools", "nextPageToken") else ()
                out.append(CoverageError(GCP, u.file, f"{u.item}: {u.reason}", subject=name, rules=rules))
        judged = {p.name for p in gke.node_pools}
        for pool in found.pools or ():
            if pool["name"] in used and pool["name"] not in judged and default_account(index, gke.project) is None:
                reason = (
                    f"node pool {pool['name']} runs as the Compute Engine default account and no file gives "
                    f"project {gke.project}'s number (project.json, service-accounts.json): its account is unknown"
                )
                subject = f"{name}/node/node-pool/{pool['name']}"
                out.append(CoverageError(GCP, found.pools_file, reason, subject=subject, rules=NODE_RULES))
    return out


def _by_file(items: Iterable[Unread]) -> dict[str, list[Unread]]:
    out: dict[str, list[Unread]] = {}
    for u in items:
        out.setdefault(u.file, []).append(u)
    return out


def _summary(found: Sequence[Unread]) -> str:
    """The first item and why; the others by path (a few), so that each can be found."""
    others = [u.item for u in found[1:4]]
    more = f" and {len(found) - 4} more" if len(found) > 4 else ""
    also = f" (also {', '.join(others)}{more})" if others else ""
    return f"{found[0].item}: {found[0].reason}{also}"
