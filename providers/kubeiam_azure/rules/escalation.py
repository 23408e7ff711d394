"""What AZ-002 says about one role assignment of one identity: the escalation methods it holds (alone or with
the identity's other assignments), and the most powerful identity they lead to, hop by hop.

A method aimed at one managed identity (a federated-credential write or `assign/action` on that identity
alone) is escalation only if that identity, or one it leads to, can do more than read: when every identity
it reaches is fully known (its role assignments, groups and Microsoft Graph roles read) and holds nothing
but reads, the method is not reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubeiam.vocabulary.model import CloudIdentity, Inventory
from kubeiam_azure.judge.escalation import Hit
from kubeiam_azure.judge.reach import ADMIN, LEVELS, NONE, Reached, ReachGraph, key_of
from kubeiam_azure.rules.helpers import hits, reach_graph

SHOWN = 3
"""Method labels in a title before `and N more`."""


@dataclass(frozen=True, slots=True)
class Escalation:
    """AZ-002's judgement of one assignment."""

    hits: tuple[Hit, ...]
    reached: Reached | None

    @property
    def actions(self) -> list[str]:
        return list(dict.fromkeys(a for h in self.hits for a in h.actions))

    @property
    def labels(self) -> str:
        names = list(dict.fromkeys(h.method.label for h in self.hits))
        more = f" and {len(names) - SHOWN} more" if len(names) > SHOWN else ""
        return ", ".join(names[:SHOWN]) + more

    def evidence(self) -> dict[str, Any]:
        out: dict[str, Any] = {"escalation_actions": self.actions, "methods": [h.method.id for h in self.hits]}
        # Method id -> the other role assignments holding the rest of it (`assign/action` with compute).
        combined = {h.method.id: list(h.helpers) for h in self.hits if h.helpers}
        if combined:
            out["combined_with"] = combined
        if self.reached is not None:
            out["reaches"] = {
                "identity": self.reached.target,
                "level": LEVELS[self.reached.level],
                "path": list(self.reached.path),
            }
        return out


def by_assignment(inv: Inventory, identity: CloudIdentity) -> dict[str, Escalation]:
    """Assignment id -> what AZ-002 reports about it (assignments with nothing to report left out)."""
    memo: dict[str, dict[str, Escalation]] = inv.memo("azure_escalation", lambda _: {})
    found = memo.get(identity.principal)
    if found is None:
        found = memo[identity.principal] = _judge(inv, identity)
    return found


def _judge(inv: Inventory, identity: CloudIdentity) -> dict[str, Escalation]:
    grouped: dict[str, list[Hit]] = {}
    for h in hits(inv, identity):
        if not h.anchor.admin:
            grouped.setdefault(h.anchor.assignment.id, []).append(h)
    if not grouped:
        return {}
    graph = reach_graph(inv)
    out = {}
    for aid, held in grouped.items():
        kept = [h for h in held if graph is None or not _void(graph, identity.principal, h)]
        if kept:
            reached = graph.best(identity.principal, kept) if graph is not None else None
            out[aid] = Escalation(tuple(kept), reached)
    return out


def _void(graph: ReachGraph, holder: str, hit: Hit) -> bool:
    """A method aimed at one identity that leads nowhere beyond reads (every identity fully known)."""
    if hit.method.reach != "identities" or hit.anchor.level != "resource":
        return False
    keys = graph.of_hit.get(key_of(hit), ())
    members = [m for k in keys for m in graph.groups[k].members if m != holder]
    return bool(members) and all(graph.trans(m) == NONE for m in members)


def critical(e: Escalation) -> bool:
    return e.reached is not None and e.reached.level == ADMIN
