"""K8S-006: one finding per (ServiceAccount with a cloud identity, subject), its severity from what the identity
can do (the cloud provider's own judgement) and how broad the subject is, the binding to narrow named."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import takeover_evidence as te

from kubeiam.pipeline.audit import audit
from kubeiam.pipeline.evidence import Evidence
from kubeiam.pipeline.providers import load_providers
from kubeiam.vocabulary.findings import Finding


def _k006(root: Path, providers: Any = None, **kw: Any) -> list[Finding]:
    report = audit(Evidence(root), providers=providers if providers is not None else load_providers(), **kw)
    return [f for f in report.findings if f.rule_id == "K8S-006"]


def _one(findings: list[Finding], ns: str, name: str, subject: str) -> Finding:
    (found,) = [f for f in findings if (f.namespace, f.service_account, f.evidence["subject"]) == (ns, name, subject)]
    return found


def _policy(*actions: str, resource: str = "*") -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": list(actions), "Resource": resource}]}


EDIT = [te.binding("alice-edit", "edit", "User:alice", namespace="team-a")]
BROAD = [te.binding("team-a-sas-edit", "edit", "Group:system:serviceaccounts:team-a", namespace="team-a")]


@pytest.mark.parametrize(
    ("policy", "rbac", "power", "severity"),
    [
        (_policy("*"), EDIT, "admin", "critical"),
        (_policy("iam:CreatePolicyVersion"), EDIT, "escalation", "high"),
        (_policy("iam:CreatePolicyVersion"), BROAD, "escalation", "critical"),
        (_policy("secretsmanager:GetSecretValue"), EDIT, "data", "medium"),
        (_policy("s3:GetObject", resource="arn:aws:s3:::reports/*"), EDIT, "read", "medium"),
        (_policy("s3:GetObject", resource="arn:aws:s3:::reports/*"), BROAD, "read", "high"),
        (_policy("s3:PutObject", resource="arn:aws:s3:::reports/*"), EDIT, "write", "medium"),
    ],
)
def test_severity_follows_the_identity_power_and_the_breadth_of_the_subject(
    tmp_path: Path, policy: dict[str, Any], rbac: list[dict[str, Any]], power: str, severity: str
) -> None:
    te.irsa_estate(tmp_path, [("team-a", "app")], rbac=rbac, role_policy=policy)
    subject = "user:alice" if rbac is EDIT else "group:system:serviceaccounts:team-a"
    found = _one(_k006(tmp_path), "team-a", "app", subject)
    assert (found.evidence["power"], found.severity.value) == (power, severity)
    assert found.evidence["broad"] is (rbac is BROAD)
    assert found.principal == "arn:aws:iam::111122223333:role/team-a-app" and found.cloud == "aws"


def test_an_identity_no_provider_judges_counts_as_unknown_never_as_safe(tmp_path: Path) -> None:
    te.irsa_estate(tmp_path, [("team-a", "app")], rbac=EDIT, role_policy=_policy("s3:ListBucket"))
    unjudged = [_NoPowers(p) for p in load_providers()]
    found = _one(_k006(tmp_path, unjudged), "team-a", "app", "user:alice")
    assert found.evidence["power"] == "unknown" and found.severity.value == "high"


class _NoPowers:
    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    @property
    def declarations(self) -> Any:
        return replace(self.inner.declarations, powers={})


def test_evidence_names_techniques_bindings_grants_and_the_binding_to_narrow(tmp_path: Path) -> None:
    te.irsa_estate(tmp_path, [("team-a", "app")], pods=[te.pod("team-a", "app-1", "app")], rbac=EDIT)
    found = _one(_k006(tmp_path), "team-a", "app", "user:alice")
    ev = found.evidence
    assert ev["techniques"][0] == "create-pods" and {"exec", "create-token", "impersonate"} <= set(ev["techniques"])
    assert ev["binding"] == "RoleBinding/team-a/alice-edit" and ev["roles"] == ["ClusterRole/edit"]
    n = len(te.default_items())
    assert {g["file"] for g in ev["grants"]} == {"kubernetes/prod/rbac.json"}
    assert {g["item"] for g in ev["grants"]} == {f"items[{n}]"}
    assert any("from ClusterRole/system:aggregate-to-edit" in g["grant"] for g in ev["grants"])
    assert "RoleBinding/team-a/alice-edit" in found.remediation and "kubernetes/prod/rbac.json" in found.remediation
    assert found.title.startswith("Other subjects can act as this ServiceAccount") and "User alice" in found.title


def test_one_finding_per_service_account_and_subject(tmp_path: Path) -> None:
    rbac = [*EDIT, te.binding("alice-view", "view", "User:alice", namespace="team-a"), *BROAD]
    te.irsa_estate(tmp_path, [("team-a", "app"), ("team-a", "worker")], rbac=rbac)
    found = _k006(tmp_path)
    keys = sorted((f.service_account, f.evidence["subject"]) for f in found)
    # alice through two bindings is one subject; the group is one subject (not each of its members)
    assert keys == [
        ("app", "group:system:serviceaccounts:team-a"),
        ("app", "user:alice"),
        ("worker", "group:system:serviceaccounts:team-a"),
        ("worker", "user:alice"),
    ]
    assert _one(found, "team-a", "app", "user:alice").evidence["bindings"] == [
        "RoleBinding/team-a/alice-edit"
    ]  # view gives no technique
    alice = [f for f in found if f.evidence["subject"] == "user:alice"]
    assert alice[0].fingerprint != alice[1].fingerprint
    assert alice[0].principal != alice[1].principal  # each its own role...
    assert alice[0].evidence is alice[1].evidence  # ...of the same power: one evidence for the namespace


def test_service_accounts_without_a_resolved_identity_get_no_finding(tmp_path: Path) -> None:
    te.irsa_estate(tmp_path, [("team-a", "app")], rbac=EDIT)
    resources = tmp_path / "kubernetes/prod/resources.json"
    doc = __import__("json").loads(resources.read_text())
    doc["items"].append(
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "plain", "namespace": "team-a"}}
    )
    doc["items"].append(
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {
                "name": "unknown-role",
                "namespace": "team-a",
                "annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::111122223333:role/not-there"},
            },
        }
    )
    resources.write_text(__import__("json").dumps(doc))
    assert {f.service_account for f in _k006(tmp_path)} == {"app"}


def test_no_rbac_no_finding(tmp_path: Path) -> None:
    te.irsa_estate(tmp_path, [("team-a", "app")], rbac=None)
    assert _k006(tmp_path) == []


def test_check_says_what_the_audit_says(tmp_path: Path) -> None:
    te.irsa_estate(tmp_path, [("team-a", "app"), ("team-b", "app")], rbac=[*EDIT, *BROAD])
    whole = {f.fingerprint: f for f in _k006(tmp_path)}
    checked = _k006(tmp_path, namespace="team-a", service_account="app")
    assert checked and {f.fingerprint for f in checked} <= set(whole)
    for f in checked:
        assert f.evidence == whole[f.fingerprint].evidence and f.severity == whole[f.fingerprint].severity


def test_kubeiam_toml_expected_subjects_are_no_findings(tmp_path: Path) -> None:
    root = te.irsa_estate(
        tmp_path / "ev", [("team-a", "app")], rbac=[*EDIT, te.binding("ci", "edit", "User:ci-bot", namespace="team-a")]
    )
    # Without the table both are findings; with it, the subject it names through the binding it names is not.
    assert {f.evidence["subject"] for f in _k006(root)} == {"user:alice", "user:ci-bot"}
    config = te.toml_config(
        tmp_path, 'expected = [{ principal = "user:ci-*", binding = "ci", why = "the team\'s deploy bot" }]'
    )
    subjects = {f.evidence["subject"] for f in _k006(root, config=config)}
    assert subjects == {"user:alice"}
    # ...only through the binding it names: another binding for the same subject is still a finding
    te.write_rbac(root / "kubernetes/prod", [*EDIT, te.binding("ci-admin", "admin", "User:ci-bot", namespace="team-a")])
    assert {f.evidence["subject"] for f in _k006(root, config=config)} == {"user:alice", "user:ci-bot"}
