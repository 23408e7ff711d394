"""Every AWS managed policy (1,643, fixtures/aws/corpus/aws-managed-policies.json.gz, from iam-dataset) attached
to a role of one test account, each role taken by an IRSA ServiceAccount, audited: zero coverage errors or
gaps, and the verdicts a reviewer expects of the well-known ones. Then a real account's
get-account-authorization-details (cloudsplaining's example) read with zero errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from aws_evidence import (
    ACCOUNT,
    CORPUS,
    cluster,
    iam,
    irsa_trust,
    managed_policies,
    oidc_providers,
    policy,
    rbac,
    role,
    role_arn,
    service_account,
)

from kubeiam.pipeline.audit import audit, read_inventory
from kubeiam.pipeline.evidence import Evidence
from kubeiam.pipeline.providers import load_providers
from kubeiam.vocabulary.findings import Category, Severity
from kubeiam.vocabulary.policy import read_document

MEDIUM = Severity.MEDIUM.rank


@pytest.fixture(scope="module")
def corpus_audit(tmp_path_factory):
    """One role per managed policy (`mp-NNNN`, the policy attached), one ServiceAccount per role."""
    root = tmp_path_factory.mktemp("managed")
    roles, documents, sas, by_sa = [], [], [], {}
    for i, (name, p) in enumerate(sorted(managed_policies().items())):
        sa = f"mp-{i:04d}"
        by_sa[sa] = name
        roles.append(role(sa, irsa_trust("corpus", sa), attached=[p["arn"]]))
        documents.append(policy(p["arn"], p["document"], p["version"]))
        sas.append(service_account("corpus", sa, role_arn(sa)))
    iam(root, roles, documents)
    oidc_providers(root)
    cluster(root, sas)
    rbac(root)
    report = audit(Evidence(root), providers=load_providers())
    worst: dict[str, list] = {name: [] for name in by_sa.values()}
    for f in report.findings:
        worst[by_sa[f.service_account]].append(f)
    return report, worst


def test_the_whole_corpus_is_here():
    policies = managed_policies()
    assert len(policies) == 1643
    assert len({p["arn"] for p in policies.values()}) == 1643


def test_every_managed_policy_is_read_in_full():
    unread = {
        name: [(p.item, p.reason) for p in read_document(pol["document"]).problems]
        for name, pol in managed_policies().items()
    }
    assert {k: v for k, v in unread.items() if v} == {}


def test_boolean_and_number_condition_values_are_kept_as_iam_compares_them():
    """AWSBackupFullAccess: `"Bool": {"kms:GrantIsForAWSResource": true}` (a JSON boolean, valid IAM)."""
    doc = read_document(managed_policies()["AWSBackupFullAccess"]["document"])
    values = {c.values for s in doc.statements for c in s.conditions if c.key == "kms:GrantIsForAWSResource"}
    assert values == {("true",)}


def test_the_corpus_audits_with_zero_coverage_errors(corpus_audit):
    report, worst = corpus_audit
    # The only entries: one note per role that no usage data was given (AWS-024), never a gap.
    notes = [e for e in report.coverage["errors"] if e.get("rules") == ["AWS-024"]]
    assert [e for e in report.coverage["errors"] if e not in notes] == []
    assert sorted(e["subject"] for e in notes) == sorted(role_arn(f"mp-{i:04d}") for i in range(len(worst)))
    assert {e["location"] for e in notes} == {f"aws/{ACCOUNT}/service-last-accessed.json"}
    assert report.coverage["unchecked"] == []
    assert report.coverage["identities"]["aws"]["resolved"] == len(worst) == 1643


def _top(findings) -> Severity | None:
    return max((f.severity for f in findings), key=lambda s: s.rank, default=None)


def test_administrator_access_is_critical_admin_access(corpus_audit):
    admin = [f for f in corpus_audit[1]["AdministratorAccess"] if f.category is Category.ADMIN_ACCESS]
    assert [(f.rule_id, f.severity) for f in admin] == [("AWS-010", Severity.CRITICAL)]


def test_iam_full_access_is_critical_or_high(corpus_audit):
    findings = corpus_audit[1]["IAMFullAccess"]
    assert _top(findings) in (Severity.CRITICAL, Severity.HIGH)
    assert "AWS-011" in {f.rule_id for f in findings}


def test_power_user_access_is_high_or_critical(corpus_audit):
    assert _top(corpus_audit[1]["PowerUserAccess"]) in (Severity.HIGH, Severity.CRITICAL)


def test_read_only_policies_are_nothing_above_medium(corpus_audit):
    worst = corpus_audit[1]
    read_only = [n for n in worst if n in ("ReadOnlyAccess", "ViewOnlyAccess") or n.endswith("ReadOnlyAccess")]
    assert len(read_only) > 150  # the family is large: a rename upstream must not empty this test
    loud = {
        name: sorted({(f.rule_id, f.severity.value) for f in worst[name] if f.severity.rank > MEDIUM})
        for name in read_only
    }
    assert {k: v for k, v in loud.items() if v} == {}


def test_cloudsplaining_example_account_is_read_with_zero_errors(tmp_path: Path):
    account = "200611803367"
    dest = tmp_path / "aws" / account / "iam.json"
    dest.parent.mkdir(parents=True)
    dest.write_bytes((CORPUS / "cloudsplaining-example.json").read_bytes())
    inv = read_inventory(Evidence(tmp_path), load_providers())
    view = inv.views["aws"]
    assert len(view.roles) == 78
    assert [e for e in inv.errors if e.source == "aws"] == []
    assert {r.name: r.gaps for r in view.roles.values() if r.gaps} == {}
