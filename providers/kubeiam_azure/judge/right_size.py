"""The right-sized Azure role: a custom role definition with the control-plane operations an identity used,
every read and data action of the role it replaces kept (the Activity Log records neither), never more.

Pure. The role is written as `az role definition create --role-definition` takes it: one permission
(`Actions`, `NotActions`, `DataActions`, `NotDataActions`), no condition (custom roles carry none: a role
whose permissions have conditions is not right-sized). "Never more than today" is checked, not assumed:
`within_role` proves every action and data action of the smaller role is allowed by the original under
kubeiam's own matching (`kubeiam.vocabulary.policy.matches`), and `judge.usage` offers no role it cannot prove.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

from kubeiam.vocabulary.policy import matches
from kubeiam_azure.judge.profile import BENIGN
from kubeiam_azure.view import Permission, RoleDefinition

_FRESH = "\x00"
"""A character no action contains: a pattern's `*` spelt with it is a word only another `*` can match."""


def is_read(pattern: str) -> bool:
    """A read (`.../read`, `*/read`) or a benign pattern (support tickets): the Activity Log never shows its use."""
    low = pattern.lower()
    return low.endswith("/read") or low in BENIGN


def read_patterns(pattern: str) -> tuple[str, ...]:
    """The reads a wildcard of writes allows, as patterns no wider than it: `*` -> `*/read`;
    `Microsoft.Storage/storageAccounts/*` -> `.../storageAccounts/read`, `.../storageAccounts/*/read`."""
    if pattern == "*":
        return ("*/read",)
    if not pattern.endswith("*"):
        return ()
    out = [f"{pattern}/read"]
    if pattern.endswith("/*"):
        out.insert(0, f"{pattern[:-2]}/read")
    return tuple(out)


def data_bound(permission: Permission) -> tuple[str, ...]:
    """The write, delete and action patterns of a permission that its own data plane exercises: creating or
    deleting a container through the blob endpoint needs `.../containers/write` / `delete`, a control-plane
    action, yet is a data-plane call the Activity Log never records. So an action on the resource type of
    one of the permission's data actions (or above it) is kept as granted, like a data action."""
    if not permission.data_actions:
        return ()
    return tuple(
        a
        for a in permission.actions
        if not is_read(a) and any(globs_meet(d, f"{_resource_type(a)}/*") for d in permission.data_actions)
    )


def _resource_type(action: str) -> str:
    """`Microsoft.Storage/storageAccounts/blobServices/containers/write` -> `.../containers`;
    `.../blobServices/generateUserDelegationKey/action` -> `.../blobServices` (an action names an operation)."""
    parts = action.split("/")
    cut = 2 if len(parts) > 2 and parts[-1].lower() == "action" else 1
    return "/".join(parts[:-cut]) if len(parts) > cut else action


def visible(permission: Permission) -> tuple[str, ...]:
    """The write, delete and action patterns whose use the Activity Log shows: what can be judged."""
    bound = {a.lower() for a in data_bound(permission)}
    return tuple(a for a in permission.actions if not is_read(a) and a.lower() not in bound)


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    seen: dict[str, str] = {}
    for item in items:
        seen.setdefault(item.lower(), item)
    return tuple(sorted(seen.values(), key=str.lower))


def allows(patterns: Iterable[str], excluded: Iterable[str], action: str) -> bool:
    return any(matches(p, action) for p in patterns) and not any(matches(n, action) for n in excluded)


def dropped(role: RoleDefinition, used: Iterable[str]) -> tuple[str, ...]:
    """The write, delete and action patterns of `role` the smaller role leaves out: wildcards (replaced by
    the operations used under them) and named operations not used. Reads and data-bound actions stay."""
    done = {u.lower() for u in used}
    out = []
    for p in role.permissions:
        for a in visible(p):
            if "*" in a or (a.lower() not in done and not any(matches(n, a) for n in p.not_actions)):
                out.append(a)
    return _unique(out)


