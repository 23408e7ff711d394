"""What the evidence fuzz (tests/fuzz) found in the GCP readers, each kept as a regression test."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

DEMO = Path(__file__).resolve().parents[2] / "fixtures" / "demo"
KEYS = "gcp/acme-data/service-account-keys.json"
GCS_SYNC = "gcs-sync@acme-data.iam.gserviceaccount.com"


def audit(run_cli, evidence: Path, tmp_path: Path) -> tuple[int, Any, str]:
    out, config = tmp_path / "report.json", tmp_path / "kubeiam.toml"
    config.write_text("")
    code, _, err = run_cli("audit", "--evidence", evidence, "--format", "json", "--output", out, "--config", config)
    return code, json.loads(out.read_text()) if out.exists() else None, err


@pytest.mark.parametrize("key_type", ["\x1b[31mUSER_MANAGED\x1b[0m", "KEY_TYPE_UNSPECIFIED", "user_managed", ""])
def test_a_key_type_google_does_not_print_counts_as_user_managed(run_cli, tmp_path, key_type):
    """Any keyType but SYSTEM_MANAGED used to be taken as "not user-managed": GCP-008 went away."""
    root = tmp_path / "evidence"
    shutil.copytree(DEMO, root)
    doc = json.loads((root / KEYS).read_text())
    user_managed = [k for k in doc[GCS_SYNC] if k["keyType"] == "USER_MANAGED"]
    assert len(user_managed) == 1
    user_managed[0]["keyType"] = key_type
    (root / KEYS).write_text(json.dumps(doc))

    code, report, err = audit(run_cli, root, tmp_path)

    assert code == 1, err
    assert [f["principal"] for f in report["findings"] if f["rule_id"] == "GCP-008"] == [GCS_SYNC]


def test_a_system_managed_key_is_still_no_finding(run_cli, tmp_path):
    root = tmp_path / "evidence"
    shutil.copytree(DEMO, root)
    doc = json.loads((root / KEYS).read_text())
    for key in doc[GCS_SYNC]:
        key["keyType"] = "SYSTEM_MANAGED"
    (root / KEYS).write_text(json.dumps(doc))

    code, report, err = audit(run_cli, root, tmp_path)

    assert code == 1, err
    assert [f for f in report["findings"] if f["rule_id"] == "GCP-008"] == []


@pytest.mark.parametrize("number", [10**400, "9" * 25])
def test_a_project_number_that_is_no_int64_is_not_taken_for_the_projects(run_cli, tmp_path, number):
    """A 400-digit projectNumber was taken as the project's number: the principal:// bindings of the pool
    (`projects/418274159822/...`) then matched no project, and their findings went unseen."""
    code, pristine, err = audit(run_cli, DEMO, tmp_path)
    assert code == 1, err
    exporter = sorted(f["fingerprint"] for f in pristine["findings"] if f["service_account"] == "exporter")
    assert exporter
    root = tmp_path / "evidence"
    shutil.copytree(DEMO, root)
    project = root / "gcp/acme-data/project.json"
    doc = json.loads(project.read_text())
    doc["projectNumber"] = number
    project.write_text(json.dumps(doc))

    code, report, err = audit(run_cli, root, tmp_path)

    assert code == 1, err
    assert sorted(f["fingerprint"] for f in report["findings"] if f["service_account"] == "exporter") == exporter


def test_a_recommendation_whose_path_filters_are_a_list_is_unread_not_an_internal_error(run_cli, tmp_path):
    root = tmp_path / "evidence"
    shutil.copytree(DEMO, root)
    path = root / "gcp/acme-data/iam-recommendations.json"
    doc = json.loads(path.read_text())
    operation = doc[0]["content"]["operationGroups"][0]["operations"][0]
    operation["pathFilters"] = [operation.get("pathFilters") or {}]
    path.write_text(json.dumps(doc))

    code, report, err = audit(run_cli, root, tmp_path)

    assert code == 1, err
    assert "internal error" not in err
    assert any("iam-recommendations.json" in json.dumps(e) for e in report["coverage"]["errors"])
