"""The controls a finding evidences (CIS sections, ATT&CK techniques) in every format that has a place for them:
SARIF rule and result tags, OCSF `finding_info.attacks` and compliance objects, the HTML "By control" section,
the markdown summary's table."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import UTC, datetime
from html.parser import HTMLParser

import jsonschema
import pytest
from render_helpers import schema

from kubeiam.pipeline.providers import all_rules, load_providers
from kubeiam.pipeline.report import Report
from kubeiam.render import Format, render
from kubeiam.render.by_control import by_control, control_tag
from kubeiam.render.html import subject_id
from kubeiam.vocabulary.findings import Category, Finding, Severity

EKS = {
    "framework": "CIS Amazon Elastic Kubernetes Service (EKS) Benchmark",
    "version": "1.8.0",
    "id": "5.2.1",
    "title": "Prefer using dedicated Amazon EKS Service Accounts",
}
GKE = {
    "framework": "CIS Google Kubernetes Engine (GKE) Benchmark",
    "version": "1.9.0",
    "id": "5.2.2",
    "title": "Prefer using dedicated GCP Service Accounts and Workload Identity",
}
IMDS = {
    "framework": "MITRE ATT&CK Enterprise",
    "version": "18.1",
    "id": "T1552.005",
    "title": "Unsecured Credentials: Cloud Instance Metadata API",
}
ROLES = {"framework": "MITRE ATT&CK Enterprise", "version": "18.1", "id": "T1098", "title": "Account Manipulation"}
HOSTILE = {
    "framework": "CIS Amazon Web Services Foundations Benchmark",
    "version": "7.0.0",
    "id": "6.7",
    "title": "Ensure <script>alert(1)</script> \x1b]0;x\x07 | `IMDSv2`",
}


def _finding(n: int, cluster: str, sa: str, controls: tuple, *, rule: str = "K8S-001", status: str = "open") -> Finding:
    return Finding(
        f"v1:{n:032x}",
        rule,
        Category.IMDS_EXPOSURE,
        Severity.HIGH,
        f"finding {n}",
        cluster,
        "apps",
        sa,
        None,
        "kubernetes",
        None,
        {},
        "fix it",
        status=status,
        compliance=controls,
    )


@pytest.fixture(scope="module")
def mixed() -> Report:
    """One rule found on an EKS and a GKE cluster, another with a hostile control title, one suppressed."""
    findings = (
        _finding(1, "eks-prod", "api", (EKS, IMDS)),
        _finding(2, "eks-prod", "web", (EKS, IMDS)),
        _finding(3, "gke-data", "job", (GKE, IMDS)),
        _finding(4, "gke-data", "old", (GKE, IMDS), status="suppressed"),
        _finding(5, "eks-prod", "api", (HOSTILE, ROLES), rule="AWS-020"),
        _finding(6, "eks-prod", "plain", ()),
    )
    return Report(findings, {"clusters": []}, datetime(2026, 4, 1, tzinfo=UTC))


def test_the_tag_of_every_control_a_provider_ships_is_its_control_tag() -> None:
    controls = {c for r in all_rules(load_providers()) for c in r.compliance}
    assert len({c.key for c in controls}) >= 6  # CIS EKS, GKE, AKS, AWS, GCP and ATT&CK
    for c in controls:
        assert control_tag(c.to_dict()) == c.tag, c


def test_by_control_counts_open_findings_and_their_subjects(mixed: Report) -> None:
    rows = {r.tag: r for r in by_control(mixed.findings)}
    # CIS first, by benchmark name (Amazon Elastic..., Amazon Web..., Google...), then techniques, in order.
    assert list(rows)[:3] == ["CIS-EKS-1.8.0:5.2.1", "CIS-AWS-7.0.0:6.7", "CIS-GKE-1.9.0:5.2.2"]
    assert list(rows)[3:] == ["ATT&CK:T1098", "ATT&CK:T1552.005"]
    assert (rows["ATT&CK:T1552.005"].open, rows["ATT&CK:T1552.005"].suppressed) == (3, 1)
    assert [k[2] for k in rows["ATT&CK:T1552.005"].subjects] == ["api", "web", "job"]  # the suppressed one is not
    assert (rows["CIS-GKE-1.9.0:5.2.2"].open, rows["CIS-EKS-1.8.0:5.2.1"].open) == (1, 2)


def test_sarif_rules_are_tagged_with_the_controls_of_their_findings(mixed: Report) -> None:
    log = json.loads(render(mixed, Format.SARIF))
    jsonschema.Draft4Validator(schema("sarif-2.1.0.json")).validate(log)
    run = log["runs"][0]
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    k8s = rules["K8S-001"]["properties"]
    assert k8s["tags"][3:] == ["CIS-EKS-1.8.0:5.2.1", "CIS-GKE-1.9.0:5.2.2", "ATT&CK:T1552.005"]
    assert [c["id"] for c in k8s["compliance"]] == ["5.2.1", "5.2.2", "T1552.005"]
    assert "CIS-AWS-7.0.0:6.7" in rules["AWS-020"]["properties"]["tags"]
    by_fp = {r["partialFingerprints"]["kubeiam/v1"]: r for r in run["results"]}
    # Each result carries its own cluster's controls: an EKS finding is not tagged with the GKE section.
    assert by_fp["v1:" + f"{1:032x}"]["properties"]["tags"] == ["CIS-EKS-1.8.0:5.2.1", "ATT&CK:T1552.005"]
    assert by_fp["v1:" + f"{3:032x}"]["properties"]["tags"] == ["CIS-GKE-1.9.0:5.2.2", "ATT&CK:T1552.005"]
    assert "tags" not in by_fp["v1:" + f"{6:032x}"]["properties"]


def test_sarif_of_the_fixture_report_carries_every_control_and_stays_valid(report) -> None:
    log = json.loads(render(report, Format.SARIF))
    jsonschema.Draft4Validator(schema("sarif-2.1.0.json")).validate(log)
    rules = {r["id"]: r for r in log["runs"][0]["tool"]["driver"]["rules"]}
    expected: dict[str, set[str]] = {}
    for f in report.findings:
        expected.setdefault(f.rule_id, set()).update(control_tag(c) for c in f.compliance)
    assert any(expected.values())
    for rule_id, tags in expected.items():
        shown = rules[rule_id]["properties"]["tags"]
        assert shown[:3] == ["security", rules[rule_id]["properties"]["category"], report.catalogue[rule_id]["cloud"]]
        assert shown[3:] == sorted(shown[3:], key=lambda t: t.startswith("ATT&CK")) and set(shown[3:]) == tags


# OCSF 1.3.0 objects/compliance.json, attack.json, technique.json, sub_technique.json (ocsf/ocsf-schema, Apache-2.0):
# the attributes each defines, nothing else.
_ENTITY = {
    "type": "object",
    "anyOf": [{"required": ["uid"]}, {"required": ["name"]}],
    "properties": {"uid": {"type": "string"}, "name": {"type": "string"}, "src_url": {"type": "string"}},
    "additionalProperties": False,
}
OCSF_ATTACK = {
    "type": "object",
    "anyOf": [{"required": ["tactic"]}, {"required": ["technique"]}, {"required": ["sub_technique"]}],
    "properties": {
        "tactic": _ENTITY,
        "tactics": {"type": "array", "items": _ENTITY},
        "technique": _ENTITY,
        "sub_technique": _ENTITY,
        "version": {"type": "string"},
    },
    "additionalProperties": False,
}
OCSF_COMPLIANCE = {
    "type": "object",
    "required": ["standards"],
    "properties": {
        "standards": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        "control": {"type": "string"},
        "requirements": {"type": "array", "items": {"type": "string"}},
        "status": {"type": "string"},
        "status_code": {"type": "string"},
        "status_detail": {"type": "string"},
        "status_id": {"enum": [1, 2, 3]},
        "compliance_references": {"type": "array"},
        "compliance_standards": {"type": "array"},
    },
    "additionalProperties": False,
}


def _ocsf_validator() -> jsonschema.Draft202012Validator:
    derived = schema("ocsf-detection-finding.schema.json")
    derived["properties"]["finding_info"]["properties"]["attacks"] = {"type": "array", "items": OCSF_ATTACK}
    derived["properties"]["unmapped"]["properties"] = {"compliance": {"type": "array", "items": OCSF_COMPLIANCE}}
    return jsonschema.Draft202012Validator(derived)


def test_ocsf_puts_techniques_in_attacks_and_benchmarks_in_compliance_objects(mixed: Report) -> None:
    events = json.loads(render(mixed, Format.OCSF))
    validator = _ocsf_validator()
    for event in events:
        validator.validate(event)
        assert "compliance" not in event  # not an attribute of Detection Finding (class 2004)
    first = events[0]
    assert first["finding_info"]["attacks"] == [
        {
            "version": "18.1",
            "technique": {"uid": "T1552", "name": "Unsecured Credentials"},
            "sub_technique": {"uid": "T1552.005", "name": "Cloud Instance Metadata API"},
        }
    ]
    assert first["unmapped"]["compliance"] == [
        {
            "standards": ["CIS Amazon Elastic Kubernetes Service (EKS) Benchmark 1.8.0"],
            "control": "5.2.1",
            "requirements": ["5.2.1 Prefer using dedicated Amazon EKS Service Accounts"],
            "status_id": 3,
            "status": "Fail",
        }
    ]
    roles = next(e for e in events if e["finding_info"]["analytic"]["uid"] == "AWS-020")
    assert roles["finding_info"]["attacks"] == [
        {"version": "18.1", "technique": {"uid": "T1098", "name": "Account Manipulation"}}
    ]
    plain = events[-1]
    assert "attacks" not in plain["finding_info"] and "compliance" not in plain["unmapped"]
    with pytest.raises(jsonschema.ValidationError):  # the fragments really check
        validator.validate({**first, "finding_info": {**first["finding_info"], "attacks": [{"version": "18.1"}]}})


def test_ocsf_of_the_fixture_report_validates_with_its_controls(report) -> None:
    validator = _ocsf_validator()
    events = json.loads(render(report, Format.OCSF))
    for event, f in zip(events, report.findings, strict=True):
        validator.validate(event)
        techniques = [c["id"] for c in f.compliance if c["framework"].startswith("MITRE")]
        shown = [a.get("sub_technique", a["technique"])["uid"] for a in event["finding_info"].get("attacks", [])]
        assert sorted(shown) == sorted(techniques)
    assert any(e["finding_info"].get("attacks") for e in events)


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.controls: dict[str, str] = {}
        self.hrefs: list[str] = []
        self.facets: list[tuple[str | None, str | None]] = []
        self._in_section = False

    def handle_starttag(self, tag, attrs) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"])
        if tag == "section":
            self._in_section = a.get("id") == "by-control"
        if tag == "details" and a.get("data-control") is not None:
            self.controls[a["id"]] = a["data-control"]
        if self._in_section and tag == "a":
            self.hrefs.append(a["href"])
        if self._in_section and a.get("data-facet-key"):
            self.facets.append((a["data-facet-key"], a.get("data-facet-value")))


def test_html_by_control_links_each_control_to_its_subjects(mixed: Report) -> None:
    html = render(mixed, Format.HTML)
    dom = _Links()
    dom.feed(html)
    assert 'id="by-control"' in html
    assert dom.hrefs and all(h.startswith("#") and h[1:] in dom.ids for h in dom.hrefs)
    api = subject_id(("eks-prod", "apps", "api", None))
    assert dom.controls[api].split() == ["CIS-EKS-1.8.0:5.2.1", "CIS-AWS-7.0.0:6.7", "ATT&CK:T1098", "ATT&CK:T1552.005"]
    # A count filters the drill-down by control: every subject with that control carries its tag.
    for key, value in dom.facets:
        assert key == "control" and any(value in tags.split() for tags in dom.controls.values())
    assert ("control", "ATT&CK:T1552.005") in dom.facets
    section = html[html.index('id="by-control"') : html.index('id="drilldown"')]
    assert re.search(r"T1552\.005</b>.*?<td>.*?</td><td>.*?>3</button> <span class=\"muted\">\+1 suppressed", section)
    # The hostile title is text, not markup, and no raw control character reaches the page.
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in section
    assert "\x1b" not in html and "\x07" not in html


def test_markdown_summary_has_a_by_control_table(mixed: Report) -> None:
    text = render(mixed, Format.MARKDOWN)
    section = text[text.index("## By control") :].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert [r.split(" | ")[0] for r in rows] == [
        "| CIS-EKS-1.8.0:5.2.1",
        "| CIS-AWS-7.0.0:6.7",
        "| CIS-GKE-1.9.0:5.2.2",
        "| ATT&amp;CK:T1098",
        "| ATT&amp;CK:T1552.005",
    ]
    imds = rows[-1].split(" | ")
    assert imds[2] == "3" and imds[3].startswith("eks-prod/apps/api, eks-prod/apps/web, gke-data/apps/job")
    assert "<script>" not in text and "\x1b" not in text
    assert "Ensure &lt;script&gt;alert(1)&lt;/script&gt; \\\\x1b]0;x\\\\x07 \\| 'IMDSv2'" in section


def test_fixture_report_html_counts_match_the_findings(report) -> None:
    html = render(report, Format.HTML)
    open_ = Counter(control_tag(c) for f in report.findings if f.status == "open" for c in f.compliance)
    assert open_
    for tag, n in open_.items():
        assert f'data-facet-value="{tag.replace("&", "&amp;")}">{n}</button>' in html, tag
