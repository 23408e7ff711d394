"""Live usage data (issue 14): the IAM recommender's insights and recommendations and Policy Analyzer's
last authentication, for the identities in scope only, written as the gcloud commands print them.

- `iam-insights.json`, `iam-recommendations.json`: one paged list per project whose policy binds an identity
  in scope (`google-cloud-recommender`, REST); only the entries about those identities are written (the
  lists also name people and other workloads).
- `service-account-last-authentication.json`: an audit reads the project's activities in pages of 1,000
  (fewer calls than one per account unless few accounts of a large project are in scope); `check` asks
  for its one account with a filter. `service-account-key-last-authentication.json` likewise, for the
  accounts in scope that have user-managed keys. No google-cloud client exists for Policy Analyzer: the
  discovery-based google-api-python-client, from the discovery document it ships.

A file is written only when every call for it was answered: an activity file missing an account would
read as "never used".
"""

from __future__ import annotations

import math
import re
import types
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from pathlib import Path
from typing import Any

from .clients import Caller, Clients
from .plan import Plan
from .to_json import rest_json, write_json

RECOMMENDER, ANALYZER = "recommender", "policyanalyzer"
"""The APIs (each its own pool of workers)."""
INSIGHT_TYPE = "google.iam.policy.Insight"
RECOMMENDER_ID = "google.iam.policy.Recommender"
SA_ACTIVITY, KEY_ACTIVITY = "serviceAccountLastAuthentication", "serviceAccountKeyLastAuthentication"
ACTIVITY_PAGE = 1000
"""The most activities a page holds (the API's maximum)."""
_ACCOUNT = re.compile(r"^//iam\.googleapis\.com/projects/[^/]+/serviceAccounts/([^/]+)(?:/keys/([^/]+))?$")
_FILES = {
    SA_ACTIVITY: "service-account-last-authentication.json",
    KEY_ACTIVITY: "service-account-key-last-authentication.json",
}

Job = tuple[str, Callable[[], None]]


