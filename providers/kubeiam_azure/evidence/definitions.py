"""`azure/<subscription>/role-definitions.json`: custom roles (`az role definition list
--custom-role-only true`), or a full listing, whose built-ins then win over the bundled catalogue."""

from __future__ import annotations

from typing import Any

from kubeiam.errors import InputError
from kubeiam_azure.evidence.fields import flat, last_segment, strings, text
from kubeiam_azure.view import Permission, RoleDefinition


def parse_role_definition(raw: Any, where: str, source: str = "") -> RoleDefinition:
    if not isinstance(raw, dict):
        raise InputError(f"{where}: a role definition must be an object")
    obj = flat(raw)
    ident = text(obj, "name", where)
    role_name = text(obj, "roleName", where)
    # az CLI: `roleType`; REST: `properties.type` (the top-level `type` is the resource type).
    role_type = obj.get("roleType") or (raw.get("properties") or {}).get("type") or ""
    perms = obj.get("permissions")
    if not isinstance(perms, list):
        raise InputError(f"{where}: missing field 'permissions'")
    permissions = []
    for i, p in enumerate(perms):
        pw = f"{where}.permissions[{i}]"
        if not isinstance(p, dict):
            raise InputError(f"{pw}: must be an object")
        cond = p.get("condition")
        permissions.append(
            Permission(
                actions=strings(p, "actions", pw),
                not_actions=strings(p, "notActions", pw),
                data_actions=strings(p, "dataActions", pw),
                not_data_actions=strings(p, "notDataActions", pw),
                condition=cond if isinstance(cond, str) and cond else None,
            )
        )
    return RoleDefinition(
        id=last_segment(str(ident)),
        name=str(role_name),
        custom=str(role_type).lower() == "customrole",
        permissions=tuple(permissions),
        source=source,
    )
