"""kubeiam against real IAM data (fixtures/aws/corpus, copied from the public corpus with attribution)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from aws_evidence import (
    ACCOUNT,
    HOST,
    cluster,
    iam,
    irsa_trust,
    managed_policies,
    oidc_providers,
    policy,
    policy_arn,
    role,
    role_arn,
    service_account,
)
from kubeiam_aws.judge.profile import analyse_role

from kubeiam.pipeline.audit import audit, read_inventory
from kubeiam.pipeline.evidence import Evidence
from kubeiam.pipeline.providers import load_providers
from kubeiam.vocabulary.findings import Category, Severity

CORPUS = Path(__file__).resolve().parents[2] / "fixtures" / "aws" / "corpus"
HIGH = Severity.HIGH.rank

# Known gap, asserted so a change either way is noticed: the role trusts the account root and has no
# permission at all. Escalation *into* it needs another principal's sts:AssumeRole; kubeiam audits from
# a workload's role outward, and a workload holding this role can do nothing.
NOT_FLAGGABLE = {"privesc-permissive-role-trust"}


def _load(name: str) -> Any:
    return json.loads((CORPUS / name).read_text())


def _sa_name(role_name: str) -> str:
    return role_name.lower()[:63]


def _managed() -> dict[str, dict[str, Any]]:
    return managed_policies()


def _ref(value: str, kind: str) -> str | None:
    m = re.fullmatch(r"\$\{aws_iam_" + kind + r"\.([^.]+)\.(?:arn|name)\}", value)
    return m.group(1) if m else None


def _iam_vulnerable_evidence(root: Path) -> dict[str, list[str]]:
    """One account holding every iam-vulnerable case; one ServiceAccount per role. Returns case -> SAs."""
    cases = _load("iam-vulnerable-cases.json")["cases"]
    managed = {p["arn"]: p for p in _managed().values()}
    roles, policies, sas, by_case = [], [], [], {}
    for case in cases:
        attached: dict[str, list[str]] = {}
        for p in case["policies"]:
            policies.append(policy(policy_arn(p["name"]), p["document"]))
        for a in case["attachments"]:
            if a["type"] != "aws_iam_role_policy_attachment":
                continue
            name = _ref(a["policy_arn"], "policy")
            arn = policy_arn(name) if name else a["policy_arn"]
            attached.setdefault(_ref(a["role"], "role") or a["role"], []).append(arn)
        for r in case["roles"]:
            extra = [_ref(x, "policy") for x in r.get("managed_policy_arns") or []]
            arns = attached.get(r["name"], []) + [policy_arn(x) for x in extra if x]
            trust = r["trust_policy"]
            # Keep the case's own trust and add the IRSA statement that lets a ServiceAccount use the role.
            trust = {**trust, "Statement": trust["Statement"] + irsa_trust("iv", _sa_name(r["name"]))["Statement"]}
            roles.append(role(r["name"], trust, attached=arns))
            sas.append(service_account("iv", _sa_name(r["name"]), role_arn(r["name"])))
            by_case.setdefault(case["case"], []).append(_sa_name(r["name"]))
            for arn in arns:
                if arn in managed and all(p["Arn"] != arn for p in policies):
                    policies.append(policy(arn, managed[arn]["document"], managed[arn]["version"]))
    iam(root, roles, policies)
    oidc_providers(root)
    cluster(root, sas)
    return by_case


@pytest.fixture(scope="module")
def iam_vulnerable(tmp_path_factory):
    root = tmp_path_factory.mktemp("iv")
    by_case = _iam_vulnerable_evidence(root)
    report = audit(Evidence(root), providers=load_providers())
    findings: dict[str, list] = {}
    for f in report.findings:
        findings.setdefault(f.service_account, []).append(f)
    return by_case, findings, report


def _case_findings(iam_vulnerable, case: str) -> list:
    by_case, findings, _ = iam_vulnerable
    return [f for sa in by_case[case] for f in findings.get(sa, [])]


def _escalates(f) -> bool:
    return (
        f.category is Category.PRIVILEGE_ESCALATION and f.severity.rank >= HIGH
    ) or f.category is Category.ADMIN_ACCESS


CASES = [c["case"] for c in _load("iam-vulnerable-cases.json")["cases"]]


@pytest.mark.parametrize("case", [c for c in CASES if c.startswith(("privesc", "fn"))])
def test_exploitable_case_is_flagged(iam_vulnerable, case):
    flagged = [f for f in _case_findings(iam_vulnerable, case) if _escalates(f)]
    if case in NOT_FLAGGABLE:
        assert flagged == []
        return
    assert flagged, f"{case}: no privilege-escalation or admin-access finding"


@pytest.mark.parametrize("case", [c for c in CASES if c.startswith("fp")])
def test_not_exploitable_case_stays_below_high(iam_vulnerable, case):
    loud = [
        (f.rule_id, f.severity.value, f.title) for f in _case_findings(iam_vulnerable, case) if f.severity.rank >= HIGH
    ]
    assert loud == []


def test_every_iam_vulnerable_role_resolved(iam_vulnerable):
    _, _, report = iam_vulnerable
    assert report.coverage["identities"]["aws"]["resolved"] == sum(len(v) for v in iam_vulnerable[0].values())


def test_split_across_two_policies_is_one_escalation(iam_vulnerable):
    hits = [f for f in _case_findings(iam_vulnerable, "fn1-privesc3-multiple-policies") if f.rule_id == "AWS-014"]
    assert len(hits) == 1
    ec2 = [p for p in hits[0].evidence["paths"] if p["path"] == "ec2-001"]
    assert len(ec2) == 1
    assert {p.rsplit("/", 1)[-1] for p in ec2[0]["policies"]} == {"fn1-privesc3-partial", "fn1-passrole-star"}


def test_one_notaction_statement_is_one_escalation_ticket(iam_vulnerable):
    """fn4's single NotAction statement opens dozens of paths: one finding, naming the worst and the count."""
    hits = [f for f in _case_findings(iam_vulnerable, "fn4-ExploitableNotAction") if f.rule_id == "AWS-014"]
    assert len(hits) == 1
    paths = hits[0].evidence["paths"]
    assert len(paths) > 20 and hits[0].evidence["path_count"] == len(paths)
    assert len({p["path"] for p in paths}) == len(paths)
    # Worst first: a self-escalation path heads the list and names the finding.
    rank = ["self-escalation", "principal-access", "new-passrole", "existing-passrole"]
    assert [rank.index(p["category"]) for p in paths] == sorted(rank.index(p["category"]) for p in paths)
    assert paths[0]["category"] == "self-escalation"
    assert hits[0].evidence["path"] == paths[0]["path"]
    assert hits[0].title.endswith(f"{paths[0]['name']} (and {len(paths) - 1} more paths)")


