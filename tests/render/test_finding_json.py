"""The fast findings encoder writes what `Finding.to_dict()` says, finding by finding."""

from __future__ import annotations

import json
from dataclasses import replace
from types import MappingProxyType

from kubeiam.pipeline.audit import audit, demo_dir
from kubeiam.pipeline.evidence import Evidence
from kubeiam.pipeline.report import Report
from kubeiam.render import Format, render, render_pieces
from kubeiam.render.finding_json import encoded_findings
from kubeiam.vocabulary.findings import Category, Finding, Severity


def test_every_finding_of_the_fixture_and_demo_reports_encodes_to_its_dict(report) -> None:
    findings = report.findings + audit(Evidence(demo_dir())).findings
    texts = list(encoded_findings(findings))
    assert len(texts) == len(findings) > 40
    for text, f in zip(texts, findings, strict=True):
        assert "\n" not in text
        assert json.loads(text) == json.loads(json.dumps(f.to_dict()))


def _finding(**kw) -> Finding:
    base = {
        "fingerprint": "v1:" + "a" * 32,
        "rule_id": "AWS-013",
        "category": Category.WILDCARD_RESOURCE,
        "severity": Severity.MEDIUM,
        "title": "Rôle écrit partout",
        "cluster": "prod",
        "namespace": "payments",
        "service_account": "api",
        "node": None,
        "cloud": "aws",
        "principal": "arn:aws:iam::111122223333:role/api",
        "evidence": {"role": "api", "actions": ["s3:PutObject"], "count": 2},
        "remediation": 'Scope "Resource" to the bucket.',
    }
    return Finding(**{**base, **kw})


def test_shared_evidence_is_spliced_into_each_finding_with_its_own_subject() -> None:
    shared = {"role": "api", "statement": {"Effect": "Allow", "Action": "*"}}
    first = _finding(evidence=shared)
    second = replace(first, fingerprint="v1:" + "b" * 32, namespace="shop", service_account="web", extra={"owner": "t"})
    proxy = replace(first, fingerprint="v1:" + "c" * 32, evidence=MappingProxyType({"k": "v"}))
    decoded = [json.loads(t) for t in encoded_findings([first, second, proxy])]
    assert decoded == [json.loads(json.dumps(f.to_dict())) for f in (first, second, proxy)]
    assert decoded[1]["service_account"] == "web" and decoded[1]["owner"] == "t"
    assert decoded[0]["title"] == "Rôle écrit partout"  # UTF-8 as is, never mangled


def test_json_report_with_and_without_findings_parses_and_keeps_its_order(report) -> None:
    empty = Report(findings=(), coverage=report.coverage, generated_at=report.generated_at)
    for r in (report, empty):
        text = "".join(render_pieces(r, Format.JSON))
        assert text == render(r, Format.JSON)
        doc = json.loads(text)
        assert list(doc)[:5] == ["schema_version", "tool", "generated_at", "mode", "findings"]
        assert [f["fingerprint"] for f in doc["findings"]] == [f.fingerprint for f in r.findings]
