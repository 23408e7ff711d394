"""\"Who can act as it\" (render/takeover_section.py): the table section of `check` and the HTML drill-down's,
both from the K8S-006 findings, evidence strings escaped."""

from __future__ import annotations

import sys
from io import StringIO
from pathlib import Path

from rich.console import Console

from kubeiam.pipeline.audit import audit
from kubeiam.pipeline.evidence import Evidence
from kubeiam.pipeline.providers import load_providers
from kubeiam.render.redacted import redacted_report
from kubeiam.render.takeover_section import TITLE, actors, html_section, table_lines

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "kubernetes"))
sys.path.insert(0, str(REPO / "tests" / "aws"))
import takeover_evidence as te  # noqa: E402

EVIL = "mallory\x1b]0;pwned\x07<script>alert(1)</script>"


def _findings(tmp_path: Path, **scope: str):  # type: ignore[no-untyped-def]
    rbac = [
        te.binding("alice-edit", "edit", "User:alice", namespace="team-a"),
        te.binding("evil", "admin", f"User:{EVIL}", namespace="team-a"),
        te.binding("auth-edit", "edit", "Group:system:authenticated", namespace="team-b"),
    ]
    te.irsa_estate(tmp_path, [("team-a", "app"), ("team-b", "app")], rbac=rbac)
    return redacted_report(audit(Evidence(tmp_path), providers=load_providers(), **scope)).findings


def _text(lines: list) -> str:  # type: ignore[type-arg]
    buf = StringIO()
    console = Console(file=buf, width=200, no_color=True, force_terminal=False)
    for line in lines:
        console.print(line)
    return buf.getvalue()


def test_check_gets_a_section_per_subject_worst_first(tmp_path: Path) -> None:
    findings = _findings(tmp_path, namespace="team-a", service_account="app")
    found = actors(findings)
    assert [a.subject for a in found] == sorted(a.subject for a in found)  # same severity: by subject
    out = _text(table_lines(findings))
    assert out.startswith(f"{TITLE} (2 subject(s) besides the workload)")
    assert "user:alice" in out and "via RoleBinding/team-a/alice-edit" in out and "create-pods" in out
    assert "\x1b" not in out and "\\x1b" in out  # a control sequence in a name is shown, never run
    assert " on " not in out  # one ServiceAccount: no need to say which


def test_no_takeover_no_section(tmp_path: Path) -> None:
    te.irsa_estate(tmp_path, [("team-a", "app")], rbac=[])
    findings = audit(Evidence(tmp_path), providers=load_providers()).findings
    assert table_lines(findings) == [] and html_section(findings) == ""


def test_the_html_drill_down_lists_subjects_escaped(tmp_path: Path) -> None:
    findings = [f for f in _findings(tmp_path) if f.namespace == "team-b"]
    html = html_section(findings)
    assert html.startswith(f"<h3>{TITLE}</h3>") and "group:system:authenticated" in html
    assert "<script>" not in html_section(_findings(tmp_path / "x", namespace="team-a", service_account="app"))
    assert "&lt;script&gt;" in html_section(_findings(tmp_path / "y", namespace="team-a", service_account="app"))