def test_never_true_condition_blocks_and_always_true_does_not(iam_vulnerable):
    assert any(f.rule_id == "AWS-014" for f in _case_findings(iam_vulnerable, "fn3-ExploitableConditionConstraint"))
    assert not any(
        f.rule_id == "AWS-014" for f in _case_findings(iam_vulnerable, "fp5-NonExploitableConditionConstraint")
    )


def _single_role_audit(tmp_path: Path, name: str, document: dict[str, Any]) -> list:
    arn = policy_arn(name)
    iam(tmp_path, [role("app", irsa_trust("ns", "app"), attached=[arn])], [policy(arn, document)])
    cluster(tmp_path, [service_account("ns", "app", role_arn("app"))])
    return list(audit(Evidence(tmp_path), providers=load_providers()).findings)


def test_administrator_access_is_critical(tmp_path):
    findings = _single_role_audit(tmp_path, "AdministratorAccess", _managed()["AdministratorAccess"]["document"])
    admin = [f for f in findings if f.category is Category.ADMIN_ACCESS]
    assert admin and {f.severity for f in admin} == {Severity.CRITICAL}


@pytest.mark.parametrize("name", ["ReadOnlyAccess", "ViewOnlyAccess", "SecurityAudit"])
def test_read_only_managed_policies_are_not_admin_or_escalation(tmp_path, name):
    findings = _single_role_audit(tmp_path, name, _managed()[name]["document"])
    bad = [
        (f.rule_id, f.title) for f in findings if f.category in (Category.ADMIN_ACCESS, Category.PRIVILEGE_ESCALATION)
    ]
    assert bad == []


