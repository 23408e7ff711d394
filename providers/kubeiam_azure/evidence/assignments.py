"""`azure/<subscription>/role-assignments.json`: `az role assignment list --all` (or the REST listing)."""

from __future__ import annotations

from typing import Any

from kubeiam.errors import InputError
from kubeiam_azure.evidence.fields import flat, last_segment, text
from kubeiam_azure.view import RoleAssignment


def parse_role_assignment(raw: Any, where: str, source: str) -> RoleAssignment:
    if not isinstance(raw, dict):
        raise InputError(f"{where}: a role assignment must be an object")
    obj = flat(raw)
    cond = obj.get("condition")
    return RoleAssignment(
        id=str(text(obj, "id", where)).lower(),
        principal_id=str(text(obj, "principalId", where)).lower(),
        role_id=last_segment(str(text(obj, "roleDefinitionId", where))),
        scope=str(text(obj, "scope", where)),
        role_name=obj.get("roleDefinitionName") if isinstance(obj.get("roleDefinitionName"), str) else None,
        condition=cond if isinstance(cond, str) and cond else None,
        source=source,
    )
