"""The bundled catalogue of Azure built-in role definitions (`data/builtin-roles.json.gz`, gzipped JSON).

Built-in roles are the same in every tenant, so evidence directories carry only custom roles
(`az role definition list --custom-role-only true`) and the tool brings the rest. The file is
dated; `kubeiam_azure.evidence.builtin_roles` refreshes it from a role definition listing.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from kubeiam_azure.view import Permission, RoleDefinition

FILENAME = "builtin-roles.json.gz"


@dataclass(frozen=True)
class Catalogue:
    roles: Mapping[str, RoleDefinition]
    """Built-in role definitions by GUID (lower-case)."""
    meta: Mapping[str, Any]
    """`date`, `source`, `licence`, `count`."""


def default_path() -> Path:
    return Path(str(resources.files("kubeiam_azure").joinpath("data", FILENAME)))


@lru_cache(maxsize=4)
def load(path: Path | None = None) -> Catalogue:
    """The catalogue, parsed once per process (rules ask about many assignments)."""
    where = path or default_path()
    with gzip.open(where, "rt", encoding="utf-8") as fh:
        doc = json.load(fh)
    roles = {}
    for role in doc["roles"]:
        perms = tuple(
            Permission(
                tuple(p.get("actions", ())),
                tuple(p.get("notActions", ())),
                tuple(p.get("dataActions", ())),
                tuple(p.get("notDataActions", ())),
                p.get("condition"),
            )
            for p in role["permissions"]
        )
        roles[role["id"]] = RoleDefinition(role["id"], role["roleName"], False, perms, source=f"catalogue:{FILENAME}")
    return Catalogue(roles, doc["_meta"])


def builtin_role_guids() -> frozenset[str]:
    """GUIDs (lower-case) of every built-in role the catalogue knows: live collection skips fetching them."""
    return frozenset(load().roles)


def role_definition(evidence_roles: Mapping[str, RoleDefinition], role_id: str) -> RoleDefinition | None:
    """A role by GUID: the evidence's definition first (a custom role, or a newer built-in from a full
    listing), else the bundled built-in; None when neither knows it."""
    return evidence_roles.get(role_id) or load().roles.get(role_id)


def _compact(role: RoleDefinition) -> dict[str, Any]:
    def perm(p: Permission) -> dict[str, Any]:
        out: dict[str, Any] = {
            k: list(v)
            for k, v in (
                ("actions", p.actions),
                ("notActions", p.not_actions),
                ("dataActions", p.data_actions),
                ("notDataActions", p.not_data_actions),
            )
            if v
        }
        if p.condition:
            out["condition"] = p.condition
        return out

    return {"id": role.id, "roleName": role.name, "permissions": [perm(p) for p in role.permissions]}


def write(
    roles: Iterable[RoleDefinition],
    *,
    source: str,
    licence: str = "",
    date: str | None = None,
    path: Path | None = None,
) -> Path:
    """Rewrite the catalogue with `roles` (built-in ones; the caller filters).

    Deterministic for the same input (sorted, gzip mtime 0), so a refresh that changes nothing
    leaves the file byte-identical.
    """
    roles = list(roles)
    doc = {
        "_meta": {
            "date": date or datetime.now(UTC).strftime("%Y-%m-%d"),
            "source": source,
            "licence": licence,
            "count": len(roles),
        },
        "roles": [_compact(r) for r in sorted(roles, key=lambda r: r.id)],
    }
    target = path or default_path()
    data = json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()
    target.write_bytes(gzip.compress(data, compresslevel=9, mtime=0))
    load.cache_clear()
    return target
