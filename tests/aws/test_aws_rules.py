"""AWS rules end to end: the demo, kubeiam's own read-only policy, memoisation, fingerprints, narrowing."""

from __future__ import annotations

import json
import re
import shutil
from importlib.resources import files
from pathlib import Path

import pytest
from aws_evidence import allow, cluster, doc, iam, irsa_trust, policy, policy_arn, role, role_arn, service_account
from kubeiam_aws.judge import profile as profile_module

from kubeiam.pipeline.audit import audit, demo_dir, read_inventory
from kubeiam.pipeline.evidence import Evidence
from kubeiam.pipeline.providers import load_providers
from kubeiam.vocabulary.findings import Severity
from kubeiam.vocabulary.model import LinkStatus

REPO = Path(__file__).resolve().parents[2]
RULE_FIXTURES = REPO / "fixtures" / "rules"


@pytest.fixture(scope="module")
def demo_report():
    return audit(Evidence(demo_dir()), providers=load_providers())


def _eks(report, rule_id=None, ns=None, sa=None, node=None):
    return [
        f
        for f in report.findings
        if f.cluster == "eks-prod"
        and (rule_id is None or f.rule_id == rule_id)
        and (ns is None or f.namespace == ns)
        and (sa is None or f.service_account == sa)
        and (node is None or f.node == node)
    ]


N1 = "ip-10-0-1-10.eu-west-1.compute.internal"
N2 = "ip-10-0-2-20.eu-west-1.compute.internal"


def test_demo_shows_the_aws_findings(demo_report):
    r = demo_report
    assert r.coverage["clusters"][1]["id"] == "arn:aws:eks:eu-west-1:111122223333:cluster/eks-prod"
    assert {f.severity for f in _eks(r, "AWS-010", "data", "etl")} == {Severity.CRITICAL}
    assert _eks(r, "AWS-006", "data", "etl") and _eks(r, "AWS-006", "data", "loader")
    assert _eks(r, "AWS-003", "tools", "ci-runner")
    # ecs-008 (PassRole + RunTask with a task-role override) came with the refreshed catalogue (issue 15).
    assert [[p["path"] for p in f.evidence["paths"]] for f in _eks(r, "AWS-014", "tools", "ci-runner")] == [
        ["ecs-004", "ecs-008"]
    ]
    assert _eks(r, "AWS-016", "tools", "ci-runner")
    assert [f.evidence["actions"] for f in _eks(r, "AWS-015", "kube-system", "external-secrets")] == [
        ["secretsmanager:GetSecretValue"]
    ]
    broken = {(f.service_account, f.evidence["status"]) for f in _eks(r, "AWS-004")}
    assert broken == {("exporter", "missing"), ("legacy-worker", "untrusted")}
    assert [f.severity for f in _eks(r, "AWS-020", node=N1)] == [Severity.HIGH]
    assert _eks(r, "AWS-021", node=N2)
    subjects = {f.node for f in _eks(r, "AWS-022")}
    assert subjects == {"nodegroup/general", "ec2nodeclass/default"}
    # The payments NetworkPolicy is named as a mitigation on the node its pods run on.
    assert "NetworkPolicy payments/deny-instance-metadata" in _eks(r, "AWS-020", node=N1)[0].evidence["mitigations"]
    # Karpenter (Pod Identity, real policy): scoped PassRole, no escalation; its trust lacks source scoping.
    assert _eks(r, "AWS-007", "kube-system", "karpenter")
    assert not [f for f in _eks(r, ns="kube-system", sa="karpenter") if f.rule_id in ("AWS-014", "AWS-016")]
    # The permissions boundary of ml/notebook stops an escalation path its own policy allows.
    notebook = _eks(r, ns="ml", sa="notebook")
    assert notebook and not [f for f in notebook if f.rule_id == "AWS-014"]
    assert any("sagemaker-002" in p for f in notebook for p in f.evidence.get("blocked_by_boundary", []))
    # The well-scoped role stays clean; who else can act as payments/api is K8S-006's: the ci-deployer role, whose
    # EKS access entry associates AmazonEKSEditPolicy with the payments namespace (access-entries.json).
    payments = _eks(r, ns="payments", sa="api")
    assert [f.rule_id for f in payments if f.rule_id.startswith("AWS-")] == []
    takeover = [f.evidence["subject"] for f in payments if f.rule_id == "K8S-006"]
    assert takeover == ["user:arn:aws:sts::111122223333:assumed-role/ci-deployer/{{SessionName}}"]


