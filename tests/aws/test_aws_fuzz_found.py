"""What the evidence fuzz (tests/fuzz) found in the AWS readers, each kept as a regression test."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

DEMO = Path(__file__).resolve().parents[2] / "fixtures" / "demo"
ENTRIES = "aws/111122223333/eu-west-1/eks/eks-prod/access-entries.json"


def audit(run_cli, evidence: Path, tmp_path: Path, baseline: Path | None = None) -> tuple[int, Any, str]:
    out, config = tmp_path / f"report-{baseline is not None}.json", tmp_path / "kubeiam.toml"
    config.write_text("")
    args: list[Any] = ["audit", "--evidence", evidence, "--format", "json", "--output", out, "--config", config]
    code, _, err = run_cli(*args, *(["--baseline", baseline] if baseline else []))
    return code, json.loads(out.read_text()) if out.exists() else None, err


@pytest.mark.parametrize(
    ("field", "value", "location"),
    [
        # An object where the list of associated access policies goes was read as none: K8S-006 `resolved`.
        ("associatedAccessPolicies", {"0": {"policyArn": "x"}}, "accessEntries[1].associatedAccessPolicies"),
        # A user name that is no string silently became the principal's ARN, and its bindings went.
        ("username", 10**40, "accessEntries[1].username"),
    ],
)
def test_an_access_entry_field_of_another_type_is_a_coverage_error_and_its_findings_not_rechecked(
    run_cli, tmp_path, field, value, location
):
    code, baseline, err = audit(run_cli, DEMO, tmp_path)
    assert code == 1, err
    base = tmp_path / "baseline.json"
    base.write_text(json.dumps(baseline))
    takeover = {
        f["fingerprint"] for f in baseline["findings"] if f["rule_id"] == "K8S-006" and f["cluster"] == "eks-prod"
    }
    assert takeover
    root = tmp_path / "evidence"
    shutil.copytree(DEMO, root)
    doc = json.loads((root / ENTRIES).read_text())
    assert doc["accessEntries"][1]["principalArn"].endswith(":role/ci-deployer")
    doc["accessEntries"][1][field] = value
    (root / ENTRIES).write_text(json.dumps(doc))

    code, report, err = audit(run_cli, root, tmp_path, base)

    assert code == 1, err
    errors = [e for e in report["coverage"]["errors"] if e["location"] == f"{ENTRIES}: {location}"]
    assert [(e["subject"], e["rules"]) for e in errors] == [("eks-prod", ["K8S-006"])]
    gone = takeover - {f["fingerprint"] for f in report["findings"]}
    assert gone, "the mutation changes nothing: the test would pass without the fix"
    assert gone <= {f["fingerprint"] for f in report["not_rechecked"]}


def test_a_statement_without_action_leaves_its_role_partly_checked_not_granting_nothing(run_cli, tmp_path):
    """IAM refuses a statement with neither Action nor NotAction; read as "no action", it cleared findings."""
    code, baseline, err = audit(run_cli, DEMO, tmp_path)
    assert code == 1, err
    base = tmp_path / "baseline.json"
    base.write_text(json.dumps(baseline))
    root = tmp_path / "evidence"
    shutil.copytree(DEMO, root)
    iam_path = root / "aws/111122223333/iam.json"
    iam = json.loads(iam_path.read_text())
    role = next(r for r in iam["RoleDetailList"] if r["RoleName"] == "ci-runner")
    statements = role["RolePolicyList"][0]["PolicyDocument"]["Statement"]
    for statement in statements:
        statement.pop("Action", None)
    iam_path.write_text(json.dumps(iam))

    code, report, err = audit(run_cli, root, tmp_path, base)

    assert code == 1, err
    ci_runner = {f["fingerprint"] for f in baseline["findings"] if f["principal"] == role["Arn"]}
    gone = ci_runner - {f["fingerprint"] for f in report["findings"]}
    assert gone, "the mutation changes nothing: the test would pass without the fix"
    assert gone <= {f["fingerprint"] for f in report["not_rechecked"]}
    (unchecked,) = [u for u in report["coverage"]["unchecked"] if u["principal"] == role["Arn"]]
    assert "has neither Action nor NotAction" in unchecked["reason"]