def test_iam_full_access_is_admin_equivalent(tmp_path):
    findings = _single_role_audit(tmp_path, "IAMFullAccess", _managed()["IAMFullAccess"]["document"])
    assert [f.rule_id for f in findings if f.category is Category.ADMIN_ACCESS] == ["AWS-011"]


def _karpenter_documents() -> list[dict[str, Any]]:
    text = json.dumps(_load("karpenter-controller-policies.json")["documents"])
    for k, v in {
        "${AWS::Partition}": "aws",
        "${AWS::Region}": "eu-west-1",
        "${AWS::AccountId}": ACCOUNT,
        "${ClusterName}": "eks-test",
        "${KarpenterNodeRole.Arn}": role_arn("KarpenterNodeRole-eks-test"),
        "${KarpenterInterruptionQueue.Arn}": f"arn:aws:sqs:eu-west-1:{ACCOUNT}:eks-test",
    }.items():
        text = text.replace(k, v)
    return json.loads(text)


def test_karpenter_constrained_passrole_is_not_escalation(tmp_path):
    docs = _karpenter_documents()
    arns = [policy_arn(f"karpenter-{i}") for i in range(len(docs))]
    node_role = role("KarpenterNodeRole-eks-test", {"Version": "2012-10-17", "Statement": []}, attached=[])
    iam(
        tmp_path,
        [role("karpenter", irsa_trust("kube-system", "karpenter"), attached=arns), node_role],
        [policy(a, d) for a, d in zip(arns, docs, strict=True)],
    )
    cluster(tmp_path, [service_account("kube-system", "karpenter", role_arn("karpenter"))])
    findings = audit(Evidence(tmp_path), providers=load_providers()).findings
    assert any("iam:PassRole" in json.dumps(d) for d in docs)
    assert [f.title for f in findings if f.category in (Category.PRIVILEGE_ESCALATION, Category.ADMIN_ACCESS)] == []
    assert not any(f.rule_id == "AWS-016" for f in findings)  # its PassRole carries iam:PassedToService


def test_karpenter_passrole_to_an_admin_role_is_escalation(tmp_path):
    docs = _karpenter_documents()
    arns = [policy_arn(f"karpenter-{i}") for i in range(len(docs))]
    admin = policy_arn("AdministratorAccess-copy")
    iam(
        tmp_path,
        [
            role("karpenter", irsa_trust("kube-system", "karpenter"), attached=arns),
            role("KarpenterNodeRole-eks-test", {"Version": "2012-10-17", "Statement": []}, attached=[admin]),
        ],
        [policy(a, d) for a, d in zip(arns, docs, strict=True)]
        + [policy(admin, _managed()["AdministratorAccess"]["document"])],
    )
    cluster(tmp_path, [service_account("kube-system", "karpenter", role_arn("karpenter"))])
    findings = audit(Evidence(tmp_path), providers=load_providers()).findings
    assert "ec2-001" in {p["path"] for f in findings if f.rule_id == "AWS-014" for p in f.evidence["paths"]}


def test_external_secrets_reads_every_secret(tmp_path):
    findings = _single_role_audit(tmp_path, "eso", _load("external-secrets-policy.json")["document"])
    assert [f.evidence["actions"] for f in findings if f.rule_id == "AWS-015"] == [["secretsmanager:GetSecretValue"]]


_EXPECTED_RULES = {
    "scoped": set(),
    "no-condition": {"AWS-001"},
    "aud-without-sub": {"AWS-002"},
    "wildcard-sub": {"AWS-003"},
    "pod-identity-unscoped": {"AWS-007"},
}
VARIANTS = _load("irsa-trust-variants.json")["variants"]


