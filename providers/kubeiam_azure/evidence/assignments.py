"""`azure/<subscription>/role-assignments.json`: `az role assignment list --all` (or the REST listing)."""

from __future__ import annotations

from typing import Any

from kubeiam_azure.evidence.fields import Unreadable, flat, kind, last_segment, obj_of, text
from kubeiam_azure.view import RoleAssignment


def parse_role_assignment(raw: Any, item: str, source: str) -> RoleAssignment:
    """One assignment; `Unreadable` (with the item's path) when a field a rule needs cannot be read."""
    obj = obj_of(raw, item, "a role assignment")
    cond = obj.get("condition")
    if cond is not None and not isinstance(cond, str):
        # A condition narrows the assignment: ignoring one we cannot read would over-report, reading it
        # as absent is not possible either. The assignment is not understood.
        raise Unreadable(f"{item}.condition", f"must be a string, found {kind(cond)}")
    name = obj.get("roleDefinitionName")
    ptype = obj.get("principalType")
    return RoleAssignment(
        id=str(text(obj, "id", item)).lower(),
        principal_id=str(text(obj, "principalId", item)).lower(),
        role_id=last_segment(str(text(obj, "roleDefinitionId", item))),
        scope=str(text(obj, "scope", item)),
        role_name=name if isinstance(name, str) else None,
        condition=cond or None,
        source=source,
        principal_type=ptype if isinstance(ptype, str) and ptype else None,
        # Only for the usage window (an assignment younger than it is not judged unused): read, never required.
        created_on=created if isinstance(created := obj.get("createdOn"), str) and created else None,
    )


def principal_of(raw: Any) -> str | None:
    """The principal an unreadable assignment belongs to, when that much can be read: the identities
    it concerns are then the only ones left partly checked."""
    if not isinstance(raw, dict):
        return None
    value = flat(raw).get("principalId")
    return value.lower() if isinstance(value, str) and value else None
