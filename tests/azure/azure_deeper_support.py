"""What the issue-15 Azure tests share (no tests here): built-in roles by name, group and Graph evidence,
and the ids of a small estate. Builds on `azure_builder.Scenario`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from azure_builder import MSI, RG, SUB, Scenario
from kubeiam_azure.judge.catalogue import load

GRAPH_SP = "f0f0f0f0-0000-4000-8000-00000000f0f0"
"""The tenant's Microsoft Graph service principal (an object id: tenant-specific)."""
ROLE_MANAGEMENT = "9e3f62cf-ca93-4989-b6ce-bf83c28f9fe8"
APPLICATION_RW = "1bfefb4e-e0b5-418b-a88f-73c46d2cc8e9"
USER_READ_ALL = "df021288-bdef-4463-88db-98f22de89214"
GLOBAL_ADMIN = "62e90394-69f5-4237-9190-012177145e10"


def ids(n: int) -> tuple[str, str]:
    """(client id, principal object id) of identity n."""
    return f"10000000-0000-4000-8000-{n:012d}", f"20000000-0000-4000-8000-{n:012d}"


def builtin(name: str) -> str:
    """The GUID of the built-in role called `name` (from the bundled catalogue)."""
    return next(r.id for r in load().roles.values() if r.name == name)


def assign(
    s: Scenario,
    principal: str,
    role: str,
    scope: str,
    *,
    principal_type: str = "ServicePrincipal",
    condition: str | None = None,
) -> Scenario:
    """Like `Scenario.assign`, for any built-in or custom role, and any principal type."""
    custom = next((r for r in s.roles if r["roleName"] == role), None)
    guid = custom["name"] if custom else builtin(role)
    n = len(s.assignments) + 1
    aid = f"eeeeeeee-0000-4000-8000-{n:012x}"
    s.assignments.append(
        {
            "condition": condition,
            "conditionVersion": "2.0" if condition else None,
            "id": f"{scope.rstrip('/')}/providers/Microsoft.Authorization/roleAssignments/{aid}",
            "name": aid,
            "principalId": principal,
            "principalType": principal_type,
            "roleDefinitionId": f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{guid}",
            "roleDefinitionName": role,
            "scope": scope,
            "type": "Microsoft.Authorization/roleAssignments",
        }
    )
    return s


def workload(s: Scenario, n: int, name: str | None = None) -> Scenario:
    """ServiceAccount apps/<name> federated to identity id-<n> (resource group rg-test)."""
    client, principal = ids(n)
    name = name or f"sa{n}"
    s.sa("apps", name, client).identity(f"id-{n}", client, principal)
    return s.fic(f"id-{n}", f"system:serviceaccount:apps:{name}")


def identity(s: Scenario, n: int, rg: str = RG) -> str:
    """Identity id-<n> that no ServiceAccount names; its resource id."""
    client, principal = ids(n)
    s.identity(f"id-{n}", client, principal, rg=rg)
    return s.mi_id(f"id-{n}", rg)


def mi_scope(s: Scenario, n: int, rg: str = RG) -> str:
    return f"/subscriptions/{SUB}/resourceGroups/{rg}/providers/{MSI}/id-{n}"


def page(items: list[dict[str, Any]], next_link: str | None = None) -> dict[str, Any]:
    """What `az rest` prints for a Microsoft Graph listing."""
    out: dict[str, Any] = {
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#directoryObjects",
        "value": items,
    }
    if next_link:
        out["@odata.nextLink"] = next_link
    return out


def group(gid: str, name: str) -> dict[str, Any]:
    return {"@odata.type": "#microsoft.graph.group", "id": gid, "displayName": name, "securityEnabled": True}


def directory_role(rid: str, template: str, name: str) -> dict[str, Any]:
    return {"@odata.type": "#microsoft.graph.directoryRole", "id": rid, "displayName": name, "roleTemplateId": template}


def app_role(principal: str, app_role_id: str, n: int = 1, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"assignment-{n}",
        "appRoleId": app_role_id,
        "createdDateTime": "2026-03-01T10:00:00Z",
        "deletedDateTime": None,
        "principalDisplayName": "id",
        "principalId": principal,
        "principalType": "ServicePrincipal",
        "resourceDisplayName": "Microsoft Graph",
        "resourceId": GRAPH_SP,
        **extra,
    }


def write_graph(
    root: Path,
    memberships: dict[str, Any] | None = None,
    app_roles: dict[str, Any] | None = None,
    sub: str = SUB,
) -> Path:
    """Writes `group-memberships.json` / `app-roles.json` (None: the file is left out)."""
    base = root / "azure" / sub
    base.mkdir(parents=True, exist_ok=True)
    if memberships is not None:
        (base / "group-memberships.json").write_text(json.dumps(memberships, indent=1))
    if app_roles is not None:
        (base / "app-roles.json").write_text(json.dumps(app_roles, indent=1))
    return root


def graph_for(*principals: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Graph evidence naming each principal with no group, directory role or app role: all known, none held."""
    return {p: page([]) for p in principals}, {p: page([]) for p in principals}
