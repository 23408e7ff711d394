"""The GCP usage files (issue 14) read as the commands print them: the corpus samples exactly as printed,
REST pages, item-level gaps, absent files as coverage notes, never "unused"."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from gcp_builder import PROJECT, Case, binding, gsa
from kubeiam_gcp.evidence.usage import UsageReader
from unused_builder import authenticated, insight, write_usage

from kubeiam.errors import InputError
from kubeiam.pipeline.audit import audit
from kubeiam.pipeline.evidence import Evidence
from kubeiam.pipeline.report import Report

CORPUS = Path(__file__).resolve().parents[2] / "fixtures" / "gcp" / "corpus" / "usage-data"
APP = "app@my-project.iam.gserviceaccount.com"
KEY = f"projects/my-project/serviceAccounts/{APP}/keys/0123456789abcdef0123456789abcdef01234567"
API = gsa("api")
SA = f"serviceAccount:{API}"


def _sample(name: str) -> dict[str, Any]:
    return json.loads((CORPUS / name).read_text())  # type: ignore[no-any-return]


def _read(root: Path, project: str = "my-project", **files: Any) -> tuple[Any, list[Any]]:
    write_usage(root, project, **files)
    reader = UsageReader({"my-project": "123456789012"}, {"123456789012345678901": APP})
    return reader.read(Evidence(root), [project]), reader.unread


def _at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC) if "T" not in day else datetime.fromisoformat(day)


# --- the corpus samples, exactly as printed -----------------------------------------------------------


def test_the_insight_sample_is_read_as_printed(tmp_path: Path) -> None:
    data, unread = _read(tmp_path, insights=_sample("recommender-iam-policy-insights.schema-built.json")["output"])
    assert unread == [] and data.insight_projects == {"my-project"}
    (key,) = data.insights
    assert key == (f"serviceAccount:{APP}", "roles/storage.admin", "projects/my-project", "")
    found = data.insights[key]
    assert found.exercised == frozenset() and found.inferred == frozenset() and found.observation_days == 90
    assert found.name.endswith("/insights/ccccdddd-1111-2222-3333-444455556666")
    assert data.fresh["my-project"] == _at("2026-01-10T07:00:00Z")


def test_the_recommendation_sample_is_read_as_printed(tmp_path: Path) -> None:
    sample = _sample("recommender-iam-policy-recommendations.schema-built.json")["output"]
    data, unread = _read(tmp_path, recommendations=sample)
    assert unread == []
    (rec,) = data.recommendations.values()
    assert (rec.member, rec.role, rec.scope, rec.condition) == (
        f"serviceAccount:{APP}",
        "roles/storage.admin",
        "projects/my-project",
        "",
    )
    assert rec.subtype == "REMOVE_ROLE" and rec.added_roles == () and rec.custom_permissions is None


def test_the_activity_samples_are_read_as_printed(tmp_path: Path) -> None:
    outputs = _sample("policy-intelligence-query-activity.schema-built.json")["outputs"]
    data, unread = _read(
        tmp_path,
        activity=outputs["serviceAccountLastAuthentication"],
        key_activity=outputs["serviceAccountKeyLastAuthentication"],
    )
    assert unread == []
    assert data.last_authentication == {APP: _at("2026-01-09T07:00:00Z")}
    assert data.key_last_authentication == {KEY: _at("2026-01-08T07:00:00Z")}
    assert data.activity_projects == {"my-project": "gcp/my-project/service-account-last-authentication.json"}
    assert data.activity_partial == {} and data.key_activity_projects == {"my-project"}


# --- REST shapes and pages ------------------------------------------------------------------------------


def test_rest_pages_are_read_and_a_missing_page_is_named(tmp_path: Path) -> None:
    one = insight(SA, "roles/viewer", ["resourcemanager.projects.get"], target=None)
    two = insight(SA, "roles/browser", [], target=None, n=2)
    merged, unread = _read(
        tmp_path, PROJECT, insights=[{"insights": [one], "nextPageToken": "p2"}, {"insights": [two]}]
    )
    assert len(merged.insights) == 2 and unread == []
    partial, unread = _read(tmp_path, PROJECT, insights={"insights": [one], "nextPageToken": "p2"})
    assert len(partial.insights) == 1
    assert [(u.file, u.item) for u in unread] == [(f"gcp/{PROJECT}/iam-insights.json", "nextPageToken")]


def test_one_page_of_activity_cannot_prove_an_account_unused(tmp_path: Path) -> None:
    page = {"activities": [authenticated(API, "2026-01-09T07:00:00Z")], "nextPageToken": "x"}
    data, unread = _read(tmp_path, PROJECT, activity=page)
    assert data.last_authentication == {API: _at("2026-01-09T07:00:00Z")}
    assert "one page of several" in data.activity_partial[PROJECT] and unread


def test_an_account_named_by_unique_id_and_a_project_by_number(tmp_path: Path) -> None:
    entry = authenticated("123456789012345678901", "2026-01-09T07:00:00Z", project="my-project")
    found = insight(SA, "roles/viewer", [], target="//cloudresourcemanager.googleapis.com/projects/123456789012")
    data, unread = _read(tmp_path, activity=[entry], insights=[found])
    assert unread == [] and APP in data.last_authentication
    assert (SA, "roles/viewer", "projects/my-project", "") in data.insights


# --- top level: exit 2, naming the file -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("files", "said"),
    [
        ({"insights": {"items": []}}, "iam-insights.json: an object without 'insights'"),
        ({"activity": {}}, "service-account-last-authentication.json: an empty object"),
        ({"activity": "none"}, "service-account-last-authentication.json: top level must be a list"),
        ({"recommendations": {"recommendations": {}}}, "field 'recommendations' must be a list"),
    ],
)
def test_a_file_not_the_commands_shape_is_an_input_error(tmp_path: Path, files: dict[str, Any], said: str) -> None:
    with pytest.raises(InputError, match=said):
        _read(tmp_path, PROJECT, **files)


def test_empty_rest_answers_of_the_recommender_are_empty_lists(tmp_path: Path) -> None:
    data, unread = _read(tmp_path, PROJECT, insights={}, recommendations={})
    assert data.insights == {} and data.insight_projects == {PROJECT} and unread == []


def test_the_cli_exits_2_naming_the_file(tmp_path: Path) -> None:
    root = write_usage(Case().write(tmp_path), activity={"activity": []})
    kubeiam = Path(sys.executable).with_name("kubeiam")
    done = subprocess.run([str(kubeiam), "audit", "--evidence", str(root), "-q"], capture_output=True, text=True)
    assert done.returncode == 2, done.stderr
    assert "service-account-last-authentication.json" in done.stderr and "Traceback" not in done.stderr


# --- item level: the rest is read, the item named, never "nothing used" -------------------------------


def test_an_insight_whose_exercised_permissions_cannot_be_read_is_not_nothing_used(tmp_path: Path) -> None:
    bad = insight(SA, "roles/editor", [])
    del bad["content"]["exercisedPermissions"]
    worse = insight(SA, "roles/viewer", [], n=2)
    worse["content"]["exercisedPermissions"] = [{"permission": 7}]
    good = insight(SA, "roles/browser", ["resourcemanager.projects.get"], n=3)
    data, unread = _read(tmp_path, PROJECT, insights=[bad, worse, good])
    assert [k[1] for k in data.insights] == ["roles/browser"]
    assert [(u.item, u.account) for u in unread] == [
        ("[0].content.exercisedPermissions", SA),
        ("[1].content.exercisedPermissions", SA),
    ]
    assert SA in data.unreadable


def test_an_activity_entry_naming_no_account_leaves_absence_unproven(tmp_path: Path) -> None:
    nameless = authenticated(API, "2026-01-09T07:00:00Z")
    nameless["activity"].pop("serviceAccount")
    nameless.pop("fullResourceName")
    data, unread = _read(tmp_path, PROJECT, activity=[nameless, "junk"])
    assert data.last_authentication == {} and PROJECT in data.activity_partial
    assert [u.item for u in unread] == ["[0].activity", "[1].activity"]


def _gcp_errors(report: Report) -> list[dict[str, Any]]:
    """The coverage of the usage data (the Case leaves the ancestors and asset files out: other rules' notes)."""
    return [e for e in report.coverage["errors"] if e["source"] == "gcp" and e.get("rules") == ["GCP-011"]]


def test_unreadable_insight_is_coverage_for_its_member_and_no_finding(tmp_path: Path) -> None:
    bad = insight(SA, "roles/editor", [])
    bad["content"]["exercisedPermissions"] = "all"
    root = write_usage(Case(project_policy=[binding("roles/editor", SA)]).write(tmp_path), insights=[bad])
    report = audit(Evidence(root))
    assert not [f for f in report.findings if f.rule_id == "GCP-011"]
    (error,) = _gcp_errors(report)
    assert (error["location"], error["subject"], error["rules"]) == (
        f"gcp/{PROJECT}/iam-insights.json",
        API,
        ["GCP-011"],
    )
    assert error["reason"].startswith("[0].content.exercisedPermissions: cannot be read")


# --- absent is not empty ---------------------------------------------------------------------------


def test_absent_usage_files_are_a_note_per_identity_never_unused(tmp_path: Path) -> None:
    case = Case(
        ksas=[("app", "api", API), ("app", "api2", API), ("app", "web", gsa("web"))],
        gsas=[API, gsa("web")],
        project_policy=[binding("roles/editor", SA), binding("roles/viewer", f"serviceAccount:{gsa('web')}")],
        usage=False,
    )
    report = audit(Evidence(case.write(tmp_path)))
    assert not [f for f in report.findings if f.rule_id == "GCP-011"]
    notes = sorted((e["subject"], e["location"], tuple(e["rules"])) for e in _gcp_errors(report))
    assert notes == [
        (API, f"gcp/{PROJECT}/service-account-last-authentication.json", ("GCP-011",)),
        (gsa("web"), f"gcp/{PROJECT}/service-account-last-authentication.json", ("GCP-011",)),
    ]
    (note,) = [e for e in _gcp_errors(report) if e["subject"] == API]
    assert f"gcp/{PROJECT}/iam-insights.json" in note["reason"] and note["reason"].endswith("not checked")


def test_activity_without_insights_is_checked_on_the_rest_only(tmp_path: Path) -> None:
    root = Case(project_policy=[binding("roles/editor", SA)]).write(tmp_path)
    write_usage(root, insights=None)
    (note,) = _gcp_errors(audit(Evidence(root)))
    assert note["location"] == f"gcp/{PROJECT}/iam-insights.json" and "checked on the rest only" in note["reason"]