@pytest.mark.parametrize(
    ("namespace", "name", "templates"),
    [
        ("payments", "api", {"nodegroup/general", "ec2nodeclass/default"}),  # pods on N1 (group) and N2 (class)
        ("payments", "legacy-worker", {"ec2nodeclass/default"}),  # its one pod runs on N2
        ("payments", None, {"nodegroup/general", "ec2nodeclass/default"}),
        ("tools", "ci-runner", {"nodegroup/general"}),  # its pod runs on N1
        ("default", "default", set()),  # no pods: nothing it runs on, no template to report
    ],
)
def test_a_narrowed_audit_reports_only_the_templates_behind_its_nodes(namespace, name, templates):
    narrowed = audit(Evidence(demo_dir()), namespace=namespace, service_account=name, providers=load_providers())
    assert {f.node for f in _eks(narrowed, "AWS-022")} == templates


def test_kubeiams_own_read_only_policy_is_low_at_most(tmp_path):
    policy = json.loads(files("kubeiam_aws").joinpath("data/kubeiam-readonly-policy.json").read_text())
    iam(tmp_path, [role("kubeiam", irsa_trust("kubeiam", "kubeiam"), inline={"kubeiam": policy})])
    cluster(tmp_path, [service_account("kubeiam", "kubeiam", role_arn("kubeiam"))])
    report = audit(Evidence(tmp_path), providers=load_providers())
    assert report.coverage["identities"]["aws"]["resolved"] == 1
    assert [(f.rule_id, f.severity.value) for f in report.findings if f.severity.rank > Severity.LOW.rank] == []


def test_docs_carry_the_same_read_only_policy():
    text = (REPO / "docs" / "aws.md").read_text()
    blocks = [json.loads(b) for b in re.findall(r"```json\n(.*?)```", text, re.DOTALL)]
    policy = json.loads(files("kubeiam_aws").joinpath("data/kubeiam-readonly-policy.json").read_text())
    assert policy in blocks


def test_policies_are_evaluated_once_per_role_not_per_serviceaccount(tmp_path, monkeypatch):
    roles, sas = [], []
    for r in range(5):
        trust = irsa_trust("x", "x")
        cond = trust["Statement"][0]["Condition"]
        sub = cond["StringEquals"].pop(next(k for k in cond["StringEquals"] if k.endswith(":sub")))
        cond["StringLike"] = {
            k.replace(":aud", ":sub"): f"system:serviceaccount:team-{r}:*" for k in cond["StringEquals"]
        }
        assert sub
        roles.append(role(f"r{r}", trust, inline={"p": doc(allow(["iam:PassRole", "ec2:RunInstances"]))}))
        sas += [service_account(f"team-{r}", f"sa-{i}", role_arn(f"r{r}")) for i in range(40)]
    iam(tmp_path, roles)
    cluster(tmp_path, sas)
    built = []
    real = profile_module._Evaluator.__init__

    def counting(self, *a, **kw):
        built.append(1)
        real(self, *a, **kw)

    monkeypatch.setattr(profile_module._Evaluator, "__init__", counting)
    report = audit(Evidence(tmp_path), providers=load_providers())
    assert len([f for f in report.findings if f.rule_id == "AWS-014"]) == 200
    # 200 ServiceAccounts over five roles: at most one evaluation per role, never one per ServiceAccount.
    assert len(built) <= 5


def _fingerprints(root: Path, documents: dict[str, dict], *, reverse: bool = False) -> dict[str, list]:
    """rule id -> [(fingerprint, severity)] for one role holding `documents` as managed policies."""
    names = list(reversed(documents)) if reverse else list(documents)
    docs = {n: {**d, "Statement": list(reversed(d["Statement"]))} if reverse else d for n, d in documents.items()}
    iam(
        root,
        [role("r", irsa_trust("apps", "app"), attached=[policy_arn(n) for n in names])],
        [policy(policy_arn(n), docs[n]) for n in names],
    )
    cluster(root, [service_account("apps", "app", role_arn("r"))])
    out: dict[str, list] = {}
    for f in audit(Evidence(root), providers=load_providers()).findings:
        out.setdefault(f.rule_id, []).append((f.fingerprint, f.severity))
    return {k: sorted(v) for k, v in out.items()}


PERMISSIONS = {
    "a": doc(
        allow("iam:PassRole"),
        allow(["sqs:SendMessage", "sqs:DeleteQueue"]),
        allow("secretsmanager:GetSecretValue"),
        allow("s3:*", "arn:aws:s3:::b/*"),
    ),
    "b": doc(allow("ec2:RunInstances"), allow(["ssm:GetParameter", "ssm:GetParametersByPath"])),
}


def test_fingerprints_ignore_statement_policy_and_file_order(tmp_path):
    first = _fingerprints(tmp_path / "a", PERMISSIONS)
    assert {"AWS-012", "AWS-013", "AWS-014", "AWS-015", "AWS-016"} <= set(first)
    assert first == _fingerprints(tmp_path / "b", PERMISSIONS, reverse=True)


