"""Issue 15, item 6: IAM conditions judged where decidable, deny policies at project / folder /
organisation (deny-policies.json), grants to groups (group-memberships.json) and principal sets."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from gcp_builder import NUMBER, PROJECT, Case, binding
from gcp_deeper_cases import ALWAYS as ALWAYS_COND
from gcp_deeper_cases import API, EXPIRED, SA, UNTIL_2999
from kubeiam_gcp.judge.conditions import ALWAYS, INACTIVE, LATER, SCOPED, TEMPORARY, effect, evaluate

from kubeiam.errors import InputError
from kubeiam.pipeline.audit import audit
from kubeiam.pipeline.evidence import Evidence
from kubeiam.vocabulary.findings import Severity

NOW = datetime(2026, 12, 8, tzinfo=UTC)
TOKEN = "roles/iam.serviceAccountTokenCreator"
GROUP = "platform@example.com"


def _findings(root: Path, rule: str | None = None) -> list:
    return [f for f in audit(Evidence(root)).findings if f.cloud == "gcp" and rule in (None, f.rule_id)]


# -- conditions -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("request.time < timestamp('2020-01-01T00:00:00Z')", INACTIVE),
        ('timestamp("2020-01-01T00:00:00Z") > request.time', INACTIVE),
        ("request.time < timestamp('2999-01-01T00:00:00Z')", TEMPORARY),
        ("request.time > timestamp('2999-01-01T00:00:00Z')", LATER),
        ("true", ALWAYS),
        ("resource.name.startsWith('')", ALWAYS),
        ("resource.name.startsWith('projects/p/secrets/a-') || true", ALWAYS),
        ("resource.name.startsWith('projects/p/secrets/a-')", SCOPED),
        ("request.time < timestamp('2020-01-01T00:00:00Z') && resource.name.startsWith('x')", INACTIVE),
        # Not decidable from evidence: a time of day is not "never true" because it is midnight now.
        ("request.time.getHours('Europe/Berlin') >= 9", SCOPED),
        ("resource.matchTag('123/env', 'prod')", SCOPED),
        ("a ? b : c", SCOPED),
        ("((", SCOPED),
    ],
)
def test_condition_effects(expression: str, expected: str) -> None:
    assert effect(expression, NOW) == expected


def test_resource_prefix_is_decided_for_a_known_resource() -> None:
    cond = "resource.type == 'storage.googleapis.com/Bucket' && resource.name.startsWith('projects/_/buckets/logs-')"
    assert evaluate(cond, NOW, {"name": "projects/_/buckets/logs-1", "type": "storage.googleapis.com/Bucket"}) is True
    assert evaluate(cond, NOW, {"name": "projects/_/buckets/data", "type": "storage.googleapis.com/Bucket"}) is False
    assert evaluate(cond, NOW) is None


def test_an_expired_grant_is_gone(tmp_path: Path) -> None:
    assert _findings(Case(project_policy=[binding("roles/editor", SA, condition=EXPIRED)]).write(tmp_path)) == []
    (f,) = _findings(Case(project_policy=[binding("roles/editor", SA)]).write(tmp_path / "b"))
    assert f.rule_id == "GCP-001"


def test_a_trivially_true_condition_scopes_nothing(tmp_path: Path) -> None:
    case = Case(project_policy=[binding("roles/resourcemanager.projectIamAdmin", SA, condition=ALWAYS_COND)])
    found = {f.rule_id: f for f in _findings(case.write(tmp_path))}
    assert found["GCP-002"].severity is Severity.CRITICAL  # Owner in one step, the condition scopes nothing
    assert "GCP-005" in found
    assert found["GCP-002"].evidence["condition"]["judged"].startswith("always true")


def test_a_time_limit_still_reads_everything_now_but_is_a_condition(tmp_path: Path) -> None:
    case = Case(project_policy=[binding("roles/secretmanager.secretAccessor", SA, condition=UNTIL_2999)])
    rules = {f.rule_id for f in _findings(case.write(tmp_path))}
    assert rules == {"GCP-003"}  # data across the project now; the time limit counts for GCP-005


def test_a_resource_condition_still_narrows(tmp_path: Path) -> None:
    cond = {"expression": "resource.name.startsWith('projects/fx-proj/secrets/api-')", "title": "api secrets"}
    case = Case(project_policy=[binding("roles/secretmanager.secretAccessor", SA, condition=cond)])
    assert _findings(case.write(tmp_path)) == []


# -- deny policies -------------------------------------------------------------------------------------------


def _deny(attachment: str, principals: list[str], permissions: list[str], **more: Any) -> dict[str, Any]:
    encoded = attachment.replace("/", "%2F")
    rule: dict[str, Any] = {"deniedPrincipals": principals, "deniedPermissions": permissions, **more}
    return {
        "name": f"policies/cloudresourcemanager.googleapis.com%2F{encoded}/denypolicies/guard",
        "uid": "6665d0a5-5d9c-4c42-8d5b-3c3d3b9d1b3a",
        "kind": "DenyPolicy",
        "displayName": "guard",
        "etag": "MTc1MTkzNjg1",
        "rules": [{"denyRule": rule, "description": "no token minting"}],
    }


def _with_deny(case: Case, root: Path, *policies: Any) -> Path:
    case.write(root)
    (root / "gcp" / PROJECT / "deny-policies.json").write_text(json.dumps(list(policies)))
    return root


SA_PRINCIPAL = f"principal://iam.googleapis.com/projects/-/serviceAccounts/{API}"
TOKEN_PERMS = [
    "iam.googleapis.com/serviceAccounts.getAccessToken",
    "iam.googleapis.com/serviceAccounts.sign*",
    "iam.googleapis.com/serviceAccounts.getOpenIdToken",
    "iam.googleapis.com/serviceAccounts.implicitDelegation",
]


def test_a_deny_rule_at_the_organisation_takes_token_minting_away(tmp_path: Path) -> None:
    case = Case(project_policy=[binding(TOKEN, SA)])
    before = _findings(case.write(tmp_path / "before"), "GCP-002")
    assert before and before[0].evidence["deny_policies"].startswith("not in the evidence")
    org = _deny("organizations/300000000003", [SA_PRINCIPAL], TOKEN_PERMS)
    after = _findings(
        _with_deny(
            Case(
                project_policy=[binding(TOKEN, SA)],
                ancestors={"folders/200000000002": [], "organizations/300000000003": []},
            ),
            tmp_path / "after",
            org,
        )
    )
    assert [f.rule_id for f in after] == []


def test_a_deny_rule_that_takes_part_of_a_role_leaves_the_rest(tmp_path: Path) -> None:
    deny = _deny(
        f"projects/{NUMBER}", ["principalSet://goog/public:all"], ["iam.googleapis.com/serviceAccounts.getAccessToken"]
    )
    (finding,) = _findings(_with_deny(Case(project_policy=[binding(TOKEN, SA)]), tmp_path, deny), "GCP-002")
    assert "iam.serviceAccounts.getAccessToken" not in finding.evidence["permissions"]
    assert "iam.serviceAccounts.signJwt" in finding.evidence["permissions"]
    assert finding.evidence["denied"]["permissions"] == ["iam.serviceAccounts.getAccessToken"]


@pytest.mark.parametrize(
    "more",
    [
        {"exceptionPrincipals": [SA_PRINCIPAL]},
        {"exceptionPrincipals": ["principalSet://goog/group/unknown@example.com"]},  # members unknown: may except it
        {"exceptionPermissions": TOKEN_PERMS},
        {"denialCondition": {"expression": "resource.matchTag('123/env', 'prod')", "title": "prod only"}},
    ],
    ids=["excepted", "maybe-excepted", "permission-excepted", "undecidable-condition"],
)
def test_a_deny_rule_cuts_only_what_is_certain(tmp_path: Path, more: dict[str, Any]) -> None:
    deny = _deny(f"projects/{PROJECT}", [SA_PRINCIPAL], TOKEN_PERMS, **more)
    (finding,) = _findings(_with_deny(Case(project_policy=[binding(TOKEN, SA)]), tmp_path, deny), "GCP-002")
    assert "iam.serviceAccounts.getAccessToken" in finding.evidence["permissions"]
    assert "deny_policies" not in finding.evidence  # the file was read


def test_a_deny_policy_listed_without_rules_is_named_and_cuts_nothing(tmp_path: Path) -> None:
    listed = {k: v for k, v in _deny(f"projects/{PROJECT}", [SA_PRINCIPAL], TOKEN_PERMS).items() if k != "rules"}
    root = Case(project_policy=[binding(TOKEN, SA)]).write(tmp_path)
    (root / "gcp" / PROJECT / "deny-policies.json").write_text(json.dumps({"policies": [listed]}))
    report = audit(Evidence(root))
    assert [f.rule_id for f in report.findings if f.rule_id == "GCP-002"] == ["GCP-002"]
    (error,) = [e for e in report.coverage["errors"] if "deny-policies.json" in e["location"]]
    assert "[0].rules" in error["reason"] and "list" in error["reason"] and error["subject"] == "gke-fx"


def test_a_deny_file_of_the_wrong_shape_is_an_input_error(tmp_path: Path) -> None:
    root = Case().write(tmp_path)
    (root / "gcp" / PROJECT / "deny-policies.json").write_text('"not a list"')
    with pytest.raises(InputError, match=r"deny-policies\.json"):
        audit(Evidence(root))


# -- groups and principal sets ---------------------------------------------------------------------------------


def _memberships(*emails: str) -> list[dict[str, Any]]:
    return [
        {
            "member": f"users/{i}",
            "preferredMemberKey": [{"id": e}],
            "relationType": "INDIRECT",
            "roles": [{"role": "MEMBER"}],
        }
        for i, e in enumerate(emails)
    ]


def test_grants_to_a_group_the_account_is_in_are_its_grants(tmp_path: Path) -> None:
    case = Case(project_policy=[binding("roles/owner", f"group:{GROUP}")])
    root = case.write(tmp_path)
    # Without the memberships file: not attributed, and named per account for the role rules.
    report = audit(Evidence(root))
    assert [f for f in report.findings if f.rule_id == "GCP-001"] == []
    (error,) = [e for e in report.coverage["errors"] if f"group:{GROUP}" in e["reason"]]
    assert error["subject"] == API and "GCP-001" in error["rules"]
    (root / "gcp" / PROJECT / "group-memberships.json").write_text(
        json.dumps({GROUP: _memberships("x@example.com", API)})
    )
    report = audit(Evidence(root))
    (finding,) = [f for f in report.findings if f.rule_id == "GCP-001"]
    assert finding.evidence["binding"]["via"] == f"group:{GROUP}"
    assert not [e for e in report.coverage["errors"] if GROUP in e["reason"]]
    # Not a member: nothing, and nothing unknown.
    (root / "gcp" / PROJECT / "group-memberships.json").write_text(
        json.dumps({GROUP: {"memberships": _memberships("x@example.com")}})
    )
    report = audit(Evidence(root))
    assert [f for f in report.findings if f.rule_id == "GCP-001"] == []
    assert not [e for e in report.coverage["errors"] if GROUP in e["reason"]]


def test_a_group_whose_members_cannot_be_read_is_named(tmp_path: Path) -> None:
    root = Case(project_policy=[binding("roles/owner", f"group:{GROUP}")]).write(tmp_path)
    (root / "gcp" / PROJECT / "group-memberships.json").write_text(json.dumps({GROUP: [{"member": 7}]}))
    errors = [e for e in audit(Evidence(root)).coverage["errors"] if GROUP in e["reason"]]
    assert errors and "preferredMemberKey" in errors[0]["reason"]


def test_grants_to_every_service_account_of_the_project_count(tmp_path: Path) -> None:
    member = f"principalSet://cloudresourcemanager.googleapis.com/projects/{NUMBER}/type/ServiceAccount"
    (finding,) = _findings(Case(project_policy=[binding("roles/editor", member)]).write(tmp_path))
    assert finding.rule_id == "GCP-001" and finding.evidence["binding"]["via"] == member


def test_a_domain_grant_never_reaches_a_service_account(tmp_path: Path) -> None:
    case = Case(project_policy=[binding("roles/owner", "domain:example.com")])
    report = audit(Evidence(case.write(tmp_path)))
    assert [f for f in report.findings if f.cloud == "gcp"] == []
    assert not [e for e in report.coverage["errors"] if "domain:" in e["reason"]]
