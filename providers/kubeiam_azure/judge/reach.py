"""Reach through other identities: which identities one can become, to any depth, and the path hop by hop.

An edge goes from an identity holding an escalation method (`judge.escalation`) to a group of identities
it takes over, named by the evidence:

- `identities`: federated-credential writes, or `assign/action` with compute, take over every user-assigned
  identity at or under the assignment's scope;
- `vmss`: run command or extensions on an AKS node pool's scale set run code on the nodes: the kubelet and
  add-on identities (IMDS), and the workload identities of the pods scheduled there (their projected tokens);
- `cluster`: the AKS admin credential or run command makes one cluster-admin: every identity federated to
  the cluster's issuer (create the ServiceAccount and a pod), and the node identities.

Each identity has its own level (ADMIN, POWER: anything beyond reading, or not fully known, NONE). One
reverse breadth-first walk per level from the identities that have it labels every identity that reaches
one, with the next hop: linear in identities plus edges, cycles handled by the walk's visited sets, and the
path is the shortest. Pure: the caller passes how to judge one identity.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kubeiam.vocabulary.model import CloudIdentity, Inventory, LinkStatus
from kubeiam_azure.declarations import AZURE
from kubeiam_azure.judge.escalation import Hit
from kubeiam_azure.view import AksCluster, AzureView

NONE, POWER, ADMIN = 0, 1, 2
LEVELS = {ADMIN: "admin", POWER: "power", NONE: "none"}
LIST_ADMIN = "aks-list-cluster-admin-credential"
_FOLLOWED = ("identities", "vmss", "cluster")
"""Reach kinds whose targets the evidence names (vm, app, vault, grant: none to follow)."""
_HOW = {
    "mi-federated-credential-write": "adds a federated credential it controls to the identity",
    "mi-assign-plus-compute": "attaches the identity to a VM or app it creates, and asks for its token there",
}
_VMSS = re.compile(
    r"^azure:///(subscriptions/[^/]+/resourcegroups/[^/]+/providers/microsoft\.compute/virtualmachinescalesets/[^/]+)",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Group:
    key: str
    kind: str
    scope: str
    cluster: str | None
    members: Mapping[str, str]
    """Principal -> how the holder becomes it (`federated credential`, `IMDS on the nodes`, ...)."""


@dataclass(frozen=True, slots=True)
class Reached:
    level: int
    target: str
    path: tuple[dict[str, Any], ...]
    """Hop by hop: the identity reached and how (`via` the action, its role assignment and scope)."""


class ReachGraph:
    """Built once per inventory; `through(holder, hit)` answers for one escalation method of one identity."""

    def __init__(
        self,
        inv: Inventory,
        view: AzureView,
        hits_of: Callable[[CloudIdentity], Sequence[Hit]],
        level_of: Callable[[CloudIdentity], int],
    ) -> None:
        self.view = view
        self._level_of = level_of
        self._levels: dict[str, int] = {}
        self.groups: dict[str, Group] = {}
        self.holders: dict[str, list[tuple[str, Hit]]] = {}
        self.member_of: dict[str, list[str]] = {}
        self.of_hit: dict[tuple[str, str], tuple[str, ...]] = {}
        """(method id, anchor assignment id) -> the groups it takes over."""
        finder = _Targets(inv, view)
        for principal, ident in view.principals.items():
            for hit in hits_of(ident):
                keys = tuple(self._group(g) for g in finder.groups(hit))
                self.of_hit[key_of(hit)] = keys
                for key in keys:
                    self.holders.setdefault(key, []).append((principal, hit))
        self._ranks: dict[str, list[tuple[int, str]]] = {}
        self.parent: dict[int, dict[str, tuple[str, Hit, str]]] = {}
        self.reached: dict[int, set[str]] = {}
        if self.holders:
            for level in (ADMIN, POWER):
                self._walk(level)

    def _group(self, g: Group) -> str:
        if g.key not in self.groups:
            self.groups[g.key] = g
            for member in g.members:
                self.member_of.setdefault(member, []).append(g.key)
        return g.key

    def level(self, principal: str) -> int:
        found = self._levels.get(principal)
        if found is None:
            ident = self.view.principals.get(principal)
            found = self._levels[principal] = self._level_of(ident) if ident is not None else POWER
        return found

    def _walk(self, level: int) -> None:
        sources = [m for m in self.member_of if self.level(m) >= level]
        reached, parent, seen = set(sources), {}, set()
        queue = deque(sources)
        while queue:
            b = queue.popleft()
            for key in self.member_of.get(b, ()):
                if key in seen:
                    continue
                seen.add(key)
                for a, hit in self.holders.get(key, ()):
                    if a not in reached:
                        reached.add(a)
                        parent[a] = (b, hit, key)
                        queue.append(a)
        self.reached[level], self.parent[level] = reached, parent

    def trans(self, principal: str) -> int:
        """The highest level the identity has or reaches."""
        return next((lv for lv in (ADMIN, POWER) if principal in self.reached.get(lv, ())), self.level(principal))

    def through(self, holder: str, hit: Hit) -> Reached | None:
        """The most powerful identity `hit` lets `holder` become (directly or further on), with the path."""
        best: Reached | None = None
        for key in self.of_hit.get(key_of(hit), ()):
            group = self.groups[key]
            for level, member in self._ranked(key):
                if level == NONE or (best is not None and level <= best.level):
                    break  # ranked: nothing further in this group does better (reads only are no gain)
                if member == holder:
                    continue
                tail = self._path(member, level, holder)
                if tail is None:
                    continue  # its way up goes back through the holder: no gain
                first = hop(member, hit, group, group.members[member])
                best = Reached(level, tail[-1]["identity"] if tail else member, (first, *tail))
                break
            if best is not None and best.level == ADMIN:
                return best
        return best

    def _ranked(self, key: str) -> list[tuple[int, str]]:
        """A group's members, most powerful first (then by name): computed once per group, so a group of
        thousands of identities held by many is not scanned for each holder."""
        found = self._ranks.get(key)
        if found is None:
            found = self._ranks[key] = sorted(
                ((self.trans(m), m) for m in self.groups[key].members), key=lambda t: (-t[0], t[1])
            )
        return found

    def best(self, holder: str, hits: Iterable[Hit]) -> Reached | None:
        found = [r for h in hits if (r := self.through(holder, h)) is not None]
        return max(found, key=lambda r: (r.level, -len(r.path)), default=None)

    def _path(self, member: str, level: int, holder: str) -> list[dict[str, Any]] | None:
        out: list[dict[str, Any]] = []
        parent = self.parent.get(level, {})
        current = member
        while current in parent:
            nxt, hit, key = parent[current]
            if nxt == holder:
                return None
            group = self.groups[key]
            out.append(hop(nxt, hit, group, group.members.get(nxt, "")))
            current = nxt
        return out


def key_of(hit: Hit) -> tuple[str, str]:
    return hit.method.id, hit.anchor.assignment.id


def hop(identity: str, hit: Hit, group: Group, how: str) -> dict[str, Any]:
    a = hit.anchor.assignment
    if group.kind == "identities":
        how = _HOW.get(hit.method.id, how)
    out: dict[str, Any] = {
        "identity": identity,
        "via": hit.actions[0],
        "method": hit.method.id,
        "how": how,
        "role_assignment": a.id,
        "scope": a.scope,
    }
    if group.cluster:
        out["cluster"] = group.cluster
    if a.condition or not hit.anchor.unconditional:
        out["condition"] = a.condition or "role condition"
    if hit.helpers:
        out["with"] = list(hit.helpers)
    return out


class _Targets:
    """What each escalation method's scope covers, looked up from indexes built once."""

    def __init__(self, inv: Inventory, view: AzureView) -> None:
        self.view = view
        self.resource_ids = sorted(p for p in view.principals if p.startswith("/subscriptions/"))
        self.by_issuer: dict[str, set[str]] = {}
        for ident, creds in view.federated.items():
            for c in creds:
                self.by_issuer.setdefault(c.issuer, set()).add(ident)
        self.node_scopes: dict[str, set[str]] = {}
        for n in inv.whole.nodes:
            m = _VMSS.match(n.provider_id or "")
            if m:
                self.node_scopes.setdefault(n.cluster, set()).add("/" + m.group(1).lower())
        for name, aks in view.aks.items():
            if aks.node_resource_group:
                rg = f"/subscriptions/{aks.subscription}/resourcegroups/{aks.node_resource_group}"
                self.node_scopes.setdefault(name, set()).add(rg)
        self.pod_identities = _pod_identities(inv)
        self.issuers = {c.name: c.issuer for c in inv.whole.clusters if c.issuer}
        self._seen: dict[tuple[str, str, bool, bool], list[Group]] = {}

    def groups(self, hit: Hit) -> list[Group]:
        """The groups `hit` takes over: the same for every hit of its kind and scope (computed once)."""
        scope = hit.anchor.assignment.scope.strip().rstrip("/").lower() or "/"
        key = (hit.method.reach, scope, hit.anchor.level == "management-group", hit.method.id == LIST_ADMIN)
        found = self._seen.get(key)
        if found is None:
            found = self._seen[key] = self._groups(hit, scope, key[2]) if hit.method.reach in _FOLLOWED else []
        return found

    def _groups(self, hit: Hit, scope: str, everywhere: bool) -> list[Group]:
        kind = hit.method.reach
        if kind == "identities":
            members = dict.fromkeys(self.resource_ids if everywhere else self._under(scope), "takes over the identity")
            return [Group(f"identities|{scope}", kind, scope, None, members)] if members else []
        out = []
        for name, aks in sorted(self.view.aks.items()):
            if kind == "vmss" and (everywhere or _related(scope, self.node_scopes.get(name, ()))):
                out.append(Group(f"vmss|{name}", kind, scope, name, self._nodes(name)))
            elif kind == "cluster" and (everywhere or _covers(scope, aks.id)) and _admin_door(hit, aks):
                members = dict.fromkeys(self._federated(name, aks), "cluster-admin: a pod of its ServiceAccount")
                members.update(self._nodes(name, pods=False))
                out.append(Group(f"cluster|{name}|{hit.method.id == LIST_ADMIN}", kind, scope, name, members))
        return out

    def _under(self, scope: str) -> list[str]:
        """Resource ids equal to `scope` or under it: two binary searches in the sorted list, not a scan
        per scope (an estate has as many identity-scoped assignments as identities)."""
        ids = self.resource_ids
        exact = [scope] if (i := bisect_left(ids, scope)) < len(ids) and ids[i] == scope else []
        return exact + ids[bisect_left(ids, scope + "/") : bisect_left(ids, scope + "0")]  # "0" follows "/"

    def _nodes(self, cluster: str, pods: bool = True) -> dict[str, str]:
        members = {
            n.identity.principal: f"{n.role} identity from IMDS on the nodes"
            for n in self.view.node_identities.get(cluster, ())
        }
        if pods:
            for p in self.pod_identities.get(cluster, ()):
                members.setdefault(p, "the projected token of a pod on the nodes")
        return members

    def _federated(self, cluster: str, aks: AksCluster) -> set[str]:
        found: set[str] = set()
        for issuer in {self.issuers.get(cluster), aks.issuer} - {None}:
            found |= self.by_issuer.get(str(issuer), set())
        return found


def _admin_door(hit: Hit, aks: AksCluster) -> bool:
    """listClusterAdminCredential gives nothing on a cluster whose local accounts are disabled."""
    return not (hit.method.id == LIST_ADMIN and aks.local_accounts_disabled is True)


def _covers(scope: str, target: str) -> bool:
    return scope == "/" or target == scope or target.startswith(scope + "/")


def _related(scope: str, targets: Iterable[str]) -> bool:
    """The scope is at or above one of them, or inside one (a scale set inside the node resource group)."""
    return any(_covers(scope, t) or _covers(t, scope) for t in targets)


def _pod_identities(inv: Inventory) -> dict[str, set[str]]:
    """By cluster: the identities resolved for ServiceAccounts whose pods are scheduled on a node."""
    scheduled = {(w.cluster, w.namespace, w.service_account) for w in inv.whole.workloads if w.node}
    out: dict[str, set[str]] = {}
    for link in inv.whole.links:
        if (
            link.cloud == AZURE
            and link.status is LinkStatus.RESOLVED
            and ((link.cluster, link.namespace, link.service_account) in scheduled)
        ):
            out.setdefault(link.cluster, set()).add(link.principal)
    return out
