"""The optional usage files of a `gcp/<project-id>/` folder (docs/evidence.md), read as the commands print them:

- `iam-insights.json`: `gcloud recommender insights list --insight-type=google.iam.policy.Insight` (which
  permissions of each role binding were used);
- `iam-recommendations.json`: `gcloud recommender recommendations list --recommender=google.iam.policy.Recommender`;
- `service-account-last-authentication.json`, `service-account-key-last-authentication.json`:
  `gcloud policy-intelligence query-activity --activity-type=serviceAccountLastAuthentication` /
  `serviceAccountKeyLastAuthentication`.

Also the REST pages (`{"insights": [...]}`, `{"activities": [...], "nextPageToken": ...}`) and pages merged
with `jq -s`. A file not the command's shape at the top level is an `InputError`; an entry that cannot be
read is an `Unread` (its binding stays untracked, never "nothing used"; an activity entry naming no
account makes the file unable to prove an absence). Absent files are coverage notes per identity
(`usage_coverage`), never "unused".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from kubeiam.pipeline.evidence import Evidence
from kubeiam_gcp.judge.usage import BindingKey, PermissionInsight, RoleRecommendation, UsageData

from .json_checks import Unread, kind_of, load_list, pages_missing

INSIGHTS = "iam-insights.json"
RECOMMENDATIONS = "iam-recommendations.json"
ACTIVITY = "service-account-last-authentication.json"
KEY_ACTIVITY = "service-account-key-last-authentication.json"
COMMANDS = {
    INSIGHTS: "gcloud recommender insights list --project=P --location=global "
    "--insight-type=google.iam.policy.Insight --format=json",
    RECOMMENDATIONS: "gcloud recommender recommendations list --project=P --location=global "
    "--recommender=google.iam.policy.Recommender --format=json",
    ACTIVITY: "gcloud policy-intelligence query-activity --activity-type=serviceAccountLastAuthentication "
    "--project=P --format=json",
    KEY_ACTIVITY: "gcloud policy-intelligence query-activity --activity-type=serviceAccountKeyLastAuthentication "
    "--project=P --format=json",
}
USAGE = "usage"
"""`Unread.kind` of a usage entry; `Unread.account` is its member when it can be read."""

_RESOURCE_MANAGER = re.compile(r"^//cloudresourcemanager\.googleapis\.com/(projects|folders|organizations)/([^/]+)$")
_ACCOUNT = re.compile(r"^//iam\.googleapis\.com/projects/([^/]+)/serviceAccounts/([^/]+)(?:/keys/([^/]+))?$")
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)s$")
_CONDITION = "/iamPolicy/bindings/*/condition/expression"
UNREADABLE_DAYS = -1


class UsageReader:
    """Reads the usage files of every project folder into one `UsageData`; `unread` lists what could not be read."""

    def __init__(self, numbers: Mapping[str, str], unique_ids: Mapping[str, str]) -> None:
        self.by_number = {n: p for p, n in numbers.items()}
        self.unique_ids = unique_ids
        self.unread: list[Unread] = []
        self.insights: dict[BindingKey, PermissionInsight] = {}
        self.recommendations: dict[BindingKey, RoleRecommendation] = {}
        self.insight_projects: set[str] = set()
        self.last: dict[str, datetime] = {}
        self.key_last: dict[str, datetime] = {}
        self.activity: dict[str, str] = {}
        self.partial: dict[str, str] = {}
        self.key_projects: set[str] = set()
        self.fresh: dict[str, datetime] = {}
        self.unreadable: set[str] = set()
        self.scopes: dict[str, str] = {}

    def read(self, evidence: Evidence, projects: Iterable[str]) -> UsageData:
        for project in projects:
            base = f"gcp/{project}"
            for i, item in self._items(evidence, base, INSIGHTS, "insights", project):
                self._insight(item, f"{base}/{INSIGHTS}", f"[{i}]", project)
            for i, item in self._items(evidence, base, RECOMMENDATIONS, "recommendations", project):
                self._recommendation(item, f"{base}/{RECOMMENDATIONS}", f"[{i}]", project)
            for i, item in self._items(evidence, base, ACTIVITY, "activities", project):
                self._activity(item, f"{base}/{ACTIVITY}", f"[{i}]", project)
            for i, item in self._items(evidence, base, KEY_ACTIVITY, "activities", project):
                self._activity(item, f"{base}/{KEY_ACTIVITY}", f"[{i}]", project)
        return UsageData(
            insights=self.insights,
            recommendations=self.recommendations,
            insight_projects=frozenset(self.insight_projects),
            last_authentication=self.last,
            key_last_authentication=self.key_last,
            activity_projects=self.activity,
            activity_partial=self.partial,
            key_activity_projects=frozenset(self.key_projects),
            unreadable=frozenset(self.unreadable),
            fresh=self.fresh,
        )

    def _items(self, evidence: Evidence, base: str, name: str, key: str, project: str) -> list[tuple[int, Any]]:
        file = f"{base}/{name}"
        # `{}` is the REST answer when there is nothing; for the activity files gcloud's `[]` is required:
        # read as empty, `{}` would call every account of the project unused.
        found = load_list(
            evidence, file, key, command=COMMANDS[name].replace("=P", f"={project}"), empty_object=name != ACTIVITY
        )
        if found is None:
            return []
        if name == INSIGHTS:
            self.insight_projects.add(project)
        elif name == ACTIVITY:
            self.activity[project] = file
        elif name == KEY_ACTIVITY:
            self.key_projects.add(project)
        if found.next_page:
            self.unread.append(pages_missing(file, found.next_page))
            if name == ACTIVITY:
                self.partial.setdefault(project, f"{file} holds one page of several")
        return list(enumerate(found.items))

    # -- entries -------------------------------------------------------------------------------

    def _insight(self, item: Any, file: str, at: str, project: str) -> None:
        content, member = self._content(item, file, at)
        if content is None or member is None:
            return
        subtype = item.get("insightSubtype", "PERMISSIONS_USAGE")
        if subtype != "PERMISSIONS_USAGE":
            return self._fail(file, f"{at}.insightSubtype", f"{subtype!r} is not PERMISSIONS_USAGE", member)
        role = content.get("role")
        exercised = _permissions(content.get("exercisedPermissions"))
        inferred = _permissions(content.get("inferredPermissions", ()))
        condition = _condition(content.get("condition"))
        days = _days(item.get("observationPeriod"))
        scope = self._scope(item.get("targetResources"), project)
        if (
            not isinstance(role, str) or not role or exercised is None or inferred is None or condition is None
            or days == UNREADABLE_DAYS or scope is None
        ):  # fmt: skip
            bad = next(
                field
                for field, wrong in (
                    ("content.role", not isinstance(role, str) or not role),
                    ("content.exercisedPermissions", exercised is None),
                    ("content.inferredPermissions", inferred is None),
                    ("content.condition", condition is None),
                    ("observationPeriod", days == UNREADABLE_DAYS),
                    ("targetResources", scope is None),
                )
                if wrong
            )
            # Never "nothing used": the binding stays untracked, and the coverage names the entry.
            return self._fail(file, f"{at}.{bad}", "cannot be read: the binding's use is not tracked", member)
        key = (member, role, scope, condition)
        self.insights[key] = PermissionInsight(
            member, role, scope, condition, exercised, inferred, days, str(item.get("name", "")), file
        )
        self._freshen(project, item.get("lastRefreshTime"))

    def _recommendation(self, item: Any, file: str, at: str, project: str) -> None:
        content, _ = self._content(item, file, at, needs_member=False)
        if content is None:
            return
        overview = content.get("overview")
        if not isinstance(overview, dict):
            return self._fail(file, f"{at}.content.overview", f"must be an object, found {kind_of(overview)}", None)
        member, role = overview.get("member"), overview.get("removedRole")
        if not isinstance(member, str) or not member:
            return self._fail(file, f"{at}.content.overview.member", "cannot be read", None)
        state = ((item.get("stateInfo") or {}) if isinstance(item.get("stateInfo"), dict) else {}).get("state")
        if state in ("SUCCEEDED", "FAILED"):
            return None  # applied (or failed to apply): says nothing of today's bindings
        added = overview.get("addedRoles", [])
        scope = self._scope([overview.get("resource")] if overview.get("resource") else None, project)
        operations = _operations(content)
        if not isinstance(role, str) or not role or not _strings(added) or scope is None or operations is None:
            return self._fail(file, f"{at}.content", "overview or operations cannot be read", member)
        filters = [f for o in operations if (f := o.get("pathFilters"))]
        if not all(isinstance(f, dict) for f in filters):
            return self._fail(file, f"{at}.content.operationGroups", "pathFilters cannot be read", member)
        condition = next((str(f.get(_CONDITION) or "") for f in filters), "")
        custom = next((c for o in operations if (c := _custom_role(o)) is not None), None)
        key = (member, role, scope, condition)
        self.recommendations[key] = RoleRecommendation(
            member, role, scope, condition, str(item.get("recommenderSubtype", "")), tuple(added), custom,
            str(item.get("name", "")), file,
        )  # fmt: skip
        self._freshen(project, item.get("lastRefreshTime"))

    def _activity(self, item: Any, file: str, at: str, project: str) -> None:
        activity = item.get("activity") if isinstance(item, dict) else None
        resource = None
        if isinstance(activity, dict):
            for kind in ("serviceAccount", "serviceAccountKey"):
                inner = activity.get(kind)
                if isinstance(inner, dict) and isinstance(inner.get("fullResourceName"), str):
                    resource = inner["fullResourceName"]
        if resource is None and isinstance(item, dict) and isinstance(item.get("fullResourceName"), str):
            resource = item["fullResourceName"]
        m = _ACCOUNT.match(resource or "")
        email = self.unique_ids.get(m[2], m[2]) if m else None
        if m is None or email is None or "@" not in email:
            if file.endswith(ACTIVITY):
                self.partial.setdefault(project, f"{file}{at} names no account that can be read")
            return self._fail(file, f"{at}.activity", "names no service account that can be read", None)
        when = _time(activity.get("lastAuthenticatedTime") if isinstance(activity, dict) else None)
        if when is None:
            if not m[3]:
                self.partial.setdefault(project, f"{file}{at}.activity.lastAuthenticatedTime cannot be read")
            return self._fail(file, f"{at}.activity.lastAuthenticatedTime", "cannot be read", f"serviceAccount:{email}")
        if m[3]:
            name = f"projects/{m[1]}/serviceAccounts/{email}/keys/{m[3]}"
            self.key_last[name] = max(when, self.key_last.get(name, when))
        else:
            self.last[email] = max(when, self.last.get(email, when))
        self._freshen(project, when)

    # -- helpers -------------------------------------------------------------------------------

    def _content(
        self, item: Any, file: str, at: str, *, needs_member: bool = True
    ) -> tuple[dict[str, Any] | None, str | None]:
        if not isinstance(item, dict):
            self._fail(file, at, f"must be an object, found {kind_of(item)}", None)
            return None, None
        content = item.get("content")
        if not isinstance(content, dict):
            self._fail(file, f"{at}.content", f"must be an object, found {kind_of(content)}", None)
            return None, None
        member = content.get("member")
        if needs_member and (not isinstance(member, str) or not member):
            self._fail(file, f"{at}.content.member", "cannot be read", None)
            return None, None
        return content, member if isinstance(member, str) else None

    def _scope(self, targets: Any, project: str) -> str | None:
        """`projects/ID` (by id, also when named by number), `folders/N`, `organizations/N`, or the full name."""
        if targets is None:
            return f"projects/{project}"
        if not isinstance(targets, list) or not targets or not all(isinstance(t, str) for t in targets):
            return None
        found = self.scopes.get(targets[0])  # an estate's entries name a few resources thousands of times
        if found is None:
            m = _RESOURCE_MANAGER.match(targets[0])
            if m is None:
                found = targets[0]
            else:
                ident = m[2] if m[1] != "projects" else self.by_number.get(m[2], m[2])
                found = f"{m[1]}/{ident}"
            self.scopes[targets[0]] = found
        return found

    def _freshen(self, project: str, value: Any) -> None:
        when = value if isinstance(value, datetime) else _time(value)
        if when is not None and (project not in self.fresh or when > self.fresh[project]):
            self.fresh[project] = when

    def _fail(self, file: str, item: str, reason: str, member: str | None) -> None:
        self.unread.append(Unread(USAGE, file, item, reason, account=member))
        if member:
            self.unreadable.add(member)


def _permissions(value: Any) -> frozenset[str] | None:
    """`[{"permission": "x.y.z"}, ...]` (as the insight prints them) or plain strings; None when unreadable."""
    if not isinstance(value, (list, tuple)):
        return None
    names = [p.get("permission") if isinstance(p, dict) else p for p in value]
    strings = [n for n in names if isinstance(n, str) and n]
    return frozenset(strings) if len(strings) == len(names) else None


def _condition(value: Any) -> str | None:
    if value is None:
        return ""
    if not isinstance(value, dict) or not isinstance(value.get("expression", ""), str):
        return None
    return str(value.get("expression", ""))


def _days(value: Any) -> int | None:
    """`"7776000s"` -> 90; None when absent; UNREADABLE_DAYS when it cannot be read."""
    if value is None:
        return None
    m = _DURATION.match(value) if isinstance(value, str) else None
    return int(float(m[1]) // 86400) if m else UNREADABLE_DAYS


def _time(value: Any) -> datetime | None:
    return _parsed(value) if isinstance(value, str) else None


@lru_cache(maxsize=4096)
def _parsed(value: str) -> datetime | None:
    """Why cached: an estate's files repeat a few timestamps (the recommender's refresh time) thousands of times."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) and v for v in value)


def _operations(content: dict[str, Any]) -> list[dict[str, Any]] | None:
    groups = content.get("operationGroups", [])
    if not isinstance(groups, list):
        return None
    out: list[dict[str, Any]] = []
    for group in groups:
        ops = group.get("operations", []) if isinstance(group, dict) else None
        if not isinstance(ops, list) or not all(isinstance(o, dict) for o in ops):
            return None
        out += ops
    return out


def _custom_role(operation: dict[str, Any]) -> frozenset[str] | None:
    """The permissions of a custom role a REPLACE_ROLE_CUSTOMIZABLE recommendation adds, when it carries them."""
    if operation.get("action") != "add" or operation.get("resourceType") != "iam.googleapis.com/Role":
        return None
    value = operation.get("value")
    perms = value.get("includedPermissions") if isinstance(value, dict) else None
    return frozenset(str(p) for p in perms) if isinstance(perms, list) and _strings(perms) else None
