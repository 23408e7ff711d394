"""Must show: two audits of changed evidence give exactly the right new / unchanged / resolved sets."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from quarterly_helpers import DEMO, FIXTURE, audit_json, change_evidence

from kubeiam.quarterly.report_dir import runs

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "src/kubeiam/schema/report.schema.json").read_text())

CASES = {
    # evidence, cluster, SA whose static keys are removed, SA that gets a misspelt annotation
    "fixture": (FIXTURE, "onprem", "legacy-worker", ("web", "frontend")),
    "demo": (DEMO, "eks-prod", "legacy-worker", ("default", "default")),
}


def _subject(f: dict) -> tuple:
    return (f["cluster"], f["namespace"], f["service_account"])


@pytest.mark.parametrize("case", sorted(CASES))
def test_changed_evidence_gives_exact_new_unchanged_resolved(case, tmp_path, run_cli, clock) -> None:
    src, cluster, fixed_sa, broken = CASES[case]
    after = tmp_path / "after"
    change_evidence(src, after, cluster=cluster, fixed_sa=fixed_sa, broken_sa=broken)
    reports = tmp_path / "reports"

    _, first = audit_json(run_cli, "--evidence", src, "--report-dir", reports)
    _, second = audit_json(run_cli, "--evidence", after, "--report-dir", reports)
    _, third = audit_json(run_cli, "--evidence", after, "--report-dir", reports)

    before = {f["fingerprint"]: f for f in first["findings"]}
    # The change removes the pod's static keys: exactly the K8S-001 finding(s) of that SA go away.
    fixed = {
        fp for fp, f in before.items() if _subject(f) == (cluster, "payments", fixed_sa) and f["rule_id"] == "K8S-001"
    }
    assert len(fixed) == 1
    introduced = {f["fingerprint"] for f in second["findings"] if _subject(f) == (cluster, *broken)}
    assert introduced, "the misspelt annotation made no finding"
    assert not introduced & set(before)

    # Exactly: new = the introduced subject's findings; resolved = the fixed one; the rest unchanged.
    marks = {f["fingerprint"]: f["baseline"] for f in second["findings"]}
    assert {fp for fp, m in marks.items() if m == "new"} == introduced
    assert {fp for fp, m in marks.items() if m == "unchanged"} == set(before) - fixed
    assert {r["fingerprint"] for r in second["resolved"]} == fixed
    assert second["baseline"]["new"] == len(introduced) and second["baseline"]["resolved"] == len(fixed)
    for r in second["resolved"]:
        assert {"fingerprint", "rule_id", "category", "cluster", "namespace", "service_account"} <= set(r)

    # first_seen: carried from run 1 for unchanged findings, run 2's time for new ones, and kept by run 3.
    for f in second["findings"]:
        assert f["first_seen"] == (second["generated_at"] if f["fingerprint"] in introduced else first["generated_at"])
    assert first["generated_at"] != second["generated_at"] != third["generated_at"]
    assert {f["fingerprint"]: f["first_seen"] for f in third["findings"]} == {
        f["fingerprint"]: f["first_seen"] for f in second["findings"]
    }
    assert {f["baseline"] for f in third["findings"]} == {"unchanged"} and third["resolved"] == []

    for doc in (first, second, third):
        jsonschema.validate(doc, SCHEMA)
    assert len(runs(reports)) == 3


def test_explicit_baseline_file_and_diff_command(tmp_path, run_cli, evidence) -> None:
    after = tmp_path / "after"
    change_evidence(evidence, after, cluster="onprem", fixed_sa="legacy-worker", broken_sa=("web", "frontend"))
    code, out, _ = run_cli("audit", "-e", evidence, "-f", "json", "-o", tmp_path / "old.json", "-q")
    assert code == 1 and out == "" and (tmp_path / "old.json").is_file()
    code, out, _ = run_cli(
        "audit", "-e", after, "-f", "json", "-o", tmp_path / "new.json", "--baseline", tmp_path / "old.json"
    )
    new = json.loads((tmp_path / "new.json").read_text())
    assert new["baseline"]["source"].endswith("old.json")
    new_fps = {f["fingerprint"] for f in new["findings"] if f["baseline"] == "new"}

    # diff prints the same sets; the introduced K8S-002 is medium: it fails --fail-on medium, not high.
    code, out, _ = run_cli("diff", tmp_path / "old.json", tmp_path / "new.json", "--format", "json")
    diff = json.loads(out)
    assert {f["fingerprint"] for f in diff["new"]} == new_fps
    assert {f["fingerprint"] for f in diff["resolved"]} == {r["fingerprint"] for r in new["resolved"]}
    assert code == 0  # default --fail-on high
    severities = {f["severity"] for f in diff["new"]}
    assert severities == {"medium"}
    assert run_cli("diff", tmp_path / "old.json", tmp_path / "new.json", "--fail-on", "medium")[0] == 1
    code, text, _ = run_cli("diff", tmp_path / "old.json", tmp_path / "new.json")
    assert text.splitlines()[0] == f"{len(new_fps)} new, {new['baseline']['unchanged']} unchanged, 1 resolved"
    assert sum(line.startswith("new ") for line in text.splitlines()) == len(new_fps)
    assert run_cli("diff", tmp_path / "old.json", tmp_path / "missing.json")[0] == 2


def test_a_cluster_not_read_this_time_is_not_resolved(tmp_path, run_cli, evidence) -> None:
    run_cli("audit", "--demo", "-f", "json", "-o", tmp_path / "old.json")
    code, out, _ = run_cli("audit", "-e", evidence, "-f", "json", "--baseline", tmp_path / "old.json", "-q")
    assert code == 1
    new = json.loads(out)
    demo = json.loads((tmp_path / "old.json").read_text())
    assert new["resolved"] == []  # the demo's clusters were not audited: nothing is "fixed"
    assert {f["fingerprint"] for f in new["not_rechecked"]} == {f["fingerprint"] for f in demo["findings"]}


def test_a_narrowed_run_resolves_only_within_its_namespace(tmp_path, run_cli, evidence) -> None:
    run_cli("audit", "-e", evidence, "-f", "json", "-o", tmp_path / "all.json")
    after = tmp_path / "after"
    change_evidence(evidence, after, cluster="onprem", fixed_sa="legacy-worker", broken_sa=("web", "frontend"))
    code, out, _ = run_cli("audit", "-e", after, "-n", "payments", "-f", "json", "--baseline", tmp_path / "all.json")
    assert code == 0  # the payments problem was fixed
    doc = json.loads(out)
    assert [r["namespace"] for r in doc["resolved"]] == ["payments"]
    assert doc.get("not_rechecked", []) == []


def test_a_bad_baseline_is_an_input_error(tmp_path, run_cli, evidence) -> None:
    (tmp_path / "bad.json").write_text('{"findings": 3}')
    code, _, err = run_cli("audit", "-e", evidence, "--baseline", tmp_path / "bad.json")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "bad.json" in err


def test_diff_ignores_new_findings_that_are_suppressed(tmp_path, run_cli) -> None:
    def finding(fp: str, severity: str, status: str) -> dict:
        return {
            "fingerprint": fp,
            "rule_id": "K8S-001",
            "category": "static-credential",
            "severity": severity,
            "title": "t",
            "cluster": "c",
            "namespace": "n",
            "service_account": "s",
            "status": status,
        }

    old = {"generated_at": "2026-01-01T00:00:00Z", "findings": [finding("v1:a", "low", "open")]}
    new = {"generated_at": "2026-04-01T00:00:00Z", "findings": [finding("v1:b", "critical", "suppressed")]}
    (tmp_path / "old.json").write_text(json.dumps(old))
    (tmp_path / "new.json").write_text(json.dumps(new))
    code, out, _ = run_cli("diff", tmp_path / "old.json", tmp_path / "new.json", "-f", "json")
    doc = json.loads(out)
    assert code == 0 and [f["fingerprint"] for f in doc["new"]] == ["v1:b"]
    assert [f["fingerprint"] for f in doc["resolved"]] == ["v1:a"]
    new["findings"][0]["status"] = "open"
    (tmp_path / "new.json").write_text(json.dumps(new))
    assert run_cli("diff", tmp_path / "old.json", tmp_path / "new.json", "--fail-on", "critical")[0] == 1


def test_a_finding_whose_identity_could_not_be_read_is_not_resolved() -> None:
    """An AWS finding gone because the AWS files are gone is `not_rechecked`; a pod-env finding is still judged."""
    from kubeiam.pipeline.providers import all_rules, load_providers
    from kubeiam.quarterly.baseline import Rechecked

    coverage = {
        "clusters": [{"name": "prod"}],
        "unchecked": [{"cluster": "prod", "namespace": "payments", "service_account": "api", "cloud": "aws"}],
        "errors": [{"source": "gcp", "location": "gcp/p/project-iam-policy.json", "reason": "bad", "subject": None}],
    }
    rechecked = Rechecked(coverage, {r.id: r.cloud for r in all_rules(load_providers())})
    aws = {"rule_id": "AWS-001", "cluster": "prod", "namespace": "payments", "service_account": "api", "cloud": "aws"}
    assert not rechecked(aws)
    assert rechecked({**aws, "rule_id": "K8S-001"})  # judged from the pods, which were read
    assert rechecked({**aws, "service_account": "worker"})
    assert not rechecked({**aws, "rule_id": "GCP-002", "cloud": "gcp", "service_account": "worker"})
    assert not rechecked({**aws, "cluster": "staging", "rule_id": "K8S-001"})
