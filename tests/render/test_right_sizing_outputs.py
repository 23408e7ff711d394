"""The right-sized grant of unused-access findings (`evidence.right_sized`) in the report folder, `kubeiam check`
and the HTML drill-down; the usage roll-up (`evidence.usage`) per namespace and owner in JSON, HTML, markdown
and the trend. Synthetic reports built by hand, then the demo."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from html import unescape
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from render_helpers import schema

from kubeiam.pipeline.report import Report
from kubeiam.quarterly import report_dir
from kubeiam.render import Format, render
from kubeiam.render.html import render_html
from kubeiam.render.right_sizing import grant_files
from kubeiam.render.table import render_table
from kubeiam.vocabulary.findings import Category, Finding, Severity

ESC = "\x1b]0;pwned\x07"
COVERAGE = {"clusters": [], "service_accounts": {"seen": 6}, "identities": {}, "errors": []}
ROLE = "arn:aws:iam::111122223333:role/payments-api"
EVIL_ROLE = f"arn:aws:iam::111122223333:role/../../{ESC}<script>x</script>"
POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": "arn:aws:s3:::payments/*"},
        {"Effect": "Deny", "Action": "s3:DeleteBucket", "Resource": "*"},
    ],
}
EVIL_POLICY = {"Statement": [{"Effect": "Allow", "Action": f"s3:Get{ESC}", "Sid": "<img src=x onerror=alert(1)>"}]}


def _usage(used: int, granted: int, unit: str = "actions", **more: Any) -> dict[str, Any]:
    return {
        "granted": granted,
        "used": used,
        "unit": unit,
        "window_days": 90,
        "last_used": "2026-03-01T10:00:00Z",
        "source": "service-last-accessed.json",
        "limits": ["services AWS does not track at action level"],
        **more,
    }


def _evidence(used: int, granted: int, document: Any, drops: list[str], **more: Any) -> dict[str, Any]:
    return {
        "usage": _usage(used, granted),
        "right_sized": {"format": "aws-iam-policy", "document": document, "drops": drops},
        "policies": ["arn:aws:iam::aws:policy/AdministratorAccess"],
        **more,
    }


def _finding(n: int, ns: str, sa: str, principal: str, evidence: dict, owner: str | None, **kw: Any) -> Finding:
    return Finding(
        f"v1:{n:032x}",
        kw.pop("rule", "AWS-024"),
        kw.pop("category", Category.UNUSED_ACCESS),
        Severity.HIGH,
        f"Role holds access it has not used ({n})",
        "eks-prod",
        ns,
        sa,
        None,
        "aws",
        principal,
        evidence,
        "Apply the right-sized grant.",
        extra={**({"owner": owner} if owner else {}), **kw.pop("extra", {})},
        **kw,
    )


def _report(mode: str = "audit") -> Report:
    shared = _evidence(3, 40, POLICY, ["admin: AdministratorAccess", "escalation path: iam:PassRole"])
    evil = _evidence(1, 10, EVIL_POLICY, [f"admin {ESC}<script>alert(1)</script>"], source=f"x{ESC}")
    findings = (
        # One role taken by two ServiceAccounts of one namespace: one grant file, counted once.
        _finding(1, "payments", "api", ROLE, shared, "team-payments"),
        _finding(2, "payments", "worker", ROLE, shared, "team-payments"),
        # Another role in another namespace with another owner, suppressed: still granted, still counted.
        _finding(
            3,
            "ml",
            "trainer",
            "arn:aws:iam::111122223333:role/trainer",
            _evidence(0, 5, POLICY, []),
            "team-ml",
            status="suppressed",
            extra={"suppression": {"reason": "until Q3", "owner": "team-ml", "expires": "2026-09-30"}},
        ),
        _finding(4, "web", f"front{ESC}", EVIL_ROLE, evil, f"team{ESC}<b>"),
        # Usage that is not unused-access, and usage that does not add up: neither counts.
        _finding(
            5,
            "payments",
            "api",
            ROLE,
            {"usage": _usage(1, 1)},
            "team-payments",
            rule="AWS-001",
            category=Category.ADMIN_ACCESS,
        ),
        _finding(6, "payments", "api", "arn:aws:iam::111122223333:role/odd", {"usage": _usage(9, 2)}, "team-payments"),
    )
    return Report(findings, COVERAGE, datetime(2026, 4, 1, 12, tzinfo=UTC), mode=mode)


def test_usage_rolls_up_per_namespace_and_owner_counting_an_identity_once() -> None:
    doc = json.loads(render(_report(), Format.JSON))
    jsonschema.validate(doc, schema("report.schema.json"))
    usage = doc["usage"]
    assert usage["total"] == {"actions": {"used": 4, "granted": 55, "identities": 3}}
    assert doc["summary"]["usage"] == usage["total"]
    by_ns = {(r["cluster"], r["namespace"]): r for r in usage["by_namespace"]}
    assert by_ns[("eks-prod", "payments")] == {
        "cluster": "eks-prod",
        "namespace": "payments",
        "owner": "team-payments",
        "units": {"actions": {"used": 3, "granted": 40, "identities": 1}},
    }
    assert by_ns[("eks-prod", "ml")]["units"]["actions"] == {"used": 0, "granted": 5, "identities": 1}
    owners = {r["owner"]: r["units"]["actions"] for r in usage["by_owner"]}
    assert owners["team-payments"] == {"used": 3, "granted": 40, "identities": 1}
    assert owners["team-ml"]["granted"] == 5


def test_the_schema_checks_the_usage_and_right_sized_evidence() -> None:
    doc = json.loads(render(_report(), Format.JSON))
    doc["findings"][0]["evidence"]["usage"]["unit"] = "bananas"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, schema("report.schema.json"))
    doc = json.loads(render(_report(), Format.JSON))
    doc["usage"]["by_owner"][0]["units"]["actions"].pop("granted")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, schema("report.schema.json"))


def test_a_report_without_usage_data_has_no_usage() -> None:
    plain = _finding(9, "payments", "api", ROLE, {"policy": "x"}, None, rule="AWS-001", category=Category.ADMIN_ACCESS)
    report = Report((plain,), COVERAGE, datetime(2026, 4, 1, tzinfo=UTC))
    doc = json.loads(render(report, Format.JSON))
    assert "usage" not in doc and "usage" not in doc["summary"]
    assert 'id="usage"' not in render(report, Format.HTML)
    assert "Granted access in use" not in render(report, Format.MARKDOWN)


def test_html_and_markdown_show_granted_access_in_use() -> None:
    report = _report()
    html = render(report, Format.HTML)
    section = html[html.index('<section id="usage">') :].split("</section>", 1)[0]
    assert "In all: 4 of 55 actions (7%, 3 identities)" in section
    assert re.search(r"eks-prod/payments</td>.*?team-payments</td>.*?actions</td><td>3</td><td>40</td>", section)
    assert "team\\x1b]0;pwned\\x07&lt;b&gt;" in section  # a hostile owner label is text
    assert "\x1b" not in html
    md = render(report, Format.MARKDOWN)
    part = md[md.index("## Granted access in use") :].split("\n## ", 1)[0]
    assert "| eks-prod/payments | team-payments | actions | 3 | 40 | 8% |" in part
    assert "| team-ml | actions | 0 | 5 | 0% |" in part
    assert "<b>" not in md and "\x1b" not in md


def test_one_grant_file_per_identity_with_safe_names() -> None:
    files = grant_files(_report().findings)
    assert [g.principal for g in files] == sorted([ROLE, "arn:aws:iam::111122223333:role/trainer", EVIL_ROLE])
    by_principal = {g.principal: g for g in files}
    assert by_principal[ROLE].path == "right-sizing/aws/payments-api.json"
    assert [sa for sa, _ in by_principal[ROLE].service_accounts] == [
        "eks-prod/payments/api",
        "eks-prod/payments/worker",
    ]
    for g in files:
        assert re.fullmatch(r"right-sizing/aws/[A-Za-z0-9][A-Za-z0-9._-]*\.json", g.path), g.path
        assert ".." not in g.path.split("/")


def test_the_report_folder_writes_each_document_exactly_and_a_readme(tmp_path: Path) -> None:
    report = _report()
    run = tmp_path / "run"
    run.mkdir()
    report_dir.write_run(run, report, None, [])
    written = sorted(p.relative_to(run).as_posix() for p in (run / "right-sizing").rglob("*") if p.is_file())
    assert written == [
        "right-sizing/README.md",
        "right-sizing/aws/payments-api.json",  # one file for the two ServiceAccounts that take the role
        "right-sizing/aws/script.json",  # the hostile ARN's last part, nothing that leaves the folder
        "right-sizing/aws/trainer.json",
    ]
    for g in grant_files(report.findings):
        text = (run / g.path).read_text(encoding="utf-8")
        source = next(f for f in report.findings if f.principal == g.principal and "right_sized" in f.evidence)
        assert json.loads(text) == source.evidence["right_sized"]["document"]  # exactly the ready-to-apply JSON
    assert (run / "right-sizing/aws/payments-api.json").read_text() == json.dumps(POLICY, indent=2) + "\n"
    evil_file = next(run / g.path for g in grant_files(report.findings) if g.principal == EVIL_ROLE)
    assert "\x1b" not in evil_file.read_text() and json.loads(evil_file.read_text()) == EVIL_POLICY
    readme = (run / "right-sizing" / "README.md").read_text()
    assert "[aws/payments-api.json](aws/payments-api.json)" in readme
    assert "| eks-prod/payments/worker | team-payments | [aws/payments-api.json](aws/payments-api.json) |" in readme
    assert "admin: AdministratorAccess; escalation path: iam:PassRole" in readme
    assert "\x1b" not in readme and "<script>" not in readme and "&lt;script&gt;" in readme
    # The folder's other files name the grant too: summary.md rolls usage up, report.html shows before/after.
    assert "## Granted access in use" in (run / "summary.md").read_text()
    assert 'class="right-sized"' in (run / "report.html").read_text()


def test_no_right_sizing_folder_without_a_right_sized_grant(tmp_path: Path) -> None:
    plain = _finding(9, "payments", "api", ROLE, {"usage": _usage(1, 4)}, None)
    run = tmp_path / "run"
    run.mkdir()
    report_dir.write_run(run, Report((plain,), COVERAGE, datetime(2026, 4, 1, tzinfo=UTC)), None, [])
    assert not (run / "right-sizing").exists()


def _document_after(text: str, principal_line: str) -> str:
    """The JSON printed after `after (...):` in the first section from `principal_line` on."""
    section = text[text.index(principal_line) :]
    start = section.index("in the report folder):\n") + len("in the report folder):\n")
    lines = []
    for line in section[start:].splitlines():
        lines.append(line)
        if line == "}":
            break
    return "\n".join(lines)


def test_check_shows_the_right_sized_grant_before_and_after() -> None:
    text = render_table(_report(mode="check"), width=80)
    assert text.count("Right-sized grant:") == 3
    section = text[text.index(f"Right-sized grant: {ROLE}") :].split("Right-sized grant:", 2)[1]
    assert "before:\n    policies: arn:aws:iam::aws:policy/AdministratorAccess" in section
    assert "usage: uses 3 of 40 actions in 90 days" in section
    assert "    - admin: AdministratorAccess\n    - escalation path: iam:PassRole" in section
    assert "after (right-sizing/aws/payments-api.json in the report folder):" in section
    # Printed whole and unwrapped even at 80 columns: what is copied from the terminal is the document.
    assert json.loads(_document_after(text, f"Right-sized grant: {ROLE}")) == POLICY
    assert "\x1b" not in text and "\\x1b]0;pwned\\x07" in text
    assert json.loads(_document_after(text, "after (right-sizing/aws/script.json")) == EVIL_POLICY


def test_an_audit_table_leaves_the_grants_to_the_report_folder() -> None:
    assert "Right-sized grant" not in render_table(_report(mode="audit"))


def test_html_drilldown_shows_before_and_after_per_finding() -> None:
    html = render_html(_report())
    blocks = re.findall(r'<div class="right-sized">.*?</pre></div></div></div>', html, flags=re.S)
    assert len(blocks) == 4  # one per finding with a grant, in its ServiceAccount's drill-down
    first = next(b for b in blocks if "escalation path: iam:PassRole" in b)
    assert "<h4>Before</h4>" in first and "<h4>After</h4>" in first
    assert "arn:aws:iam::aws:policy/AdministratorAccess" in first
    assert "<li>admin: AdministratorAccess</li><li>escalation path: iam:PassRole</li>" in first
    pre = re.search(r'<pre class="document">(.*?)</pre>', first, flags=re.S)
    assert pre is not None and json.loads(unescape(pre.group(1))) == POLICY
    assert "\x1b" not in html and "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


def test_the_trend_carries_usage_and_the_html_shows_it(tmp_path: Path) -> None:
    root = tmp_path / "audits"
    for i, used in enumerate((1, 3)):
        run = root / f"2026-0{i + 1}-01T000000Z"
        run.mkdir(parents=True)
        shared = _evidence(used, 40, POLICY, ["admin"])
        report = Report(
            (_finding(1, "payments", "api", ROLE, shared, "team-payments"),),
            COVERAGE,
            datetime(2026, i + 1, 1, tzinfo=UTC),
        )
        report_dir.write_run(run, report, None, [])
    points = report_dir.trend(root)
    assert [p["usage"] for p in points] == [
        {"actions": {"used": 1, "granted": 40, "identities": 1}},
        {"actions": {"used": 3, "granted": 40, "identities": 1}},
    ]
    html = render_html(_report(), trend=points)
    table = html[html.index('id="usage-trend"') :].split("</figure>", 1)[0]
    assert table.count("<tr>") == 4  # header, two earlier runs, this one
    assert "1 / 40 (2%); 39 unused" in table and "3 / 40 (8%); 37 unused" in table
    assert "4 / 55 (7%); 51 unused" in table  # this run


def test_a_little_use_is_not_shown_as_none() -> None:
    from kubeiam.render.usage_view import percent

    assert [percent(4, 1998), percent(0, 31), percent(1, 2), percent(0, 0)] == ["<1%", "0%", "50%", "-"]
