"""The minimal read-only role docs/gcp.md documents: kubeiam audits it as nothing above low."""

from __future__ import annotations

import re
from pathlib import Path

from gcp_builder import PROJECT, Case, binding, gsa
from kubeiam_gcp.judge.catalogue import load_catalogue
from kubeiam_gcp.judge.profile import classify

from kubeiam.pipeline.audit import audit
from kubeiam.pipeline.evidence import Evidence
from kubeiam.vocabulary.findings import Severity

DOCS = Path(__file__).resolve().parents[2] / "docs" / "gcp.md"


def _documented_permissions() -> list[str]:
    block = re.search(r"```permissions\n(.*?)```", DOCS.read_text(), re.S)
    assert block, "docs/gcp.md has no ```permissions block"
    return block[1].split()


def test_documented_permissions_exist_and_only_read() -> None:
    perms = _documented_permissions()
    assert len(perms) == len(set(perms)) >= 10
    known = frozenset().union(*load_catalogue().roles.values())
    assert [p for p in perms if p not in known] == []
    profile = classify("kubeiamReader", frozenset(perms))
    assert profile.read_only and not profile.sensitive


def test_kubeiam_audits_its_own_role_as_nothing_above_low(tmp_path: Path) -> None:
    perms = _documented_permissions()
    reader = gsa("kubeiam")
    role = {"name": "organizations/300000000003/roles/kubeiamReader", "includedPermissions": perms}
    project_role = {"name": f"projects/{PROJECT}/roles/kubeiamReader", "includedPermissions": perms}
    case = Case(
        ksas=[("kubeiam", "kubeiam", reader)],
        gsas=[reader],
        custom_roles=[role, project_role],
        ancestors={"organizations/300000000003": [binding(role["name"], f"serviceAccount:{reader}")]},
        project_policy=[binding(project_role["name"], f"serviceAccount:{reader}")],
    )
    report = audit(Evidence(case.write(tmp_path)))
    mine = [f for f in report.findings if f.service_account == "kubeiam"]
    assert [f.title for f in mine if f.severity.rank > Severity.LOW.rank] == []
    assert not report.coverage["unchecked"]
    # The audit did look: the same identity with one write permission more is reported.
    role["includedPermissions"] = [*perms, "iam.serviceAccountKeys.create"]
    worse = audit(Evidence(case.write(tmp_path / "worse")))
    assert {f.rule_id for f in worse.findings if f.service_account == "kubeiam"} >= {"GCP-002", "GCP-004"}


def test_docs_rule_table_matches_the_rules() -> None:
    from kubeiam_gcp.rules import RULES

    rows = re.findall(r"^\| (GCP-\d{3}) \| (.+?) \| ([a-z-]+) \| ([a-z]+)", DOCS.read_text(), re.M)
    assert [(r.id, r.title, str(r.category), str(r.severity)) for r in RULES] == rows
