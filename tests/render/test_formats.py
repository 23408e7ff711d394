"""Every output format from one report with all quarterly fields: structure and contract checks."""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter

import jsonschema
import pytest
from render_helpers import schema

from kubeiam.render import GROUPED, Format, GroupBy, render
from kubeiam.render.table import render_table, summary_line
from kubeiam.vocabulary.findings import Severity


def test_fixture_report_has_every_kind_of_finding(report) -> None:
    statuses = {f.status for f in report.findings}
    marks = {f.extra.get("baseline") for f in report.findings}
    assert statuses == {"open", "suppressed"} and marks == {"new", "unchanged"}
    assert report.extra["resolved"] and report.extra["expired_suppressions"]


def test_json_matches_the_report_schema(report) -> None:
    doc = json.loads(render(report, Format.JSON))
    jsonschema.validate(doc, schema("report.schema.json"))
    suppressed = [f for f in doc["findings"] if f["status"] == "suppressed"]
    assert all({"reason", "owner", "expires"} <= set(f["suppression"]) for f in suppressed)


def test_sarif_validates_against_the_2_1_0_schema(report) -> None:
    log = json.loads(render(report, Format.SARIF))
    jsonschema.Draft4Validator(schema("sarif-2.1.0.json")).validate(log)
    assert log["version"] == "2.1.0"
    run = log["runs"][0]
    results = run["results"]
    assert len(results) == len(report.findings)
    rule_ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert len(rule_ids) == len(set(rule_ids)) == len({f.rule_id for f in report.findings})
    for result, finding in zip(results, report.findings, strict=True):
        assert result["partialFingerprints"]["kubeiam/v1"] == finding.fingerprint
        assert rule_ids[result["ruleIndex"]] == result["ruleId"] == finding.rule_id
        assert result["baselineState"] == finding.extra["baseline"]
        assert ("suppressions" in result) == (finding.status == "suppressed")
        expected = {"critical": "error", "high": "error", "medium": "warning"}.get(finding.severity.value, "note")
        assert result["level"] == expected


