"""GCP-011: unused access of a workload's Google identity, from the usage files (issue 14)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gcp_builder import PROJECT, Case, binding, gsa, ksa_member, policy, principal, user_key
from kubeiam_gcp.judge.catalogue import load_catalogue
from unused_builder import authenticated, insight, key_authenticated, recommendation, write_usage

from kubeiam.pipeline.audit import audit
from kubeiam.pipeline.engine import AnalysisConfig
from kubeiam.pipeline.evidence import Evidence
from kubeiam.vocabulary.findings import Finding, Severity

API = gsa("api")
SA = f"serviceAccount:{API}"
RECENT = "2026-01-10T07:00:00Z"


def _unused(root: Path, **kw: Any) -> list[Finding]:
    return [f for f in audit(Evidence(root), **kw).findings if f.rule_id == "GCP-011"]


def _case(tmp_path: Path, *bindings: dict[str, Any], **usage: Any) -> Path:
    """One KSA (app/api) taking API, granted `bindings` on the project; usage files as given."""
    return write_usage(Case(project_policy=list(bindings)).write(tmp_path), **usage)


def test_an_account_absent_from_the_activity_was_never_used(tmp_path: Path) -> None:
    other = authenticated(gsa("other"), RECENT)
    root = _case(tmp_path, binding("roles/iam.serviceAccountTokenCreator", SA), activity=[other], insights=[])
    (found,) = _unused(root)
    assert found.severity is Severity.HIGH  # an unused escalation grant
    granted = len(load_catalogue().roles["roles/iam.serviceAccountTokenCreator"])
    assert found.title.endswith(f"never used: no authentication recorded ({granted} permissions granted)")
    usage = found.evidence["usage"]
    assert (usage["granted"], usage["used"], usage["unit"], usage["last_used"]) == (granted, 0, "permissions", None)
    assert any("creation time" in limit for limit in usage["limits"])
    doc = found.evidence["right_sized"]["document"]
    assert [b["role"] for b in doc["removeBindings"]] == ["roles/iam.serviceAccountTokenCreator"]
    assert doc["addBindings"] == [] and found.evidence["right_sized"]["format"] == "gcp-role"
    assert found.evidence["right_sized"]["drops"][0].startswith("escalation: ")


def test_severity_follows_what_the_unused_part_could_do(tmp_path: Path) -> None:
    severities = {}
    for role in ("roles/browser", "roles/storage.objectViewer", "roles/pubsub.publisher", "roles/owner"):
        root = _case(tmp_path / role.replace("/", "_"), binding(role, SA), activity=[], insights=[])
        (found,) = _unused(root)
        severities[role] = found.severity
    assert severities == {
        "roles/browser": Severity.LOW,  # reads metadata only
        "roles/storage.objectViewer": Severity.MEDIUM,  # reads objects
        "roles/pubsub.publisher": Severity.MEDIUM,  # writes
        "roles/owner": Severity.HIGH,  # an unused admin grant
    }


def test_not_used_for_the_window_and_the_window_is_configurable(tmp_path: Path) -> None:
    # The newest moment the data holds is 2026-01-10 (another account): 120 days after the last use.
    activity = [authenticated(API, "2025-09-12T07:00:00Z"), authenticated(gsa("other"), RECENT)]
    root = _case(tmp_path, binding("roles/pubsub.publisher", SA), activity=activity, insights=[])
    (found,) = _unused(root)
    assert "not used for 120 days (last authentication 2025-09-12" in found.title
    assert found.evidence["usage"]["last_used"] == "2025-09-12T07:00:00Z"
    assert _unused(root, config=AnalysisConfig(usage_window_days=180)) == []
    assert len(_unused(root, config=AnalysisConfig(usage_window_days=100))) == 1


def test_old_evidence_audited_later_never_reads_as_a_longer_disuse(tmp_path: Path) -> None:
    # Audited a year after the data was taken: the last use is 9 days before the newest data point.
    activity = [authenticated(API, "2026-01-01T07:00:00Z"), authenticated(gsa("other"), RECENT)]
    root = _case(tmp_path, binding("roles/pubsub.publisher", SA), activity=activity, insights=[])
    later = datetime(2027, 1, 10, tzinfo=UTC)
    assert _unused(root, now=later) == []
    # ...and a clock earlier than the data is the reference (no negative disuse).
    assert _unused(root, now=datetime(2026, 1, 5, tzinfo=UTC)) == []


def test_a_recently_used_account_without_insights_is_not_reported(tmp_path: Path) -> None:
    root = _case(tmp_path, binding("roles/editor", SA), activity=[authenticated(API, RECENT)], insights=[])
    assert _unused(root) == []


def test_unused_permissions_become_a_custom_role_with_what_was_used_and_predicted(tmp_path: Path) -> None:
    used = ["pubsub.topics.publish"]
    found_insight = insight(SA, "roles/pubsub.editor", used, inferred=["pubsub.topics.get", "not.in.the.role"])
    root = _case(
        tmp_path,
        binding("roles/pubsub.editor", SA),
        activity=[authenticated(API, RECENT)],
        insights=[found_insight],
    )
    (found,) = _unused(root)
    assert found.severity is Severity.MEDIUM and "uses 1 of " in found.title
    sized = found.evidence["right_sized"]
    assert sized["format"] == "gcp-custom-role"
    (role,) = sized["document"]["customRoles"]
    assert role["name"] == f"projects/{PROJECT}/roles/kubeiam.api_gsa.pubsub.editor"
    assert role["includedPermissions"] == ["pubsub.topics.get", "pubsub.topics.publish"]
    assert sized["document"]["addBindings"] == [
        {"resource": f"projects/{PROJECT}", "role": role["name"], "members": [SA]}
    ]
    (b,) = found.evidence["bindings"]
    assert b["used"] == 1 and b["insight"].endswith("insight-0001")


def test_the_recommenders_replacement_is_used_when_it_is_within_the_grant(tmp_path: Path) -> None:
    used = ["pubsub.topics.publish"]
    rec = recommendation(SA, "roles/pubsub.editor", "REPLACE_ROLE", added=["roles/pubsub.publisher"])
    root = _case(
        tmp_path,
        binding("roles/pubsub.editor", SA),
        activity=[authenticated(API, RECENT)],
        insights=[insight(SA, "roles/pubsub.editor", used)],
        recommendations=[rec],
    )
    (found,) = _unused(root)
    doc = found.evidence["right_sized"]["document"]
    assert found.evidence["right_sized"]["format"] == "gcp-role" and doc["customRoles"] == []
    assert [b["role"] for b in doc["addBindings"]] == ["roles/pubsub.publisher"]
    assert found.evidence["bindings"][0]["recommendation"].startswith("REPLACE_ROLE projects/")


def test_a_replacement_granting_more_than_today_is_not_suggested(tmp_path: Path) -> None:
    # roles/storage.admin is not within roles/pubsub.editor: a custom role of what was used instead.
    rec = recommendation(
        SA, "roles/pubsub.editor", "REPLACE_ROLE", added=["roles/pubsub.publisher", "roles/storage.admin"]
    )
    root = _case(
        tmp_path,
        binding("roles/pubsub.editor", SA),
        activity=[authenticated(API, RECENT)],
        insights=[insight(SA, "roles/pubsub.editor", ["pubsub.topics.publish"])],
        recommendations=[rec],
    )
    (found,) = _unused(root)
    doc = found.evidence["right_sized"]["document"]
    assert [r["includedPermissions"] for r in doc["customRoles"]] == [["pubsub.topics.publish"]]
    assert "roles/storage.admin" not in str(doc)


def test_an_unused_binding_of_a_used_account_is_removed(tmp_path: Path) -> None:
    rec = recommendation(SA, "roles/editor", "REMOVE_ROLE")
    root = _case(
        tmp_path,
        binding("roles/editor", SA),
        binding("roles/pubsub.publisher", SA),
        activity=[authenticated(API, RECENT)],
        insights=[
            insight(SA, "roles/editor", []),
            insight(SA, "roles/pubsub.publisher", ["pubsub.topics.publish"], n=2),
        ],
        recommendations=[rec],
    )
    (found,) = _unused(root)
    assert found.severity is Severity.HIGH
    doc = found.evidence["right_sized"]["document"]
    assert [b["role"] for b in doc["removeBindings"]] == ["roles/editor"] and doc["addBindings"] == []
    assert found.evidence["right_sized"]["drops"][0] == f"admin: roles/editor on projects/{PROJECT}"


def test_a_binding_younger_than_the_window_is_not_judged(tmp_path: Path) -> None:
    young = insight(SA, "roles/pubsub.editor", [], days=30)
    root = _case(tmp_path, binding("roles/pubsub.editor", SA), activity=[authenticated(API, RECENT)], insights=[young])
    assert _unused(root) == []
    assert len(_unused(root, config=AnalysisConfig(usage_window_days=30))) == 1


def test_an_untracked_binding_is_named_in_the_limits_and_left_as_it_is(tmp_path: Path) -> None:
    root = _case(
        tmp_path,
        binding("roles/pubsub.editor", SA),
        binding("roles/viewer", SA),
        activity=[authenticated(API, RECENT)],
        insights=[insight(SA, "roles/pubsub.editor", ["pubsub.topics.publish"])],
    )
    (found,) = _unused(root)
    doc = found.evidence["right_sized"]["document"]
    assert [b["role"] for b in doc["removeBindings"]] == ["roles/pubsub.editor"]
    (untracked,) = [b for b in found.evidence["bindings"] if "untracked" in b]
    assert untracked["role"] == "roles/viewer" and "no insight" in untracked["untracked"]
    assert "permission use not tracked for 1 of 2 bindings (see `bindings`)" in found.evidence["usage"]["limits"]


def test_a_conditional_binding_keeps_its_condition(tmp_path: Path) -> None:
    cond = {"expression": "resource.name.startsWith('projects/_/buckets/app-')", "title": "app buckets"}
    root = _case(
        tmp_path,
        binding("roles/storage.objectAdmin", SA, condition=cond),
        activity=[authenticated(API, RECENT)],
        insights=[insight(SA, "roles/storage.objectAdmin", ["storage.objects.get"], condition=cond["expression"])],
    )
    (found,) = _unused(root)
    (added,) = found.evidence["right_sized"]["document"]["addBindings"]
    assert added["condition"] == cond
    # An insight for the same role without that condition is another binding: untracked here.
    other = _case(
        tmp_path / "other",
        binding("roles/storage.objectAdmin", SA, condition=cond),
        activity=[authenticated(API, RECENT)],
        insights=[insight(SA, "roles/storage.objectAdmin", ["storage.objects.get"])],
    )
    assert _unused(other) == []


def test_a_direct_principal_is_judged_from_insights(tmp_path: Path) -> None:
    member = principal("batch", "exporter")
    case = Case(ksas=[("batch", "exporter", None)], project_policy=[binding("roles/storage.objectViewer", member)])
    root = write_usage(
        case.write(tmp_path), insights=[insight(member, "roles/storage.objectViewer", ["storage.objects.get"])]
    )
    (found,) = _unused(root)
    assert found.principal == member and found.severity is Severity.LOW
    (role,) = found.evidence["right_sized"]["document"]["customRoles"]
    assert role["name"] == f"projects/{PROJECT}/roles/kubeiam.exporter.storage.objectViewer"


def test_key_authentication_counts_as_use_and_is_shown(tmp_path: Path) -> None:
    key = user_key(API)
    case = Case(project_policy=[binding("roles/pubsub.publisher", SA)], keys={API: [key]})
    root = write_usage(
        case.write(tmp_path),
        activity=[authenticated(API, "2025-06-01T07:00:00Z"), authenticated(gsa("other"), RECENT)],
        key_activity=[key_authenticated(key["name"], "2025-12-20T07:00:00Z")],
        insights=[],
    )
    assert _unused(root) == []  # the key was used 21 days before the newest data point
    write_usage(root, key_activity=[])
    (found,) = _unused(root)
    assert found.evidence["keys"] == {key["name"].rsplit("/", 1)[-1]: None}


def test_one_finding_per_service_account_with_a_stable_fingerprint(tmp_path: Path) -> None:
    trust = policy(binding("roles/iam.workloadIdentityUser", ksa_member("app", "api"), ksa_member("jobs", "api")))
    case = Case(
        ksas=[("app", "api", API), ("jobs", "api", API)],
        project_policy=[binding("roles/pubsub.editor", SA)],
        sa_policies={API: trust},
    )
    root = write_usage(case.write(tmp_path), activity=[authenticated(gsa("other"), RECENT)], insights=[])
    never = {(f.namespace, f.service_account): f.fingerprint for f in _unused(root)}
    assert set(never) == {("app", "api"), ("jobs", "api")}
    write_usage(
        root,
        activity=[authenticated(API, RECENT)],
        insights=[insight(SA, "roles/pubsub.editor", ["pubsub.topics.publish"])],
    )
    partly = {(f.namespace, f.service_account): f.fingerprint for f in _unused(root)}
    assert partly == never  # the same problem, however the usage data changes


def test_check_reports_what_the_audit_reports(tmp_path: Path) -> None:
    root = _case(tmp_path, binding("roles/pubsub.editor", SA), activity=[], insights=[])
    (whole,) = _unused(root)
    (one,) = _unused(root, namespace="app", service_account="api", mode="check")
    assert (one.fingerprint, one.severity, one.title, one.evidence) == (
        whole.fingerprint,
        whole.severity,
        whole.title,
        whole.evidence,
    )
