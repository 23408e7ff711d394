"""`kubeiam audit --demo --format json`: schema-valid, every FINDINGS.md field, stable fingerprints."""

from __future__ import annotations

import copy
import json
import random
import re
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest

REPO = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((REPO / "src" / "kubeiam" / "schema" / "report.schema.json").read_text())
DEMO = REPO / "fixtures" / "demo"

# FINDINGS.md, written out here on purpose: the schema could drift, this list is the contract.
TOP_LEVEL = {"schema_version", "tool", "generated_at", "findings", "coverage", "summary"}
FINDING_FIELDS = {
    "fingerprint", "rule_id", "category", "severity", "title", "cluster", "namespace", "service_account",
    "node", "cloud", "principal", "evidence", "remediation", "status",
}  # fmt: skip
CATEGORIES = {
    "admin-access", "privilege-escalation", "wildcard-action", "wildcard-resource", "missing-condition",
    "data-access", "trust-unscoped", "binding-broken", "static-credential", "imds-exposure", "broad-scope",
    "unused-access",
    "identity-takeover",
}  # fmt: skip
SEVERITIES = ["critical", "high", "medium", "low", "info"]


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    from kubeiam.cli import main

    capsys.readouterr()
    code = main([*args, "--format", "json"])
    out = capsys.readouterr().out
    assert code in (0, 1), code
    return json.loads(out)


@pytest.fixture(scope="module")
def demo_reports() -> list[dict[str, Any]]:
    """Two runs of `kubeiam audit --demo --format json` (module-scoped: shared by the checks below)."""
    import contextlib
    import io

    from kubeiam.cli import main

    reports = []
    for _ in range(2):
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            assert main(["audit", "--demo", "--format", "json"]) in (0, 1)
        reports.append(json.loads(buf.getvalue()))
    return reports


def test_demo_report_validates_against_the_schema(demo_reports):
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    jsonschema.Draft202012Validator(SCHEMA).validate(demo_reports[0])


def test_schema_really_requires_the_finding_fields(demo_reports):
    report = demo_reports[0]
    assert report["findings"], "the demo must produce findings for this test to mean anything"
    validator = jsonschema.Draft202012Validator(SCHEMA)
    for field in sorted(FINDING_FIELDS):
        broken = copy.deepcopy(report)
        del broken["findings"][0][field]
        assert not validator.is_valid(broken), f"schema accepts a finding without {field}"
    for field in sorted(TOP_LEVEL):
        broken = {k: v for k, v in report.items() if k != field}
        assert not validator.is_valid(broken), f"schema accepts a report without {field}"


def test_demo_report_carries_every_findings_md_field(demo_reports):
    from kubeiam.cli import load_providers
    from kubeiam.pipeline.providers import all_rules

    report = demo_reports[0]
    assert set(report) >= TOP_LEVEL
    assert report["tool"]["name"] == "kubeiam" and report["tool"]["version"]
    assert datetime.strptime(report["generated_at"], "%Y-%m-%dT%H:%M:%SZ")
    rule_ids = {r.id for r in all_rules(load_providers())}
    for f in report["findings"]:
        assert set(f) >= FINDING_FIELDS, FINDING_FIELDS - set(f)
        assert re.fullmatch(r"v\d+:[0-9a-f]{32}", f["fingerprint"])
        assert f["rule_id"] in rule_ids
        assert f["category"] in CATEGORIES
        assert f["severity"] in SEVERITIES
        assert f["title"] and "\n" not in f["title"]
        assert f["cloud"] in {"aws", "gcp", "azure", "kubernetes"}
        assert f["status"] in {"open", "suppressed"}
        assert isinstance(f["evidence"], dict) and f["evidence"]
        assert f["remediation"].strip()
        if f["node"] is None:
            assert f["namespace"] and f["service_account"]
        else:
            assert f["namespace"] is None and f["service_account"] is None
    coverage = report["coverage"]
    assert {c["name"] for c in coverage["clusters"]} == {"eks-prod", "gke-data", "aks-apps"}
    assert coverage["service_accounts"]["seen"] > 0
    assert isinstance(coverage["identities"], dict) and isinstance(coverage["errors"], list)
    summary = report["summary"]
    assert set(summary["by_severity"]) == set(SEVERITIES)
    assert sum(summary["by_severity"].values()) == summary["open"]
    assert sum(summary["by_category"].values()) == summary["open"]
    assert sum(summary["by_cloud"].values()) == summary["open"]


def test_findings_are_sorted_by_severity_then_subject_then_rule(demo_reports):
    findings = demo_reports[0]["findings"]

    def subject(f: dict[str, Any]) -> str:
        if f["service_account"] is not None:
            return f"{f['cluster']}/{f['namespace']}/{f['service_account']}"
        return f"{f['cluster']}/node/{f['node']}"

    keys = [(SEVERITIES.index(f["severity"]), subject(f), f["rule_id"]) for f in findings]
    assert keys == sorted(keys)


def test_two_runs_give_identical_findings(demo_reports):
    first, second = demo_reports
    assert [f["fingerprint"] for f in first["findings"]] == [f["fingerprint"] for f in second["findings"]]
    assert first["findings"] == second["findings"]
    assert len({f["fingerprint"] for f in first["findings"]}) == len(first["findings"])


def shuffled(value: Any, rng: random.Random) -> Any:
    """Every list in a random order and every object's keys in a random order, recursively."""
    if isinstance(value, dict):
        keys = list(value)
        rng.shuffle(keys)
        return {k: shuffled(value[k], rng) for k in keys}
    if isinstance(value, list):
        items = [shuffled(v, rng) for v in value]
        rng.shuffle(items)
        return items
    return value


def test_fingerprints_survive_shuffled_evidence_and_a_renamed_folder(demo_reports, tmp_path, capsys):
    copy_root = tmp_path / "renamed-evidence-folder"
    shutil.copytree(DEMO, copy_root)
    rng = random.Random(20261126)
    files = sorted(copy_root.rglob("*.json"))
    assert len(files) >= 6
    changed = 0
    for path in files:
        original = json.loads(path.read_text())
        mixed = shuffled(original, rng)
        changed += json.dumps(mixed) != json.dumps(original)
        path.write_text(json.dumps(mixed, indent=1))
    assert changed >= len(files) // 2  # the shuffle really reorders things

    report = run_json(capsys, "audit", "--evidence", str(copy_root))

    expected = {f["fingerprint"] for f in demo_reports[0]["findings"]}
    assert {f["fingerprint"] for f in report["findings"]} == expected
    # ...and the same report otherwise: same order (deterministic sort), same severities.
    assert [(f["fingerprint"], f["severity"]) for f in report["findings"]] == [
        (f["fingerprint"], f["severity"]) for f in demo_reports[0]["findings"]
    ]
