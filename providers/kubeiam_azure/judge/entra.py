"""Entra ID privileges of a managed identity (`data/entra-privileged.json`): the Microsoft Graph app roles and
the directory roles that let it give itself more, from the optional Graph evidence in the view."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from kubeiam_azure.view import AzureView

FILENAME = "entra-privileged.json"
TENANT, ESCALATION = "tenant", "escalation"


@dataclass(frozen=True, slots=True)
class EntraPrivilege:
    kind: str
    """`app-role` or `directory-role`."""
    id: str
    """The app role id or directory role template id (the same in every tenant)."""
    name: str
    level: str
    """`tenant` (is, or can make itself, Global Administrator) or `escalation`."""
    why: str
    granted_by: str
    """The app role assignment's id, or the directory role object's id."""
    resource: str | None
    """The API the app role belongs to (`resourceDisplayName`)."""
    source: str


@lru_cache(maxsize=1)
def _catalogue() -> dict[str, dict[str, dict[str, Any]]]:
    doc = json.loads(resources.files("kubeiam_azure").joinpath("data", FILENAME).read_text(encoding="utf-8"))
    return {
        "app-role": {r["id"]: r for r in doc["graph_app_roles"]},
        "directory-role": {r["id"]: r for r in doc["directory_roles"]},
    }


def privileges(view: AzureView, object_id: str | None) -> tuple[EntraPrivilege, ...]:
    """The privileged app roles and directory roles the evidence shows for this object id."""
    if not object_id:
        return ()
    known = _catalogue()
    out = []
    for r in view.app_roles.get(object_id, ()):
        hit = known["app-role"].get(r.app_role_id)
        if hit is not None:
            out.append(
                EntraPrivilege(
                    "app-role", r.app_role_id, hit["name"], hit["level"], hit["why"], r.id, r.resource_name, r.source
                )
            )
    for m in view.memberships.get(object_id, ()):
        hit = known["directory-role"].get(m.role_template_id or "")
        if m.kind == "directoryRole" and hit is not None:
            out.append(
                EntraPrivilege("directory-role", hit["id"], hit["name"], hit["level"], hit["why"], m.id, None, m.source)
            )
    return tuple(sorted(out, key=lambda p: (p.kind, p.id)))


def graph_read(view: AzureView, object_id: str | None) -> bool:
    """Whether both Graph files had an entry for it: its Entra privileges are known (an empty list is none)."""
    return bool(object_id) and object_id in view.app_roles and object_id in view.memberships
