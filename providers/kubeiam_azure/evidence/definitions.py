"""`azure/<subscription>/role-definitions.json`: custom roles (`az role definition list
--custom-role-only true`), or a full listing, whose built-ins then win over the bundled catalogue."""

from __future__ import annotations

from typing import Any

from kubeiam_azure.evidence.fields import Unreadable, flat, kind, last_segment, obj_of, strings, text
from kubeiam_azure.view import Permission, RoleDefinition

_LISTS = (
    ("actions", "actions"),
    ("notActions", "not_actions"),
    ("dataActions", "data_actions"),
    ("notDataActions", "not_data_actions"),
)
_NARROWING = frozenset({"actions", "dataActions"})  # absent, they would make the role grant less


def parse_role_definition(
    raw: Any, item: str, source: str = "", *, printed: bool = True
) -> tuple[RoleDefinition, tuple[Unreadable, ...]]:
    """A role and the parts of it that could not be read (the role keeps the rest).

    Raises `Unreadable` when the role itself cannot be identified or has no readable permissions list.
    What a dropped field means: a missing `notActions` / `notDataActions` / `condition` only widens
    the role (never reported as narrower than it is); missing `actions` narrow it, and the gap says so.
    `printed`: the role as az and the REST API print it, every list there even when empty, so a missing
    `actions` or `dataActions` is a gap, never "grants nothing" (the bundled catalogue leaves empty lists
    out).
    """
    obj = obj_of(raw, item, "a role definition")
    ident = last_segment(str(text(obj, "name", item)))
    gaps: list[Unreadable] = []
    try:
        role_name = str(text(obj, "roleName", item))
    except Unreadable as exc:
        gaps.append(exc)
        role_name = ident
    # az CLI: `roleType`; REST: `properties.type` (the top-level `type` is the resource type).
    props = raw.get("properties") if isinstance(raw.get("properties"), dict) else {}
    role_type = obj.get("roleType") or props.get("type") or ""
    perms = obj.get("permissions")
    if not isinstance(perms, list):
        raise Unreadable(
            f"{item}.permissions", "missing field" if perms is None else f"must be a list, found {kind(perms)}"
        )
    permissions = []
    for i, p in enumerate(perms):
        where = f"{item}.permissions[{i}]"
        if not isinstance(p, dict):
            gaps.append(Unreadable(where, f"must be an object, found {kind(p)}"))
            continue
        fields: dict[str, tuple[str, ...]] = {}
        for key, attr in _LISTS:
            try:
                if printed and key in _NARROWING and p.get(key) is None:
                    raise Unreadable(f"{where}.{key}", "missing field: what the role grants is unchecked")
                fields[attr] = strings(p, key, where)
            except Unreadable as exc:
                gaps.append(exc)
                fields[attr] = ()
        cond = p.get("condition")
        if cond is not None and not isinstance(cond, str):
            gaps.append(Unreadable(f"{where}.condition", f"must be a string, found {kind(cond)}"))
            cond = None
        permissions.append(Permission(**fields, condition=cond or None))
    return (
        RoleDefinition(
            id=ident,
            name=role_name,
            custom=str(role_type).lower() == "customrole",
            permissions=tuple(permissions),
            source=source,
        ),
        tuple(gaps),
    )


def role_id_of(raw: Any) -> str | None:
    """The GUID of an unreadable role definition, when that much can be read."""
    if not isinstance(raw, dict):
        return None
    value = flat(raw).get("name")
    return last_segment(value) if isinstance(value, str) and value else None