def test_one_ticket_per_problem_whatever_grows_inside_it(tmp_path):
    """AWS-014 is one finding per role, AWS-013 one per policy, AWS-015 one per service: another path,
    another access level or another SSM read keeps the same fingerprint (severity may rise)."""
    before = _fingerprints(tmp_path / "a", PERMISSIONS)
    grown = {
        "a": doc(*PERMISSIONS["a"]["Statement"], allow(["iam:PutRolePolicy", "ssm:GetParameters"])),
        "b": PERMISSIONS["b"],
    }
    after = _fingerprints(tmp_path / "b", grown)
    # AWS-013: policies a (sqs, PassRole) and b (RunInstances); AWS-015: secretsmanager and ssm.
    assert [len(before[r]) for r in ("AWS-013", "AWS-014", "AWS-015")] == [2, 1, 2]
    for rule_id in ("AWS-013", "AWS-014", "AWS-015"):
        assert [fp for fp, _ in after[rule_id]] == [fp for fp, _ in before[rule_id]], rule_id
    # iam:PutRolePolicy on * is permissions management: the same AWS-013 ticket, now high.
    assert sorted(sev.value for _, sev in before["AWS-013"]) == ["medium", "medium"]
    assert sorted(sev.value for _, sev in after["AWS-013"]) == ["high", "medium"]


def test_check_one_serviceaccount_still_sees_the_other_trusted_ones(tmp_path):
    trust = irsa_trust("apps", "a")
    trust["Statement"] += irsa_trust("apps", "b")["Statement"]
    iam(tmp_path, [role("shared", trust)])
    cluster(
        tmp_path, [service_account("apps", "a", role_arn("shared")), service_account("apps", "b", role_arn("shared"))]
    )
    report = audit(Evidence(tmp_path), namespace="apps", service_account="a", providers=load_providers())
    shared = [f for f in report.findings if f.rule_id == "AWS-006"]
    assert [(f.service_account, f.evidence["also_trusted"]) for f in shared] == [("a", ["eks-test/apps/b"])]


def test_rule_fixtures_are_not_vacuous():
    """Every AWS pass-* fixture resolves its identities: it passes on the judgement, not on a broken read."""
    # Passes by design on an identity that does not admit the ServiceAccount (the judgement under test).
    untrusted_on_purpose = {"AWS-003/pass-stringequals-star-is-literal"}
    checked = 0
    for case in sorted(RULE_FIXTURES.glob("AWS-*/pass-*")):
        inv = read_inventory(Evidence(case), load_providers())
        statuses = {link.status for link in inv.links}
        allowed = (
            {LinkStatus.RESOLVED, LinkStatus.UNTRUSTED}
            if f"{case.parent.name}/{case.name}" in untrusted_on_purpose
            else {LinkStatus.RESOLVED}
        )
        assert (statuses and statuses <= allowed) or not inv.links, (case.name, statuses)
        assert inv.links or inv.views["aws"].nodes, case
        checked += 1
    assert checked >= 20


def test_demo_cli_runs(tmp_path, capsys):
    from kubeiam.cli import main

    code = main(["audit", "--demo", "--format", "json", "--output", str(tmp_path / "r.json")])
    assert code == 1
    findings = json.loads((tmp_path / "r.json").read_text())["findings"]
    assert {f["rule_id"] for f in findings if f["cloud"] == "aws"} >= {"AWS-010", "AWS-014", "AWS-020", "AWS-021"}


def test_evidence_copy_reads_the_same(tmp_path, demo_report):
    shutil.copytree(demo_dir(), tmp_path / "demo")
    again = audit(Evidence(tmp_path / "demo"), providers=load_providers())
    assert [f.fingerprint for f in again.findings] == [f.fingerprint for f in demo_report.findings]


def test_star_that_is_not_admin_still_writes_everywhere(tmp_path):
    """`*` on `*` with IAM denied is not admin (AWS-010), but every other write on `*` remains (AWS-013)."""
    iam(
        tmp_path,
        [
            role(
                "r",
                irsa_trust("apps", "app"),
                inline={"p": doc(allow("*"), {"Effect": "Deny", "Action": "iam:*", "Resource": "*"})},
            )
        ],
    )
    cluster(tmp_path, [service_account("apps", "app", role_arn("r"))])
    findings = audit(Evidence(tmp_path), providers=load_providers()).findings
    assert not [f for f in findings if f.rule_id in ("AWS-010", "AWS-011")]
    (broad,) = [f for f in findings if f.rule_id == "AWS-013"]
    assert broad.severity is Severity.HIGH and broad.evidence["levels"]["Write"] > 1000
    view = read_inventory(Evidence(tmp_path), load_providers()).views["aws"]
    (writes,) = profile_module.analyse_role(view, view.roles[role_arn("r")]).broad_writes
    assert "ec2:RunInstances" in writes.actions and not [a for a in writes.actions if a.startswith("iam:")]
