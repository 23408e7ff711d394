"""What the evidence fuzz (tests/fuzz) found in the Azure readers, each kept as a regression test."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from kubeiam_azure.evidence.definitions import parse_role_definition
from kubeiam_azure.evidence.fields import Unreadable
from kubeiam_azure.evidence.graph import parse_app_role

DEMO = Path(__file__).resolve().parents[2] / "fixtures" / "demo"
DEFINITIONS = "azure/8f3c2d1e-4b5a-4c6d-9e8f-0a1b2c3d4e5f/role-definitions.json"
OWNER = {
    "id": "/subscriptions/8f3c2d1e-4b5a-4c6d-9e8f-0a1b2c3d4e5f/providers/Microsoft.Authorization/roleDefinitions/"
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
    "name": "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
    "roleName": "Owner",
    "roleType": "BuiltInRole",
    "permissions": [{"actions": ["*"], "notActions": [], "dataActions": [], "notDataActions": []}],
}


@pytest.mark.parametrize("field", ["actions", "dataActions"])
def test_a_permission_printed_without_actions_is_a_gap_not_a_role_that_grants_nothing(field):
    role = json.loads(json.dumps(OWNER))
    del role["permissions"][0][field]

    parsed, gaps = parse_role_definition(role, "[0]")

    assert [(g.item, g.reason) for g in gaps] == [
        (f"[0].permissions[0].{field}", "missing field: what the role grants is unchecked")
    ]
    assert parsed.name == "Owner"


def test_the_bundled_catalogue_leaves_empty_lists_out_and_that_is_no_gap():
    role = {**OWNER, "permissions": [{"actions": ["*"]}]}

    parsed, gaps = parse_role_definition(role, "[0]", printed=False)

    assert gaps == ()
    assert parsed.permissions[0].actions == ("*",)


def test_an_assigned_role_whose_actions_are_missing_leaves_its_findings_not_rechecked(run_cli, tmp_path):
    """A role's `actions` deleted (or null) read as "grants nothing": its findings went `resolved`. Here the
    listing carries Owner (a full listing's built-ins win over the bundled catalogue), the demo's deployer
    holds it on the subscription."""

    def audit(evidence: Path, baseline: Path | None = None) -> tuple[int, Any, str]:
        out, config = tmp_path / f"report-{baseline is not None}.json", tmp_path / "kubeiam.toml"
        config.write_text("")
        args: list[Any] = ["audit", "--evidence", evidence, "--format", "json", "--output", out, "--config", config]
        code, _, err = run_cli(*args, *(["--baseline", baseline] if baseline else []))
        return code, json.loads(out.read_text()), err

    code, baseline, err = audit(DEMO)
    assert code == 1, err
    base = tmp_path / "baseline.json"
    base.write_text(json.dumps(baseline))
    root = tmp_path / "evidence"
    shutil.copytree(DEMO, root)
    owner = json.loads(json.dumps(OWNER))
    owner["permissions"][0]["actions"] = None
    doc = [*json.loads((root / DEFINITIONS).read_text()), owner]
    (root / DEFINITIONS).write_text(json.dumps(doc))

    code, report, err = audit(root, base)

    assert code == 1, err
    gone = {f["fingerprint"] for f in baseline["findings"]} - {f["fingerprint"] for f in report["findings"]}
    assert gone, "the mutation changes nothing: the test would pass without the fix"
    assert report["resolved"] == []
    assert gone <= {f["fingerprint"] for f in report["not_rechecked"]}
    assert any("permissions[0].actions" in str(u) for u in report["coverage"]["unchecked"])


@pytest.mark.parametrize("deleted", ["yesterday", 1, {"at": "2026-01-01T00:00:00Z"}])
def test_an_app_role_assignment_whose_deletion_time_cannot_be_read_is_a_gap_not_a_deleted_one(deleted):
    raw = {"id": "x", "appRoleId": "A", "resourceId": "R", "deletedDateTime": deleted}

    with pytest.raises(Unreadable, match="deletedDateTime"):
        parse_app_role(raw, "[0]", "app-roles.json")


@pytest.mark.parametrize(("deleted", "kept"), [(None, True), ("", True), ("2026-05-04T09:12:44.1234567Z", False)])
def test_an_app_role_assignment_is_dropped_only_when_graph_gives_its_deletion_time(deleted, kept):
    raw = {"id": "x", "appRoleId": "A", "resourceId": "R", "deletedDateTime": deleted}

    assert (parse_app_role(raw, "[0]", "app-roles.json") is not None) is kept
