"""`custom-roles.json`: the project's (and organisation's) custom roles and their permissions."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from kubeiam.pipeline.evidence import Evidence

from .json_checks import fail, load_list, require_str


def read_custom_roles(evidence: Evidence, base: str) -> Sequence[Mapping[str, Any]] | None:
    file = f"{base}/custom-roles.json"
    items = load_list(evidence, file, "roles")
    if items is None:
        return None
    for i, r in enumerate(items):
        require_str(r, "name", file, f"[{i}]")
        perms = r.get("includedPermissions", [])
        if not isinstance(perms, list) or not all(isinstance(p, str) for p in perms):
            raise fail(file, f"field '[{i}].includedPermissions' must be a list of strings")
    return items


def custom_role_permissions(roles: Iterable[Mapping[str, Any]]) -> dict[str, frozenset[str]]:
    """Role name -> permissions; a deleted role grants nothing and is left out."""
    return {r["name"]: frozenset(r.get("includedPermissions") or ()) for r in roles if not r.get("deleted")}