def test_sarif_schema_rejects_a_broken_log(report) -> None:
    """The bundled schema really checks: a result without a message must fail."""
    log = json.loads(render(report, Format.SARIF))
    del log["runs"][0]["results"][0]["message"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft4Validator(schema("sarif-2.1.0.json")).validate(log)


def test_ocsf_detection_findings_match_the_class_shape(report) -> None:
    events = json.loads(render(report, Format.OCSF))
    assert isinstance(events, list) and len(events) == len(report.findings)
    validator = jsonschema.Draft202012Validator(schema("ocsf-detection-finding.schema.json"))
    severity_id = {"info": 1, "low": 2, "medium": 3, "high": 4, "critical": 5}
    for event, f in zip(events, report.findings, strict=True):
        validator.validate(event)
        assert event["class_uid"] == 2004 and event["category_uid"] == 2
        assert event["type_uid"] == event["class_uid"] * 100 + event["activity_id"]
        assert event["finding_info"]["uid"] == f.fingerprint
        assert event["severity_id"] == severity_id[f.severity.value]
        assert event["status_id"] == (3 if f.status == "suppressed" else 1)
        assert event["activity_id"] == (1 if f.extra["baseline"] == "new" else 2)
    bad = dict(events[0], class_uid=2001)
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(bad)


def test_csv_header_and_rows(report) -> None:
    rows = list(csv.DictReader(io.StringIO(render(report, Format.CSV))))
    required = {"fingerprint", "severity", "category", "cluster", "namespace", "service_account", "title"}
    assert required <= set(rows[0])
    assert [r["fingerprint"] for r in rows] == [f.fingerprint for f in report.findings]
    assert all(json.loads(r["evidence"]) == dict(f.evidence) for r, f in zip(rows, report.findings, strict=True))


def test_jsonl_one_finding_per_line(report) -> None:
    lines = render(report, Format.JSONL).splitlines()
    assert [json.loads(line)["fingerprint"] for line in lines] == [f.fingerprint for f in report.findings]


def test_jsonl_grouped_one_service_account_per_line(report) -> None:
    records = [json.loads(line) for line in render(report, Format.JSONL, group_by=GroupBy.SERVICE_ACCOUNT).splitlines()]
    subjects = {(f.cluster, f.namespace, f.service_account) for f in report.findings}
    assert len(records) == len(subjects)
    for r in records:
        assert {"cluster", "namespace", "service_account", "owner", "severity", "findings"} <= set(r)
        mine = [
            f
            for f in report.findings
            if (f.cluster, f.namespace, f.service_account) == (r["cluster"], r["namespace"], r["service_account"])
        ]
        assert {f["fingerprint"] for f in r["findings"]} == {f.fingerprint for f in mine}
        open_ = [f for f in mine if f.status == "open"] or mine
        assert r["severity"] == max(open_, key=lambda f: f.severity.rank).severity.value


def test_grouped_csv_json_markdown(report) -> None:
    rows = list(csv.DictReader(io.StringIO(render(report, Format.CSV, group_by=GroupBy.SERVICE_ACCOUNT))))
    assert sum(int(r["count"]) for r in rows) == len(report.findings)
    doc = json.loads(render(report, Format.JSON, group_by=GroupBy.SERVICE_ACCOUNT))
    assert len(doc["service_accounts"]) == len(rows) and "findings" not in doc
    md = render(report, Format.MARKDOWN, group_by=GroupBy.SERVICE_ACCOUNT)
    assert md.count("\n## ") >= len(rows) and all(f.fingerprint in md for f in report.findings)


def test_group_by_does_not_apply_to_sarif_or_ocsf(run_cli, evidence) -> None:
    assert Format.SARIF not in GROUPED and Format.OCSF not in GROUPED
    code, out, err = run_cli("audit", "-e", evidence, "-f", "sarif", "--group-by", "service-account")
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1


def test_markdown_lists_new_resolved_suppressed_and_expired(report) -> None:
    md = render(report, Format.MARKDOWN)
    assert "## New since the baseline" in md and "## Resolved since the baseline" in md
    assert "## Suppressed (accepted risks)" in md and "## Expired suppressions" in md
    for r in report.extra["resolved"]:
        assert r["fingerprint"] in md


def test_table_summary_line_counts_what_the_findings_say(report) -> None:
    """The numbers are counted here from the findings themselves, not from the report's own summary."""
    line = summary_line(report).plain
    open_ = [f for f in report.findings if f.status == "open"]
    counts = Counter(f.severity for f in open_)
    parts = ", ".join(f"{counts[s]} {s.value}" for s in Severity if counts[s])
    assert line.startswith(f"{len(open_)} open finding(s) ({parts}), {len(report.findings) - len(open_)} suppressed")
    subjects = {(f.cluster, f.namespace, f.service_account) for f in report.findings if f.service_account}
    seen = int(re.search(r"across (\d+) ServiceAccount", line)[1])
    assert seen >= len(subjects)  # clean ServiceAccounts count too
    new = sum(f.extra.get("baseline") == "new" for f in report.findings)
    assert f"since baseline: {new} new, {len(report.extra['resolved'])} resolved" in line
    assert f"{len(report.extra['expired_suppressions'])} expired suppression(s)" in line
    table = " ".join(render_table(report).split())  # the console wraps long lines
    assert table.endswith(" ".join(line.split()))


@pytest.mark.parametrize("width", [60, 80, 100, 160])
def test_table_fits_the_terminal_and_puts_the_worst_first(report, width) -> None:
    text = render_table(report, colour=False, width=width)
    assert max(len(line) for line in text.splitlines()) <= width
    assert all(line == line.rstrip() for line in text.splitlines())
    headings = [line.split()[0] for line in text.splitlines() if line and not line.startswith(" ")][:-1]
    subjects = [h for h in headings if h.count("/") >= 2]
    assert sorted(subjects) == sorted({f.subject for f in report.findings})  # each subject once, no header rows
    worst = {}
    for f in report.findings:
        if f.status == "open":
            worst[f.subject] = max(worst.get(f.subject, -1), f.severity.rank)
    ranks = [worst.get(s, -1) for s in subjects]  # -1: only suppressed findings, listed last
    assert ranks == sorted(ranks, reverse=True)
    categories = {str(f.category) for f in report.findings}
    assert any(c in text for c in categories) == (width >= 100)  # narrow: the titles get the room
    assert text.count("[new]") == sum(f.extra.get("baseline") == "new" for f in report.findings)
    assert text.count("[suppressed") == sum(f.status == "suppressed" for f in report.findings)


def test_grouped_records_list_subjects_with_open_findings_first(report) -> None:
    records = [json.loads(line) for line in render(report, Format.JSONL, group_by=GroupBy.SERVICE_ACCOUNT).splitlines()]
    statuses = [r["status"] for r in records]
    assert "suppressed" in statuses and statuses == sorted(statuses)  # "open" < "suppressed"


def test_output_file_and_fail_on(tmp_path, run_cli, evidence) -> None:
    target = tmp_path / "out" / "report.sarif"
    code, out, _ = run_cli("audit", "-e", evidence, "-f", "sarif", "-o", target, "-q")
    assert out == "" and json.loads(target.read_text())["version"] == "2.1.0"
    doc = json.loads(run_cli("audit", "-e", evidence, "-f", "json", "-q")[1])
    worst = max(Severity(f["severity"]).rank for f in doc["findings"] if f["status"] == "open")
    for sev in Severity:
        code = run_cli("audit", "-e", evidence, "-f", "json", "-q", "--fail-on", sev.value)[0]
        assert code == (1 if worst >= sev.rank else 0), sev
    blocked = tmp_path / "file"
    blocked.write_text("")
    code, _, err = run_cli("audit", "-e", evidence, "-o", blocked / "x.json", "-q")
    assert code == 2 and "--output" in err


def test_strict_exit_3_on_incomplete_coverage(run_cli, evidence) -> None:
    assert run_cli("audit", "-e", evidence, "-q", "--strict", "--fail-on", "critical")[0] == 0
    # An IRSA annotation with no AWS evidence beside it: that role cannot be checked.
    path = evidence / "kubernetes" / "onprem" / "resources.json"
    doc = json.loads(path.read_text())
    for item in doc["items"]:
        if item["kind"] == "ServiceAccount" and item["metadata"]["name"] == "frontend":
            item["metadata"]["annotations"] = {"eks.amazonaws.com/role-arn": "arn:aws:iam::111122223333:role/frontend"}
    path.write_text(json.dumps(doc))
    code, out, err = run_cli("audit", "-e", evidence, "-f", "json", "--strict", "--fail-on", "critical")
    assert json.loads(out)["coverage"]["unchecked"]
    assert code == 3 and "coverage incomplete" in err
    assert run_cli("audit", "-e", evidence, "-q", "--fail-on", "critical")[0] == 0


def test_rules_and_check_still_work(run_cli, evidence) -> None:
    code, out, _ = run_cli("rules", "--format", "json")
    assert code == 0 and json.loads(out)
    code, out, _ = run_cli("check", "payments/legacy-worker", "-e", evidence, "-f", "jsonl", "-q")
    assert code == 1 and {json.loads(line)["service_account"] for line in out.splitlines()} == {"legacy-worker"}
    code, _, err = run_cli("check", "not-a-target", "-e", evidence)
    assert code == 2 and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("fmt", ["json", "sarif", "ocsf"])
def test_demo_output_validates(fmt, run_cli) -> None:
    """The demo grows as cloud providers land (node findings, principals, conditions): keep it valid."""
    code, out, err = run_cli("audit", "--demo", "-f", fmt, "-q")
    assert code in (0, 1), err
    doc = json.loads(out)
    if fmt == "json":
        jsonschema.validate(doc, schema("report.schema.json"))
    elif fmt == "sarif":
        jsonschema.Draft4Validator(schema("sarif-2.1.0.json")).validate(doc)
    else:
        validator = jsonschema.Draft202012Validator(schema("ocsf-detection-finding.schema.json"))
        for event in doc:
            validator.validate(event)


def test_streamed_formats_write_exactly_what_render_returns(report) -> None:
    from kubeiam.render import STREAMED, render, render_pieces

    assert STREAMED, "nothing is streamed"
    for fmt in STREAMED:
        pieces = list(render_pieces(report, fmt))
        assert len(pieces) > 1
        assert "".join(pieces) == render(report, fmt)
