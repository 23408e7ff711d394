"""The bundled catalogue of Azure built-in role definitions (package data, gzipped JSON).

Built-in roles are the same in every tenant, so evidence directories carry only custom roles
(`az role definition list --custom-role-only true`) and the tool brings the rest. The file is
dated and refreshable with `refresh()`, from either shape of a role definition listing:

    az role definition list --query "[?roleType=='BuiltInRole']" -o json > roles.json
    python -m kubeiam_azure.catalogue roles.json --source "az role definition list"

or from the SDK (live collection): `refresh([d.as_dict() for d in client.role_definitions.list(
"/", filter="type eq 'BuiltInRole'")], source="Azure REST")` (REST's nested `properties` shape).
"""

from __future__ import annotations

import argparse
import gzip
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from kubeiam_azure.shapes import Permission, RoleDefinition, parse_role_definition

FILENAME = "builtin-roles.json.gz"


@dataclass(frozen=True)
class Catalogue:
    roles: Mapping[str, RoleDefinition]
    """Built-in role definitions by GUID (lower-case)."""
    meta: Mapping[str, Any]
    """`date`, `source`, `licence`, `count`."""

    def by_name(self, name: str) -> RoleDefinition | None:
        low = name.lower()
        return next((r for r in self.roles.values() if r.name.lower() == low), None)


def default_path() -> Path:
    return Path(str(resources.files("kubeiam_azure").joinpath(FILENAME)))


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


def refresh(
    definitions: Iterable[Mapping[str, Any]],
    *,
    source: str,
    licence: str = "",
    date: str | None = None,
    path: Path | None = None,
) -> Path:
    """Rewrite the catalogue from role definitions (az CLI or REST shape); custom roles are skipped.

    Deterministic for the same input (sorted, gzip mtime 0), so a refresh that changes nothing
    leaves the file byte-identical.
    """
    roles = []
    for i, raw in enumerate(definitions):
        role = parse_role_definition(raw, f"role definitions[{i}]")
        if not role.custom:
            roles.append(role)
    if not roles:
        raise ValueError("no built-in role definitions in the input")
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kubeiam_azure.catalogue", description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path, help="JSON list of role definitions (az role definition list -o json)")
    parser.add_argument("--source", required=True, help="where the listing came from (kept in the catalogue)")
    parser.add_argument("--licence", default="", help="licence of the listing, if not your own tenant's output")
    parser.add_argument("--date", help="date of the listing (default: today, UTC)")
    parser.add_argument("--output", type=Path, help="write here instead of the package's catalogue")
    args = parser.parse_args(argv)
    doc = json.loads(args.file.read_text(encoding="utf-8-sig"))
    items = doc["value"] if isinstance(doc, dict) and "value" in doc else doc
    out = refresh(items, source=args.source, licence=args.licence, date=args.date, path=args.output)
    print(f"{out}: {load(out).meta['count']} built-in roles")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
