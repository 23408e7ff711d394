"""`custom-roles.json`: the project's (and organisation's) custom roles and their permissions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kubeiam.pipeline.evidence import Evidence

from .json_checks import ROLE, ROLES, Unread, kind_of, load_list


@dataclass(frozen=True)
class RolesFile:
    permissions: Mapping[str, frozenset[str]]
    """Role name -> permissions, for the roles that can be read (a deleted role: none)."""
    next_page: str | None = None
    unread: tuple[Unread, ...] = ()


def read_custom_roles(evidence: Evidence, base: str) -> RolesFile | None:
    file = f"{base}/custom-roles.json"
    found = load_list(
        evidence,
        file,
        "roles",
        command="[gcloud iam roles describe ROLE --project PROJECT --format=json, ...]",
        empty_object=True,  # a role bound but not found here is unknown, never "no permissions"
    )
    if found is None:
        return None
    out: dict[str, frozenset[str]] = {}
    unread: list[Unread] = []
    for i, r in enumerate(found.items):
        name = r.get("name") if isinstance(r, dict) else None
        if not isinstance(name, str) or not name:
            reason = f"expected a role with a 'name', found {kind_of(r if name is None else name)}"
            unread.append(Unread(ROLES, file, f"[{i}].name", reason))
            continue
        perms: Any = r.get("includedPermissions") or []
        if not isinstance(perms, list) or not all(isinstance(p, str) for p in perms):
            reason = f"expected a list of permission names, found {kind_of(perms)}: the role's permissions are unknown"
            unread.append(Unread(ROLE, file, f"[{i}].includedPermissions", reason, role=name))
            continue
        # A deleted role's bindings stay but grant nothing (known: no permissions, not unknown ones).
        out[name] = frozenset() if r.get("deleted") is True else frozenset(perms)
    return RolesFile(out, found.next_page, tuple(unread))
