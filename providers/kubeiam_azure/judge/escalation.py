"""The Azure escalation catalogue (`data/escalation-methods.json`): which methods a role assignment, or an
identity's assignments together, hold.

A method is groups of alternative actions, every group needed (`all_of`), each group applying only at
scopes where its resource type can be (`on`): a VM run command on a storage account's scope runs
nothing. A `combine` method takes its first group from one assignment (the one reported, whose scope says
what is taken over) and the others from any assignment of the same identity: attaching an identity needs
`assign/action` on the identity, and a VM or app the attacker creates anywhere.

Pure: the caller passes each role's statements (`judge.profile.statements`) and the scope's level.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from kubeiam.vocabulary.policy import Statement

FILENAME = "escalation-methods.json"


@dataclass(frozen=True, slots=True)
class Method:
    id: str
    label: str
    """Short, for finding titles."""
    plane: str
    """`actions` or `dataActions`: which statements of a role can hold it."""
    groups: tuple[tuple[str, ...], ...]
    on: tuple[tuple[str, ...], ...]
    """Per group: resource types (lower-cased `provider/type`) a resource scope must be or contain; `*` any."""
    combine: bool
    reach: str
    """What it takes over: grant, identities, vmss, cluster, vm, app, vault."""
    corpus: str
    sources: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Held:
    """One method an assignment holds, with the actions that hold it (as the catalogue writes them)."""

    method: Method
    actions: tuple[str, ...]


@lru_cache(maxsize=1)
def catalogue() -> tuple[Method, ...]:
    doc = json.loads(resources.files("kubeiam_azure").joinpath("data", FILENAME).read_text(encoding="utf-8"))
    return tuple(_method(m) for m in doc["methods"])


@lru_cache(maxsize=1)
def not_modelled() -> tuple[dict[str, Any], ...]:
    """Corpus entries that are deliberately not escalation methods here, each with why."""
    doc = json.loads(resources.files("kubeiam_azure").joinpath("data", FILENAME).read_text(encoding="utf-8"))
    return tuple(doc["not_modelled"])


def _method(m: dict[str, Any]) -> Method:
    return Method(
        id=m["id"],
        label=m["label"],
        plane=m["plane"],
        groups=tuple(tuple(g) for g in m["all_of"]),
        on=tuple(tuple(t.lower() for t in g) for g in m["on"]),
        combine=bool(m["combine"]),
        reach=m["reach"],
        corpus=m["corpus"],
        sources=tuple(m["sources"]),
    )


def applies(scope: str, level: str, types: Sequence[str]) -> bool:
    """Whether resources of `types` can be at or under `scope`: every scope above a resource does; a
    resource scope only when it is (or is inside) one of them."""
    if level != "resource" or "*" in types:
        return True
    low = scope.lower().rstrip("/") + "/"
    return any(f"/providers/{t}/" in low for t in types)


def groups_held(stmts: Iterable[Statement]) -> dict[tuple[str, int], str]:
    """(method id, group index) -> the first action of that group the role's statements allow.

    Conditions do not remove a group (a condition may constrain, the rules say so): never under-report."""
    by_plane: dict[str, list[Statement]] = {}
    for s in stmts:
        by_plane.setdefault(s.sid or "", []).append(s)
    out: dict[tuple[str, int], str] = {}
    for m in catalogue():
        pool = by_plane.get(m.plane, ())
        for i, group in enumerate(m.groups):
            hit = next((a for a in group if any(s.actions and s.allows(a) for s in pool)), None)
            if hit is not None:
                out[(m.id, i)] = hit
    return out


def assignment_methods(
    held: dict[tuple[str, int], str], scope: str, level: str
) -> tuple[tuple[Held, ...], tuple[tuple[str, int], ...]]:
    """(methods the assignment holds alone, the (method, group) pairs it holds that apply at its scope).

    A combine method counts as held alone only when the assignment holds all its groups."""
    alone: list[Held] = []
    parts: list[tuple[str, int]] = []
    if not held:
        return (), ()  # most roles (readers, data roles) hold no group: the common case costs nothing
    for m in catalogue():
        ok = [(m.id, i) in held and applies(scope, level, m.on[i]) for i in range(len(m.groups))]
        parts += [(m.id, i) for i, good in enumerate(ok) if good]
        if all(ok):
            alone.append(Held(m, tuple(held[(m.id, i)] for i in range(len(m.groups)))))
    return tuple(alone), tuple(parts)


@lru_cache(maxsize=1)
def by_id() -> dict[str, Method]:
    return {m.id: m for m in catalogue()}


@dataclass(frozen=True, slots=True)
class Hit:
    """One method an identity holds: through `anchor` (whose scope says what it takes over), with the other
    groups of a `combine` method from `helpers` (other assignments of the same identity)."""

    method: Method
    anchor: Any
    """The `AssignmentVerdict` holding the method's first group."""
    actions: tuple[str, ...]
    helpers: tuple[str, ...] = ()
    """Role assignment ids that hold the method's other groups."""


def identity_methods(verdicts: Sequence[Any]) -> tuple[Hit, ...]:
    """Every method the identity holds, alone in one assignment or combined across its assignments."""
    hits: list[Hit] = []
    methods = by_id()
    for v in verdicts:
        alone = {h.method.id for h in v.methods}
        hits += [Hit(h.method, v, h.actions) for h in v.methods]
        for mid, i in v.parts:
            m = methods[mid]
            if i != 0 or not m.combine or mid in alone:
                continue
            found = [_holder(verdicts, mid, g) for g in range(1, len(m.groups))]
            if all(f is not None for f in found):
                actions = (_action(v, mid, 0), *(_action(w, mid, g + 1) for g, w in enumerate(found)))
                helpers = tuple(dict.fromkeys(w.assignment.id for w in found if w is not None))
                hits.append(Hit(m, v, actions, helpers))
    return tuple(hits)


def _holder(verdicts: Sequence[Any], mid: str, group: int) -> Any:
    return next((w for w in verdicts if (mid, group) in w.parts), None)


def _action(v: Any, mid: str, group: int) -> str:
    return str(next(a for key, a in v.profile.held if key == (mid, group)))
