"""Usage files (issue 14) for the evidence directories of `gcp_builder.Case`, in the shapes the commands print
(docs/evidence.md): recommender insights and recommendations, Policy Analyzer last authentication."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gcp_builder import NUMBER, PROJECT

DAY = 86400
INSIGHT_TYPE = "google.iam.policy.Insight"
RECOMMENDER = "google.iam.policy.Recommender"


def insight(
    member: str,
    role: str,
    exercised: list[str],
    *,
    inferred: list[str] | None = None,
    days: int | None = 90,
    condition: str = "",
    target: str | None = f"//cloudresourcemanager.googleapis.com/projects/{PROJECT}",
    refreshed: str = "2026-01-10T07:00:00Z",
    n: int = 1,
) -> dict[str, Any]:
    """One `gcloud recommender insights list --insight-type=google.iam.policy.Insight` entry."""
    out: dict[str, Any] = {
        "name": f"projects/{NUMBER}/locations/global/insightTypes/{INSIGHT_TYPE}/insights/insight-{n:04d}",
        "description": f"{len(exercised)} permissions of this role binding were used in the past 90 days.",
        "category": "SECURITY",
        "insightSubtype": "PERMISSIONS_USAGE",
        "lastRefreshTime": refreshed,
        "severity": "LOW",
        "stateInfo": {"state": "ACTIVE"},
        "etag": '"0123456789abcdef"',
        "content": {
            "member": member,
            "role": role,
            "condition": {"expression": condition, "title": "", "description": "", "location": ""},
            "exercisedPermissions": [{"permission": p} for p in exercised],
            "inferredPermissions": [{"permission": p} for p in inferred or []],
            "currentTotalPermissionsCount": "29",
        },
    }
    if days is not None:
        out["observationPeriod"] = f"{days * DAY}s"
    if target is not None:
        out["targetResources"] = [target]
    return out


def recommendation(
    member: str,
    role: str,
    subtype: str,
    *,
    added: list[str] | None = None,
    custom: list[str] | None = None,
    condition: str = "",
    state: str = "ACTIVE",
    n: int = 1,
) -> dict[str, Any]:
    """One `gcloud recommender recommendations list --recommender=google.iam.policy.Recommender` entry."""
    resource = f"//cloudresourcemanager.googleapis.com/projects/{PROJECT}"
    filters = {
        "/iamPolicy/bindings/*/condition/expression": condition,
        "/iamPolicy/bindings/*/members/*": member,
        "/iamPolicy/bindings/*/role": role,
    }
    ops: list[dict[str, Any]] = [
        {
            "action": "remove",
            "resourceType": "cloudresourcemanager.googleapis.com/Project",
            "resource": resource,
            "path": "/iamPolicy/bindings/*/members/*",
            "pathFilters": filters,
        }
    ]
    for r in added or []:
        ops.append(
            {
                "action": "add",
                "resourceType": "cloudresourcemanager.googleapis.com/Project",
                "resource": resource,
                "path": "/iamPolicy/bindings/*/members/-",
                "pathFilters": {
                    "/iamPolicy/bindings/*/condition/expression": condition,
                    "/iamPolicy/bindings/*/role": r,
                },
                "value": member,
            }
        )
    if custom is not None:
        ops.append(
            {
                "action": "add",
                "resourceType": "iam.googleapis.com/Role",
                "resource": f"//iam.googleapis.com/projects/{PROJECT}/roles/recommended{n}",
                "path": "/",
                "value": {"includedPermissions": custom, "stage": "GA", "title": "Recommended"},
            }
        )
    overview: dict[str, Any] = {"member": member, "removedRole": role, "resource": resource}
    if added:
        overview["addedRoles"] = added
    return {
        "name": f"projects/{NUMBER}/locations/global/recommenders/{RECOMMENDER}/recommendations/rec-{n:04d}",
        "description": "Replace the current role with a smaller role to cover the permissions needed.",
        "recommenderSubtype": subtype,
        "lastRefreshTime": "2026-01-10T07:00:00Z",
        "primaryImpact": {"category": "SECURITY"},
        "priority": "P4",
        "stateInfo": {"state": state},
        "etag": '"abcdef0123456789"',
        "targetResources": [resource],
        "content": {"operationGroups": [{"operations": ops}], "overview": overview},
    }


def authenticated(email: str, when: str, *, project: str = PROJECT) -> dict[str, Any]:
    """One serviceAccountLastAuthentication activity."""
    name = f"//iam.googleapis.com/projects/{project}/serviceAccounts/{email}"
    return {
        "activity": {
            "lastAuthenticatedTime": when,
            "serviceAccount": {"fullResourceName": name, "projectNumber": NUMBER, "serviceAccountId": "1"},
        },
        "activityType": "serviceAccountLastAuthentication",
        "fullResourceName": name,
        "observationPeriod": {"endTime": when, "startTime": when},
    }


def key_authenticated(key_name: str, when: str) -> dict[str, Any]:
    """One serviceAccountKeyLastAuthentication activity; `key_name`: `projects/P/serviceAccounts/E/keys/K`."""
    name = f"//iam.googleapis.com/{key_name}"
    return {
        "activity": {
            "lastAuthenticatedTime": when,
            "serviceAccountKey": {"fullResourceName": name, "projectNumber": NUMBER, "serviceAccountId": "1"},
        },
        "activityType": "serviceAccountKeyLastAuthentication",
        "fullResourceName": name,
        "observationPeriod": {"endTime": when, "startTime": when},
    }


FILES = {
    "insights": "iam-insights.json",
    "recommendations": "iam-recommendations.json",
    "activity": "service-account-last-authentication.json",
    "key_activity": "service-account-key-last-authentication.json",
}


def write_usage(root: Path, project: str = PROJECT, **files: Any) -> Path:
    """Write (or with None remove) usage files of `root/gcp/PROJECT`: insights=..., recommendations=...,
    activity=..., key_activity=... (values as the file holds them)."""
    base = root / "gcp" / project
    base.mkdir(parents=True, exist_ok=True)
    for key, value in files.items():
        path = base / FILES[key]
        if value is None:
            path.unlink(missing_ok=True)
        else:
            path.write_text(json.dumps(value, indent=2) + "\n")
    return root