def smaller_role(role: RoleDefinition, used: Iterable[str]) -> Permission | None:
    """One permission: the `used` operations (each allowed by `role`: the caller's part), the reads of `role`,
    its data actions and data-bound actions as they are. None when a permission of `role` has a condition
    (not representable)."""
    if any(p.condition for p in role.permissions):
        return None
    used = _unique(used)
    # A notAction that would take away an operation used cannot stay; the wildcard reads of the permission
    # it belongs to then go too (their exclusions could not be kept), so nothing is wider than before.
    hit = {n.lower() for p in role.permissions for n in p.not_actions if any(matches(n, u) for u in used)}
    actions: list[str] = []
    not_actions: list[str] = []
    for p in role.permissions:
        whole = not any(n.lower() in hit for n in p.not_actions)
        bound = {a.lower() for a in data_bound(p)}
        for a in p.actions:
            if (is_read(a) or a.lower() in bound) and "*" not in a:
                if not any(matches(n, a) for n in p.not_actions):
                    actions.append(a)
            elif whole:
                actions += [a] if is_read(a) or a.lower() in bound else list(read_patterns(a))
        not_actions += [n for n in p.not_actions if n.lower() not in hit]
    actions += used
    data = _unique(d for p in role.permissions for d in p.data_actions)
    not_data = [n for p in role.permissions for n in p.not_data_actions]
    kept = _unique(actions)
    return Permission(
        actions=kept,
        # Exclusions that meet nothing kept only make the document longer.
        not_actions=_unique(n for n in not_actions if any(globs_meet(n, a) for a in kept)),
        data_actions=data,
        not_data_actions=_unique(n for n in not_data if any(globs_meet(n, d) for d in data)),
    )


def within_role(new: Permission, old: RoleDefinition) -> bool:
    """Whether everything `new` allows, `old` allows (actions and data actions alike). A named operation
    is matched exactly; a pattern must sit inside one of `old`'s, with that permission's exclusions kept."""
    pools = [p for p in old.permissions if not p.condition]
    actions = [(p.actions, p.not_actions) for p in pools]
    data = [(p.data_actions, p.not_data_actions) for p in pools]
    return all(_covered(a, new.not_actions, actions) for a in new.actions) and all(
        _covered(d, new.not_data_actions, data) for d in new.data_actions
    )


def _covered(pattern: str, excluded: Sequence[str], pools: Sequence[tuple[tuple[str, ...], tuple[str, ...]]]) -> bool:
    if "*" not in pattern:
        return any(matches(n, pattern) for n in excluded) or any(allows(a, n, pattern) for a, n in pools)
    return any(
        any(glob_within(pattern, p) for p in acts)
        and all(not globs_meet(pattern, n) or any(glob_within(n, m) for m in excluded) for n in nots)
        for acts, nots in pools
    )


def glob_within(inner: str, outer: str) -> bool:
    """Every action `inner` matches, `outer` matches (globs of `*` only, case-insensitive): `outer` must match
    `inner` read as a word whose `*` only a `*` of `outer` can take."""
    return matches(outer, inner.replace("*", _FRESH))


def globs_meet(a: str, b: str) -> bool:
    """Whether some action matches both globs."""
    return _meet(a.lower(), b.lower())


@lru_cache(maxsize=65536)
def _meet(a: str, b: str) -> bool:
    if not a or not b:
        rest = a or b
        return all(c == "*" for c in rest)
    if a[0] == "*":
        return _meet(a[1:], b) or _meet(a, b[1:])
    if b[0] == "*":
        return _meet(a, b[1:]) or _meet(a[1:], b)
    return a[0] == b[0] and _meet(a[1:], b[1:])


def document(name: str, description: str, permission: Permission, scopes: Sequence[str]) -> dict[str, Any]:
    """The role as `az role definition create --role-definition @file.json` reads it."""
    return {
        "Name": name,
        "IsCustom": True,
        "Description": description,
        "Actions": list(permission.actions),
        "NotActions": list(permission.not_actions),
        "DataActions": list(permission.data_actions),
        "NotDataActions": list(permission.not_data_actions),
        "AssignableScopes": list(scopes),
    }
