"""Reach through other IAM roles, to any depth (pure).

A role that may pass a named role to a service that runs code (`iam:PassRole` + `ec2:RunInstances`...) or
assume a named role (`sts:AssumeRole`, when the target's trust admits it) can do whatever that role can: its
admin access, its IAM rewrites, its own escalation paths, and the roles it reaches in turn (same account or
another account in the evidence). Each such grant is a `Hop`; a role's hops are worked out with its analysis
(judge/profile.py). This module walks them breadth first from each target, with a visited set (cycles end
there), and keeps per target the strongest role reached and the path to it, hop by hop. A walk that finds
nothing clears every role it visited (what they reach is part of what it searched).

What is not followed: a target not in the evidence (the reader names its account in the coverage), a
passed role's trust of the service it is passed to (not checked: see docs/aws.md).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from kubeiam_aws.judge.trust import trusts_role
from kubeiam_aws.view import AwsView, Role

ASSUME = "sts:AssumeRole"
ADMIN, IAM_ADMIN, ESCALATION = 3, 2, 1
POWER = {
    ADMIN: "admin",
    IAM_ADMIN: "admin-equivalent (every IAM permissions-management action)",
    ESCALATION: "escalation",
}


@dataclass(frozen=True, slots=True)
class Hop:
    """A grant that makes the role another role: `via` its actions, along escalation path `path_id`."""

    target: str
    """The role ARN the grant names."""
    via: str
    """`sts:AssumeRole`, `iam:PassRole + ec2:RunInstances`."""
    path_id: str
    path_name: str
    category: str
    sources: tuple[str, ...]
    """The policies that give the path's actions."""
    reference: str = ""

    @property
    def assumes(self) -> bool:
        return ASSUME.lower() in self.via.lower().split(" + ")


class Terminal(NamedTuple):
    """What a role can do on its own (`rank`: 0 nothing of note, else ADMIN, IAM_ADMIN, ESCALATION), and its hops."""

    rank: int
    holds: tuple[str, ...]
    hops: tuple[Hop, ...]


@dataclass(frozen=True, slots=True)
class Reached:
    """The strongest role reached through a hop, and how."""

    identity: str
    rank: int
    holds: tuple[str, ...]
    path: tuple[Mapping[str, str], ...]
    """`{"identity", "via", "path"}` per hop, from the first role reached to `identity`."""

    def evidence(self) -> dict[str, Any]:
        return {
            "identity": self.identity,
            "power": POWER[self.rank],
            "holds": list(self.holds),
            "path": [dict(h) for h in self.path],
        }


def _step(hop: Hop) -> dict[str, str]:
    return {"identity": hop.target, "via": hop.via, "path": hop.path_id}


def reached_through(
    view: AwsView, role: Role, hops: Iterable[Hop], judge: Callable[[Role], Terminal]
) -> list[tuple[Hop, Reached]]:
    """For each of the role's hops that leads to a role of note, the strongest one it leads to."""
    out = []
    for hop in hops:
        target = view.role(hop.target)
        if target is None or target.arn == role.arn or not _admits(hop, target, role.arn):
            continue
        best = _best_from(view, target, judge)
        if best is not None:
            out.append((hop, Reached(best.identity, best.rank, best.holds, (_step(hop), *best.path))))
    return out


def _best_from(view: AwsView, start: Role, judge: Callable[[Role], Terminal]) -> Reached | None:
    """The strongest role reachable from `start` (itself included), the shortest path among equals."""
    memo: dict[str, Reached | None] = view.memo.setdefault("aws-reach", {})
    if start.arn in memo:
        return memo[start.arn]
    best: Reached | None = None
    seen = {start.arn}
    queue: deque[tuple[Role, tuple[Mapping[str, str], ...]]] = deque([(start, ())])
    while queue:
        node, path = queue.popleft()
        if node.arn in memo and node is not start:
            found = memo[node.arn]  # what the node reaches is known: no need to walk it again
            if found is not None and (best is None or found.rank > best.rank):
                best = Reached(found.identity, found.rank, found.holds, path + found.path)
            continue
        term = judge(node)
        if term.rank and (best is None or term.rank > best.rank):
            best = Reached(node.arn, term.rank, term.holds, path)
        if best is not None and best.rank == ADMIN:
            break  # breadth first: nothing reached later is stronger or nearer
        for hop in term.hops:
            nxt = view.role(hop.target)
            if nxt is None or nxt.arn in seen or not _admits(hop, nxt, node.arn):
                continue
            seen.add(nxt.arn)
            queue.append((nxt, (*path, _step(hop))))
    if best is None:
        memo.update(dict.fromkeys(seen))  # nothing of note anywhere below them either
    else:
        memo[start.arn] = best
    return best


def _admits(hop: Hop, target: Role, caller: str) -> bool:
    """Whether the hop works for `caller`: an AssumeRole needs the target's trust to admit it (a trust read only
    in part may admit it in the part not read); a PassRole needs nothing of the target's trust here."""
    return not hop.assumes or not target.trust_understood or trusts_role(target.trust, caller)
