"""Secret values planted everywhere a hand-made evidence directory can hold them reach no output format
and no file of the report folder (FINDINGS.md, EVIDENCE.md: secret values never reach any output)."""

from __future__ import annotations

import base64
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

from quarterly_helpers import DEMO

from kubeiam.pipeline.audit import audit
from kubeiam.pipeline.evidence import Evidence
from kubeiam.pipeline.providers import load_providers
from kubeiam.quarterly.stages import Stages
from kubeiam.render import GROUPED, Format, GroupBy, render

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def _secret(what: str) -> str:
    return f"planted-{what}-Zq8vK2x"


def _plant(dst: Path) -> list[str]:
    """A copy of the demo with a secret value in every place one can hide; returns the values."""
    shutil.copytree(DEMO, dst)
    values: list[str] = []

    def secret(what: str) -> str:
        values.append(_secret(what))
        return values[-1]

    for path in sorted(dst.glob("kubernetes/*/resources.json")):
        doc = json.loads(path.read_text())
        data = secret(f"secret-data-{path.parent.name}")
        doc["items"].append(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "planted", "namespace": "default"},
                "data": {"key": base64.b64encode(data.encode()).decode()},
                "stringData": {"other": secret(f"string-data-{path.parent.name}")},
            }
        )
        for item in doc["items"]:
            if item["kind"] != "Pod":
                continue
            name = f"{path.parent.name}-{item['metadata']['name']}"
            env = [
                {"name": "AWS_SECRET_ACCESS_KEY", "value": secret(f"aws-{name}")},
                {"name": "AZURE_CLIENT_SECRET", "value": secret(f"azure-{name}")},
                {"name": "DB_PASSWORD", "value": secret(f"db-{name}")},
            ]
            spec = item["spec"]
            spec["containers"][0]["env"] = [*(spec["containers"][0].get("env") or []), *env]
            spec["initContainers"] = [
                {"name": "init", "image": "x", "env": [{"name": "API_TOKEN", "value": secret(f"init-{name}")}]}
            ]
            applied = {
                "spec": {"containers": [{"env": [{"name": "SOME_PASSWORD", "value": secret(f"applied-{name}")}]}]}
            }
            item["metadata"].setdefault("annotations", {})[LAST_APPLIED] = json.dumps(applied)
        path.write_text(json.dumps(doc))

    templates = sorted(dst.glob("aws/*/*/launch-template-versions.json"))
    keys = sorted(dst.glob("gcp/*/service-account-keys.json"))
    assert templates and keys, "the demo no longer has the files this test plants in"
    for path in templates:
        doc = json.loads(path.read_text())
        for version in doc["LaunchTemplateVersions"]:
            version["LaunchTemplateData"]["UserData"] = secret(f"user-data-{version['VersionNumber']}")
        path.write_text(json.dumps(doc))
    for path in keys:
        doc = json.loads(path.read_text())
        for email, listed in doc.items():
            for key in listed:
                key["privateKeyData"] = secret(f"private-key-{email}")
        path.write_text(json.dumps(doc))
    return values


def _leaks(text: str, values: list[str]) -> list[str]:
    encoded = [base64.b64encode(v.encode()).decode() for v in values]
    return [v for v in values + encoded if v in text]


def test_planted_secret_values_reach_no_output_and_no_report_file(tmp_path, run_cli) -> None:
    evidence = tmp_path / "planted"
    values = _plant(evidence)
    assert len(values) > 20

    code, out, err = run_cli("audit", "-e", evidence, "-f", "json", "--report-dir", tmp_path / "runs")
    assert code == 1, err
    doc = json.loads(out)
    # The planted literals are seen (the rules judge them), only their values are kept out.
    planted_env = {"AWS_SECRET_ACCESS_KEY", "AZURE_CLIENT_SECRET"}
    assert any(f["rule_id"] == "K8S-001" and planted_env & set(f["title"].split()) for f in doc["findings"])
    assert _leaks(out + err, values) == []

    [run] = (tmp_path / "runs").iterdir()
    written = [p for p in run.rglob("*") if p.is_file()]
    assert {"findings.json", "report.html", "summary.md"} <= {p.name for p in written}
    for path in written:
        assert _leaks(path.read_text(encoding="utf-8"), values) == [], path.relative_to(run)

    report = audit(Evidence(evidence), providers=load_providers(), stages=Stages(now=datetime.now(UTC)))
    for fmt in Format:
        assert _leaks(render(report, fmt), values) == [], fmt
    for fmt in GROUPED:
        assert _leaks(render(report, fmt, group_by=GroupBy.SERVICE_ACCOUNT), values) == [], fmt


def test_the_copy_still_audits_to_the_same_findings(tmp_path, run_cli) -> None:
    evidence = tmp_path / "planted"
    _plant(evidence)
    code, out, _ = run_cli("audit", "-e", evidence, "-f", "json", "-q", "--report-dir", tmp_path / "runs")
    assert code == 1
    [run] = (tmp_path / "runs").iterdir()
    again = run_cli("audit", "-e", run / "evidence", "-f", "json", "-q")[1]
    fingerprints = [[f["fingerprint"] for f in json.loads(text)["findings"]] for text in (out, again)]
    assert fingerprints[0] == fingerprints[1] and fingerprints[0]
