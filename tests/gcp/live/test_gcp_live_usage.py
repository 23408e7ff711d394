"""Live usage data (issue 14) with the real clients (google-cloud-recommender over REST, google-api-python-client
for Policy Analyzer) against the local REST server: what is read, for whom, in how many calls, and what a
refused, throttled or half-answered call leaves (coverage, never "unused")."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from gcp_live_servers import FIXTURES, FakeGcp, make_request
from kubeiam_gcp.live import collect

from kubeiam.pipeline.audit import audit
from kubeiam.pipeline.evidence import Evidence
from kubeiam.pipeline.report import Report
from kubeiam.vocabulary.model import Inventory

DATA, SHARED = "gcp/acme-data", "gcp/acme-shared"
NUM = "415104041262"
BQ = "bq-loader@acme-data.iam.gserviceaccount.com"
NOTEBOOK = "notebook@acme-data.iam.gserviceaccount.com"
COMPUTE = f"{NUM}-compute@developer.gserviceaccount.com"
FRONTEND = "frontend@acme-shared.iam.gserviceaccount.com"
BQ_KEY = "3f9c2b7d1e0a4c6b8d5e2f1a0b9c8d7e6f5a4b3c"
GLOBAL = "/v1/projects/{}/locations/global"
INSIGHTS = GLOBAL + "/insightTypes/google.iam.policy.Insight/insights"
RECOMMENDATIONS = GLOBAL + "/recommenders/google.iam.policy.Recommender/recommendations"
ACTIVITY = GLOBAL + "/activityTypes/serviceAccountLastAuthentication/activities:query"
KEY_ACTIVITY = GLOBAL + "/activityTypes/serviceAccountKeyLastAuthentication/activities:query"
USAGE_METHODS = (
    "projects.locations.insightTypes.insights.list",
    "projects.locations.recommenders.recommendations.list",
    "activityTypes.serviceAccountLastAuthentication.activities.query",
    "activityTypes.serviceAccountKeyLastAuthentication.activities.query",
)


def run(gcp: FakeGcp, inventory: Inventory, out: Path, **kwargs: object) -> list:
    return collect(make_request(out, **kwargs), inventory, settings=gcp.settings)


def _audit(out: Path) -> Report:
    """Audit what the collection wrote, with the Kubernetes evidence it started from."""
    shutil.copytree(FIXTURES / "evidence" / "kubernetes", out / "kubernetes", dirs_exist_ok=True)
    return audit(Evidence(out))


def _usage_requests(gcp: FakeGcp) -> dict[str, int]:
    return {k: n for k, n in gcp.rest.requests.items() if "/locations/global/" in k}


def _accounts(activities: list[dict[str, Any]]) -> list[str]:
    return [a["fullResourceName"].rsplit("/", 1)[-1] for a in activities]


def test_audit_reads_usage_for_the_identities_in_scope_in_the_fewest_calls(
    gcp: FakeGcp, inventory: Inventory, tmp_path: Path
):
    assert run(gcp, inventory, tmp_path) == []
    ev = Evidence(tmp_path)
    insights = ev.load_list(f"{DATA}/iam-insights.json")
    members = sorted({i["content"]["member"] for i in insights})
    # People and accounts no ServiceAccount takes are left out; the GKE principal is in.
    assert members == [
        f"principal://iam.googleapis.com/projects/{NUM}/locations/global/workloadIdentityPools/acme-data.svc.id.goog"
        "/subject/ns/batch/sa/exporter",
        f"serviceAccount:{BQ}",
        f"serviceAccount:{NOTEBOOK}",
    ]
    # As gcloud prints them: REST JSON (int64 as a string, the duration in seconds).
    assert insights[0]["observationPeriod"] == "7776000s" and insights[0]["insightSubtype"] == "PERMISSIONS_USAGE"
    (rec,) = ev.load_list(f"{DATA}/iam-recommendations.json")
    assert rec["content"]["overview"]["addedRoles"] == ["roles/bigquery.jobUser"]
    assert (
        ev.load_list(f"{SHARED}/iam-insights.json") == [] and ev.load_list(f"{SHARED}/iam-recommendations.json") == []
    )
    assert _accounts(ev.load_list(f"{DATA}/service-account-last-authentication.json")) == [BQ, NOTEBOOK]
    assert _accounts(ev.load_list(f"{SHARED}/service-account-last-authentication.json")) == [FRONTEND]
    assert _accounts(ev.load_list(f"{DATA}/service-account-key-last-authentication.json")) == [BQ_KEY]
    # The lower bound: per project one insights list, one recommendations list, one activity query; one
    # key-activity query where accounts in scope have user-managed keys (acme-data only).
    assert _usage_requests(gcp) == {
        f"GET {INSIGHTS.format('acme-data')}": 1,
        f"GET {INSIGHTS.format('acme-shared')}": 1,
        f"GET {RECOMMENDATIONS.format('acme-data')}": 1,
        f"GET {RECOMMENDATIONS.format('acme-shared')}": 1,
        f"GET {ACTIVITY.format('acme-data')}": 1,
        f"GET {ACTIVITY.format('acme-shared')}": 1,
        f"GET {KEY_ACTIVITY.format('acme-data')}": 1,
    }


def test_the_audit_judges_the_collected_usage(gcp: FakeGcp, inventory: Inventory, tmp_path: Path):
    run(gcp, inventory, tmp_path)
    report = _audit(tmp_path)
    unused = {(f.namespace, f.service_account): f for f in report.findings if f.rule_id == "GCP-011"}
    # Editor replaced by the recommender's role; the default compute account is absent from the activity.
    assert unused[("analytics", "notebook")].evidence["right_sized"]["document"]["addBindings"][0]["role"] == (
        "roles/bigquery.jobUser"
    )
    assert "never used" in unused[("batch", "legacy-job")].title
    assert not [e for e in report.coverage["errors"] if e.get("rules") == ["GCP-011"]]  # usage covers every identity


def test_check_asks_for_its_one_account_with_a_filter(gcp: FakeGcp, inventory: Inventory, tmp_path: Path):
    assert run(gcp, inventory, tmp_path, service_account=("analytics", "bq-loader")) == []
    ev = Evidence(tmp_path)
    assert _accounts(ev.load_list(f"{DATA}/service-account-last-authentication.json")) == [BQ]
    assert _accounts(ev.load_list(f"{DATA}/service-account-key-last-authentication.json")) == [BQ_KEY]
    # Its own account's entries, and the GKE principals of the pool (its KSA's own member may be one of them).
    members = {i["content"]["member"] for i in ev.load_list(f"{DATA}/iam-insights.json")}
    assert f"serviceAccount:{BQ}" in members and f"serviceAccount:{NOTEBOOK}" not in members
    assert all(m == f"serviceAccount:{BQ}" or m.startswith("principal://") for m in members)
    assert _usage_requests(gcp) == {
        f"GET {INSIGHTS.format('acme-data')}": 1,
        f"GET {RECOMMENDATIONS.format('acme-data')}": 1,
        f"GET {ACTIVITY.format('acme-data')}": 1,
        f"GET {KEY_ACTIVITY.format('acme-data')}": 1,
    }


def test_a_check_of_an_account_never_used_finds_it_absent(gcp: FakeGcp, inventory: Inventory, tmp_path: Path):
    # The filtered query for the default compute account finds nothing: written as an empty list (unused).
    assert run(gcp, inventory, tmp_path, service_account=("batch", "legacy-job")) == []
    assert Evidence(tmp_path).load_list(f"{DATA}/service-account-last-authentication.json") == []


def test_permission_denied_is_coverage_and_no_file_reads_as_never_used(
    gcp: FakeGcp, inventory: Inventory, tmp_path: Path
):
    gcp.rest.fail(f"GET {ACTIVITY.format('acme-data')}", 403)
    gcp.rest.fail(f"GET {INSIGHTS.format('acme-shared')}", 403)
    errors = run(gcp, inventory, tmp_path)
    assert sorted((e.location.split(" ")[1], e.subject, e.reason.split(":")[0]) for e in errors) == [
        ("activityTypes.serviceAccountLastAuthentication.activities.query", "projects/acme-data", "permission denied"),
        ("projects.locations.insightTypes.insights.list", "projects/acme-shared", "permission denied"),
    ]
    assert all("HTTP 403" in e.reason for e in errors)
    assert not (tmp_path / DATA / "service-account-last-authentication.json").exists()
    assert not (tmp_path / SHARED / "iam-insights.json").exists()
    report = _audit(tmp_path)
    assert not [f for f in report.findings if f.rule_id == "GCP-011" and "never used" in f.title]
    notes = {e["subject"] for e in report.coverage["errors"] if e.get("rules") == ["GCP-011"]}
    assert {BQ, NOTEBOOK, COMPUTE} <= notes


def test_throttling_is_retried_and_the_file_written(gcp: FakeGcp, inventory: Inventory, tmp_path: Path):
    gcp.rest.fail(f"GET {ACTIVITY.format('acme-data')}", 429, times=2)
    gcp.rest.fail(f"GET {RECOMMENDATIONS.format('acme-data')}", 429, times=1)
    assert run(gcp, inventory, tmp_path) == []
    assert gcp.rest.requests[f"GET {ACTIVITY.format('acme-data')}"] == 3
    assert _accounts(Evidence(tmp_path).load_list(f"{DATA}/service-account-last-authentication.json")) == [
        BQ,
        NOTEBOOK,
    ]


def test_activity_pages_are_all_read_and_a_failed_page_writes_nothing(
    gcp: FakeGcp, inventory: Inventory, tmp_path: Path
):
    path = ACTIVITY.format("acme-data")
    body = Evidence(gcp.rest.root).load_object(path.lstrip("/").replace(":", "/") + ".json")
    gcp.rest.routes[path] = {**body, "_max_page": 1}  # one activity a page: three pages
    try:
        assert run(gcp, inventory, tmp_path) == []
        assert gcp.rest.requests[f"GET {path}"] == 3
        assert _accounts(Evidence(tmp_path).load_list(f"{DATA}/service-account-last-authentication.json")) == [
            BQ,
            NOTEBOOK,
        ]
        gcp.rest.reset()
        gcp.rest.fail(f"GET {path}", None, times=1)  # the first page answers...
        gcp.rest.fail(f"GET {path}", 403, times=1)  # ...the second is refused
        errors = run(gcp, inventory, tmp_path / "again")
        assert [e.subject for e in errors] == ["projects/acme-data"]
        assert not (tmp_path / "again" / DATA / "service-account-last-authentication.json").exists()
    finally:
        gcp.rest.routes.pop(path)


def test_the_usage_methods_are_guarded_and_documented() -> None:
    from kubeiam_gcp.live.clients import PERMISSIONS

    assert {m: PERMISSIONS[m] for m in USAGE_METHODS} == {
        USAGE_METHODS[0]: "recommender.iamPolicyInsights.list",
        USAGE_METHODS[1]: "recommender.iamPolicyRecommendations.list",
        USAGE_METHODS[2]: "policyanalyzer.serviceAccountLastAuthenticationActivities.query",
        USAGE_METHODS[3]: "policyanalyzer.serviceAccountKeyLastAuthenticationActivities.query",
    }