class UsageCollector:
    """The usage calls of one collection, planned from what the earlier phases read."""

    def __init__(self, plan: Plan, clients: Clients, caller: Caller) -> None:
        self.plan, self.clients, self.caller = plan, clients, caller
        self.members: dict[str, set[str]] = {}
        """Project -> the members in scope its policy binds (insights and recommendations are about them)."""
        self.insights: dict[str, list[dict[str, Any]]] = {}
        self.recommendations: dict[str, list[dict[str, Any]]] = {}
        self.activities: dict[tuple[str, str], list[dict[str, Any]]] = {}
        """(project, activity type) -> the activities read, for the accounts (keys) in scope."""
        self.failed: set[tuple[str, str]] = set()
        self.wanted: dict[tuple[str, str], set[str]] = {}
        """(project, activity type) -> what is in scope: account emails, or key ids."""
        self.emails: dict[str, str] = {}
        """Account unique id -> email (an activity may name its account either way)."""

    def jobs(
        self,
        policies: Mapping[str, Mapping[str, Any]],
        gsas: Mapping[str, Iterable[str]],
        accounts: Mapping[str, list[dict[str, Any]]],
        keys: Mapping[str, list[dict[str, Any]]],
        fetched: Iterable[Mapping[str, Any]] = (),
    ) -> list[Job]:
        """`policies`: project -> its IAM policy (REST); `gsas`: project -> the accounts in scope;
        `accounts`: project -> every account listed (audit); `keys`: email -> its user-managed keys;
        `fetched`: the accounts read one by one (check)."""
        for a in [*fetched, *(a for listed in accounts.values() for a in listed)]:
            if a.get("uniqueId") and a.get("email"):
                self.emails[str(a["uniqueId"])] = str(a["email"])
        jobs: list[Job] = []
        # A project's policy may bind an account of another project: every account in scope counts.
        scope = {f"serviceAccount:{e}" for es in gsas.values() for e in es}
        for p in self.plan.projects:
            existing = {a.get("email") for a in accounts[p]} if p in accounts else None
            emails = sorted(e for e in gsas.get(p, ()) if existing is None or e in existing)
            bound = _members(policies.get(p, {}))
            self.members[p] = {m for m in bound if m in scope or _gke_principal(m)}
            if self.members[p]:
                jobs += [(RECOMMENDER, partial(self._insights, p)), (RECOMMENDER, partial(self._recommendations, p))]
            if emails:
                names = {f"//iam.googleapis.com/projects/{p}/serviceAccounts/{e}": e for e in emails}
                jobs += self._activity_jobs(p, SA_ACTIVITY, names, len(accounts[p]) if p in accounts else None)
            key_names = {
                f"//iam.googleapis.com/{k['name']}": k["name"].rsplit("/", 1)[-1]
                for e in emails
                for k in keys.get(e, ())
                if k.get("name")
            }
            if key_names:
                jobs += self._activity_jobs(p, KEY_ACTIVITY, key_names, None)
        return jobs

    # -- recommender ---------------------------------------------------------------------------

    def _insights(self, p: str) -> None:
        parent = f"projects/{p}/locations/global/insightTypes/{INSIGHT_TYPE}"
        found = self.caller.call(
            RECOMMENDER, "projects.locations.insightTypes.insights.list", parent,
            lambda r, t: list(self.clients.recommender().list_insights(parent=parent, retry=r, timeout=t)),
            subject=f"projects/{p}",
        )  # fmt: skip
        if found is not None:
            self.insights[p] = [i for x in found if _about(i := rest_json(x), "member", self.members[p])]

    def _recommendations(self, p: str) -> None:
        parent = f"projects/{p}/locations/global/recommenders/{RECOMMENDER_ID}"
        found = self.caller.call(
            RECOMMENDER, "projects.locations.recommenders.recommendations.list", parent,
            lambda r, t: list(self.clients.recommender().list_recommendations(parent=parent, retry=r, timeout=t)),
            subject=f"projects/{p}",
        )  # fmt: skip
        if found is not None:
            mine = [r for x in found if _about(r := rest_json(x), "overview", self.members[p])]
            self.recommendations[p] = mine

    # -- Policy Analyzer activity --------------------------------------------------------------

    def _activity_jobs(self, p: str, kind: str, names: Mapping[str, str], listed: int | None) -> list[Job]:
        """One project-wide query (paged) or one filtered query per name, whichever makes fewer calls:
        per name only for `check`, or when fewer names are in scope than the project's list has pages.
        `names`: full resource name -> what is matched in the answers (email or key id: an answer may name
        the project by number, the account by unique id)."""
        self.wanted[(p, kind)] = set(names.values())
        self.activities[(p, kind)] = []
        per_name = self.plan.check or (listed is not None and len(names) < math.ceil(listed / ACTIVITY_PAGE))
        if per_name:
            return [(ANALYZER, partial(self._query, p, kind, n)) for n in sorted(names)]
        return [(ANALYZER, partial(self._query, p, kind, None))]

    def _query(self, p: str, kind: str, name: str | None) -> None:
        parent = f"projects/{p}/locations/global/activityTypes/{kind}"
        found = self.caller.call(
            ANALYZER, f"activityTypes.{kind}.activities.query", parent,
            lambda r, t: r(lambda: self._pages(parent, name, t))(),
            subject=name.rsplit("/", 1)[-1] if name else f"projects/{p}",
        )  # fmt: skip
        if found is None:
            self.failed.add((p, kind))
            return
        wanted = self.wanted[(p, kind)]
        self.activities[(p, kind)] += [a for a in found if self._matched(a, kind) in wanted]

    def _matched(self, activity: Mapping[str, Any], kind: str) -> str | None:
        m = _ACCOUNT.match(_resource(activity))
        if m is None:
            return None
        return m[2] if kind == KEY_ACTIVITY else self.emails.get(m[1], m[1])

    def _pages(self, parent: str, name: str | None, timeout: float) -> list[dict[str, Any]]:
        """Every page of one query (a failed page fails the call: nothing partial is written)."""
        service = self.clients.policy_analyzer()
        activities = service.projects().locations().activityTypes().activities()
        kwargs: dict[str, Any] = {"parent": parent, "pageSize": ACTIVITY_PAGE}
        if name is not None:
            kwargs["filter"] = f'activities.fullResourceName = "{name}"'
        out: list[dict[str, Any]] = []
        token = None
        while True:
            request = activities.query(**kwargs, **({"pageToken": token} if token else {}))
            page = _execute(request, self.clients.analyzer_http(timeout))
            out += page.get("activities") or []
            token = page.get("nextPageToken")
            if not token:
                return out

    # -- output --------------------------------------------------------------------------------

    def write(self, output: Path) -> None:
        for p, found in self.insights.items():
            write_json(output / "gcp" / p / "iam-insights.json", found)
        for p, found in self.recommendations.items():
            write_json(output / "gcp" / p / "iam-recommendations.json", found)
        for (p, kind), found in self.activities.items():
            if (p, kind) not in self.failed:
                write_json(output / "gcp" / p / _FILES[kind], sorted(found, key=_resource))


def _members(policy: Mapping[str, Any]) -> set[str]:
    return {str(m) for b in policy.get("bindings") or () for m in b.get("members") or ()}


def _gke_principal(member: str) -> bool:
    """A KSA's own member in a GKE workload identity pool (direct grants, `gke-direct` links)."""
    return member.startswith(("principal://", "principalSet://")) and ".svc.id.goog/" in member


def _about(entry: Mapping[str, Any], where: str, members: set[str]) -> bool:
    content = entry.get("content") or {}
    found = (content.get("overview") or {}).get("member") if where == "overview" else content.get("member")
    return found in members


def _resource(activity: Mapping[str, Any]) -> str:
    inner = activity.get("activity") or {}
    for kind in ("serviceAccount", "serviceAccountKey"):
        name = (inner.get(kind) or {}).get("fullResourceName") if isinstance(inner, Mapping) else None
        if name:
            return str(name)
    return str(activity.get("fullResourceName", ""))


def _execute(request: Any, http: Any) -> dict[str, Any]:
    """Run one discovery-client request; its errors as google.api_core exceptions, which `Caller` retries
    (429, 503) and turns into coverage like every other API's."""
    import httplib2
    from google.api_core import exceptions
    from googleapiclient.errors import HttpError

    try:
        page: dict[str, Any] = request.execute(http=http)
        return page
    except HttpError as exc:
        status = int(exc.resp.status)
        response = types.SimpleNamespace(status_code=status)  # what `failures.summary` reads the status from
        raise exceptions.from_http_status(status, str(exc.reason or ""), response=response) from None
    except httplib2.HttpLib2Error as exc:
        raise ConnectionError(f"{type(exc).__name__}: {exc}") from None