def _rehost(document: dict[str, Any]) -> dict[str, Any]:
    text = json.dumps(document).replace("{arn-aws}", "arn:aws:")
    text = re.sub(r"oidc\.eks\.[^/\"]+/id/[0-9A-Za-z]+", HOST, text)
    text = re.sub(r"arn:aws:iam::[^:]+:oidc-provider", f"arn:aws:iam::{ACCOUNT}:oidc-provider", text)
    return json.loads(text)


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: f"{v['expected']}:{v['ref'].rsplit('/', 1)[-1]}")
def test_irsa_trust_variants_are_classified(tmp_path, variant):
    namespace, name = variant["service_account"].split("/")
    iam(tmp_path, [role("app", _rehost(variant["document"]))])
    oidc_providers(tmp_path)
    cluster(
        tmp_path, [service_account(namespace, name, None if "pod-identity" in variant["expected"] else role_arn("app"))]
    )
    if "pod-identity" in variant["expected"]:
        from aws_evidence import write

        write(
            tmp_path / "aws" / ACCOUNT / "eu-west-1" / "eks" / "eks-test" / "pod-identity-associations.json",
            {
                "associations": [
                    {
                        "clusterName": "eks-test",
                        "namespace": namespace,
                        "serviceAccount": name,
                        "roleArn": role_arn("app"),
                        "associationId": "a-1",
                    }
                ]
            },
        )
    report = audit(Evidence(tmp_path), providers=load_providers())
    trust_rules = {f.rule_id for f in report.findings if f.category is Category.TRUST_UNSCOPED}
    assert trust_rules == _EXPECTED_RULES[variant["expected"]]
    assert report.coverage["identities"]["aws"]["resolved"] == 1


def test_cloudsplaining_example_end_to_end(tmp_path):
    """A real get-account-authorization-details output read as an account's iam.json, with a cluster."""
    account = "200611803367"
    dest = tmp_path / "aws" / account / "iam.json"
    dest.parent.mkdir(parents=True)
    dest.write_bytes((CORPUS / "cloudsplaining-example.json").read_bytes())
    picked = ["privesc-AssumeRole-ending-role", "fn1-privesc3-partial-role", "fp3-deny-iam-role"]
    cluster(
        tmp_path,
        [service_account("apps", _sa_name(n), f"arn:aws:iam::{account}:role/{n}") for n in picked]
        + [service_account("apps", "ghost", f"arn:aws:iam::{account}:role/does-not-exist")],
    )
    report = audit(Evidence(tmp_path), providers=load_providers())
    # These roles trust IAM principals, not the cluster's OIDC provider: every binding is broken.
    assert report.coverage["identities"]["aws"] == {"resolved": 0, "missing": 1, "untrusted": 3, "unchecked": 0}
    broken = {f.service_account for f in report.findings if f.rule_id == "AWS-004"}
    assert broken == {_sa_name(n) for n in picked} | {"ghost"}

    inv = read_inventory(Evidence(tmp_path), load_providers())
    view = inv.views["aws"]
    assert len(view.roles) == 78
    verdicts = {r.name: analyse_role(view, r) for r in view.roles.values()}
    labels = {c["case"]: c for c in _load("iam-vulnerable-cases.json")["cases"]}
    checked = 0
    for case, data in labels.items():
        names = [r["name"] for r in data["roles"] if r["name"] in verdicts]
        if not names or case in NOT_FLAGGABLE or not case.startswith(("privesc", "fn", "fp")):
            continue
        checked += 1
        power = {verdicts[n].power for n in names}
        if case.startswith("fp"):
            assert power <= {"limited", "broad"}, (case, power)
        else:
            assert power & {"admin", "escalation"}, (case, power)
    assert checked >= 35
    # Real AWS managed policies from the file: the SSO admin role is admin; the "view-only" one also has
    # ReadOnlyAccess attached, which reads every S3 object and SSM parameter: broad, never admin.
    sso = {n: v.power for n, v in verdicts.items() if n.startswith("AWSReservedSSO_")}
    assert sso == {
        "AWSReservedSSO_AdministratorAccess_dc6414f7f2ab04fc": "admin",
        "AWSReservedSSO_ViewOnlyAccess_0ace44bbc7092ea8": "broad",
    }
